"""The access log: every decision in SQLite, with an optional JPEG snapshot, written off the video path.

Layout (owner-only: the log holds names, faces and times of people):

    <folder>/access.sqlite3                 decisions; WAL journal, synchronous=FULL (a commit survives a crash)
    <folder>/snapshots/YYYY-MM-DD/<time>-<track>.jpg

Crash safety. A snapshot is written (atomically, fsync'd) before the row that points at it is committed,
so a row never names a missing file. The other direction, a file without a row (a process killed between
the two, or an erasure killed between deleting rows and files), is covered by `pending_files`: a path is
entered there, in a committed transaction, before its file is written or deleted, and removed once the
row is committed or the file is gone. On open, leftovers in `pending_files` that no row references are
deleted, so no face image outlives its row, and `erase_person` is complete even after a crash.

Retention. `keep_snapshots_for(days)` deletes the snapshots of decisions older than `days` at once and then
about once a day, on a thread of the log's own (never the video path or the UI thread), until `close()`;
the rows stay, without their pictures. The kiosk window and `facegate run --headless` both call it with
`Settings.log_retention_days`.

Several processes may open the same folder (a kiosk and `facegate site import-folder`, say); only one that finds no
other open (an exclusive `flock` on `access.lock`) tidies `pending_files`, so it never deletes a file that
another live process is about to commit. Snapshot file names hold no names of people: the name lives only
in the database, which `erase_person` scrubs (secure_delete, VACUUM, WAL truncated).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import sqlite3
import statistics
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

import cv2
import numpy as np

from facegate.errors import FaceGateError
from facegate.outbox import erase_waiting
from facegate.policy import Verdict
from facegate.storage import (
    PRIVATE_FILE_MODE,
    atomic_write_bytes,
    create_private_file,
    describe_os_error,
    ensure_private_dir,
    fsync_dir,
)

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: no flock; one FaceGate process per log folder is assumed there
    fcntl = None

log = logging.getLogger(__name__)

DECISIONS = (Verdict.GRANTED, Verdict.UNKNOWN, Verdict.DENIED)  # what is logged (never pending)
# 1: decisions and pending_files. 2: each decision has an event id (a UUID, the same on every copy of the event:
# a site server takes it once however often it is sent) and a `forwarded` flag (facegate/site/sync.py's outbox).
SCHEMA_VERSION = 2
DB_NAME = "access.sqlite3"
SNAPSHOT_DIR = "snapshots"
# Events waiting for the disk; beyond this (disk stalled for minutes) new events are dropped and logged
# rather than letting snapshots eat the memory.
QUEUE_LIMIT = 1000
# Events committed in one transaction when they arrive faster than the disk syncs.
BATCH_SIZE = 32
JPEG_QUALITY = 90
LATENCY_WINDOW = 100
# How often a running log purges snapshots past their retention (s).
RETENTION_INTERVAL_S = 86400.0
# How long a reader or writer waits for another connection's lock before giving up.
BUSY_TIMEOUT_MS = 10_000
# SQLite result codes meaning the file itself is damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
_CORRUPT_CODES = {11, 26}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions(
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    track_id INTEGER NOT NULL,
    person TEXT,
    distance REAL,
    margin REAL,
    decision TEXT NOT NULL CHECK (decision IN ('granted', 'unknown', 'denied')),
    snapshot TEXT,
    source TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    event_id TEXT,
    forwarded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions(time);
CREATE INDEX IF NOT EXISTS decisions_person ON decisions(person, time);
CREATE TABLE IF NOT EXISTS pending_files(path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS action_outcomes(
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    event_key TEXT NOT NULL DEFAULT '',
    person TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS action_outcomes_time ON action_outcomes(time);
CREATE TABLE IF NOT EXISTS liveness_attempts(
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    person TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seconds_to_outcome REAL NOT NULL,
    seconds_checking REAL NOT NULL,
    asked INTEGER NOT NULL,
    cues TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS liveness_attempts_time ON liveness_attempts(time);
"""
# Version 1 -> 2, in the transaction that sets user_version: rows from before get an event id of their own.
_ADD_EVENT_IDS = """
ALTER TABLE decisions ADD COLUMN event_id TEXT;
ALTER TABLE decisions ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
UPDATE decisions SET event_id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
    substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
    substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))) WHERE event_id IS NULL;
"""
_EVENT_ID_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS decisions_event_id ON decisions(event_id);
CREATE INDEX IF NOT EXISTS decisions_unforwarded ON decisions(id) WHERE forwarded = 0;
"""


@dataclass
class AccessEvent:
    """One access decision, as the pipeline hands it to the log."""

    time: float  # epoch seconds
    track_id: int
    person: str | None  # None: Unknown
    distance: float | None
    margin: float | None
    decision: Verdict  # one of DECISIONS (its word, "granted", is accepted too)
    source: str = ""
    details: dict = field(default_factory=dict)  # stored as JSON (e.g. liveness cues)
    snapshot: np.ndarray | None = None  # RGB uint8 face or frame; stored as JPEG

    def __post_init__(self) -> None:
        with contextlib.suppress(ValueError):  # a word that is no verdict is refused by record(), with the reason
            self.decision = Verdict(self.decision)


@dataclass(frozen=True)
class ActionOutcome:
    """What a door or building action did with one decision (facegate.actions): opened, closed, published,
    delivered, retrying, failed, dropped. `detail` never holds a secret (the actions redact URLs)."""

    time: float  # epoch seconds
    action: str  # "door", "mqtt", "webhook"
    outcome: str
    event_key: str = ""  # the decision's idempotency key (webhook), or empty
    person: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class AttemptRow:
    """One liveness attempt kept in a trial (Settings.liveness_trial; `facegate report liveness` reads them): no
    face, only the outcome, how long it took and what the cues measured."""

    time: float  # epoch seconds of the outcome
    person: str  # the identity the face was recognised as
    outcome: str  # granted | refused | walked away (facegate.pipeline.AttemptOutcome)
    seconds_to_outcome: float  # from the face first found to the outcome
    seconds_checking: float  # the liveness check alone
    asked: bool  # requests were shown
    cues: dict


@dataclass(frozen=True)
class LogRow:
    """One stored decision, as read back."""

    id: int
    time: float
    track_id: int
    person: str | None
    distance: float | None
    margin: float | None
    decision: Verdict
    snapshot: Path | None  # absolute path of the JPEG, None if there was none or it was purged
    source: str
    details: dict


@dataclass(frozen=True)
class OutgoingEvent:
    """A logged decision not yet on the site server (facegate/site/sync.py forwards it), with its snapshot's bytes."""

    id: int  # the local row
    event_id: str  # UUID: the same event sent twice is taken once
    time: float
    track_id: int
    person: str | None
    distance: float | None
    margin: float | None
    decision: str
    source: str
    details: str  # JSON text
    snapshot: bytes | None  # JPEG, None when there is none (or it was purged or erased meanwhile)


