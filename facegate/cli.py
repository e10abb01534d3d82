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
    from facegate.gallery import validate_name

    url = _site_url(args, load_settings())
    if url:
        return _site_gallery(args, url)
    gallery, settings = _gallery(args)
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
        _plan_follows_gallery(settings, gallery.folder, args.names[0],
                              lambda plan: plan.without_person(args.names[0]),
                              f"removed {args.names[0]}'s line from the access rules")
        return 0
    if args.action == "rename":
        if len(args.names) != 2:
            raise FaceGateError("usage: facegate gallery rename OLD NEW")
        gallery.rename(args.names[0], args.names[1])
        print(f"renamed {args.names[0]} -> {args.names[1]}")
        _plan_follows_gallery(settings, gallery.folder, args.names[0],
                              lambda plan: plan.renamed(args.names[0], validate_name(args.names[1])),
                              f"renamed {args.names[0]} -> {args.names[1]} in the access rules")
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


# ------------------------------------------------------------------ access rules (issue 31): who may enter where, when
DEFAULT_REPORT_DAYS = 7  # as the Access log dialog: the last week, today included


def _plan_store(args, settings):
    """Where the access rules are read and changed (facegate.kiosk.access_plan_store): the site's tables with
    --database or database_url, else the file beside the gallery (--gallery, else the settings')."""
    from dataclasses import replace

    from facegate.kiosk import access_plan_store

    folder = Path(args.gallery).expanduser() if getattr(args, "gallery", None) else None
    return access_plan_store(replace(settings, database_url=_site_url(args, settings)), folder)


def _plan_where(store) -> str:
    from facegate.access_plan import AccessPlanFile
    from facegate.site.schema import redact

    return str(store.path) if isinstance(store, AccessPlanFile) else f"the site server {redact(store.url)}"


def _edit_plan(args, settings, change, done: str) -> int:
    """Apply `change` to the access rules and say what was done, and where (AccessRulesError: nothing changed)."""
    store = _plan_store(args, settings)
    store.edit(change)
    print(f"{done} ({_plan_where(store)})")
    return 0


def _date(text: str, option: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FaceGateError(f"{option} {text!r} is not a date: write it as 2026-03-12") from None


def _moment(text: str, option: str):
    """A date (2026-03-12: the whole day) or a date and time (2026-03-12T17:00), in the plan's time zone."""
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)
    except ValueError:
        raise FaceGateError(f"{option} {text!r} is not a date (2026-03-12) or a date and time "
                            "(2026-03-12T17:00)") from None


def _enrolled(args, settings) -> list[str]:
    """The people enrolled: on the site server at a site, else in the gallery folder (its layout; nothing decoded)."""
    url = _site_url(args, settings)
    if url:
        from facegate.site.admin import SiteAdmin

        with SiteAdmin(url) as site:
            return list(site.people())
    from facegate.gallery import Gallery

    return list(Gallery(Path(args.gallery).expanduser() if args.gallery else settings.gallery_path()).photos())


def _access_words(plan, access) -> str:
    """One person's access in words: groups, from when, until when (and a visitor's host)."""
    from facegate.access_plan import when_text

    words = [f"groups {', '.join(access.groups)}"]
    if access.visitor:
        words.insert(0, f"visitor of {access.host}")
    words.append("from " + (when_text(access.valid_from) if access.valid_from is not None else "always"))
    words.append("until " + (when_text(access.valid_until) if access.valid_until is not None else "no end"))
    return f"{access.name}: " + "; ".join(words)


def _plan_follows_gallery(settings, gallery_folder: Path, name: str, change, done: str) -> None:
    """A person removed or renamed in the gallery: their line in the access rules too (a site's server does its own)."""
    from facegate.kiosk import access_plan_store

    store = access_plan_store(settings, gallery_folder)
    plan = store.plan()
    if name in plan.people or any(access.host == name for access in plan.people.values()):
        store.edit(change)
        print(f"{done} ({_plan_where(store)})")


