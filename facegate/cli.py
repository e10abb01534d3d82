"""`facegate ...` commands. Each prints plain lines a person can read, and exits non-zero on failure."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users

from facegate.config import CHOICES, check_safe, load_settings  # noqa: E402
from facegate.errors import FaceGateError  # noqa: E402

if TYPE_CHECKING:  # imported where used: `facegate --help` loads neither OpenCV nor TensorFlow
    from facegate.config import Settings
    from facegate.gallery import Gallery
    from facegate.kiosk import Kiosk, KioskView


def _gallery(args: argparse.Namespace) -> tuple[Gallery, Settings]:
    from facegate.gallery import Gallery

    settings = load_settings()
    gallery = Gallery(Path(args.gallery) if args.gallery else settings.gallery_path(), threshold=settings.threshold)
    return gallery, settings


def _site_url(args, settings) -> str:
    """The site server's URL: --database, else the settings' database_url; empty: this kiosk alone."""
    return (getattr(args, "database", None) or settings.database_url or "").strip()


def _replica_folder(args, settings) -> Path:
    """A site kiosk's copy of the server's people: --gallery, else site-gallery/ in the data folder."""
    from facegate.site.sync import default_replica_folder

    return Path(args.gallery).expanduser() if getattr(args, "gallery", None) else default_replica_folder()


def cmd_enroll(args) -> int:
    from facegate.gallery import validate_name

    settings = load_settings()
    url = _site_url(args, settings)
    if url:
        from facegate.gallery import Gallery
        from facegate.site.admin import SiteAdmin
        from facegate.site.schema import redact

        name = validate_name(args.name)
        analyser = Gallery(_replica_folder(args, settings))  # its engine analyses the photos; nothing is written
        with SiteAdmin(url) as site:
            stored, problems = site.enroll(analyser, name, [Path(p) for p in args.photos])
            count = site.people().get(name, 0)
        for problem in problems:
            print(f"skipped {problem}")
        print(f"enrolled {name} on the site server {redact(url)}: {stored} new photo(s), {count} in all; every "
              "kiosk copies them within seconds")
        return 0
    gallery, _ = _gallery(args)
    gallery.refresh()
    name = validate_name(args.name)  # the name as stored: trimmed, Unicode-normalised
    saved, problems = gallery.enroll(name, [Path(p) for p in args.photos])
    for path in saved:
        print(f"enrolled {name}: {path}")
    for problem in problems:
        print(f"skipped {problem}")
    print(f"{name} now has {gallery.photo_count(name)} usable photo(s)")
    return 0


def cmd_identify(args) -> int:
    from dataclasses import replace

    from facegate.imageio import load_image

    gallery, settings = _gallery(args)
    threshold = args.threshold if args.threshold is not None else settings.threshold
    if args.threshold is not None:
        check_safe(replace(settings, threshold=threshold), "--threshold")
    gallery.threshold = threshold  # learned photos count only under it
    gallery.refresh()
    image = load_image(args.photo)
    faces = gallery.engine.detect(image)
    if not faces:
        print(f"{args.photo}: no face found")
        return 1
    for face, match in zip(faces, gallery.match_many(gallery.engine.embed(image, faces)), strict=False):
        x, y, w, h = (round(v) for v in face.box)
        where = f"face at x={x} y={y} ({w}x{h})"
        if match.name is not None and match.distance < threshold and match.margin >= settings.min_margin:
            print(f"{where}: {match.name} (distance {match.distance:.3f}, margin {match.margin:.3f})")
        elif match.name is None:
            print(f"{where}: Unknown (nobody is enrolled)")
        else:
            print(f"{where}: Unknown (closest {match.name} at distance {match.distance:.3f}, "
                  f"threshold {threshold:.2f})")
    return 0


def _site_gallery(args, url: str) -> int:
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import SiteError, redact

    if args.action not in ("list", "remove"):
        raise SiteError(f"`gallery {args.action}` is not available for a site server yet; remove the person and "
                        "enroll them again under the new name.")
    with SiteAdmin(url) as site:
        if args.action == "list":
            people = site.people()
            print(f"site server {redact(url)}: {len(people)} people")
            for name, count in people.items():
                print(f"  {name}: {count} photo(s)")
            return 0
        if not args.yes:
            print(f"This erases every photo and embedding of {args.names[0]!r}, and every door's log entries about "
                  "them, on the site server and at every kiosk. Repeat with --yes to confirm.")
            return 1
        photos, events = site.remove(args.names[0])
    print(f"removed {args.names[0]} from the site ({photos} photo(s) and their embeddings, {events} log "
          "entries); every kiosk erases its copies within seconds")
    return 0


def cmd_gallery(args) -> int:
    url = _site_url(args, load_settings())
    if url:
        return _site_gallery(args, url)
    gallery, _ = _gallery(args)
    problems = gallery.refresh()
    if args.action == "list":
        print(f"gallery {gallery.folder}: {len(gallery.people)} people")
        listing = gallery.photos()
        for name in gallery.people:
            learned = len(gallery.learned_photos(name, listing))
            print(f"  {name}: {gallery.photo_count(name)} photo(s)"
                  + (f", {learned} of them learned at the kiosk" if learned else ""))
        for problem in problems:
            print(f"  problem: {problem}")
        return 0
    if args.action == "remove":
        if not args.yes:
            print(f"This erases every photo and embedding of {args.names[0]!r}. Repeat with --yes to confirm.")
            return 1
        count = gallery.remove(args.names[0])
        print(f"removed {args.names[0]} ({count} photo(s) and their embeddings)")
        return 0
    if args.action == "rename":
        if len(args.names) != 2:
            raise FaceGateError("usage: facegate gallery rename OLD NEW")
        gallery.rename(args.names[0], args.names[1])
        print(f"renamed {args.names[0]} -> {args.names[1]}")
        return 0
    if args.action == "forget-learned":
        if len(args.names) != 1:
            raise FaceGateError("usage: facegate gallery forget-learned NAME")
        if args.names[0] not in gallery.photos():
            raise FaceGateError(f"{args.names[0]!r} is not enrolled.")
        count = gallery.forget_learned(args.names[0])
        print(f"forgot {count} photo(s) of {args.names[0]} learned at the kiosk; their enrolled photos stay")
        return 0
    raise FaceGateError(f"unknown gallery action {args.action!r}")


_PRINTING = threading.Lock()  # lines come from the session's, the learner's and the actions' threads


def _json_line(payload: dict) -> None:
    # Names stay readable (not \u-escaped), except the two characters that str.splitlines() takes for line ends:
    # a folder named with one (made outside FaceGate) must not split a decision in two.
    line = json.dumps(payload, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    with _PRINTING:  # one whole line at a time: print() writes the text and its newline separately
        print(line, flush=True)


def _json_lines_view() -> KioskView:
    """`run --headless`'s view of the kiosk: one JSON object per line on stdout for each source change, decision,
    learned photo, action health change, tailgating alert and site event. (Built here, not at import: the kiosk
    module pulls in OpenCV, NumPy and TensorFlow, which `facegate --help` does not need.)"""
    from facegate.kiosk import KioskView

    class JsonLines(KioskView):
        def on_source_status(self, status) -> None:
            _json_line({"type": "source", "state": status.state.value, "source": status.source,
                        "message": status.message})

        def on_decision(self, decision, result) -> None:
            _json_line({"type": "decision", "frame": result.frame.index, "track": decision.track_id,
                        "decision": decision.verdict.value, "name": decision.name, "reason": decision.reason,
                        "liveness": decision.details.get("liveness"),
                        "distance": None if decision.distance is None else round(decision.distance, 4),
                        # margin is infinite with one person enrolled: JSON has no infinity, so null
                        "margin": None if decision.margin is None or math.isinf(decision.margin)
                        else round(decision.margin, 4),
                        "greeted": decision.greet,
                        **{k: decision.details[k] for k in ("failed_checks", "guard_alert", "tailgating",
                                                            "others_in_view") if k in decision.details}})

        def on_action_health(self, health) -> None:
            _json_line({"type": "action", "action": health.action, "state": health.state.value,
                        "message": health.message})

        def on_tailgating(self, alert) -> None:
            _json_line({"type": "tailgating", "granted": alert.payload["granted"],
                        "new_faces": alert.payload["new_faces"]})

        def on_learned(self, outcome) -> None:
            if outcome.learned:
                _json_line({"type": "learned", "name": outcome.name, "photo": outcome.reason,
                            "distance": round(outcome.distance, 4)})

        def on_site_event(self, kind, payload) -> None:
            _json_line({"type": "site", "event": kind.value, **payload})

    return JsonLines()


def run_settings(args: argparse.Namespace) -> Settings:
    """The settings `run` uses: the saved ones, with the command line's overrides (checked as the file is)."""
    from dataclasses import replace

    settings = load_settings()
    if args.threshold is not None:
        settings = replace(settings, threshold=args.threshold)
        check_safe(settings, "--threshold")
    if args.liveness is not None:
        settings = replace(settings, liveness=args.liveness)
    if args.mqtt is not None:
        settings = replace(settings, mqtt_url=args.mqtt)
        check_safe(settings, "--mqtt")
    if args.database:
        settings = replace(settings, database_url=args.database)
    if args.door:
        settings = replace(settings, door_name=args.door)
    if args.demonstration:
        settings = replace(settings, demonstration=True)
    return settings


