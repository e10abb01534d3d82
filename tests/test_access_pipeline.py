"""Who may enter where and when (issue 31) on the real pipeline: the clip, Lin-Manuel Miranda's enrollment photo,
the kiosk as assemble_kiosk builds it, a rules file beside the gallery, and the clock set (item 8): a Monday at
06:59 refused with the reason on screen, in the log and SPOKEN (a real SpeechWorker, espeak-ng to ALSA's null
device) and no door opened (a recording relay); 07:00 granted and the door pulsed (item 2); a visitor granted
today and refused tomorrow, then erased after the retention with the log rows kept (items 3, 4); a second "in"
refused by anti-passback (item 5).

Each test plays his frontal shot (frames 80-125) a few times in one session, the face leaving between passes (a
second of black frames: a new track, a new visit); the clock moves only between passes, when the reader starts a
pass. Nothing sleeps to move time."""

import datetime as dt
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from facegate.access_log import AccessLog
from facegate.access_plan import RULE_PASSBACK, RULE_SCHEDULE, RULE_VISIT_ENDED, plan_path_for
from facegate.capture import open_reader, parse_source
from facegate.config import Settings
from facegate.gallery import Gallery
from facegate.kiosk import KioskView, assemble_kiosk
from facegate.policy import Decision, Verdict
from facegate.speech import SpeechWorker
from facegate_dev.counterparts import relay_command, relay_records, relay_script, wait_until

CLIP = "short_hamilton_clip.mp4"
LIN = "Lin-Manuel Miranda"
FRONTAL = (80, 125)  # he faces the camera from frame ~83 (the cut is at 82); a grant comes within ~10 frames
GAP = 30  # black frames between passes: 1 s of video, longer than a track outlives its face (0.7 s)
LONDON = ZoneInfo("Europe/London")


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).timestamp()


MONDAY = dt.date(2026, 12, 7)
assert MONDAY.weekday() == 0


@pytest.fixture(scope="module")
def frontal(clips) -> list[np.ndarray]:
    """The clip's frames FRONTAL, decoded once by FaceGate's own reader (RGB)."""
    reader = open_reader(parse_source(str(clips / CLIP)))
    frames = []
    try:
        while reader.index < FRONTAL[1]:
            image = reader.read()
            assert image is not None
            if reader.index >= FRONTAL[0]:
                frames.append(image)
    finally:
        reader.release()
    return frames


class Passes:
    """A FrameReader playing `frames` once per clock reading in `times`, with GAP black frames after each pass;
    the clock reads times[i] from the first frame of pass i (set by the reader, before the pipeline sees it)."""

    def __init__(self, frames: Sequence[np.ndarray], times: Sequence[float], clock: list[float], fps: float = 30.0):
        self.fps, self.index = fps, -1
        self._times, self._clock = list(times), clock
        self._script = [(pass_no, image) for pass_no in range(len(times))
                        for image in [*frames, *[np.zeros_like(frames[0])] * GAP]]
        self.pass_started: list[float] = []  # the wall time each pass began (the relay records wall time)

    def read(self) -> np.ndarray | None:
        if self.index + 1 >= len(self._script):
            return None
        self.index += 1
        pass_no, image = self._script[self.index]
        if len(self.pass_started) == pass_no:
            import time

            self._clock[0] = self._times[pass_no]
            self.pass_started.append(time.time())
        return image

    def release(self) -> None:
        pass


class Decisions(KioskView):
    def __init__(self) -> None:
        self.made: list[tuple[float, Decision]] = []  # (the clock's reading, decision)
        self.clock: Callable[[], float] = lambda: 0.0
        self._lock = threading.Lock()

    def on_decision(self, decision, result) -> None:
        with self._lock:
            self.made.append((self.clock(), decision))

    def about(self, name: str) -> list[tuple[float, Decision]]:
        return [(when, d) for when, d in self.made if d.name == name and d.verdict is not Verdict.PENDING]


@pytest.fixture()
def door(tmp_path, clips, engine):
    """A door with Lin-Manuel Miranda enrolled, a recording relay, a real speech worker and an access log; returns
    run(plan text, clock readings, frames) -> (the decisions, the passes, the kiosk, its clock), and the gallery,
    the access log, what was said and the relay's records."""
    folder = tmp_path / "gallery"
    folder.mkdir()
    shutil.copy(clips / "lin-manuel-miranda.png", folder / f"{LIN}.png")
    gallery = Gallery(folder, engine)
    gallery.refresh()
    assert gallery.people == [LIN]
    program, records = relay_script(tmp_path)
    # demonstration: this door is driven by a recording of the clip, not a camera (the door action requires it)
    settings = replace(Settings(), demonstration=True, liveness="off", door_name="Front door", door_open_s=0.3,
                       door_command=relay_command(program, records, "open"),
                       door_close_command=relay_command(program, records, "close"), door_command_timeout_s=5.0,
                       log_dir=str(tmp_path / "log"), learn_from_visits=False)
    access_log = AccessLog(tmp_path / "log")
    heard: list[str] = []
    speech = SpeechWorker(device="null", on_spoken=heard.append)

    def run(plan: str, times: Sequence[float], frames: Sequence[np.ndarray]):
        plan_path_for(folder).write_text(plan, encoding="utf-8")
        clock = [times[0]]
        passes = Passes(frames, times, clock)
        view = Decisions()
        view.clock = lambda: clock[0]
        kiosk = assemble_kiosk(settings, engine, gallery, view, source=str(clips / CLIP), access_log=access_log,
                               speech=speech, realtime=False, learn=False, clock=lambda: clock[0],
                               reader_factory=lambda spec, hold: passes)
        kiosk.start()
        assert kiosk.session.wait(90), "the passes did not finish in time"
        kiosk.stop()
        assert kiosk.session.error is None, kiosk.session.error
        access_log.flush()
        return view, passes, kiosk, clock

    yield run, gallery, access_log, heard, records
    speech.close()
    access_log.close()