def cmd_access(args) -> int:
    from facegate.access_plan import AccessPlanFile, AccessRulesError, format_plan, parse_plan, plan_path_for

    settings = load_settings()
    if args.access_action == "show":
        store = _plan_store(args, settings)
        plan = store.plan()
        if isinstance(store, AccessPlanFile) and store.problem:
            print(f"error: {store.problem}", file=sys.stderr)
            return 1
        if isinstance(store, AccessPlanFile) and not store.path.exists():
            print(f"# No access rules file at {store.path} yet: everyone enrolled may pass every door at any hour. "
                  "These are the default rules; `facegate group add ...` writes the file.")
        print(format_plan(plan), end="")
        return 0
    path = Path(args.file).expanduser() if args.file else plan_path_for(
        Path(args.gallery).expanduser() if args.gallery else settings.gallery_path())
    if not path.exists():
        if args.file:
            print(f"error: {path} does not exist; give the access rules file (<gallery>.access.txt)", file=sys.stderr)
            return 1
        print(f"{path}: no access rules file: everyone enrolled may pass every door at any hour (the default)")
        return 0
    try:
        plan = parse_plan(path.read_text(encoding="utf-8"), str(path))
    except AccessRulesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {path} cannot be read ({exc}); it must be a UTF-8 text file", file=sys.stderr)
        return 1
    visitors = sum(access.visitor for access in plan.people.values())
    print(f"{path}: ok: {len(plan.groups)} groups, {len(plan.people) - visitors} people, {visitors} visitors, "
          f"{len(plan.holidays)} holidays, {len(plan.passbacks)} anti-passback pairs"
          + (f"; time zone {plan.timezone}" if plan.timezone else "; this computer's time zone"))
    return 0


def cmd_access_settings(args) -> int:
    """The plan's own settings: how long face data is kept past the end of access, and the time zone of its hours."""
    from dataclasses import replace

    from facegate.access_plan import DAY, AccessRulesError, duration_text, parse_plan

    def change(plan):
        if args.expired_days is not None or args.visitors_hours is not None:
            for value, option in ((args.expired_days, "--expired-days"), (args.visitors_hours, "--visitors-hours")):
                if value is not None and value < 0:
                    raise AccessRulesError(f"{option} cannot be negative")
            plan = replace(plan, erase_expired_after_s=plan.erase_expired_after_s if args.expired_days is None
                           else args.expired_days * DAY,
                           erase_visitors_after_s=plan.erase_visitors_after_s if args.visitors_hours is None
                           else args.visitors_hours * 3600.0)
        if args.timezone is not None:
            if args.timezone:
                parse_plan(f'timezone "{args.timezone}"', "--timezone")  # the file's own check of the name
            plan = replace(plan, timezone=args.timezone or None)
        return plan

    if args.expired_days is None and args.visitors_hours is None and args.timezone is None:
        plan = _plan_store(args, load_settings()).plan()
        print(f"face data erased {duration_text(plan.erase_expired_after_s)} after a person's access ends, "
              f"{duration_text(plan.erase_visitors_after_s)} after a visit ends; hours in "
              + (plan.timezone or "this computer's time zone"))
        return 0
    return _edit_plan(args, load_settings(), change, "access settings changed")


def _group_from_options(name: str, doors: list[str] | None, hours: str | None):
    """The group the options describe, read as the rules file reads a group line (the same checks and words)."""
    from facegate.access_plan import AccessRulesError, parse_plan

    words = [f'group "{name}"']
    if doors is not None:
        words += ["doors", *(door if door in ("*", "-") else f'"{door}"' for door in doors)]
    if hours is not None:
        words += ["hours", hours]
    try:
        return parse_plan(" ".join(words), "--doors and --hours").groups[name]
    except AccessRulesError as exc:  # one line, made here: its number says nothing
        raise AccessRulesError(str(exc).replace(", line 1:", ":")) from None


def cmd_group(args) -> int:
    from dataclasses import replace

    from facegate.access_plan import AccessRulesError

    settings = load_settings()
    name = args.name
    if args.group_action == "list":
        plan = _plan_store(args, settings).plan()
        for group in plan.groups.values():
            if name and group.name != name:
                continue
            members = sum(group.name in access.groups for access in plan.people.values())
            hours = ("always" if group.hours is None else "never" if not group.hours
                     else " ".join(window.text() for window in group.hours))
            print(f"{group.name}: doors {', '.join(group.doors) or 'none'}; hours {hours}; {members} member(s)")
        return 0
    if not name:
        raise FaceGateError(f"usage: facegate group {args.group_action} NAME")
    if args.group_action == "remove":
        def remove(plan):
            if name not in plan.groups:
                raise AccessRulesError(f"There is no group {name!r} (groups: {', '.join(plan.groups)}).")
            return plan.without_group(name)
        return _edit_plan(args, settings, remove, f"removed the group {name!r}")
    described = _group_from_options(name, args.doors, args.hours)

    def change(plan):
        old = plan.groups.get(name)
        if args.group_action == "add" and old is not None:
            raise AccessRulesError(f"The group {name!r} exists already; change it with `facegate group set`.")
        if args.group_action == "set" and old is None:
            raise AccessRulesError(f"There is no group {name!r}; add it with `facegate group add`.")
        if old is None:
            return plan.with_group(described)
        return plan.with_group(replace(old, doors=described.doors if args.doors is not None else old.doors,
                                       hours=described.hours if args.hours is not None else old.hours))
    return _edit_plan(args, settings, change, f"{'added' if args.group_action == 'add' else 'changed'} the group "
                                              f"{name!r}")