def headless_kiosk(args: argparse.Namespace, settings: Settings, view: KioskView) -> Kiosk:
    """The kiosk `run --headless` runs (not started), from the one assembly the window uses too
    (facegate.kiosk): only the parts the command line turns off differ (--no-log, --no-speech, --no-learning)."""
    import random

    from facegate.capture import parse_source
    from facegate.kiosk import (
        assemble_kiosk,
        close_parts,
        open_access_log,
        open_engine,
        open_gallery,
        open_speech,
        require_site_log,
        require_trusted_source,
    )

    source = parse_source(args.source if args.source is not None else settings.source)
    access_log = None if args.no_log else open_access_log(
        settings, Path(args.log_dir).expanduser() if args.log_dir else None)
    speech = None
    try:
        # Before the models load: a refusal takes a moment, not seconds.
        require_site_log(settings, access_log)
        trust = require_trusted_source(settings, source)
        if settings.demonstration:
            _json_line({"type": "demonstration", "source": str(source), "origin": trust.origin.value,
                        "reason": "marked as a demonstration kiosk: every decision and message says so"})
        speech = None if args.no_speech else open_speech(settings)
        engine = open_engine(settings)
        gallery = open_gallery(settings, engine, Path(args.gallery).expanduser() if args.gallery else None)
        for problem in gallery.refresh():
            _json_line({"type": "gallery_problem", "path": str(problem.path), "reason": problem.reason})
        return assemble_kiosk(settings, engine, gallery, view, source=source, access_log=access_log, speech=speech,
                              realtime=not args.fast, loop=args.loop, learn=not args.no_learning,
                              rng=random.Random(args.seed) if args.seed is not None else None,
                              source_trust=trust)
    except BaseException:
        close_parts(access_log, speech)
        raise


