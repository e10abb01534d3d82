"""Settings: one typed object with a default and a one-line reason for each value, loaded and saved here only."""

from __future__ import annotations

import difflib
import json
import numbers
import os
import socket
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from facegate.errors import ConfigError
from facegate.storage import atomic_write_bytes, ensure_private_dir


def default_data_dir() -> Path:
    """Per-user folder for the gallery, cache and log (never shared between users)."""
    if os.environ.get("FACEGATE_HOME"):
        return Path(os.environ["FACEGATE_HOME"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "FaceGate"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "FaceGate"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "facegate"


# The fused distance's 1 % false-match point on LFW (scaled to sit where dlib's own "same person" rule does):
# above it, far too many strangers match somebody.
SAFE_MAX_THRESHOLD = 0.6
# Below this even enrolled people are hardly ever recognised (calibration never goes lower either).
MIN_THRESHOLD = 0.3
# With allow_loose_threshold: still a bound, past which almost every face would match someone.
LOOSE_MAX_THRESHOLD = 1.0
# The threshold's default (why 0.48: the comment on Settings.threshold). The stages' own settings classes start
# from it too (PolicySettings, LearningSettings), so it is written once.
DEFAULT_THRESHOLD = 0.48


@dataclass(frozen=True)
class Setting:
    """What one setting is, declared once beside its field: the validator, the Settings dialog, calibration and
    the README's table (`python -m facegate.config`) all read it from here."""

    help: str  # one line, for people: what it does
    low: float | None = None  # allowed range, inclusive (numbers only)
    high: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()  # the allowed words (text settings)
    advice: str = ""  # what a sensible value is, when the allowed range is wider than that


def _setting(default, help: str, **declared):
    return field(default=default, metadata={"setting": Setting(help, **declared)})


@dataclass
class Settings:
    """Every setting of a kiosk. Each stage reads its part with its own `from_settings` (PolicySettings,
    LivenessSettings, PipelineSettings, LearningSettings): this module imports no stage."""

    # --- recognition and the access decision (see facegate/policy.py) ---
    # Distance (dlib's and SFace's embeddings fused, facegate/vision/engine.py) under which a face counts as that
    # person. 0.6 is where 1 % of different-person photos match on LFW; a door wants far fewer. Up to 1.0 with
    # allow_loose_threshold. 0.48 from benchmarks/openset.py (table D): on LFW, 0.497 is the largest threshold
    # that keeps a 100-person site (3 photos each) under 0.1 % of strangers accepted with 95 % confidence; 0.48
    # leaves room for cameras and faces harder than LFW's (0 of 15,849 held-out strangers accepted there, 98.5 %
    # of enrolled people's photos granted).
    threshold: float = _setting(
        DEFAULT_THRESHOLD,
        "How alike a face must be to an enrolled person's photos to count as them (lower is stricter)",
        low=MIN_THRESHOLD, high=SAFE_MAX_THRESHOLD, advice="0.40-0.52 suits most doors")
    min_margin: float = _setting(
        0.05, "How much closer the best person must be than the second best", low=0.0, high=0.2)
    # Between threshold and this: keep looking; a value under the threshold counts as the threshold.
    unknown_distance: float = _setting(
        0.6, "From this distance a face counts as nobody enrolled (red box)", low=0.3, high=1.2)
    # 3 of 5 is a good start; votes_needed and unknown_votes are at most vote_window.
    votes_needed: int = _setting(3, "Encodings that must agree on one person to grant", low=2, high=10)
    vote_window: int = _setting(5, "Latest encodings of a face that vote", low=2, high=10)
    unknown_votes: int = _setting(3, "Encodings of nobody enrolled that make a face Unknown", low=1, high=10)
    # facegate/learning.py: at most 3 learned photos per person, one an hour; forgotten in People.
    learn_from_visits: bool = _setting(
        True, "After a sure, liveness-checked grant, keep the live face as a learned photo of the person")
    # --- greeting ---
    greeting_cooldown_s: float = _setting(
        300.0, "A person who stays or comes back within this time is not greeted again", low=60.0, high=3600.0,
        unit="s")
    absence_reset_s: float = _setting(
        60.0, "Out of view this long, a returning person starts a new visit", low=10.0, high=600.0, unit="s")
    greeting_template: str = _setting("Welcome {name}", "What is said and shown; {name} is the person's name")
    speech: bool = _setting(True, "Speak the greeting aloud (needs espeak-ng on Linux)")
    voice: str = _setting("", "Voice id of the speech engine; empty: its default")
    # --- liveness (facegate/liveness/) ---
    liveness: str = _setting(
        "adaptive", "Liveness: adaptive (a model reads the face's texture; requests only when it is unsure: most "
        "people pass in under a second without doing anything); challenge (random requests for everyone, 2-4 s); "
        "passive (a natural blink and 3D motion: refuses most real people, see the README); off (a photo opens "
        "the door)",
        choices=("off", "passive", "challenge", "adaptive"))
    liveness_screen_light: bool = _setting(
        False, "Light the face from the screen during a check (the window, a camera): a random colour band round the "
               "picture that a live face reflects and a phone or an injected video does not; adds about 1.3 s, and "
               "on rendered tests a third of live faces were sure of it (the rest are asked for requests)")
    liveness_trial: bool = _setting(
        False, "Trial at a new site: keep each liveness attempt's outcome, cues and time to grant (no face) for "
               "`facegate report liveness`; turn on for the first days, with only genuine people at the door")
    liveness_steps: int = _setting(
        3, "Requests per challenge: always the mouth opening, and at least one head movement",
        low=2, high=4)
    liveness_step_time_s: float = _setting(5.0, "Time allowed for each request", low=2.0, high=10.0, unit="s")
    # --- camera and detection ---
    # Display only: the pipeline and the liveness check see the camera's own picture.
    mirror_preview: bool = _setting(
        True, "Show a camera's picture as a mirror, as people expect (video files and URLs as they are)")
    source: str = _setting("0", "Camera number (0: the first), video file, rtsp:// or http:// URL, or image folder")
    detector: str = _setting("yunet", "Face detector: yunet (fast) or hog (dlib)", choices=("yunet", "hog"))
    # Lower is faster and misses far faces; 240-640 suits most doors.
    detect_max_side: int = _setting(
        320, "Longest side of the copy of each frame the detector sees", low=160, high=1280, unit="px")
    min_face_width: int = _setting(
        60, "Faces narrower than this are asked to come closer, not recognised", low=40, high=200, unit="px")
    # --- storage ---
    gallery: str = _setting("", "Folder of enrolled people; empty: gallery/ in the data folder")
    log_dir: str = _setting("", "Folder of the access log and its snapshots; empty: log/ in the data folder")
    log_retention_days: float = _setting(
        30.0, "Face snapshots in the access log are deleted after this long (the rows stay)", low=1.0, high=365.0,
        unit="days")
    # --- who may enter where and when (facegate/access_plan.py; README "Who may enter where and when") ---
    # The groups, hours, validity dates and visitors live in <gallery>.access.txt (a site: on the server).
    greeter: bool = _setting(
        False, "This kiosk only greets (it opens no door): the access groups' doors and hours refuse nobody here; "
               "validity dates and visits that ended still do")
    # --- a site with several doors (facegate/site/; README "Several doors") ---
    # The password is never shown or logged; better kept in ~/.pgpass or PGPASSWORD than here.
    database_url: str = _setting(
        "", "PostgreSQL server shared by several doors (postgresql://user@host:5432/db?sslmode=require); "
            "empty: this kiosk alone, with its own folder and log")
    # A removal reaches a connected door in under a second; this is the time a cut cable gives a removed person
    # (README "Several doors": why 10 minutes).
    site_offline_grant_s: float = _setting(
        600.0, "A door that cannot reach the site server keeps granting from its copy of the people this long, then "
               "refuses everyone until the server is back (0: at once)", low=0.0, high=86400.0, unit="s",
        advice="300-1800 s suits most doors")
    door_name: str = _setting(
        "", "This door's name in the site's access log and in MQTT, Home Assistant and webhook messages; empty: the "
            "computer's name")
    # Kiosks beat every 5 s; a door silent this long is reported once by another kiosk (log, MQTT, webhook).
    door_silent_after_s: float = _setting(
        60.0, "A site's door not heard from for this long raises an alert (the server's door_alerts, MQTT, webhook); "
              "0: this kiosk does not watch the other doors", low=0.0, high=3600.0, unit="s")
    # --- door and building actions (facegate/actions/) ---
    # With any of the actions below, the video must come from a physical camera (facegate/camera_trust.py): a file,
    # folder, URL or virtual camera would let anyone feed the kiosk a rendered face.
    demonstration: bool = _setting(
        False, "Demonstration kiosk: the door and building actions run from a video file, folder, URL or virtual "
               "camera too; the log, the screen and every message then say DEMONSTRATION")
    # It must open the door and return at once, the door closing by itself {seconds} later (a relay's timed
    # pulse): then no crash of FaceGate can leave the door open (facegate/actions/door.py).
    door_command: str = _setting(
        "", "Command run on a grant to open the door for {seconds} s by itself (a relay's timed pulse); empty: none")
    door_close_command: str = _setting(
        "", "Command run when the pulse ends, and at once if the door command fails or hangs; empty: none")
    # facegate/actions/serial_relay.py: writes "on", and a detached timer writes "off" {seconds} later.
    door_serial: str = _setting(
        "", "Serial (USB) relay device, e.g. /dev/ttyUSB0, switched for the pulse when door_command is empty")
    door_serial_open: str = _setting("A00101A2", "Bytes (hex) that switch the serial relay on (LCUS-1's default)")
    door_serial_close: str = _setting("A00100A1", "Bytes (hex) that switch the serial relay off")
    door_open_s: float = _setting(3.0, "How long a grant opens the door; a second grant extends it", low=0.1,
                                  high=60.0, unit="s", advice="2-8 s suits most doors")
    door_command_timeout_s: float = _setting(
        5.0, "A door command that has not returned by then is killed and the door closed", low=0.5, high=60.0,
        unit="s")
    door_on_tailgating: bool = _setting(
        True, "Open for a grant even while a face that is not granted is in view (the alert goes out either way)")
    mqtt_url: str = _setting("", "MQTT broker, mqtt://[user:password@]HOST:PORT (mqtts:// for TLS); empty: off")
    mqtt_topic: str = _setting("facegate/door", "Base topic: .../decision, .../tailgating, .../door, ...")
    mqtt_discovery_prefix: str = _setting(
        "homeassistant", "Home Assistant discovery prefix (the kiosk appears as a device); empty: no discovery")
    mqtt_snapshot: bool = _setting(False, "Add the face snapshot (base64 JPEG) to each MQTT decision")
    webhook_url: str = _setting("", "URL that each decision is POSTed to as signed JSON; empty: off")
    webhook_secret: str = _setting("", "Key of the HMAC-SHA256 signature (X-FaceGate-Signature); never logged")
    webhook_timeout_s: float = _setting(5.0, "A receiver that has not answered by then is tried again later",
                                        low=0.5, high=60.0, unit="s")
    webhook_retry_max_s: float = _setting(
        300.0, "Longest wait between retries (they start at 1 s and double)", low=1.0, high=3600.0, unit="s")
    # --- safety ---
    allow_loose_threshold: bool = _setting(
        False, f"Allow a threshold above {SAFE_MAX_THRESHOLD} (up to {LOOSE_MAX_THRESHOLD}): look-alikes get in")

    def gallery_path(self) -> Path:
        return Path(self.gallery).expanduser() if self.gallery else default_data_dir() / "gallery"

    def log_path(self) -> Path:
        return Path(self.log_dir).expanduser() if self.log_dir else default_data_dir() / "log"

    def door(self) -> str:
        """This door's name in a site's log and in every action's messages: door_name, else the computer's."""
        return self.door_name or default_door()


def setting(name: str) -> Setting:
    """The declaration of one setting (its help, range, unit, choices)."""
    return next(f.metadata["setting"] for f in fields(Settings) if f.name == name)


# Derived from the declarations above: the allowed range of each numeric setting, the words of each choice.
RANGES: dict[str, tuple[float, float]] = {
    f.name: (f.metadata["setting"].low, f.metadata["setting"].high)
    for f in fields(Settings) if f.metadata["setting"].low is not None and f.metadata["setting"].high is not None}
# The same lists as facegate.liveness.MODES and facegate.vision.detect.DETECTORS (a test keeps them equal);
# written out here so that reading the settings imports neither OpenCV nor TensorFlow.
CHOICES: dict[str, tuple[str, ...]] = {
    f.name: f.metadata["setting"].choices for f in fields(Settings) if f.metadata["setting"].choices}


def settings_table() -> str:
    """The README's table of settings (Markdown), from the declarations."""
    rows = ["| setting | default | allowed | what it does |", "|---|---|---|---|"]
    for f in fields(Settings):
        declared: Setting = f.metadata["setting"]
        unit = f" {declared.unit}" if declared.unit else ""
        if declared.low is not None and declared.high is not None:
            allowed = f"{_number(declared.low)}-{_number(declared.high)}{unit}"
        elif declared.choices:
            allowed = ", ".join(declared.choices)
        else:
            allowed = {bool: "true, false", str: "text"}[type(f.default)]
        default = json.dumps(f.default, ensure_ascii=False)
        advice = f" ({declared.advice})" if declared.advice else ""
        rows.append(f"| `{f.name}` | `{default}` | {allowed} | {declared.help}{advice} |")
    return "\n".join(rows) + "\n"


GREETING_EXAMPLE = "for example: Welcome {name}"


def greeting_format_problem(template: str) -> str | None:
    """Why `template` cannot be filled in safely (braces other than {name}); None when it can. What speech
    checks before it speaks a template set from code."""
    example = GREETING_EXAMPLE
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return f"A {{ or }} in the greeting has no partner. Braces may only be used as {{name}} ({example})."
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name != "name":
            return f"Only {{name}} may be written in braces; remove {{{name}}} from the greeting."
        if spec or conversion:
            return "Write {name} exactly as shown, with nothing else inside the braces."
    return None


def greeting_problem(template: str) -> str | None:
    """Why a greeting cannot be the setting, in plain words (empty, no {name}, or braces that cannot be filled);
    None when it is fine. The validator and the Settings dialog use this one rule."""
    example = GREETING_EXAMPLE
    if not template.strip():
        return f"The greeting is empty. Type what should be said, with {{name}} where the name goes ({example})."
    problem = greeting_format_problem(template)
    if problem is not None:
        return problem
    parts = list(string.Formatter().parse(template))
    if not any(name == "name" for _, name, _, _ in parts):
        return f"The greeting must contain {{name}} where the person's name goes ({example})."
    return None


# Never repeated in a message, a log line or the status bar (mqtt_url may hold a password).
SECRET_SETTINGS = ("webhook_secret", "mqtt_url")
_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text in double quotes"}
_FIX = "fix it or delete the file to use the defaults"


def config_path() -> Path:
    return default_data_dir() / "config.json"


def _shown(value, limit: int = 60) -> str:
    """A value as the user wrote it in the file, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except TypeError:  # not a JSON type (set from code, not read from the file)
        text = repr(value)
    except (ValueError, RecursionError):  # deeply nested, or an integer of thousands of digits
        text = f"a {'list' if isinstance(value, list) else type(value).__name__} too long to show"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _number(value: float) -> str:
    return f"{value:g}"


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _no_duplicates(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        counts: dict = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        repeated = sorted(key for key, count in counts.items() if count > 1)
        raise ValueError(f"{', '.join(map(_key, repeated))} written more than once; keep one of each")
    return result


def _read_json(path: Path):
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: a file saved by Notepad starts with a BOM
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings ({exc.strerror or exc}); check the file's permissions, "
                          "or delete it to use the defaults") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the settings file is not UTF-8 text (byte {exc.start}); {_FIX}") from exc
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: the settings file is not valid JSON ({exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}); {_FIX}") from exc
    except ValueError as exc:  # a duplicated key; a number too long to convert
        raise ConfigError(f"{path}: the settings file is not usable ({exc}); {_FIX}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: the settings file is nested too deeply to be settings; {_FIX}") from exc


def check_data_dir() -> None:
    """ConfigError when FaceGate's folder (FACEGATE_HOME, or the platform's default) is unusable: a file, say.
    Without this a file there reads as "nobody enrolled" and the first write fails with a traceback."""
    folder = default_data_dir()
    cause = "FACEGATE_HOME" if os.environ.get("FACEGATE_HOME") else "FaceGate's data folder"
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise ConfigError(f"{cause} is {folder}, but {part} is a file, not a folder: point "
                                  f"{'FACEGATE_HOME' if cause == 'FACEGATE_HOME' else 'the data folder'} at a "
                                  "folder (FaceGate creates it if it is missing).")
            return


def default_door() -> str:
    """A door's name when `door_name` is empty: this computer's name."""
    return socket.gethostname() or "door"


def load_settings(path: Path | None = None) -> Settings:
    """The settings in `path` (default: config.json in the data folder), or the defaults when there is no file.
    Raises ConfigError (a FaceGateError) naming every wrong key and its allowed values; never trusts a part of
    a bad file, and never changes the file."""
    if path is None:
        check_data_dir()
    path = Path(path) if path else config_path()
    if not path.exists():
        return Settings()
    if not path.is_file():
        raise ConfigError(f"{path}: is not a file; remove it (FaceGate writes its settings there)")
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the settings must be a JSON object, like {{\"threshold\": 0.5}}, "
                          f"not {_shown(raw)}; {_FIX}")
    settings = Settings()
    known = {f.name: f for f in fields(Settings)}
    problems = []
    for key, value in raw.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {_key(close[0])}?)" if close else f"; known settings: {', '.join(known)}"
            problems.append(f"unknown setting {_shown(key)}{hint}")
            continue
        default = getattr(settings, key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                problems.append(f"{_key(key)} must be between {_number(RANGES[key][0])} and "
                                f"{_number(RANGES[key][1])}, not {_shown(value)}")
                continue
        elif type(default) is int and type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not type(default):
            shown = "a value not shown (a secret)" if key in SECRET_SETTINGS else _shown(value)
            problems.append(f"{_key(key)} must be {_TYPE_WORDS[type(default)]}, not {shown}")
            continue
        setattr(settings, key, value)
    if not problems:
        problems = settings_problems(settings)
    if problems:
        raise ConfigError(_report(path, problems, (_FIX, "fix them or delete the file to use the defaults")))
    return settings


def _report(where, problems: list[str], fix: tuple[str, str] = ("change it", "change them")) -> str:
    """One line for one problem; a list for several. `fix`: what to do, for one problem and for several."""
    if len(problems) == 1:
        return f"{where}: {problems[0]}; {fix[0]}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{where}: {len(problems)} problems in the settings; {fix[1]}:\n{lines}"


def _has_type(value, kind: type) -> bool:
    """`value` fits a setting of type `kind` (NumPy numbers too, as code may set them; a bool is no number)."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    number = numbers.Integral if kind is int else numbers.Real
    return isinstance(value, number) and not isinstance(value, bool)


def settings_problems(settings: Settings) -> list[str]:
    """Every value of the wrong type or out of its allowed range, in plain words (empty when all is well)."""
    problems = []
    for f in fields(Settings):
        value, kind = getattr(settings, f.name), type(f.default)
        if not _has_type(value, kind):
            shown = "a value not shown (a secret)" if f.name in SECRET_SETTINGS else _shown(value)
            problems.append(f"{_key(f.name)} must be {_TYPE_WORDS[kind]}, not {shown}")
    if problems:
        return problems  # the checks below compare values of the right types
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, str) and "\0" in value:
            problems.append(f"{_key(f.name)} contains a NUL character")
        elif f.name in CHOICES and value not in CHOICES[f.name]:
            problems.append(f"{_key(f.name)} must be one of {', '.join(map(_key, CHOICES[f.name]))}, "
                            f"not {_shown(value)}")
    loose = settings.allow_loose_threshold
    for key, (low, high) in RANGES.items():
        value = getattr(settings, key)
        if key == "threshold" and loose:
            high = LOOSE_MAX_THRESHOLD
        if low <= value <= high:  # False for NaN too
            continue
        if key == "threshold" and not loose and SAFE_MAX_THRESHOLD < value <= LOOSE_MAX_THRESHOLD:
            problems.append(
                f"threshold {_number(value)} is looser than the safe bound {SAFE_MAX_THRESHOLD}: strangers who "
                f"resemble an enrolled person would be let in. Lower it (allowed: {_number(low)} to "
                f"{_number(high)}), or set \"allow_loose_threshold\": true to accept that risk explicitly")
        else:
            problems.append(f"{_key(key)} must be between {_number(low)} and {_number(high)}, not {_shown(value)}")
    for key in ("votes_needed", "unknown_votes"):
        value, window = getattr(settings, key), settings.vote_window
        if value > window:
            problems.append(f"{_key(key)} ({value}) must not be more than \"vote_window\" ({window}): that many "
                            "votes never fit in the window")
    problems.extend(action_problems(settings))
    if not settings.source.strip():
        problems.append("\"source\" is empty; use \"0\" for the first camera, a video file, a URL or a folder")
    greeting = greeting_problem(settings.greeting_template)
    if greeting is not None:
        problems.append(f"\"greeting_template\": {greeting}")
    return problems