def cmd_holiday(args) -> int:
    from dataclasses import replace

    from facegate.access_plan import AccessRulesError

    day = _date(args.date, "the holiday")

    def change(plan):
        holidays = dict(plan.holidays)
        if args.holiday_action == "add":
            holidays[day] = args.name or "a holiday"
        elif holidays.pop(day, None) is None:
            raise AccessRulesError(f"{day.isoformat()} is not a holiday in the rules (`facegate access show` "
                                   "lists them).")
        return replace(plan, holidays=holidays)
    if args.holiday_action == "add":
        done = f"{day.isoformat()} is a holiday: every window of hours that starts that day is closed"
    else:
        done = f"{day.isoformat()} is no longer a holiday"
    return _edit_plan(args, load_settings(), change, done)


def cmd_person_access(args) -> int:
    from dataclasses import replace

    from facegate.access_plan import PersonAccess

    settings = load_settings()
    name = args.name
    if name not in _enrolled(args, settings):
        raise FaceGateError(f"{name!r} is not enrolled; enroll them first (facegate enroll --name {name!r} PHOTO), "
                            "then give them their access.")
    updated: list = []

    def change(plan):
        access = plan.people.get(name) or PersonAccess(name)
        if args.groups is not None:
            access = replace(access, groups=tuple(args.groups))
        if args.valid_from is not None:
            access = replace(access, valid_from=_moment(args.valid_from, "--from"))
        if args.until is not None:
            access = replace(access, valid_until=_moment(args.until, "--until"))
        if args.no_end:
            access = replace(access, valid_until=None)
        updated.append(access)
        return plan.with_person(access)
    plan = _plan_store(args, settings).edit(change) if (args.groups or args.valid_from or args.until
                                                         or args.no_end) else None
    if plan is None:
        plan = _plan_store(args, settings).plan()
        print(_access_words(plan, plan.access_of(name)))
        return 0
    print(_access_words(plan, updated[-1]))
    return 0


def _visit_until(text: str | None, plan, now: float):
    """--until: a time today (17:30), a date (its end) or a date and time; default the end of today."""
    import datetime as dt

    from facegate.access_plan import PersonAccess

    today = plan.local(now).date()
    if text is None:
        return today
    if ":" in text and "T" not in text:
        try:
            until: dt.date | dt.datetime = dt.datetime.combine(today, dt.time.fromisoformat(text))
        except ValueError:
            raise FaceGateError(f"--until {text!r} is not a time of day (17:30), a date (2026-12-06) or a date and "
                                "time (2026-12-06T17:30)") from None
    else:
        until = _moment(text, "--until")
    ends = plan.ends(PersonAccess("", valid_until=until))
    if ends is not None and ends <= now:
        raise FaceGateError(f"--until {text} is already past; give a later time or date.")
    return until


def cmd_visitor(args) -> int:
    import datetime as dt
    import time

    from facegate.access_plan import VISITORS, PersonAccess
    from facegate.gallery import validate_name

    settings = load_settings()
    store = _plan_store(args, settings)
    now = time.time()
    if args.visitor_action == "list":
        return _list_visitors(args, settings, store.plan(), now)
    name = validate_name(args.name)
    plan = store.plan()
    listed = plan.people.get(name)
    if name in _enrolled(args, settings) and (listed is None or not listed.visitor):
        raise FaceGateError(f"{name!r} is enrolled already, not as a visitor; register the visitor under another "
                            "name (add their company, say), or change their access with `facegate person access`.")
    visit = PersonAccess(name, tuple(args.groups or (VISITORS,)), plan.local(now).replace(second=0, microsecond=0),
                         _visit_until(args.until, plan, now), host=args.host)
    # The visitor's line first: a face enrolled without it would be in "Everyone" (every door, for ever).
    store.edit(lambda current: current.with_person(visit))
    try:
        stored, problems = _enroll_one(args, settings, name, Path(args.photo).expanduser())
    except BaseException:
        store.edit(lambda current: current.without_person(name) if current.people.get(name) == visit else current)
        raise
    for problem in problems:
        print(f"skipped {problem}")
    until = visit.valid_until
    when = (f"{until:%H:%M}" if isinstance(until, dt.datetime) and until.date() == plan.local(now).date()
            else "the end of today" if until == plan.local(now).date() else str(until))
    print(f"registered the visitor {name} (host {args.host}; groups {', '.join(visit.groups)}) until {when}: "
          f"{stored} photo(s) enrolled ({_plan_where(store)}); their face data is erased after the visit")
    return 0


