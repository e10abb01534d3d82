"""Access log: real SQLite files, real JPEG snapshots, real processes killed with SIGKILL."""

import csv
import logging
import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.access_log import SCHEMA_VERSION, AccessEvent, AccessLog

REPO = Path(__file__).resolve().parents[1]
DAY = 86400.0
ERASED = "Zelda Quinterro-Vasquez"  # a name found nowhere else in the files


def _face(seed: int, size: int = 64) -> np.ndarray:
    """A smooth RGB image (JPEG-friendly) that differs per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _event(when: float, track: int, person: str | None, snapshot: bool = True, **extra) -> AccessEvent:
    decision = extra.pop("decision", "granted" if person else "unknown")
    return AccessEvent(time=when, track_id=track, person=person, distance=0.31 if person else 0.72,
                       margin=0.12 if person else None, decision=decision, source="cam0",
                       details={"blink": True, "track": track}, snapshot=_face(track) if snapshot else None, **extra)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _db_rows(folder: Path) -> list[tuple]:
    conn = sqlite3.connect(folder / "access.sqlite3")
    try:
        return conn.execute("SELECT id, person, snapshot FROM decisions").fetchall()
    finally:
        conn.close()


@pytest.fixture()
def access_log(tmp_path):
    log = AccessLog(tmp_path / "log")
    yield log
    log.close()


def test_record_and_read_back_with_filters(access_log, tmp_path):
    now = time.time()
    events = [_event(now - 3 * DAY, 1, "Ann"), _event(now - 2 * DAY, 2, None),
              _event(now - DAY, 3, "Bob", snapshot=False), _event(now - 60, 4, "Ann", snapshot=False),
              _event(now - 30, 5, None, decision="unknown"), _event(now - 10, 6, "Eve", decision="denied")]
    started = time.perf_counter()
    assert all(access_log.record(e) for e in events)
    assert time.perf_counter() - started < 0.5  # queued, not written, on the caller's thread
    assert access_log.flush(10)

    rows = access_log.recent()
    assert [r.track_id for r in rows] == [6, 5, 4, 3, 2, 1]  # newest first
    first = rows[-1]
    assert (first.person, first.decision, first.distance, first.margin, first.source) == ("Ann", "granted", 0.31,
                                                                                          0.12, "cam0")
    assert first.details == {"blink": True, "track": 1}
    assert [r.track_id for r in access_log.recent(person="Ann")] == [4, 1]
    assert [r.track_id for r in access_log.recent(unknown_only=True)] == [5, 2]
    assert [r.track_id for r in access_log.recent(since=now - 1.5 * DAY)] == [6, 5, 4, 3]
    assert [r.track_id for r in access_log.recent(since=now - 2.5 * DAY, until=now - 0.5 * DAY)] == [3, 2]
    assert [r.track_id for r in access_log.recent(limit=2)] == [6, 5]

    with_pictures = [r for r in rows if r.snapshot is not None]
    assert sorted(r.track_id for r in with_pictures) == [1, 2, 5, 6]
    for row in with_pictures:
        assert row.snapshot.is_file() and _mode(row.snapshot) == 0o600
        assert row.snapshot.parent.name == time.strftime("%Y-%m-%d", time.localtime(row.time))
        assert ERASED not in str(row.snapshot) and "Ann" not in str(row.snapshot)
        picture = cv2.cvtColor(cv2.imread(str(row.snapshot)), cv2.COLOR_BGR2RGB)
        assert np.abs(picture.astype(int) - _face(row.track_id).astype(int)).mean() < 6  # same image, RGB order
    assert access_log.median_latency_ms() is not None

    folder = access_log.folder
    assert _mode(folder) == 0o700 and _mode(folder / "snapshots") == 0o700
    assert all(_mode(day) == 0o700 for day in (folder / "snapshots").iterdir())
    assert _mode(folder / "access.sqlite3") == 0o600
    if (folder / "access.sqlite3-wal").exists():
        assert _mode(folder / "access.sqlite3-wal") == 0o600
    conn = sqlite3.connect(folder / "access.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()

    exported = tmp_path / "export.csv"
    assert access_log.export_csv(exported, person="Ann") == 2
    assert _mode(exported) == 0o600
    with open(exported, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["person"], r["decision"], r["track_id"]) for r in table] == [("Ann", "granted", "1"),
                                                                            ("Ann", "granted", "4")]
    assert table[0]["snapshot"] == str(rows[-1].snapshot) and table[1]["snapshot"] == ""
    assert float(table[0]["time"]) == pytest.approx(events[0].time, abs=1e-3)
    assert access_log.export_csv(tmp_path / "unknown.csv", unknown_only=True) == 2


def test_bad_events_are_logged_not_raised(access_log, caplog):
    caplog.set_level(logging.ERROR, logger="facegate.access_log")
    assert not access_log.record(_event(time.time(), 1, "Ann", decision="pending"))
    assert "pending" in caplog.text
    odd = _event(time.time(), 2, "Ann")
    odd.snapshot = np.zeros((10, 10, 3), dtype=np.float32)  # not uint8: the row is kept, the picture is not
    odd.details = {"when": object()}  # not JSON: stored as its text
    assert access_log.record(odd)
    assert access_log.flush(10)
    [row] = access_log.recent()
    assert row.track_id == 2 and row.snapshot is None and "object" in row.details["when"]
    assert "snapshot of track 2 not saved" in caplog.text


def test_snapshot_write_failure_keeps_the_row(access_log, caplog):
    """A real OS error on the writer thread (a file where the day folder should be) is logged; the video
    path never sees it, the decision is still stored, and the log keeps working."""
    now = time.time()
    day = access_log.folder / "snapshots" / time.strftime("%Y-%m-%d", time.localtime(now))
    day.write_bytes(b"in the way")
    assert access_log.record(_event(now, 1, "Ann"))
    assert access_log.flush(10)
    [row] = access_log.recent()
    assert row.person == "Ann" and row.snapshot is None
    assert "snapshot of track 1 not saved" in caplog.text
    day.unlink()
    assert access_log.record(_event(now, 2, "Ann")) and access_log.flush(10)
    assert access_log.recent(limit=1)[0].snapshot.is_file()


def test_purge_snapshots_removes_old_files(access_log):
    now = time.time()
    for track, age in enumerate([40, 31, 29, 2, 0.1]):
        access_log.record(_event(now - age * DAY, track, "Ann"))
    assert access_log.flush(10)
    before = {r.track_id: r.snapshot for r in access_log.recent()}
    assert access_log.purge_snapshots(30, now=now) == 2
    after = {r.track_id: r.snapshot for r in access_log.recent()}
    assert len(after) == 5  # rows stay
    for track in (0, 1):
        assert after[track] is None and not before[track].exists()
        assert not before[track].parent.exists()  # the emptied day folder goes too
    for track in (2, 3, 4):
        assert after[track] == before[track] and before[track].is_file()
    assert access_log.purge_snapshots(30, now=now) == 0


def test_erase_person_leaves_no_trace(access_log):
    now = time.time()
    for track in range(12):
        access_log.record(_event(now - track * 3600, track, ERASED if track % 3 == 0 else "Ann"))
    access_log.record(_event(now, 99, ERASED, snapshot=False))
    assert access_log.flush(10)
    folder = access_log.folder
    erased_files = [r.snapshot for r in access_log.recent(person=ERASED) if r.snapshot]
    assert len(erased_files) == 4

    def files_mentioning(text: str) -> list[Path]:
        return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]

    assert files_mentioning(ERASED)  # the grep below can see the name when it is there
    assert access_log.erase_person(ERASED) == 5
    assert access_log.recent(person=ERASED) == []
    assert len(access_log.recent()) == 8
    assert not any(p.exists() for p in erased_files)
    remaining = {p for p in folder.rglob("*.jpg")}
    assert remaining == {r.snapshot for r in access_log.recent()}
    assert files_mentioning(ERASED) == []  # not in the database, its free pages, the WAL or any other file
    assert files_mentioning("Ann")  # the other person's rows are intact
    access_log.record(_event(now, 100, "Ann"))
    access_log.close()
    assert files_mentioning(ERASED) == []
    conn = sqlite3.connect(folder / "access.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM decisions WHERE person = ?", (ERASED,)).fetchone()[0] == 0
    conn.close()


def test_corrupt_database_is_moved_aside(tmp_path, caplog):
    folder = tmp_path / "log"
    folder.mkdir()
    garbage = os.urandom(8192)
    (folder / "access.sqlite3").write_bytes(garbage)
    (folder / "access.sqlite3-wal").write_bytes(os.urandom(4096))
    with AccessLog(folder) as log:
        aside = [p for p in folder.iterdir() if p.name.startswith("access.sqlite3.corrupt-")
                 and not p.name.endswith("-wal")]
        assert len(aside) == 1 and aside[0].read_bytes() == garbage
        assert aside[0].with_name(aside[0].name + "-wal").exists()  # its journal went with it
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any(aside[0].name in message for message in errors)
        assert log.record(_event(time.time(), 1, "Ann")) and log.flush(10)
        assert [r.person for r in log.recent()] == ["Ann"]
    conn = sqlite3.connect(folder / "access.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_damaged_pages_are_detected(tmp_path, caplog):
    """A database with a valid header but overwritten pages (a bad sector) is caught by the open check."""
    folder = tmp_path / "log"
    with AccessLog(folder) as log:
        for track in range(200):
            log.record(_event(time.time(), track, "Ann", snapshot=False))
    db = folder / "access.sqlite3"
    data = bytearray(db.read_bytes())
    assert len(data) >= 4 * 4096
    data[4096 + 100:3 * 4096] = os.urandom(3 * 4096 - 4096 - 100)
    db.write_bytes(bytes(data))
    with AccessLog(folder) as log:
        assert log.recent() == []
        assert any(p.name.startswith("access.sqlite3.corrupt-") for p in folder.iterdir())
    assert "damaged" in caplog.text


_DISK_FULL_CHILD = textwrap.dedent("""
    import logging, resource, signal, sys, time
    import numpy as np
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    from facegate.access_log import AccessEvent, AccessLog
    log = AccessLog(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, like ENOSPC
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    rng = np.random.default_rng(0)
    accepted = 0
    for track in range(60):
        snapshot = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)  # noise: ~20 KB of JPEG each
        accepted += log.record(AccessEvent(time.time(), track, "Ann", 0.3, 0.1, "granted", snapshot=snapshot))
    log.close()
    print("accepted", accepted, "dropped", log.dropped, flush=True)
