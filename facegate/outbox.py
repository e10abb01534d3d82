"""The actions' durable outboxes: events waiting for their receiver, in SQLite, owner-only (they name people).
One file per action (the webhook's outbox.sqlite3, MQTT's mqtt-outbox.sqlite3), in the access log's folder,
beside the log; an erasure from the log erases in every one.

An event is committed here (WAL, synchronous=FULL) before the first attempt to send it, and deleted only after
the receiver took it (the webhook's 2xx, the broker's PUBACK). A kill at any moment therefore loses nothing: the
next start sends what is left. The one duplicate that remains possible (the receiver took it, FaceGate died
before deleting it) carries the same idempotency key, so a receiver that keeps the keys it has seen processes
every event exactly once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from facegate.storage import create_private_file, ensure_private_dir

log = logging.getLogger(__name__)

OUTBOX_NAME = "outbox.sqlite3"  # in the access log's folder, when a webhook is configured
MQTT_OUTBOX_NAME = "mqtt-outbox.sqlite3"  # the same, for MQTT
OUTBOX_NAMES = (OUTBOX_NAME, MQTT_OUTBOX_NAME)  # every outbox an erasure must reach

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox(
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Pending:
    seq: int
    key: str
    created: float
    body: bytes
    attempts: int
    topic: str = ""  # where it goes, for an action with several (MQTT); "" for the webhook

    def payload(self) -> dict:
        """The event's JSON (what actions.payload.to_json wrote); {} if it cannot be read (said in the log)."""
        try:
            payload = json.loads(self.body)
        except ValueError:
            log.error("outbox: the waiting event %s is not JSON; it is sent as it is", self.key)
            return {}
        return payload if isinstance(payload, dict) else {}

    def person(self) -> str | None:
        return person_of(self.payload())


def person_of(payload: dict) -> str | None:
    """Whom an event is about: a decision's name, a tailgating alert's granted person (what erase_person matches)."""
    return payload.get("name") or payload.get("granted")


class Outbox:
    """Events in the order they were added; one connection, used from the webhook's thread (and tests)."""

    def __init__(self, folder: str | Path, name: str = OUTBOX_NAME):
        folder = ensure_private_dir(Path(folder))
        self.path = create_private_file(folder / name)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level="DEFERRED")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # an added event survives a power cut
        self._conn.execute("PRAGMA secure_delete=ON")  # a delivered or erased event's name is overwritten
        with self._conn:
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(outbox)")}
            if "topic" not in columns:  # a file from before MQTT had an outbox: its events keep going as they were
                self._conn.execute("ALTER TABLE outbox ADD COLUMN topic TEXT NOT NULL DEFAULT ''")

    def add(self, key: str, body: bytes, topic: str = "") -> None:
        """Commit an event (a key already there is kept as it was: the same event is never sent twice)."""
        with self._lock, self._conn:
            self._conn.execute("INSERT OR IGNORE INTO outbox(key, created, body, topic) VALUES (?, ?, ?, ?)",
                               (key, time.time(), body, topic))

    def oldest(self, limit: int = 50) -> list[Pending]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, key, created, body, attempts, topic FROM outbox ORDER BY seq LIMIT ?", (int(limit),)
            ).fetchall()
        return [Pending(seq, key, created, bytes(body), attempts, topic)
                for seq, key, created, body, attempts, topic in rows]

    def delivered(self, *keys: str) -> None:
        """The receiver took these events: they go (one transaction for all)."""
        with self._lock, self._conn:
            self._conn.executemany("DELETE FROM outbox WHERE key = ?", [(key,) for key in keys])

    def failed(self, key: str, error: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE key = ?",
                               (error[:500], key))

    def erase_person(self, name: str) -> int:
        """Forget the waiting events about `name` (People > Remove erases a person everywhere): they are not sent.
        Returns how many were dropped."""
        with self._lock, self._conn:
            count = self._conn.execute(
                "DELETE FROM outbox WHERE json_extract(CAST(body AS TEXT), '$.name') = ? "
                "OR json_extract(CAST(body AS TEXT), '$.granted') = ?", (name, name)).rowcount
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's older frames held the name too
        return int(count)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def erase_waiting(folder: Path, name: str) -> int:
    """Drop the events about `name` from every outbox in `folder` (the webhook's, MQTT's); how many were dropped."""
    dropped = 0
    for file_name in OUTBOX_NAMES:
        if not (Path(folder) / file_name).exists():
            continue
        outbox = Outbox(folder, file_name)
        try:
            dropped += outbox.erase_person(name)
        finally:
            outbox.close()
    return dropped