def cmd_run(args) -> int:
    settings = run_settings(args)
    if not args.headless:
        from facegate.capture import parse_source
        from facegate.ui.app import run_app

        source = parse_source(args.source if args.source is not None else settings.source)  # refused here if bad
        return run_app(settings, source=str(source.target) if args.source is not None else None,
                       gallery=args.gallery)
    from facegate.kiosk import close_parts

    view = _json_lines_view()
    kiosk = headless_kiosk(args, settings, view)
    session = kiosk.session
    kiosk.start()
    try:
        while not session.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        session.wait_idle()  # a face offered to the learner at the end of a recording is decided before the exit
        left = kiosk.stop(final=True)  # the site gets what the log holds now, while it can; the rest next start
        if left:
            _json_line({"type": "site", "event": "waiting", "waiting": left})
        close_parts(kiosk.access_log, kiosk.speech)
    stats = session.stats
    if session.capture.failure:  # a file or folder that can never be read: said once, not retried for ever
        print(f"error: {session.capture.failure}", file=sys.stderr)
        return 2
    _json_line({"type": "end", "frames": stats.frames, "dropped": stats.dropped, "encoded": stats.encoded,
                "fps": round(stats.fps, 2),
                "ms_per_frame": round(1000 * stats.busy_seconds / max(stats.frames, 1), 2)})
    return 1 if session.error else 0


def cmd_site_init(args) -> int:
    from facegate.site.schema import init_site, redact

    url = _site_url(args, load_settings())
    before, after = init_site(url)
    if before == after:
        print(f"site server {redact(url)}: schema version {after}, up to date; roles and grants checked")
    else:
        print(f"site server {redact(url)}: schema version {before} -> {after}; roles facegate_kiosk and "
              "facegate_admin ready (give each kiosk and administrator a login role in one of them)")
    return 0


