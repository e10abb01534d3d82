"""One thread and one bounded queue per action: the video path hands an event over and returns at once.

A full queue (a receiver so slow that events pile up) drops the new event, says so in the app's log and in the
action's health (the status bar), and never blocks the pipeline. Every failure is logged; none is swallowed.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from facegate.policy import Verdict

log = logging.getLogger(__name__)

# Events waiting for one action; beyond this the action is far behind (receiver dead for a long time without an
# outbox, or a relay command hanging) and new events are dropped and counted.
QUEUE_SIZE = 256

class HealthState(str, enum.Enum):
    """How an action is doing (its `value` is the word shown and sent)."""

    OK = "ok"
    SLOW = "slow"  # retrying, behind
    DOWN = "down"  # failing


class EventKind(str, enum.Enum):
    """What an ActionEvent is about."""

    DECISION = "decision"  # a decision on a face (facegate.policy.Decision)
    TAILGATING = "tailgating"  # a face appeared while the door was open for a grant
    DOOR = "door"  # the door's pulse began or ended (told to MQTT's door sensor)
    DOOR_SILENT = "door_silent"  # a site's door stopped beating (or is back): facegate.site.sync.DoorAlert


@dataclass(frozen=True)
class ActionHealth:
    """How one action is doing, for the status bar: ok, slow (retrying, behind) or down (failing)."""

    action: str  # "door", "mqtt", "webhook"
    state: HealthState
    message: str = ""  # plain words, never a secret


@dataclass(frozen=True)
class ActionEvent:
    """What the actions act on: a decision, a tailgating alert during a door pulse, or the door's state. `payload`
    is the JSON every receiver gets (facegate.actions.payload); `key` its idempotency key."""

    kind: EventKind
    key: str
    payload: dict[str, Any]
    verdict: Verdict | None = None  # a decision's verdict (None for an alert or the door)
    person: str | None = None
    tailgating: bool = False
    snapshot: Any = None  # the face (RGB uint8 array), for receivers that asked for it (mqtt_snapshot)
    created: float = field(default_factory=time.perf_counter)  # for latency figures


_STOP = object()


class ActionWorker:
    """Base of the door, MQTT and webhook actions. Subclasses implement `handle(event)` (on the worker thread)
    and may override `idle()` (called when no event arrived for `idle_s`)."""

    name = "action"

    def __init__(self, *, queue_size: int = QUEUE_SIZE, idle_s: float = 0.5,
                 on_outcome: Callable | None = None, on_health: Callable[[ActionHealth], None] | None = None):
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._idle_s = idle_s
        self._on_outcome = on_outcome
        self._health_listeners: list[Callable[[ActionHealth], None]] = [on_health] if on_health else []
        self._health_lock = threading.Lock()
        self.health = ActionHealth(self.name, HealthState.OK)
        self.dropped = 0
        self._unrecorded_drops: list[ActionEvent] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"facegate-{self.name}-action", daemon=True)

    def start(self) -> ActionWorker:
        self._thread.start()
        return self

    def add_health_listener(self, listener: Callable[[ActionHealth], None]) -> None:
        self._health_listeners.append(listener)

    def submit(self, event: ActionEvent) -> bool:
        """Hand `event` to the worker; never blocks, never raises. False (logged, counted) when the queue is full,
        or when the worker has already stopped (a session stops its listeners after its last decision)."""
        if self.stopping and not self._thread.is_alive():
            self.dropped += 1
            log.error("%s action has stopped: an event (%s) came after its stop and is not handled", self.name,
                      event.kind.value)
            return False
        try:
            self._queue.put_nowait(event)
            return True
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.error("%s action is %d events behind; %d dropped so far", self.name, self._queue.maxsize,
                          self.dropped)
            self.report(HealthState.DOWN, f"far behind: {self._queue.maxsize} events waiting, new ones dropped")
            with self._health_lock:  # into the access log by the worker, not on this thread (a bounded list)
                if len(self._unrecorded_drops) < self._queue.maxsize:
                    self._unrecorded_drops.append(event)
            return False

    def handle(self, event: ActionEvent) -> None:
        raise NotImplementedError

    def has_queued(self) -> bool:
        return not self._queue.empty()

    def idle(self) -> None:
        """Called on the worker thread when nothing arrived for a while (retries, timers)."""

    def next_wake(self) -> float:
        """Seconds until `idle()` is due again (a door closing, a retry)."""
        return self._idle_s

    def close(self) -> None:
        """Called on the worker thread once, last (release the door, disconnect)."""

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every event submitted so far has been handled (not necessarily delivered)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        self._stopping.set()  # the worker hands on what is queued (the webhook into its outbox), then ends
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)  # wakes it at once when idle
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("%s action did not stop within %.1f s", self.name, timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def report(self, state: HealthState, message: str = "") -> None:
        """Set this action's health; listeners (status bar, JSON lines) hear changes only."""
        with self._health_lock:
            health = ActionHealth(self.name, state, message)
            if health == self.health:
                return
            previous, self.health = self.health, health
        if state == HealthState.OK and previous.state != HealthState.OK:
            log.info("%s action works (%s before)", self.name, previous.message or previous.state.value)
        elif state != HealthState.OK:
            log.warning("%s action %s: %s", self.name, state.value, message)
        for listener in list(self._health_listeners):
            try:
                listener(health)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the action
                log.exception("%s action: a health listener failed", self.name)

    def outcome(self, event: ActionEvent | None, outcome: str, detail: str = "") -> None:
        """Record what this action did with `event` (the access log's action_outcomes table)."""
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(self.name, event, outcome, detail)
        except Exception:  # noqa: BLE001
            log.exception("%s action: its outcome could not be recorded", self.name)

    def row_outcome(self, key: str, person: str | None, outcome: str, detail: str = "") -> None:
        """`outcome` for an outbox row (facegate/outbox.py: its key and person, the event itself is gone)."""
        self.outcome(ActionEvent(EventKind.DECISION, key, {}, person=person), outcome, detail)

    def _run(self) -> None:
        try:
            while not (self.stopping and self._queue.empty()):
                try:
                    item = self._queue.get(timeout=max(0.0, self.next_wake()))
                except queue.Empty:
                    self._safely(self.idle)
                    continue
                try:
                    if item is not _STOP:
                        self._safely(functools.partial(self.handle, item))
                finally:
                    self._queue.task_done()
                if self._queue.empty():  # what waits in the queue first (the webhook commits it to its outbox)
                    self._record_drops()
                    self._safely(self.idle)
        finally:
            self._record_drops()
            self._safely(self.close)

    def _record_drops(self) -> None:
        with self._health_lock:
            dropped, self._unrecorded_drops = self._unrecorded_drops, []
        for event in dropped:
            self.outcome(event, "dropped", "the action's queue was full")

    def _safely(self, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - logged and shown; the worker goes on with the next event
            log.exception("%s action failed", self.name)
            self.report(HealthState.DOWN, f"error: {type(exc).__name__}")
