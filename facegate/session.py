"""A running kiosk: capture thread -> pipeline worker -> sinks (listeners, speech, access log).

The same session runs under the window and headless (`facegate run --headless`). Speech and disk writes
happen on their own threads (SpeechWorker, AccessLog); listeners are called on the pipeline worker thread and
must return quickly (the window turns them into Qt signals).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from facegate.capture import CaptureThread, SourceSpec, SourceState, SourceStatus
from facegate.pipeline import FrameResult, Pipeline

log = logging.getLogger(__name__)

# A frame the pipeline fails on is skipped (logged) and the kiosk goes on; this many failures in a row mean
# something is broken for good, and the session stops with the error (shown by the window, exit code headless).
MAX_FAILED_FRAMES_IN_A_ROW = 25
# Decisions that open a door or alert a guard: committed to the access log before they are announced (at most
# this long a wait). Unknown faces are logged without waiting: nothing is done on them.
ACTED_ON = ("granted", "denied")
DURABLE_WAIT_S = 2.0
# How often the gallery folder is checked for changes made by other processes (the CLI, a second window, a file
# manager): a removed person is not granted again after this long, an added one is recognised.
GALLERY_CHECK_S = 2.0


@dataclass
class SessionStats:
    frames: int = 0
    dropped: int = 0
    encoded: int = 0
    busy_seconds: float = 0.0  # time spent processing frames
    failed: int = 0  # frames skipped because processing them raised (logged)
    started: float = 0.0
    finished: float = 0.0

    @property
    def fps(self) -> float:
        elapsed = (self.finished or time.monotonic()) - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0


class KioskSession:
    def __init__(self, source: str | int | SourceSpec, pipeline: Pipeline, *, realtime: bool = True,
                 speech=None, access_log=None, greeting_template: str = "Welcome {name}",
                 on_result: Callable[[FrameResult], None] | None = None,
                 on_decision: Callable | None = None,
                 on_status: Callable[[SourceStatus], None] | None = None,
                 loop: bool = False, learner=None, on_gallery_changed: Callable[[], None] | None = None):
        self.pipeline = pipeline
        self.on_gallery_changed = on_gallery_changed
        self.learner = learner  # facegate.learning.TemplateLearner: learns from liveness-passed grants
        self.speech = speech
        self.access_log = access_log
        self.greeting_template = greeting_template
        self.on_result = on_result
        self.on_decision = on_decision
        self.on_status = on_status
        self.stats = SessionStats()
        self._last_greeting = float("-inf")
        self._last_lost_message: str | None = None
        self.capture = CaptureThread(source, realtime=realtime, on_status=self._status, loop=loop)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="pipeline worker", daemon=True)
        self._watcher = threading.Thread(target=self._watch_gallery, name="gallery watcher", daemon=True)
        self.error: BaseException | None = None

    def _status(self, status: SourceStatus) -> None:
        if status.state == SourceState.LOST:
            # The same failure again at each retry is one warning, not a line every few seconds for hours.
            level = logging.DEBUG if status.message == self._last_lost_message else logging.WARNING
            log.log(level, "Video source lost: %s (retrying in %.1f s)", status.message, status.retry_in or 0)
            self._last_lost_message = status.message
        elif status.state == SourceState.LIVE:
            self._last_lost_message = None
        elif status.state == SourceState.FAILED:
            log.error("Video source cannot be used: %s", status.message)
        if self.on_status is not None:
            self.on_status(status)

    def start(self) -> "KioskSession":
        self.stats.started = time.monotonic()
        self.capture.start()
        self._worker.start()
        self._watcher.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.capture.stop(timeout)
        if self.learner is not None:
            self.learner.stop(timeout)
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout)
        if self._watcher.is_alive() and threading.current_thread() is not self._watcher:
            self._watcher.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a finite source has been processed to its end (or the session stopped)."""
        self._worker.join(timeout)
        return not self._worker.is_alive()

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    def _run(self) -> None:
        failed_in_a_row = 0
        try:
            while not self._stop.is_set():
                frame = self.capture.next_frame(timeout=0.5)
                if frame is None:
                    if self.capture.finished:
                        break
                    continue
                try:
                    result = self.pipeline.process(frame)
                except Exception:
                    failed_in_a_row += 1
                    self.stats.failed += 1
                    if failed_in_a_row >= MAX_FAILED_FRAMES_IN_A_ROW:
                        raise
                    if failed_in_a_row == 1:
                        log.exception("Frame %d could not be processed; skipped", frame.index)
                    self.pipeline.reset()  # start clean: a half-updated track must not vote
                    continue
                failed_in_a_row = 0
                self.stats.frames += 1
                self.stats.dropped = self.capture.dropped
                self.stats.encoded += result.encoded
                self.stats.busy_seconds += result.seconds
                for decision in result.decisions:
                    self._handle_decision(decision, result)
                self._say_prompts(result)
                if self.on_result is not None:
                    self.on_result(result)
        except BaseException as exc:  # reported, never silent: the window shows it, headless exits non-zero
            self.error = exc
            log.exception("The recognition pipeline stopped")
        finally:
            self.stats.finished = time.monotonic()
            if self.error is not None:
                self.capture.stop()  # nobody reads frames any more: release the camera and its thread

    def _watch_gallery(self) -> None:
        """Another process may change the gallery while the kiosk runs: look every GALLERY_CHECK_S."""
        gallery = self.pipeline.gallery
        failing = False
        while not self._stop.wait(GALLERY_CHECK_S) and self._worker.is_alive():  # ends with the session
            try:
                if gallery.refresh_if_changed():
                    log.info("The gallery changed on disk; %d people now.", len(gallery.people))
                    if self.on_gallery_changed is not None:
                        self.on_gallery_changed()
                failing = False
            except Exception:  # reported once per failure streak; the kiosk goes on with what it had
                if not failing:
                    log.exception("The gallery folder could not be checked for changes")
                failing = True

    def _say_prompts(self, result: FrameResult) -> None:
        """Liveness requests are spoken too, but never over a greeting for someone else."""
        if self.speech is None or not result.prompts:
            return
        if time.monotonic() - self._last_greeting < 3.0:
            return
        for prompt in result.prompts:
            self.speech.say(prompt)

    def _handle_decision(self, decision, result: FrameResult) -> None:
        if self.access_log is not None:
            from facegate.events import AccessEvent

            event = AccessEvent(
                time=time.time(), track_id=decision.track_id, person=decision.name, distance=decision.distance,
                margin=decision.margin, decision=decision.verdict.value, source=str(self.capture.spec),
                details={"frame": result.frame.index, "greeted": decision.greet, "reason": decision.reason,
                         **decision.details},
                snapshot=result.snapshots.get(decision.track_id))
            if decision.verdict.value in ACTED_ON:
                # On the disk before anyone hears or sees it (a door opens on it): a crash or power cut right
                # after the greeting cannot leave a grant without its log entry. A log that cannot be written
                # in time is an error in the app's log, and the decision still goes out: a full disk must not
                # lock everyone out.
                self.access_log.record_durably(event, DURABLE_WAIT_S)
            else:
                self.access_log.record(event)
        if self.learner is not None and decision.verdict.value == "granted":
            self.learner.offer(decision.name, result.snapshots.get(decision.track_id), decision.details)
        if decision.greet and self.speech is not None:
            from facegate.speech import render_greeting

            self._last_greeting = time.monotonic()
            self.speech.say(render_greeting(self.greeting_template, decision.name))
        if self.on_decision is not None:
            self.on_decision(decision, result)