def cmd_site_import(args) -> int:
    from facegate.access_log import AccessLog
    from facegate.config import default_door
    from facegate.gallery import Gallery
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import redact

    settings = load_settings()
    url = _site_url(args, settings)
    from facegate.access_log import DB_NAME

    gallery = Gallery(Path(args.gallery).expanduser() if args.gallery else settings.gallery_path())
    log_dir = Path(args.log_dir).expanduser() if args.log_dir else settings.log_path()
    if not args.no_log and not (log_dir / DB_NAME).is_file():
        print(f"no access log in {log_dir}: the people only")  # nothing is made there
    access_log = None if args.no_log or not (log_dir / DB_NAME).is_file() else AccessLog(log_dir)
    try:
        with SiteAdmin(url) as site:
            counts = site.import_folder(gallery, access_log, args.door or settings.door_name or default_door())
    finally:
        if access_log is not None:
            access_log.close()
    print(f"imported into {redact(url)}: {counts['people']} new people, {counts['photos']} new photo(s) from "
          f"{gallery.folder}; {counts['events']} new log entries ({counts['events_there']} were there already)"
          + ("" if access_log is None else f" from {access_log.folder}") + ". The folder and the log are unchanged.")
    return 0


def cmd_report_liveness(args) -> int:
    import dataclasses
    import time

    from facegate.access_log import DB_NAME, AccessLog
    from facegate.reports import format_liveness_report, liveness_report

    log_dir = Path(args.log_dir).expanduser() if args.log_dir else load_settings().log_path()
    if not (log_dir / DB_NAME).is_file():  # nothing is made there
        print(f"error: no access log in {log_dir}; give --log-dir, or run the kiosk with a log first",
              file=sys.stderr)
        return 2
    with AccessLog(log_dir) as access_log:
        rows = access_log.attempts(since=None if args.days is None else time.time() - args.days * 86400)
    if not rows:
        print(f"no liveness attempts in {log_dir}: turn on the liveness_trial setting (Settings, or the settings "
              "file) and let genuine people use the door for a few days", file=sys.stderr)
        return 1
    figures = liveness_report(rows)
    if args.json:
        for f in figures:
            print(json.dumps({**dataclasses.asdict(f), "bpcer": f.bpcer}))
    else:
        print(format_liveness_report(figures))
    return 0


def cmd_site_log(args) -> int:
    import time

    from facegate.site.admin import SiteAdmin, security_event_words

    with SiteAdmin(_site_url(args, load_settings())) as site:
        for row in site.events(args.limit, person=args.person, door=args.door):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["time"]))
            security = security_event_words(row["decision"], row["time"], row["details"] or {})
            print(f"{when}  {row['door']}  {row['decision']}  {row['person'] or 'Unknown'}"
                  + (f"  SECURITY EVENT: {security}" if security else ""))
    return 0


def cmd_site_door(args) -> int:
    """The door registry: which kiosk login writes which door's log rows; its last contact and silence."""
    import time

    from facegate.site.admin import SiteAdmin

    def clock(epoch: float | None) -> str:
        return "never" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))

    with SiteAdmin(_site_url(args, load_settings())) as site:
        if args.door_action == "add":
            site.add_door(args.login, args.door)
            print(f"{args.login} writes the log of the door {' '.join(args.door.split())!r} (its rows are that "
                  "door's, whatever it sends)")
        elif args.door_action == "remove":
            door = site.remove_door(args.login)
            print(f"{args.login} no longer has a door (was {door!r}): its decisions wait at the kiosk until it has one")
        elif args.door_action == "alerts":
            for alert in site.door_alerts(args.limit):
                what = "silent (last contact " + clock(alert["last_contact"]) + ")" if alert["kind"] == "silent" \
                    else "back"
                print(f"{clock(alert['at'])}  {alert['door']}  {what}  noticed by {alert['raised_by']}")
        else:
            for entry in site.door_registry():
                state = f"SILENT, reported at {clock(entry['silent_since'])}" if entry["silent_since"] else "ok"
                print(f"{entry['door']}  login {entry['login']}  last contact {clock(entry['last_contact'])}  {state}")
    return 0