def _is_url(text: str, schemes: tuple[str, ...]) -> bool:
    """`text` is a URL of one of `schemes` with a host and, if given, a valid port."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        return parts.scheme in schemes and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # a port that is no number, or out of range
        return False


def action_problems(settings: Settings, labels: Mapping[str, str] | None = None) -> list[str]:
    """Door, MQTT and webhook settings that cannot work, in plain words (secrets never repeated). Each names its
    setting's key, or with `labels` (key -> the field's label on screen) the label: "Broker: must look like...".
    """
    import shlex

    def named(key: str, text: str) -> str:
        return f"{labels[key]}: {text}" if labels and key in labels else f"{_key(key)} {text}"

    problems = []
    for key in ("door_command", "door_close_command"):
        try:
            shlex.split(getattr(settings, key))
        except ValueError as exc:
            problems.append(named(key, f"cannot be read as a command ({exc})"))
    for key in ("door_serial_open", "door_serial_close"):
        try:
            if not bytes.fromhex(getattr(settings, key)):
                raise ValueError
        except ValueError:
            problems.append(named(key, "must be bytes in hex, like \"A00101A2\""))
    if settings.mqtt_url.strip() and not _is_url(settings.mqtt_url.strip(), ("mqtt", "mqtts")):
        problems.append(named("mqtt_url", "must look like mqtt://HOST:PORT (mqtts:// for TLS)"))
    if settings.webhook_url.strip() and not _is_url(settings.webhook_url.strip(), ("http", "https")):
        problems.append(named("webhook_url", "must be an http:// or https:// URL"))
    return problems


def check_safe(settings: Settings, where: Path | str = "settings") -> None:
    """Raise ConfigError (a FaceGateError) when any value is out of its allowed range: the threshold above the
    safe bound without allow_loose_threshold, votes that cannot fit their window, an unknown liveness mode..."""
    problems = settings_problems(settings)
    if problems:
        raise ConfigError(_report(where, problems))


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings (atomically, owner-only). Values that load_settings would refuse are refused here
    first, with ConfigError, and the file on disk stays as it was: the app never saves a file it cannot read."""
    path = Path(path) if path else config_path()
    problems = settings_problems(settings)
    if problems:
        raise ConfigError(_report(path, problems, ("not saved (the file is unchanged); change it",
                                                   "not saved (the file is unchanged); change them")))
    defaults = Settings()
    # NumPy numbers (set from code) -> the JSON types of the defaults
    plain = {f.name: type(getattr(defaults, f.name))(getattr(settings, f.name)) for f in fields(Settings)}
    ensure_private_dir(path.parent)
    atomic_write_bytes(path, json.dumps(plain, indent=2, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":  # python -m facegate.config: the README's table of settings
    print(settings_table(), end="")