@dataclass
class _Queued:
    event: AccessEvent
    queued_at: float  # time.perf_counter() at record()
    committed: bool = False  # set by the writer once the row (and its snapshot) is on the disk
    done: bool = False  # the writer is finished with it, committed or not


class _Corrupt(Exception):
    """The database file is damaged beyond use."""


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    # Python 3.10: a busy or read-only database is an OperationalError; a damaged one is not
    return not isinstance(exc, sqlite3.OperationalError)


def _json_text(details: dict) -> str:
    return json.dumps(details, ensure_ascii=False, default=str, sort_keys=True)


def encode_jpeg(image: np.ndarray) -> bytes:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"a snapshot must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim != 2:
        raise ValueError(f"a snapshot must be RGB (H, W, 3) or grey (H, W), got shape {image.shape}")
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def csv_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(path: str | Path, rows: list, with_door: bool = False) -> int:
    """Write log rows (oldest first: LogRow, or facegate.site.admin.SiteLogRow with its door) as CSV, owner-only."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "time", "local_time", "decision", "person", "distance", "margin", "track_id",
                     "source", "snapshot", "details"] + (["door"] if with_door else []))
    for row in rows:
        writer.writerow([row.id, f"{row.time:.3f}", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.time)),
                         row.decision.value, csv_cell(row.person or ""), row.distance, row.margin, row.track_id,
                         csv_cell(row.source), str(row.snapshot) if isinstance(row.snapshot, Path) else
                         ("yes" if row.snapshot else ""), csv_cell(_json_text(row.details))]
                        + ([csv_cell(row.door)] if with_door else []))
    atomic_write_bytes(Path(path), text.getvalue().encode("utf-8"))
    return len(rows)


class AccessLog:
    """Append-only log of access decisions; `record()` is safe to call from the video path."""

    def __init__(self, folder: str | Path):
        try:
            self.folder = ensure_private_dir(Path(folder))
            self.snapshots = ensure_private_dir(self.folder / SNAPSHOT_DIR)
        except OSError as exc:
            raise FaceGateError(f"The access log folder {folder} cannot be used: {describe_os_error(exc)}. Choose "
                                "another log folder (Settings, or --log-dir), or run without a log (--no-log)."
                                ) from exc
        self.db_path = self.folder / DB_NAME
        self.dropped = 0  # events lost because the queue was full or the disk refused them (logged)
        self._lock_file = self._take_lock()
        try:
            self._open_database()
            if self._sole_user():
                self._finish_pending_files()
            self._release_exclusive()
        except BaseException:
            if self._lock_file is not None:
                self._lock_file.close()
            raise
        self._queue: deque[_Queued] = deque()
        self._cond = threading.Condition()
        self._enqueued = 0
        self._done = 0
        self._closing = False
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._writer = threading.Thread(target=self._write_loop, name="facegate-access-log", daemon=True)
        self._writer.start()
        self._retention: tuple[float, float] | None = None  # (days, interval s) once keep_snapshots_for is called
        self._retention_wake = threading.Event()
        self._retention_thread: threading.Thread | None = None
        self.purged = 0  # snapshots deleted by retention so far

    # ---- writing -----------------------------------------------------------------------------------

    def record(self, event: AccessEvent) -> bool:
        """Queue `event` for the writer thread and return at once; never raises. False if not queued."""
        return self._enqueue(event) is not None

    def record_durably(self, event: AccessEvent, timeout: float = 2.0) -> bool:
        """Queue `event` and wait until its row is committed (a crash after this cannot lose it): what a
        decision needs before it is announced or acted on. False when it could not be saved in time (logged)."""
        queued = self._enqueue(event)
        if queued is None:
            return False
        deadline = time.monotonic() + timeout
        with self._cond:
            while not queued.committed:
                left = deadline - time.monotonic()
                if left <= 0 or not self._writer.is_alive() or queued.done:
                    break
                self._cond.wait(left)
        if not queued.committed:
            log.error("access event for track %d not on the disk within %.1f s", event.track_id, timeout)
        return queued.committed

    def record_action(self, outcome: ActionOutcome) -> bool:
        """Commit what an action did (called on the action's own thread, never the video path). The table sits
        beside `decisions` in the same file (schema 1 still: older versions ignore a table they do not know).
        False, logged, when it could not be written; never raises."""
        try:
            with self._connection() as conn, conn:
                conn.execute("INSERT INTO action_outcomes(time, action, outcome, event_key, person, detail) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (float(outcome.time), outcome.action, outcome.outcome,
                                                           outcome.event_key, outcome.person, outcome.detail))
            return True
        except Exception:  # noqa: BLE001 - an action's thread goes on; the failure is in the app's log
            log.exception("access log: outcome of the %s action not saved", outcome.action)
            return False

    def record_attempt(self, attempt: AttemptRow) -> bool:
        """Commit one liveness attempt of a trial (on the caller's thread: the kiosk calls it from the session's
        listener, a few times a minute at most). False, logged, when it could not be written; never raises."""
        try:
            with self._connection() as conn, conn:
                conn.execute("INSERT INTO liveness_attempts(time, person, outcome, seconds_to_outcome, "
                             "seconds_checking, asked, cues) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (float(attempt.time), attempt.person, attempt.outcome,
                              float(attempt.seconds_to_outcome), float(attempt.seconds_checking),
                              int(attempt.asked), _json_text(attempt.cues)))
            return True
        except Exception:  # noqa: BLE001 - the video path goes on; the failure is in the app's log
            log.exception("access log: liveness attempt of %s not saved", attempt.person)
            return False

    def attempts(self, since: float | None = None) -> list[AttemptRow]:
        """The liveness attempts kept by trials, oldest first (optionally from `since`, epoch seconds)."""
        sql = ("SELECT time, person, outcome, seconds_to_outcome, seconds_checking, asked, cues "
               "FROM liveness_attempts")
        params: list[float] = []
        if since is not None:
            sql += " WHERE time >= ?"
            params.append(float(since))
        with self._connection() as conn:
            rows = conn.execute(sql + " ORDER BY time, id", params).fetchall()
        return [AttemptRow(t, person, outcome, to_outcome, checking, bool(asked), json.loads(cues))
                for t, person, outcome, to_outcome, checking, asked, cues in rows]

    def action_outcomes(self, limit: int | None = 100, action: str | None = None) -> list[ActionOutcome]:
        """What the actions did, newest first (optionally one action's only)."""
        sql = "SELECT time, action, outcome, event_key, person, detail FROM action_outcomes"
        params: list[str | int] = []
        if action is not None:
            sql += " WHERE action = ?"
            params.append(action)
        sql += " ORDER BY time DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connection() as conn:
            return [ActionOutcome(*values) for values in conn.execute(sql, params)]

    def _enqueue(self, event: AccessEvent) -> _Queued | None:
        try:
            if event.decision not in DECISIONS:
                log.error("access event with decision %r not logged: must be one of %s", event.decision,
                          ", ".join(d.value for d in DECISIONS))
                return None
            snapshot = None if event.snapshot is None else np.array(event.snapshot, copy=True)  # caller may reuse it
            queued = _Queued(AccessEvent(float(event.time), int(event.track_id), event.person,
                                         None if event.distance is None else float(event.distance),
                                         None if event.margin is None else float(event.margin),
                                         event.decision, str(event.source), dict(event.details), snapshot),
                             time.perf_counter())
            with self._cond:
                if self._closing:
                    log.error("access event for track %d not logged: the log is closed", queued.event.track_id)
                    return None
                if len(self._queue) >= QUEUE_LIMIT:
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 100 == 0:
                        log.error("access log cannot keep up (disk stalled?): %d events dropped so far", self.dropped)
                    return None
                self._queue.append(queued)
                self._enqueued += 1
                self._cond.notify_all()
            return queued
        except Exception:  # noqa: BLE001 - the video path must go on whatever the event holds
            log.exception("access event not logged")
            return None

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event recorded so far is committed (or failed and logged). True if drained."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._writer.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the writer thread and release the folder. Safe to call twice."""
        if not self.flush(timeout):
            log.error("access log: events still unwritten after %.1f s at close", timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._retention_wake.set()
        self._writer.join(timeout)
        if self._writer.is_alive():
            log.error("access log writer did not stop within %.1f s", timeout)
        retention = self._retention_thread
        if retention is not None and retention is not threading.current_thread():
            retention.join(timeout)  # a purge under way finishes (or resumes from pending_files next open)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> AccessLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def median_latency_ms(self) -> float | None:
        """Median time from `record()` to commit over the last LATENCY_WINDOW events; None before any."""
        with self._cond:
            latencies = list(self._latencies)
        return statistics.median(latencies) if latencies else None

    def _write_loop(self) -> None:
        conn = None
        try:
            conn = self._connect()
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return  # closing and drained
                    batch = [self._queue.popleft() for _ in range(min(BATCH_SIZE, len(self._queue)))]
                try:
                    self._write_batch(conn, batch)
                except Exception:  # noqa: BLE001 - disk full, read-only: log, keep the thread for later events
                    with self._cond:
                        self.dropped += len(batch)
                    log.exception("access log: %d events could not be saved", len(batch))
                finally:
                    with self._cond:
                        self._done += len(batch)
                        for item in batch:
                            item.done = True
                        self._cond.notify_all()
        except Exception:  # noqa: BLE001 - cannot even connect: every later event is lost, say so once
            log.exception("access log writer stopped; decisions are no longer logged")
        finally:
            if conn is not None:
                conn.close()
            with self._cond:  # let flush() return rather than wait for a dead writer
                self._cond.notify_all()

    def _write_batch(self, conn: sqlite3.Connection, batch: list[_Queued]) -> None:
        jpegs: dict[int, tuple[str, bytes]] = {}
        taken: set[str] = set()
        for index, item in enumerate(batch):
            if item.event.snapshot is None:
                continue
            try:
                name = self._snapshot_name(item.event, taken)
                jpegs[index] = (name, encode_jpeg(item.event.snapshot))
                taken.add(name)
            except Exception:  # noqa: BLE001 - the decision is still worth a row without its picture
                log.exception("access log: snapshot of track %d not saved", item.event.track_id)
        names = [name for name, _ in jpegs.values()]
        if names:
            with conn:  # announce the files before they exist, so a crash cannot leave them unowned
                conn.executemany("INSERT OR IGNORE INTO pending_files(path) VALUES (?)", [(n,) for n in names])
        for index, (name, data) in list(jpegs.items()):
            try:
                path = self.folder / name
                if not path.parent.is_dir():
                    ensure_private_dir(path.parent)
                    fsync_dir(path.parent.parent)  # the new day folder itself must survive a power cut
                atomic_write_bytes(path, data)
            except Exception:  # noqa: BLE001
                log.exception("access log: snapshot of track %d not saved", batch[index].event.track_id)
                del jpegs[index]
        rows = [(e.time, e.track_id, e.person, e.distance, e.margin, e.decision.value,
                 jpegs[i][0] if i in jpegs else None, e.source, _json_text(e.details), str(uuid.uuid4()))
                for i, e in enumerate(item.event for item in batch)]
        try:
            with conn:
                conn.executemany("INSERT INTO decisions(time, track_id, person, distance, margin, decision, "
                                 "snapshot, source, details, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                conn.executemany("DELETE FROM pending_files WHERE path = ?", [(n,) for n in names])
        except Exception:
            for name, _ in jpegs.values():  # rows lost: do not keep their faces either
                self._unlink(self.folder / name)
            raise
        now = time.perf_counter()
        with self._cond:
            self._latencies.extend(1000.0 * (now - item.queued_at) for item in batch)
            for item in batch:
                item.committed = True

    def _snapshot_name(self, event: AccessEvent, taken: set[str]) -> str:
        """Relative path for a new snapshot: local day folder, epoch time and track, never a name."""
        day = time.strftime("%Y-%m-%d", time.localtime(event.time))
        stem = f"{event.time:.6f}-{event.track_id}"
        name = f"{SNAPSHOT_DIR}/{day}/{stem}.jpg"
        suffix = 1
        while name in taken or (self.folder / name).exists():  # same time and track twice: keep both
            name = f"{SNAPSHOT_DIR}/{day}/{stem}-{suffix}.jpg"
            suffix += 1
        return name

    # ---- reading -----------------------------------------------------------------------------------

    def recent(self, limit: int | None = 100, person: str | None = None, since: float | None = None,
               until: float | None = None, unknown_only: bool = False) -> list[LogRow]:
        """Decisions newest first. `since` <= time < `until` (epoch seconds); `unknown_only`: person is None."""
        where: list[str] = []
        params: list[str | float] = []
        if person is not None:
            where.append("person = ?")
            params.append(person)
        if unknown_only:
            where.append("person IS NULL")
        if since is not None:
            where.append("time >= ?")
            params.append(float(since))
        if until is not None:
            where.append("time < ?")
            params.append(float(until))
        sql = ("SELECT id, time, track_id, person, distance, margin, decision, snapshot, source, details "
               "FROM decisions" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY time DESC, id DESC")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connection() as conn:
            return [self._row(values) for values in conn.execute(sql, params)]

    def people(self) -> list[str]:
        """Everyone named in the log, A to Z."""
        with self._connection() as conn:
            return [name for (name,) in conn.execute(
                "SELECT DISTINCT person FROM decisions WHERE person IS NOT NULL ORDER BY person COLLATE NOCASE")]

    def outgoing(self, limit: int = 100, after_id: int = 0, unforwarded_only: bool = True) -> list[OutgoingEvent]:
        """The oldest decisions after row `after_id` (only those not yet marked forwarded: facegate/site/sync.py's
        outbox), with their snapshots' bytes."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT id, event_id, time, track_id, person, distance, margin, decision, source, details, snapshot "
                "FROM decisions WHERE id > ?" + (" AND forwarded = 0" if unforwarded_only else "")
                + " ORDER BY id LIMIT ?", (int(after_id), int(limit))).fetchall()
        found = []
        for id_, event_id, when, track, person, distance, margin, decision, source, details, snapshot in rows:
            data = None
            if snapshot:
                try:
                    data = (self.folder / snapshot).read_bytes()
                except FileNotFoundError:
                    data = None  # purged or erased since the row was read: the decision goes without it
            found.append(OutgoingEvent(id_, event_id, when, track, person, distance, margin, decision, source,
                                       details, data))
        return found

    def mark_forwarded(self, ids: list[int]) -> None:
        """Rows now on the site server (sending them again would be harmless: their event ids are taken once)."""
        with self._connection() as conn, conn:
            conn.executemany("UPDATE decisions SET forwarded = 1 WHERE id = ?", [(int(i),) for i in ids])

    def waiting(self, person: str | None = None) -> int:
        """How many decisions (about `person`, when given) are not yet marked forwarded."""
        with self._connection() as conn:
            if person is None:
                return int(conn.execute("SELECT count(*) FROM decisions WHERE forwarded = 0").fetchone()[0])
            return int(conn.execute("SELECT count(*) FROM decisions WHERE forwarded = 0 AND person = ?",
                                    (person,)).fetchone()[0])

    def _row(self, values: tuple) -> LogRow:
        id_, when, track, person, distance, margin, decision, snapshot, source, details = values
        try:
            parsed = json.loads(details) if details else {}
        except ValueError:
            log.warning("access log row %d: details are not JSON; shown empty", id_)
            parsed = {}
        return LogRow(id_, when, track, person, distance, margin, Verdict(decision),
                      self.folder / snapshot if snapshot else None, source or "", parsed)

    def export_csv(self, path: str | Path, limit: int | None = None, person: str | None = None,
                   since: float | None = None, until: float | None = None, unknown_only: bool = False) -> int:
        """Write the matching decisions (oldest first) as CSV, owner-only; returns the number of rows."""
        rows = list(reversed(self.recent(limit, person, since, until, unknown_only)))
        return write_csv(path, rows)

    # ---- deleting ----------------------------------------------------------------------------------

    def keep_snapshots_for(self, days: float, every_s: float = RETENTION_INTERVAL_S) -> None:
        """Retention: delete snapshots of decisions older than `days` now and then every `every_s` seconds,
        on the log's retention thread, until `close()`. Returns at once. Calling it again (e.g. the setting
        changed) takes the new values and purges at once."""
        days, every_s = float(days), float(every_s)
        if not (days > 0 and every_s > 0) or days == float("inf") or every_s == float("inf"):
            raise ValueError(f"snapshot retention needs a positive number of days and a positive interval, "
                             f"got {days} days every {every_s} s")
        with self._cond:
            if self._closing:
                raise FaceGateError("the access log is closed")
            self._retention = (days, every_s)
            start = self._retention_thread is None
            if start:
                self._retention_thread = threading.Thread(target=self._retention_loop,
                                                          name="facegate-log-retention", daemon=True)
        self._retention_wake.set()
        if start:
            assert self._retention_thread is not None  # set above, never reset
            self._retention_thread.start()

    def _retention_loop(self) -> None:
        while True:
            self._retention_wake.clear()
            with self._cond:
                if self._closing:
                    return
                assert self._retention is not None  # set before this thread is started
                days, every_s = self._retention
            try:
                removed = self.purge_snapshots(days)
                with self._cond:
                    self.purged += removed
            except Exception:  # noqa: BLE001 - a locked or read-only folder: say so, try again next time
                log.exception("access log: snapshots past their retention of %g days could not be deleted", days)
            self._retention_wake.wait(every_s)

    def purge_snapshots(self, older_than_days: float, now: float | None = None) -> int:
        """Delete snapshots of decisions older than `older_than_days`; their rows stay, without a picture.
        Returns the number of snapshots removed."""
        cutoff = (time.time() if now is None else now) - older_than_days * 86400.0
        self.flush()
        with self._connection() as conn:
            with conn:  # one transaction: rows forget the files, the files are marked for deletion
                names = [n for (n,) in conn.execute(
                    "SELECT snapshot FROM decisions WHERE time < ? AND snapshot IS NOT NULL", (cutoff,))]
                conn.executemany("INSERT OR IGNORE INTO pending_files(path) VALUES (?)", [(n,) for n in names])
                conn.execute("UPDATE decisions SET snapshot = NULL WHERE time < ? AND snapshot IS NOT NULL", (cutoff,))
            self._delete_files(conn, names)
        log.info("access log: %d snapshots older than %g days deleted", len(names), older_than_days)
        return len(names)

    def erase_person(self, name: str, snapshots: bool = True, keep_unsent: bool = False) -> int:
        """Delete every decision about `name`, and with `snapshots` their pictures, leaving no trace of the
        name in the database files (secure_delete, VACUUM, WAL truncated). Returns the rows deleted.
        `snapshots=False` keeps the picture files (e.g. handed over as evidence) without anything naming them.
        `keep_unsent`: a site kiosk keeps the decisions not yet on the server (one made after a removal is a
        security event there); they are erased once sent."""
        self.flush()
        which = "person = ?" + (" AND forwarded = 1" if keep_unsent else "")
        with self._connection() as conn:
            with conn:
                files = [n for (n,) in conn.execute(
                    f"SELECT snapshot FROM decisions WHERE {which} AND snapshot IS NOT NULL", (name,))]
                if snapshots:
                    conn.executemany("INSERT OR IGNORE INTO pending_files(path) VALUES (?)", [(n,) for n in files])
                count = conn.execute(f"DELETE FROM decisions WHERE {which}", (name,)).rowcount
                conn.execute("DELETE FROM action_outcomes WHERE person = ?", (name,))  # what was done for them
                conn.execute("DELETE FROM liveness_attempts WHERE person = ?", (name,))  # a trial's record of them
            if snapshots:
                self._delete_files(conn, files)
            # secure_delete zeroed the freed cells; VACUUM rebuilds the file without free pages, and the
            # TRUNCATE checkpoint empties the WAL, whose older frames still held the name
            conn.execute("VACUUM")
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                log.error("access log: another connection kept the journal open; the erased name may remain "
                          "in %s-wal until the next checkpoint", self.db_path.name)
        dropped = erase_waiting(self.folder, name)  # the webhook's and MQTT's events still waiting name them too
        if dropped:
            log.info("access log: %d waiting webhook/MQTT events about the erased person will not be sent", dropped)
        log.info("access log: erased %d decisions%s", count, " and their snapshots" if snapshots else "")
        return count

    def _delete_files(self, conn: sqlite3.Connection, names: list[str]) -> None:
        """Unlink files already entered in pending_files, then forget them."""
        gone = [name for name in names if self._unlink(self.folder / name)]
        with conn:
            conn.executemany("DELETE FROM pending_files WHERE path = ?", [(n,) for n in gone])
        for day in {(self.folder / name).parent for name in gone}:
            with contextlib.suppress(OSError):
                day.rmdir()  # only when empty

    @staticmethod
    def _unlink(path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("access log: cannot delete %s (%s)", path, exc)
            return False
        return True

    # ---- opening -----------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level="DEFERRED",
                               check_same_thread=False)
        conn.execute("PRAGMA synchronous=FULL")  # per connection: a committed decision survives a power cut
        conn.execute("PRAGMA secure_delete=ON")  # erased names are overwritten, not just unlinked
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def _open_database(self) -> None:
        try:
            self._prepare_database()
        except _Corrupt as exc:
            aside = self._move_aside()
            log.error("access log %s is damaged (%s); moved it to %s and started a new, empty log",
                      self.db_path, exc, aside)
            self._prepare_database()

    def _prepare_database(self) -> None:
        create_private_file(self.db_path)  # owner-only before SQLite opens it
        conn = None
        try:
            conn = self._connect()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("access log %s: journal mode is %s, not WAL", self.db_path, mode)
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Corrupt(check)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise FaceGateError(f"{self.db_path}: written by a newer FaceGate (log schema {version}); "
                                    "update FaceGate to use this log")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
            migrate = _ADD_EVENT_IDS if columns and "event_id" not in columns else ""  # a log of version 1
            # executescript commits first and runs each statement on its own: one explicit transaction
            conn.executescript("BEGIN IMMEDIATE;\n" + migrate + _SCHEMA + _EVENT_ID_INDEXES
                               + f"PRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;")
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):
                raise _Corrupt(str(exc)) from exc
            raise FaceGateError(f"{self.db_path}: cannot use the access log ({exc})") from exc
        finally:
            if conn is not None:
                conn.close()

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{stamp}")
        counter = 1
        while aside.exists():
            aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{stamp}-{counter}")
            counter += 1
        os.replace(self.db_path, aside)
        # its journal belongs to it: left in place, SQLite could replay it into the new database
        for suffix in ("-wal", "-journal"):
            companion = self.db_path.with_name(DB_NAME + suffix)
            if companion.exists():
                os.replace(companion, aside.with_name(aside.name + suffix))
        shm = self.db_path.with_name(DB_NAME + "-shm")
        if shm.exists():
            shm.unlink()  # rebuilt from the WAL; nothing of value
        fsync_dir(self.folder)
        return aside

    def _take_lock(self) -> BinaryIO | None:
        """Hold a shared lock on the folder for our lifetime; briefly try for an exclusive one first."""
        if fcntl is None:
            return None
        # held for the log's lifetime (closed in close())
        handle = open(os.open(self.folder / "access.lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE), "rb")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._exclusive = True
        except OSError:
            self._exclusive = False
            fcntl.flock(handle, fcntl.LOCK_SH)
        return handle

    def _sole_user(self) -> bool:
        return fcntl is None or self._exclusive

    def _release_exclusive(self) -> None:
        if fcntl is not None and self._lock_file is not None and self._exclusive:
            fcntl.flock(self._lock_file, fcntl.LOCK_SH)  # others may open the folder now
            self._exclusive = False

    def _finish_pending_files(self) -> None:
        """Delete files left by a crash between a file operation and its transaction (see module doc)."""
        with self._connection() as conn:
            pending = [n for (n,) in conn.execute("SELECT path FROM pending_files")]
            if not pending:
                return
            owned = {n for (n,) in conn.execute(
                "SELECT snapshot FROM decisions WHERE snapshot IN (SELECT path FROM pending_files)")}
            orphans = [name for name in pending if name not in owned]
            for name in orphans:
                path = self.folder / name
                for temp in path.parent.glob(f".{path.name}.*.tmp"):  # a write killed half-way
                    self._unlink(temp)
            self._delete_files(conn, orphans)
            with conn:
                conn.executemany("DELETE FROM pending_files WHERE path = ?", [(n,) for n in owned])
        log.info("access log: removed %d snapshot files left by an interrupted write or erasure", len(orphans))