def cmd_site_watch(args) -> int:
    """The reception's watch over the doors when no kiosk may be online: every few seconds, claims the doors
    silent past door_silent_after_s (as the kiosks do) and tells this computer's MQTT and webhook settings."""
    import time
    from dataclasses import replace

    from facegate.actions.listener import build_actions
    from facegate.kiosk import door_alerts_to_actions
    from facegate.site.schema import SiteError, check_schema, connect, driver_message, psycopg_module, redact
    from facegate.site.sync import HEARTBEAT_S, claim_silent_doors

    settings = load_settings()
    url = _site_url(args, settings)
    bound = args.after if args.after is not None else settings.door_silent_after_s
    if bound <= 0:
        raise FaceGateError("door_silent_after_s is 0 (no watch): give --after SECONDS or set it in the settings")
    # no door relay here: a silent door is told, never opened
    actions = build_actions(replace(settings, door_command="", door_serial=""))
    tell = door_alerts_to_actions(actions)
    print(f"watching the doors of {redact(url)}: a door silent for more than {bound:g} s is reported"
          + ("" if actions else " (no MQTT or webhook set: here and in the server's log only)"), flush=True)
    psycopg = psycopg_module()
    try:
        while True:
            try:
                with connect(url, keepalive=True) as conn:
                    check_schema(conn, url)
                    while True:
                        for alert in claim_silent_doors(conn, max(bound, 2 * HEARTBEAT_S), "reception"):
                            when = time.strftime("%H:%M:%S", time.localtime(alert.last_contact or 0))
                            print(f"SILENT: {alert.door} (last contact {when})", flush=True)
                            tell(alert)
                        time.sleep(HEARTBEAT_S)
            except (SiteError, psycopg.Error) as exc:
                print(f"site server unreachable ({redact(url)}: {driver_message(exc, url)}); trying again",
                      file=sys.stderr, flush=True)
                time.sleep(HEARTBEAT_S)
    except KeyboardInterrupt:
        return 0
    finally:
        if actions is not None:
            actions.stop(5)


def cmd_check(args) -> int:
    from facegate.vision.weights import ALL_WEIGHTS, locate, verify

    ok = True
    for weight in ALL_WEIGHTS:
        try:
            path = verify(weight, locate(weight))
            print(f"ok      {weight.key}: {path}")
        except FaceGateError as exc:
            ok = False
            print(f"FAILED  {weight.key}: {exc}")
    import PySide6

    from facegate.ui.binding_check import check_qt_binding

    binding = f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]}"
    try:
        check_qt_binding()
        print(f"ok      Qt binding: {binding}")
    except FaceGateError as exc:
        ok = False
        print(f"FAILED  Qt binding: {exc}")
    return 0 if ok else 1


def cmd_calibrate(args, engine=None) -> int:
    """Measure this gallery's false accepts and rejects, recommend a threshold, write the report, maybe apply it."""
    from facegate.calibration import calibrate_folders, summary_lines, write_report
    from facegate.config import Settings, config_path, default_data_dir, save_settings

    settings = load_settings()
    gallery = Path(args.gallery).expanduser() if args.gallery else settings.gallery_path()
    report_dir = Path(args.report).expanduser() if args.report else default_data_dir() / "calibration"
    if engine is None:
        from facegate.vision.engine import FaceEngine

        engine = FaceEngine(detector=settings.detector)
    report = calibrate_folders(gallery, Path(args.impostors).expanduser() if args.impostors else None,
                               args.target_far, engine=engine,
                               impostor_cache=default_data_dir() / ".impostors.embeddings.npz",
                               default_threshold=Settings().threshold)
    for line in summary_lines(report):
        print(line)
    written = write_report(report, report_dir)
    plots = (", ".join(name for name in written if name.endswith(".png"))
             or 'none: pip install "facegate[plots]" to draw them')
    print(f"Report: {written['report.txt']} (curves: curves.csv; plots: {plots})")
    if not args.apply:
        print(f"Not applied: the settings keep threshold {settings.threshold:.3f} (add --apply to save "
              f"{report.threshold:.3f}).")
    elif not report.can_apply:
        print(f"Nothing applied: the gallery is too small to calibrate; the settings keep threshold "
              f"{settings.threshold:.3f}.")
    else:
        current = load_settings()  # read again: they may have changed while the photos were being encoded
        old, current.threshold = current.threshold, float(report.threshold)
        save_settings(current)
        print(f"Applied: threshold {old:.3f} -> {current.threshold:.3f} in {config_path()}")
    return 0