""")


def test_disk_full_is_logged_and_survived(tmp_path):
    """Files may not grow past 64 KB (RLIMIT_FSIZE): snapshot and database writes fail for real."""
    child = subprocess.run([sys.executable, "-c", _DISK_FULL_CHILD, str(tmp_path / "log")], cwd=REPO,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert "accepted 60" in child.stdout  # record() took every event and never raised
    assert "ERROR" in child.stderr and ("not saved" in child.stderr or "could not be saved" in child.stderr)
    with AccessLog(tmp_path / "log") as log:
        for row in log.recent(limit=None):
            assert row.snapshot is None or cv2.imread(str(row.snapshot)) is not None


_KILL_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from facegate.access_log import AccessEvent, AccessLog
    log = AccessLog(sys.argv[1])
    print("ready", flush=True)
    rng = np.random.default_rng(int(sys.argv[2]))
    count = 0
    while True:
        for _ in range(4):
            snapshot = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) if count % 4 else None
            log.record(AccessEvent(time.time(), count, "Ann" if count % 2 else None, 0.4, 0.1,
                                   "granted" if count % 2 else "unknown", "kill-test", {"n": count}, snapshot))
            count += 1
        if log.flush(10):
            print("flushed", count, flush=True)
""")


def _check_consistent(folder: Path) -> int:
    """Open as the app would (tidying up), then check every invariant; returns the number of rows."""
    AccessLog(folder).close()
    conn = sqlite3.connect(folder / "access.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT snapshot FROM decisions").fetchall()
        assert conn.execute("SELECT COUNT(*) FROM pending_files").fetchone()[0] == 0
    finally:
        conn.close()
    referenced = set()
    for (snapshot,) in rows:
        if snapshot is None:
            continue
        path = folder / snapshot
        assert path.is_file(), f"row points at missing {snapshot}"
        assert cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR) is not None, snapshot
        referenced.add(path)
    on_disk = {p for p in (folder / "snapshots").rglob("*") if p.is_file()}
    assert on_disk == referenced, f"files without rows: {sorted(on_disk - referenced)[:3]}"
    return len(rows)