def _enroll_one(args, settings, name: str, photo: Path) -> tuple[int, list]:
    """Enroll `name` from one photo: on the site server at a site, else in the gallery. (photos stored, problems)"""
    url = _site_url(args, settings)
    if url:
        from facegate.gallery import Gallery
        from facegate.site.admin import SiteAdmin

        with SiteAdmin(url) as site:
            return site.enroll(Gallery(_replica_folder(args, settings)), name, [photo])
    gallery, _ = _gallery(args)
    gallery.refresh()
    saved, problems = gallery.enroll(name, [photo])
    return len(saved), problems


def _decision_rows(args, settings, since: float, until: float | None) -> tuple[list, str]:
    """The decisions from `since` to `until` (epoch seconds), oldest first, and where they were read: the site's
    log at a site, else this kiosk's (--log-dir, else the settings')."""
    url = _site_url(args, settings)
    if url:
        from facegate.site.admin import SiteLog
        from facegate.site.schema import redact

        return list(reversed(SiteLog(url).recent(limit=None, since=since, until=until))), \
            f"the site server {redact(url)}"
    from facegate.access_log import DB_NAME, AccessLog

    log_dir = Path(args.log_dir).expanduser() if getattr(args, "log_dir", None) else settings.log_path()
    if not (log_dir / DB_NAME).is_file():  # nothing is made there
        raise FaceGateError(f"no access log in {log_dir}; give --log-dir, or run the kiosk with a log first")
    with AccessLog(log_dir) as access_log:
        return list(reversed(access_log.recent(limit=None, since=since, until=until))), str(log_dir)


def _list_visitors(args, settings, plan, now: float) -> int:
    """Today's visitors: host, until when, inside or not (granted in today, not granted out since)."""
    import datetime as dt

    from facegate.reports import grants_of, inside_today

    today = plan.local(now).date()
    visitors = plan.visitors_on(today)
    if not visitors:
        print(f"no visitors today ({today.isoformat()})")
        return 0
    try:
        rows, _ = _decision_rows(args, settings, plan.midnight(today), None)
    except FaceGateError as exc:  # visitors registered before the kiosk ever ran: listed, nobody inside
        print(f"({exc}: nobody counts as inside)", file=sys.stderr)
        rows = []
    inside = inside_today(plan, grants_of(rows, settings.door()), now)
    for visit in visitors:
        if args.inside and visit.name not in inside:
            continue
        until = visit.valid_until
        when = f"{until:%H:%M}" if isinstance(until, dt.datetime) and until.date() == today else (
            "the end of today" if until == today else str(until))
        where = f"inside (in at {inside[visit.name].door}, {plan.local(inside[visit.name].time):%H:%M})" \
            if visit.name in inside else "not inside"
        print(f"{visit.name}  host {visit.host}  until {when}  {where}" + ("  (face data erased)" if visit.erased
                                                                            else ""))
    return 0


def cmd_passback(args) -> int:
    from dataclasses import replace

    from facegate.access_plan import AccessRulesError, Passback

    def same(pair) -> bool:
        return (pair.in_door.casefold(), pair.out_door.casefold()) == (args.in_door.casefold(),
                                                                       args.out_door.casefold())

    def change(plan):
        kept = tuple(pair for pair in plan.passbacks if not same(pair))
        if args.passback_action == "remove":
            if len(kept) == len(plan.passbacks):
                raise AccessRulesError(f"There is no anti-passback pair in {args.in_door!r} out {args.out_door!r} "
                                       "(`facegate access show` lists them).")
            return replace(plan, passbacks=kept)
        if args.reset is not None and args.reset <= 0:
            raise AccessRulesError("--reset is a number of hours above 0 (e.g. 12)")
        pair = Passback(args.in_door, args.out_door) if args.reset is None else \
            Passback(args.in_door, args.out_door, args.reset * 3600.0)
        return replace(plan, passbacks=(*kept, pair))
    done = (f"anti-passback: a person let in at {args.in_door!r} is not let in there again until seen at "
            f"{args.out_door!r}" if args.passback_action == "add" else
            f"removed the anti-passback pair {args.in_door!r} / {args.out_door!r}")
    return _edit_plan(args, load_settings(), change, done)