def _target_far(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate: use for example 0.001 or 0.1%") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (0.001 means 0.1 %)")
    return value


def register_calibrate(subparsers) -> None:
    """Add the `calibrate` command to `subparsers` (from add_subparsers); its own function so that tests can
    parse it alone."""
    from facegate.calibration import DEFAULT_TARGET_FAR

    p = subparsers.add_parser(
        "calibrate", help="measure false accepts/rejects on the gallery and recommend a threshold",
        description="Estimate the false-accept and false-reject rates of this gallery across thresholds, "
                    "recommend the threshold for the target false-accept rate, and write a report.")
    p.add_argument("--gallery", metavar="DIR", help="enrolled-faces folder (default: from settings)")
    p.add_argument("--impostors", metavar="DIR",
                   help="folder of photos of people who will never be enrolled (more of them: a firmer estimate)")
    p.add_argument("--target-far", type=_target_far, default=DEFAULT_TARGET_FAR, metavar="RATE",
                   help="false-accept rate to stay under, per stranger's face (default 0.001 = 0.1 %%)")
    p.add_argument("--report", metavar="DIR",
                   help="folder for report.txt, curves.csv, scores.png, det.png (default: <data dir>/calibration)")
    p.add_argument("--apply", action="store_true", help="save the recommended threshold in the settings")
    p.set_defaults(func=cmd_calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facegate", description="Offline face-recognition access control.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show informational log lines")
    parser.add_argument("--database", metavar="URL",
                        help="the site's PostgreSQL server (default: the database_url setting); the password is "
                             "better kept in ~/.pgpass or PGPASSWORD than on the command line")
    sub = parser.add_subparsers(dest="command")

    def with_gallery(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--gallery", help="enrolled-faces folder (default: from settings)")
        return p

    p = with_gallery(sub.add_parser("enroll", help="add photos of a person to the gallery"))
    p.add_argument("--name", required=True, help="the person's name (becomes their folder name)")
    p.add_argument("photos", nargs="+", help="photo files showing this person alone")
    p.set_defaults(func=cmd_enroll)

    p = with_gallery(sub.add_parser("identify", help="name the enrolled people in a photo"))
    p.add_argument("photo")
    p.add_argument("--threshold", type=float, help="distance threshold (default: from settings)")
    p.set_defaults(func=cmd_identify)

    p = with_gallery(sub.add_parser("gallery", help="list, remove or rename enrolled people"))
    p.add_argument("action", choices=["list", "remove", "rename", "forget-learned"])
    p.add_argument("names", nargs="*", help="NAME for remove and forget-learned; OLD NEW for rename")
    p.add_argument("--yes", action="store_true", help="confirm removal")
    p.set_defaults(func=cmd_gallery)

    p = with_gallery(sub.add_parser("run", help="run the kiosk on a camera, video file, URL or image folder"))
    p.add_argument("--source", help="camera number, video file, rtsp/http URL or folder (default: settings)")
    p.add_argument("--headless", action="store_true", help="no window: print one JSON line per decision")
    p.add_argument("--fast", action="store_true",
                   help="play a file as fast as possible, every frame (benchmarks, tests); default: its own rate")
    p.add_argument("--threshold", type=float, help="distance threshold (default: from settings)")
    p.add_argument("--log-dir", help="access log folder (default: from settings)")
    p.add_argument("--no-log", action="store_true", help="do not write the access log")
    p.add_argument("--no-speech", action="store_true", help="do not speak greetings")
    p.add_argument("--liveness", choices=CHOICES["liveness"],
                   help="check that a live person is there before a grant (default: settings, 'adaptive')")
    p.add_argument("--seed", type=int,
                   help="fixed seed for the challenge requests (tests only: makes them predictable)")
    p.add_argument("--mqtt", metavar="URL",
                   help="publish decisions to this MQTT broker, mqtt://HOST:PORT (default: settings' mqtt_url)")
    p.add_argument("--no-learning", action="store_true",
                   help="do not learn photos from visits (default: settings' learn_from_visits), e.g. on a recording")
    p.add_argument("--loop", action="store_true", help="play a video file again and again (demos, tests)")
    p.add_argument("--door",
                   help="this door's name in a site's access log (default: door_name, or this computer's name)")
    p.add_argument("--demonstration", action="store_true",
                   help="a demonstration kiosk: door, MQTT and webhook actions run from a video file, folder, URL or "
                        "virtual camera too, and every log entry and message says so (default: settings)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("site", help="a site with several doors: set up the PostgreSQL server, import a folder",
                       description="A site's people and access log on a PostgreSQL server (--database or the "
                                   "database_url setting). See README, Several doors.")
    site_sub = p.add_subparsers(dest="site_command", required=True)
    q = site_sub.add_parser("init", help="create the schema and the kiosk and admin roles, or bring them up to date "
                                         "(run as the database's owner)")
    q.set_defaults(func=cmd_site_init)
    q = site_sub.add_parser("import-folder", help="copy a gallery folder and an access log to the site server "
                                                   "(both are left as they are; running it twice adds nothing twice)")
    q.add_argument("--gallery", help="enrolled-faces folder (default: from settings)")
    q.add_argument("--log-dir", help="access log folder (default: from settings)")
    q.add_argument("--no-log", action="store_true", help="import the people only")
    q.add_argument("--door", help="the door the log's decisions were made at (default: door_name, or this "
                                  "computer's name)")
    q.set_defaults(func=cmd_site_import)
    q = site_sub.add_parser("log", help="the site's access log, newest first")
    q.add_argument("--door", help="only this door's decisions")
    q.add_argument("--person", help="only this person's decisions")
    q.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    q.set_defaults(func=cmd_site_log)
    q = site_sub.add_parser("door", help="the door registry: which kiosk login writes which door's log rows, and "
                                         "each door's last contact (as a login in facegate_admin)")
    door_sub = q.add_subparsers(dest="door_action", required=True)
    d = door_sub.add_parser("add", help="tie a kiosk login to its door (again: rename its door)")
    d.add_argument("login", help="the kiosk's login role on the server, e.g. front_door")
    d.add_argument("door", help='the door\'s name in the log, e.g. "Front door"')
    d.set_defaults(func=cmd_site_door)
    d = door_sub.add_parser("list", help="every door: its login, last contact, and whether it is silent")
    d.set_defaults(func=cmd_site_door)
    d = door_sub.add_parser("remove", help="untie a kiosk login from its door (it can then write no log row)")
    d.add_argument("login")
    d.set_defaults(func=cmd_site_door)
    d = door_sub.add_parser("alerts", help="doors that fell silent and came back, newest first")
    d.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    d.set_defaults(func=cmd_site_door)
    q = site_sub.add_parser("watch", help="report doors that fall silent (the server's log, and this computer's "
                                          "MQTT and webhook settings), also when no kiosk is online; Ctrl+C stops")
    q.add_argument("--after", type=float, help="seconds of silence (default: door_silent_after_s)")
    q.set_defaults(func=cmd_site_watch)

    p = sub.add_parser("report", help="figures from the access log: liveness trial (BPCER, time to grant)")
    report_sub = p.add_subparsers(dest="report_command", required=True)
    q = report_sub.add_parser("liveness", help="per person and overall: checks, refusals of genuine people (BPCER), "
                                               "requests asked, median time to grant; from a trial "
                                               "(setting liveness_trial)")
    q.add_argument("--log-dir", help="access log folder (default: from settings)")
    q.add_argument("--days", type=float, help="only the last DAYS days (default: everything kept)")
    q.add_argument("--json", action="store_true", help="one JSON object per line instead of the table")
    q.set_defaults(func=cmd_report_liveness)

    p = sub.add_parser("check", help="verify every model file against its pinned SHA-256, and the Qt binding")
    p.set_defaults(func=cmd_check)

    register_calibrate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a console that cannot show "李小龍" gets "\u674e...", not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:  # plain `facegate` (or a double-click on main.py): the desktop app
        from facegate.ui.app import main as start_app

        return start_app()
    if args.command == "gallery" and args.action == "remove" and len(args.names) != 1:
        parser.error("usage: facegate gallery remove NAME --yes")
    try:
        return args.func(args)
    except FaceGateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
