"""Settings: one typed object with a default and a one-line reason for each value, loaded and saved here only."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from facegate.errors import FaceGateError
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


# dlib's equal-error point on LFW: above it, more strangers than genuine people are misjudged.
SAFE_MAX_THRESHOLD = 0.6


@dataclass
class Settings:
    # --- recognition and the access decision (see facegate/policy.py) ---
    # Euclidean distance in dlib's embedding space under which a face counts as that person.
    # dlib's own rule is 0.6 (LFW equal-error point, ~1 % false accepts); a door wants fewer: safe range 0.40-0.60.
    threshold: float = 0.5
    # The best person must be at least this much closer than the second-best person (0.0-0.2).
    min_margin: float = 0.05
    # From this distance a face counts as "nobody enrolled" (red box); between threshold and this: keep looking.
    unknown_distance: float = 0.6
    # Grant when this many of the last `vote_window` encodings agree on one person (2-5; K <= window).
    votes_needed: int = 3
    vote_window: int = 5
    # Unknown when this many of the last `vote_window` encodings are nobody enrolled (1-window).
    unknown_votes: int = 3
    # --- greeting ---
    # Seconds before the same person is greeted again while they stay or come back (60-3600).
    greeting_cooldown_s: float = 300.0
    # Seconds out of view after which a returning person starts a new visit and is greeted again (10-600).
    absence_reset_s: float = 60.0
    # What is said and shown; {name} is replaced by the person's name.
    greeting_template: str = "Welcome {name}"
    # Speak the greeting aloud (needs espeak-ng on Linux).
    speech: bool = True
    # Voice id from the speech engine; empty means its default.
    voice: str = ""
    # --- liveness (facegate/liveness.py) ---
    # "challenge" (random requests: blink, turn, nod), "passive" (a natural blink and 3D head motion) or "off".
    liveness: str = "challenge"
    # Requests per challenge (1-4) and seconds allowed for each (2-10).
    liveness_steps: int = 2
    liveness_step_time_s: float = 5.0
    # --- camera and detection ---
    # Camera number ("0" is the first camera), a video file, an rtsp:// or http:// URL, or a folder of images.
    source: str = "0"
    # Face detector: "yunet" (default, fast) or "hog" (dlib).
    detector: str = "yunet"
    # Longest side of the copy of each frame the detector sees (240-640; lower is faster, misses far faces).
    detect_max_side: int = 320
    # Faces narrower than this many pixels are asked to come closer, not recognised (40-200).
    min_face_width: int = 60
    # --- storage ---
    # Folder of enrolled people; empty means <data dir>/gallery.
    gallery: str = ""
    # Folder of the access log (SQLite) and its snapshots; empty means <data dir>/log.
    log_dir: str = ""
    # Face snapshots in the access log are deleted after this many days (the log rows stay) (1-365).
    log_retention_days: float = 30.0
    # --- safety ---
    # A threshold above SAFE_MAX_THRESHOLD lets look-alikes in; it is refused unless this is set to true.
    allow_loose_threshold: bool = False

    def gallery_path(self) -> Path:
        return Path(self.gallery).expanduser() if self.gallery else default_data_dir() / "gallery"

    def log_path(self) -> Path:
        return Path(self.log_dir).expanduser() if self.log_dir else default_data_dir() / "log"

    def policy_settings(self):
        from facegate.policy import PolicySettings

        return PolicySettings(threshold=self.threshold, min_margin=self.min_margin,
                              unknown_distance=max(self.unknown_distance, self.threshold),
                              votes_needed=self.votes_needed, window=self.vote_window,
                              unknown_votes=self.unknown_votes, greeting_cooldown_s=self.greeting_cooldown_s,
                              absence_reset_s=self.absence_reset_s)

    def liveness_settings(self):
        from facegate.liveness import LivenessSettings

        return LivenessSettings(mode=self.liveness, steps=self.liveness_steps, step_time_s=self.liveness_step_time_s)

    def pipeline_settings(self):
        from facegate.pipeline import PipelineSettings

        return PipelineSettings(detect_max_side=self.detect_max_side, min_face_width=self.min_face_width)


def config_path() -> Path:
    return default_data_dir() / "config.json"


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    if not path.is_file():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FaceGateError(f"{path}: cannot read the settings ({exc}); fix or delete the file to use defaults")
    if not isinstance(raw, dict):
        raise FaceGateError(f"{path}: settings must be a JSON object")
    settings = Settings()
    known = {f.name: f for f in fields(Settings)}
    for key, value in raw.items():
        if key not in known:
            raise FaceGateError(f"{path}: unknown setting {key!r}; known settings: {', '.join(known)}")
        default = getattr(settings, key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise FaceGateError(f"{path}: setting {key!r} must be a {type(default).__name__}, got {value!r}")
        setattr(settings, key, value)
    check_safe(settings, path)
    return settings


def check_safe(settings: Settings, where: Path | str = "settings") -> None:
    if settings.threshold > SAFE_MAX_THRESHOLD and not settings.allow_loose_threshold:
        raise FaceGateError(
            f"{where}: threshold {settings.threshold} is looser than the safe bound {SAFE_MAX_THRESHOLD}: strangers "
            "who resemble an enrolled person would be let in. Lower it, or set \"allow_loose_threshold\": true "
            "to accept that risk explicitly.")


def save_settings(settings: Settings, path: Path | None = None) -> None:
    path = path or config_path()
    ensure_private_dir(path.parent)
    atomic_write_bytes(path, json.dumps(asdict(settings), indent=2).encode("utf-8"))