def cmd_report_access(args) -> int:
    """Attendance, doors per hour, or denials by rule, for whole local days of the plan's time zone."""
    import datetime as dt
    import time

    from facegate import reports
    from facegate.storage import atomic_write_bytes

    settings = load_settings()
    plan = _plan_store(args, settings).plan()
    today = plan.local(time.time()).date()
    first = _date(args.since, "--since") if args.since else today - dt.timedelta(days=DEFAULT_REPORT_DAYS - 1)
    last = _date(args.until, "--until") if args.until else today
    if first > last:
        raise FaceGateError(f"--since {first} is after --until {last}; give a --since on or before --until")
    since = plan.epoch(dt.datetime.combine(first, dt.time()))
    until = plan.epoch(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    rows, where = _decision_rows(args, settings, since, until)
    if args.report_command == "attendance":
        table = reports.attendance_table(reports.attendance(rows, settings.door(), plan.timezone))
    elif args.report_command == "doors":
        table = reports.door_hours_table(reports.door_hours(rows, settings.door(), plan.timezone))
    else:
        table = reports.denials_table(reports.denials(rows, plan.timezone))
    period = f"{first.isoformat()} to {last.isoformat()}"
    if args.csv:
        path = Path(args.csv).expanduser()
        try:
            atomic_write_bytes(path, reports.table_csv(table).encode("utf-8"))
        except OSError as exc:
            raise FaceGateError(f"{path} cannot be written ({exc}); choose another file") from None
        print(f"wrote {len(table.rows)} row(s) to {path} ({args.report_command}, {period}, from {where})")
        return 0
    print(f"{args.report_command}, {period}, from {where}:")
    print(reports.format_table(table) if table.rows else "nothing in this period")
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

    p = sub.add_parser("report", help="figures from the access log: attendance, doors per hour, denials by rule; "
                                      "liveness trial (BPCER, time to grant)")
    report_sub = p.add_subparsers(dest="report_command", required=True)
    q = report_sub.add_parser("liveness", help="per person and overall: checks, refusals of genuine people (BPCER), "
                                               "requests asked, median time to grant; from a trial "
                                               "(setting liveness_trial)")
    q.add_argument("--log-dir", help="access log folder (default: from settings)")
    q.add_argument("--days", type=float, help="only the last DAYS days (default: everything kept)")
    q.add_argument("--json", action="store_true", help="one JSON object per line instead of the table")
    q.set_defaults(func=cmd_report_liveness)
    for kind, words in (("attendance", "per person per day: the first and last grant, how many, at which doors"),
                        ("doors", "per door per hour: let in, refused, not recognised"),
                        ("denials", "who was refused by which rule (schedule, holiday, doors, validity, visit_ended, "
                                    "anti_passback, offline_bound, rules_invalid, liveness), how often, when last")):
        q = with_gallery(report_sub.add_parser(kind, help=words + "; the site's log at a site"))
        q.add_argument("--since", metavar="DATE", help="first day, 2026-03-01 (default: 6 days before today)")
        q.add_argument("--until", metavar="DATE", help="last day, included (default: today)")
        q.add_argument("--csv", metavar="FILE", help="save the report as a spreadsheet file instead of printing it")
        q.add_argument("--log-dir", help="access log folder (default: from settings)")
        q.set_defaults(func=cmd_report_access)

    p = sub.add_parser("access", help="the access rules (groups, hours, people, visitors): show or "
                                                   "check them", description="Who may enter where and when: the "
                                    "rules file beside the gallery (<gallery>.access.txt), or the site's tables. "
                                    "See README, Who may enter where and when.")
    access_sub = p.add_subparsers(dest="access_action", required=True)
    q = with_gallery(access_sub.add_parser("show", help="print the rules in force, as the rules file writes them"))
    q.set_defaults(func=cmd_access)
    q = with_gallery(access_sub.add_parser("check", help="check a rules file; names the line that is wrong (exit 1)"))
    q.add_argument("file", nargs="?", help="the rules file (default: the one beside the gallery)")
    q.set_defaults(func=cmd_access)
    q = with_gallery(access_sub.add_parser(
        "settings", help="show or change the retentions (face data kept past the end of access) and the time zone"))
    q.add_argument("--expired-days", type=float, metavar="DAYS",
                   help="erase a person's photos and embeddings this long after their access ends (default 30)")
    q.add_argument("--visitors-hours", type=float, metavar="HOURS",
                   help="erase a visitor's photo and embeddings this long after the visit ends (default 1)")
    q.add_argument("--timezone", metavar="ZONE",
                   help="time zone of the hours and dates, e.g. Europe/London ('' : this computer's)")
    q.set_defaults(func=cmd_access_settings)

    p = with_gallery(sub.add_parser("group", help="add, change, remove or list access groups (doors and hours)"))
    p.add_argument("group_action", choices=["add", "set", "remove", "list"])
    p.add_argument("name", nargs="?", help='the group, e.g. "Cleaning" (list: all groups when left out)')
    p.add_argument("--doors", nargs="+", metavar="DOOR",
                   help='the doors it may use, e.g. "Front door" "Side door"; * for every door, - for none '
                        "(add: default every door)")
    p.add_argument("--hours", help='weekly hours in the rules\' time zone, e.g. "Mon-Fri 07:00-19:00 Sat 08:00-12:00",'
                                   " always or never (add: default always)")
    p.set_defaults(func=cmd_group)

    p = with_gallery(sub.add_parser("holiday", help="add or remove a holiday: a date on which no hours open"))
    p.add_argument("holiday_action", choices=["add", "remove"])
    p.add_argument("date", help="the date, 2026-12-25")
    p.add_argument("name", nargs="?", help='its name, e.g. "Christmas Day"')
    p.set_defaults(func=cmd_holiday)

    p = sub.add_parser("person", help="an enrolled person's access: groups, from and until when")
    person_sub = p.add_subparsers(dest="person_action", required=True)
    q = with_gallery(person_sub.add_parser("access", help="show or change an enrolled person's access"))
    q.add_argument("name")
    q.add_argument("--groups", nargs="+", metavar="GROUP", help='their groups, e.g. "Staff" "IT"')
    q.add_argument("--from", dest="valid_from", metavar="DATE", help="access starts: 2026-03-01 or 2026-03-01T09:00")
    ends = q.add_mutually_exclusive_group()
    ends.add_argument("--until", metavar="DATE", help="access ends after this day (2026-03-12) or at this time "
                                                      "(2026-03-12T17:00)")
    ends.add_argument("--no-end", action="store_true", help="access does not end")
    q.set_defaults(func=cmd_person_access)

    p = sub.add_parser("visitor", help="register a visitor at the desk, or list today's visitors")
    visitor_sub = p.add_subparsers(dest="visitor_action", required=True)
    q = with_gallery(visitor_sub.add_parser("add", help="enroll a visitor from one photo, for today (or until a "
                                                        "time); their face data is erased after the visit"))
    q.add_argument("name")
    q.add_argument("--host", required=True, help="who they visit (told when they arrive)")
    q.add_argument("--photo", required=True, help="one photo of the visitor alone")
    q.add_argument("--until", metavar="TIME|DATE", help="17:30 today, a date, or 2026-12-07T12:00 (default: the end "
                                                        "of today)")
    q.add_argument("--groups", nargs="+", metavar="GROUP", help='their groups (default "Visitors")')
    q.set_defaults(func=cmd_visitor)
    q = with_gallery(visitor_sub.add_parser("list", help="today's visitors: host, until when, inside or not"))
    q.add_argument("--inside", action="store_true", help="only those still inside (let in, not seen out)")
    q.add_argument("--log-dir", help="access log folder (default: from settings)")
    q.set_defaults(func=cmd_visitor)

    p = with_gallery(sub.add_parser("passback", help="anti-passback: a person let in at an in door is not let in "
                                                     "there again until seen at its out door"))
    p.add_argument("passback_action", choices=["add", "remove"])
    p.add_argument("--in", dest="in_door", required=True, metavar="DOOR", help='the "in" door, e.g. "Front door"')
    p.add_argument("--out", dest="out_door", required=True, metavar="DOOR", help='the "out" door, e.g. "Front exit"')
    p.add_argument("--reset", type=float, metavar="HOURS",
                   help="after this many hours an \"in\" counts again without an \"out\" (default 12)")
    p.set_defaults(func=cmd_passback)

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