def rows_about(access_log: AccessLog, name: str):
    return sorted(access_log.recent(limit=None, person=name), key=lambda row: row.id)


def test_monday_06_59_is_refused_with_the_reason_said_and_logged_and_07_00_is_granted(door, frontal):
    run, _, access_log, heard, records = door
    plan = ('timezone Europe/London\ngroup "Staff" doors "Front door" hours Mon-Fri 07:00-19:00\n'
            f'person "{LIN}" groups "Staff"\n')
    early, opening = at(MONDAY, 6, 59), at(MONDAY, 7)
    view, passes, _, _ = run(plan, [early, opening], frontal)
    decided = view.about(LIN)
    assert [(when, d.verdict) for when, d in decided] == [(early, Verdict.DENIED), (opening, Verdict.GRANTED)], \
        decided
    refused, granted = decided[0][1], decided[1][1]
    reason = "Sorry Lin-Manuel, this door is closed to you until 07:00"
    assert refused.reason == reason and refused.details["rule"] == RULE_SCHEDULE and not refused.greet
    assert granted.greet
    rows = rows_about(access_log, LIN)
    assert [(row.time, row.decision) for row in rows] == [(early, Verdict.DENIED), (opening, Verdict.GRANTED)]
    assert rows[0].details["rule"] == RULE_SCHEDULE and rows[0].details["reason"] == reason
    assert wait_until(lambda: reason in heard and f"Welcome {LIN}" in heard, 30), heard  # said aloud, in order
    assert heard.index(reason) < heard.index(f"Welcome {LIN}")
    assert wait_until(lambda: any(action == "open" for action, _, _ in relay_records(records)), 10)
    opened = [when for action, when, _ in relay_records(records) if action == "open"]
    assert len(opened) == 1 and opened[0] >= passes.pass_started[1], \
        "the door opened once, for the grant at 07:00, not for the refusal at 06:59"


def test_a_visitor_is_granted_today_refused_tomorrow_and_erased_after_the_retention(door, frontal):
    run, gallery, access_log, heard, records = door
    plan = ('timezone Europe/London\nerase-visitors-after 1 day\n'
            f'visitor "{LIN}" host "Ada Lovelace" from {MONDAY.isoformat()}T09:00 until {MONDAY.isoformat()}\n')
    today, tomorrow = at(MONDAY, 10), at(MONDAY + dt.timedelta(days=1), 9)
    view, _, kiosk, clock = run(plan, [today, tomorrow], frontal)
    decided = view.about(LIN)
    assert [(when, d.verdict) for when, d in decided] == [(today, Verdict.GRANTED), (tomorrow, Verdict.DENIED)], \
        decided
    granted, refused = decided[0][1], decided[1][1]
    assert granted.details["visitor"] is True and granted.details["host"] == "Ada Lovelace"
    assert refused.details["rule"] == RULE_VISIT_ENDED
    assert refused.reason == "Sorry Lin-Manuel, your visit ended on 7 December"
    logged = rows_about(access_log, LIN)
    assert logged[0].details["visitor"] is True and logged[0].details["host"] == "Ada Lovelace"
    assert logged[1].details["rule"] == RULE_VISIT_ENDED

    # the retention, on the same clock: the end of his day (Tuesday 00:00) plus one day
    erase_at = at(MONDAY + dt.timedelta(days=2), 0)
    clock[0] = erase_at - 1
    assert kiosk.eraser.erase_due() == [] and LIN in gallery.people
    clock[0] = erase_at
    assert kiosk.eraser.erase_due() == [LIN]
    assert LIN not in gallery.people and not list(gallery.folder.glob("*.png"))
    assert kiosk.plan_file.plan().people[LIN].erased  # today's list keeps his line, marked erased
    assert [(row.time, row.decision) for row in rows_about(access_log, LIN)] == \
        [(row.time, row.decision) for row in logged]  # his log rows stay


def test_a_second_in_is_refused_by_anti_passback(door, frontal):
    run, _, access_log, heard, records = door
    plan = 'timezone Europe/London\npassback in "Front door" out "Front exit" reset 12 hours\n'
    first, again = at(MONDAY, 10), at(MONDAY, 10, 5)
    view, passes, _, _ = run(plan, [first, again], frontal)
    decided = view.about(LIN)
    assert [(when, d.verdict) for when, d in decided] == [(first, Verdict.GRANTED), (again, Verdict.DENIED)], decided
    refused = decided[1][1]
    assert refused.details["rule"] == RULE_PASSBACK
    assert refused.reason == "Sorry Lin-Manuel, you went in at 10:00 and have not been seen going out"
    assert wait_until(lambda: refused.reason in heard, 30), heard
    opened = [when for action, when, _ in relay_records(records) if action == "open"]
    assert len(opened) == 1 and opened[0] < passes.pass_started[1]
