"""ActionsListener: hands each decision to the actions, watches for tailgating; build_actions makes them from the
settings (facegate.kiosk.build_session calls it). Each action reports its health and the outcome of everything
it does into the access log's action_outcomes table."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from facegate.access_log import AccessLog, ActionOutcome
from facegate.actions.payload import decision_event, tailgating_event
from facegate.actions.worker import ActionEvent, ActionHealth, ActionWorker, EventKind
from facegate.config import Settings
from facegate.errors import FaceGateError
from facegate.pipeline import FrameResult
from facegate.policy import Decision, Verdict
from facegate.session import SessionListener

log = logging.getLogger(__name__)


class ActionsListener(SessionListener):
    """Hands each decision to every action, and watches for new faces while the door is open."""

    def __init__(self, actions: Sequence[ActionWorker], door: str = "Door", open_s: float = 3.0,
                 on_alert: Callable[[ActionEvent], None] | None = None, demonstration: bool = False,
                 clock: Callable[[], float] = time.time):
        self.actions = list(actions)
        self.clock = clock  # a decision's time: the access rules' clock, as in the access log (a test sets it)
        self.door, self.open_s = door, open_s
        self.demonstration = demonstration  # every message says so
        self.on_alert = on_alert
        self._open_until = 0.0  # monotonic: end of the latest grant's pulse
        self._in_view: set[int] = set()  # tracks in view since the pulse began
        self._granted: str | None = None
        self.alerts = 0

    def start(self) -> ActionsListener:
        for action in self.actions:
            action.start()
        return self

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.verdict is Verdict.PENDING:
            return
        try:
            event = decision_event(decision, result, self.door, self.clock(), self.demonstration)
        except Exception:  # noqa: BLE001 - the video path goes on; the error is in the app's log
            log.exception("decision on track %d not handed to the actions", decision.track_id)
            return
        if decision.verdict is Verdict.GRANTED:
            now = time.monotonic()
            if now >= self._open_until:
                self._in_view = set()
            self._in_view |= {track.id for track in result.tracks}
            self._open_until = max(self._open_until, now + self.open_s)
            self._granted = decision.name
        for action in self.actions:
            action.submit(event)

    def on_result(self, result: FrameResult) -> None:
        if time.monotonic() >= self._open_until:
            return
        new = {track.id for track in result.tracks} - self._in_view
        if not new:
            return
        self._in_view |= new
        self.alerts += 1
        event = tailgating_event(self.door, self.clock(), self._granted, len(new), self.demonstration)
        log.warning("tailgating: %d new face(s) while the door was open for %s", len(new), self._granted)
        for action in self.actions:
            action.submit(event)
        if self.on_alert is not None:
            try:
                self.on_alert(event)
            except Exception:  # noqa: BLE001
                log.exception("tailgating alert listener failed")

    def door_state(self, state: str, seconds: float = 0.0) -> None:
        """The door action's pulse began, was extended (open for `seconds` more) or ended: told to the other
        actions (MQTT's door sensor, whose "open" expires with the pulse)."""
        event = ActionEvent(EventKind.DOOR, "", {"state": state, "door": self.door, "seconds": seconds})
        for action in self.actions:
            if action.name != "door":
                action.submit(event)

    def health(self) -> list[ActionHealth]:
        return [action.health for action in self.actions]

    def wait_idle(self) -> None:
        for action in self.actions:
            action.wait_idle()

    def stop(self, timeout: float) -> None:
        for action in self.actions:
            action.stop(timeout)


def serial_relay_commands(settings: Settings) -> tuple[str, str]:
    """door_serial as a door command and close command (facegate/actions/serial_relay.py): the same contract,
    a pulse that ends by itself."""
    import shlex
    import sys

    base = [sys.executable, "-m", "facegate.actions.serial_relay", settings.door_serial.strip()]
    codes = ["--open", settings.door_serial_open, "--close", settings.door_serial_close]
    return shlex.join(base + ["{seconds}"] + codes), shlex.join(base + ["0"] + codes)


def build_actions(settings: Settings, *, access_log: AccessLog | None = None, outbox_dir: Path | None = None,
                  on_health: Callable[[ActionHealth], None] | None = None,
                  on_alert: Callable[[ActionEvent], None] | None = None,
                  clock: Callable[[], float] = time.time) -> ActionsListener | None:
    """The actions the settings ask for (door_command or door_serial, mqtt_url, webhook_url), started; None when
    none is set. clock: the time each decision and alert is stamped with (the access rules' clock). Raises
    FaceGateError (in plain words, no secret) when one cannot work: an mqtt_url that is no MQTT address, an outbox
    that cannot be written..."""
    door_command, door_close_command = settings.door_command, settings.door_close_command
    if not door_command.strip() and settings.door_serial.strip():
        door_command, door_close_command = serial_relay_commands(settings)
    if not (door_command.strip() or settings.mqtt_url.strip() or settings.webhook_url.strip()):
        return None
    door = settings.door()  # the same name as in a site's access log

    def record(action: str, event: ActionEvent | None, outcome: str, detail: str) -> None:
        if access_log is not None:
            access_log.record_action(ActionOutcome(time.time(), action, outcome, event.key if event else "",
                                                   event.person if event else None, detail))

    try:
        common: dict[str, Any] = {"on_outcome": record, "on_health": on_health}
        listener = ActionsListener([], door, settings.door_open_s, on_alert, settings.demonstration, clock)
        actions = listener.actions
        if door_command.strip():
            from facegate.actions.door import DoorAction

            actions.append(DoorAction(door_command, door_close_command, open_s=settings.door_open_s,
                                      command_timeout_s=settings.door_command_timeout_s,
                                      open_on_tailgating=settings.door_on_tailgating, on_door=listener.door_state,
                                      **common))
        folder = outbox_dir or (access_log.folder if access_log is not None else settings.log_path())
        if settings.mqtt_url.strip():
            from facegate.actions.mqtt import MqttAction
            from facegate.outbox import MQTT_OUTBOX_NAME, Outbox

            actions.append(MqttAction(settings.mqtt_url, settings.mqtt_topic, door, Outbox(folder, MQTT_OUTBOX_NAME),
                                      discovery_prefix=settings.mqtt_discovery_prefix, snapshot=settings.mqtt_snapshot,
                                      **common))
        if settings.webhook_url.strip():
            from facegate.actions.webhook import WebhookAction
            from facegate.outbox import Outbox

            actions.append(WebhookAction(settings.webhook_url, settings.webhook_secret, Outbox(folder),
                                         timeout_s=settings.webhook_timeout_s, retry_max_s=settings.webhook_retry_max_s,
                                         **common))
    except (ValueError, OSError, sqlite3.Error) as exc:  # nothing is started yet
        raise FaceGateError(f"The door and building actions cannot start: {exc}") from exc
    return listener.start()