def test_sigkill_at_random_moments_loses_nothing_confirmed(tmp_path):
    folder = tmp_path / "log"
    chooser = random.Random(20241126)
    rows = 0
    confirmed_total = 0
    for run in range(15):
        child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(folder), str(run)], cwd=REPO,
                                 env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        ready = threading.Event()

        def read(stream=child.stdout, lines=lines, ready=ready):
            for line in stream:
                lines.append(line.strip())
                ready.set()
            ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if run % 5 == 4:
            time.sleep(chooser.uniform(0.05, 0.5))  # may land while it opens and tidies the folder
        else:
            assert ready.wait(30), child.stderr.read() if child.poll() is not None else "child never ready"
            time.sleep(chooser.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        reader.join(10)
        child.stderr.close()
        assert child.returncode == -signal.SIGKILL, f"child ended on its own: {lines[-3:]}"
        # a line cut short by the kill ("flushed" alone) confirms nothing
        confirmed = max([int(m.group(1)) for line in lines if (m := re.fullmatch(r"flushed (\d+)", line.strip()))],
                        default=0)
        confirmed_total += confirmed
        now_rows = _check_consistent(folder)
        assert now_rows >= rows + confirmed, f"run {run}: {now_rows} rows, expected >= {rows} + {confirmed}"
        rows = now_rows
    assert confirmed_total > 0  # the kills did land while events were being written
