"""The door pulse: on a grant, run the configured door command, which opens the door for N seconds.

Fail-secure, by design of the command's contract rather than by trusting this process:

- `door_command` is given the pulse length ({seconds}), opens the door, and returns at once (within
  door_command_timeout_s), leaving the door to close *by itself* {seconds} later: a relay board's timed-pulse
  command, a relay with its own timer, or a script that switches the relay on and starts a detached timer that
  switches it off. Nothing that FaceGate does or fails to do afterwards (crash, kill, power cut of the PC) can
  then keep the door open. The command runs in its own session, so a Ctrl+C of FaceGate cannot cut it short.
  A second grant during a pulse runs the command again with the time left to the new end (re-arming the
  relay's timer): the pulse is extended, never shortened.
- `door_close_command` (optional, recommended) is run when the pulse ends, when FaceGate stops, and at once
  whenever the door command fails, exits non-zero, or does not return within door_command_timeout_s (it is
  then killed with its whole process group). An error or timeout therefore always ends with "close".
- Only a GRANTED decision opens: never Unknown, never Denied, never a track whose liveness check is still
  pending (the policy only grants after it passed). A grant flagged as tailgating opens only with
  door_on_tailgating (the alert goes out either way).
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable

from facegate.actions.worker import ActionEvent, ActionWorker, EventKind, HealthState
from facegate.policy import Verdict

log = logging.getLogger(__name__)


def _seconds_text(seconds: float) -> str:
    """{seconds} as given to the command: rounded up to a tenth, without a trailing .0 (3, 0.5, 2.4)."""
    return f"{math.ceil(seconds * 10 - 1e-9) / 10:g}"


def command_args(command: str, seconds: float, person: str | None = None) -> list[str]:
    """The door command split like a shell would (no shell runs it), with {seconds} filled in each word."""
    text = _seconds_text(seconds)
    return [word.replace("{seconds}", text) for word in shlex.split(command)]


class DoorAction(ActionWorker):
    name = "door"

    def __init__(self, command: str, close_command: str = "", *, open_s: float = 3.0,
                 command_timeout_s: float = 5.0, open_on_tailgating: bool = True,
                 on_door: Callable[[str, float], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        if not command.strip():
            raise ValueError("the door action needs a door_command")
        command_args(command, open_s)  # unbalanced quotes: refused when the kiosk starts, not at the first grant
        if close_command.strip():
            command_args(close_command, 0)
        self.command, self.close_command = command, close_command
        self.open_s, self.command_timeout_s, self.open_on_tailgating = open_s, command_timeout_s, open_on_tailgating
        self._on_door = on_door
        self.is_open = False
        self._until = 0.0  # monotonic end of the pulse while open
        self.pulses = 0

    def handle(self, event: ActionEvent) -> None:
        if event.kind is not EventKind.DECISION or event.verdict is not Verdict.GRANTED:
            return  # Unknown and Denied never open; a tailgating alert does not either
        if event.tailgating and not self.open_on_tailgating:
            self.outcome(event, "kept closed", "someone not granted was in view (door_on_tailgating is off)")
            return
        now = time.monotonic()
        extending = self.is_open and now < self._until
        self._until = max(self._until, now + self.open_s)
        seconds = self._until - now
        try:
            error = self._run_command(self.command, seconds, event.person)
        except BaseException:
            self._close(event, "the door command could not be run")  # fail-secure, then the error is logged
            raise
        if error:
            log.error("door command failed: %s; closing the door", error)
            self.report(HealthState.DOWN, f"door command {error}")
            self.outcome(event, "failed", error)
            self._close(event, f"door command {error}")
            return
        self.is_open = True
        self.pulses += 1
        self.report(HealthState.OK)
        self.outcome(event, "extended" if extending else "opened", f"{_seconds_text(seconds)} s")
        self._tell("open", seconds)  # an extension too: the door's state is said with its end (MQTT's expiry)

    def next_wake(self) -> float:
        if self.is_open:
            return max(0.0, min(self._idle_s, self._until - time.monotonic()))
        return self._idle_s

    def idle(self) -> None:
        if self.is_open and time.monotonic() >= self._until:
            self._close(None, "pulse ended")

    def close(self) -> None:
        if self.is_open:
            self._close(None, "FaceGate stopping")

    def _close(self, event: ActionEvent | None, why: str) -> None:
        """End the pulse: run door_close_command (when set). Its own failure is logged and shown; the door
        command's own timer still ends the pulse."""
        was_open = self.is_open
        self.is_open, self._until = False, 0.0
        error = self._run_command(self.close_command, 0.0, None) if self.close_command.strip() else None
        if error:
            log.error("door close command failed: %s", error)
            self.report(HealthState.DOWN, f"door close command {error}")
            self.outcome(event, "close failed", f"{why}; {error}")
        else:
            self.outcome(event, "closed", why)
        if was_open:
            self._tell("closed")

    def _tell(self, state: str, seconds: float = 0.0) -> None:
        """The door's state to the listener: "open" for `seconds` more (the pulse's end), or "closed"."""
        if self._on_door is not None:
            try:
                self._on_door(state, seconds)
            except Exception:  # noqa: BLE001
                log.exception("door: a listener of the door state failed")

    def _run_command(self, command: str, seconds: float, person: str | None) -> str | None:
        """Run one door command; None when it exited 0 in time, else what went wrong (it is then killed)."""
        args = command_args(command, seconds)
        env = {**os.environ, "FACEGATE_DOOR_SECONDS": _seconds_text(seconds), "FACEGATE_PERSON": person or ""}
        try:
            # Its own session: a Ctrl+C or a kill of FaceGate does not cut a pulse (or a close) short.
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            return f"cannot be started ({exc.strerror or exc})"
        try:
            _, stderr = process.communicate(timeout=self.command_timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
            process.communicate()
            return f"did not return within {self.command_timeout_s:g} s (killed)"
        if process.returncode != 0:
            tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if stderr else []
            return f"exited with {process.returncode}" + (f": {tail[0][:200]}" if tail else "")
        return None
