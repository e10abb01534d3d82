"""A running kiosk: capture thread -> pipeline worker -> listeners (access log, learner, speech, window, ...).

The same session runs under the window, headless (`facegate run --headless`), in the benchmarks and in the tests,
built by `facegate.kiosk` (which knows the listeners; this module knows only their contract, SessionListener).
Speech and disk writes happen on their own threads (SpeechWorker, AccessLog); listeners are called on the
session's threads and must return quickly (the window turns them into Qt signals).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from facegate.capture import CaptureThread, ReaderFactory, SourceSpec, SourceState, SourceStatus
from facegate.pipeline import FrameResult, Pipeline
from facegate.policy import Decision

log = logging.getLogger(__name__)

# A frame the pipeline fails on is skipped (logged) and the kiosk goes on; this many failures in a row mean
# something is broken for good, and the session stops with the error (shown by the window, exit code headless).
MAX_FAILED_FRAMES_IN_A_ROW = 25
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


class SessionListener:
    """What a running kiosk tells the world: the window, speech, the access log, `run --headless`'s JSON lines,
    and later integrations. Subclass it and override the calls you need. They are made on the session's threads
    (the pipeline worker; `on_gallery_changed` on the gallery watcher), in the order the listeners were given:
    return quickly, hand slow work to a thread of your own."""

    def on_result(self, result: FrameResult) -> None:
        """Every processed frame: boxes, names, prompts (for drawing)."""

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        """A decision (granted, denied, unknown) on one track, with the frame it was made on."""

    def on_source_status(self, status: SourceStatus) -> None:
        """The camera or file went live, was lost, failed or ended."""

    def on_gallery_changed(self) -> None:
        """Another process changed the gallery folder; it has been read again."""

    def wait_idle(self) -> None:
        """Finish work queued so far (a finite source ended: what it showed is decided before the exit)."""

    def stop(self, timeout: float) -> None:
        """The session is stopping: finish or drop queued work within `timeout`."""


class KioskSession:
    """Capture thread -> pipeline worker -> listeners. Build one with `facegate.kiosk.build_session`."""

    def __init__(self, source: str | int | SourceSpec, pipeline: Pipeline, *,
                 listeners: Sequence[SessionListener] = (), realtime: bool = True, loop: bool = False,
                 reader_factory: ReaderFactory | None = None):
        self.pipeline = pipeline
        self.listeners = list(listeners)
        self.stats = SessionStats()
        self._last_lost_message: str | None = None
        self.capture = CaptureThread(source, realtime=realtime, on_status=self._status, loop=loop,
                                     reader_factory=reader_factory)
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
        for listener in self.listeners:
            listener.on_source_status(status)

    def start(self) -> KioskSession:
        self.stats.started = time.monotonic()
        self.capture.start()
        self._worker.start()
        self._watcher.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading frames, let the worker finish the frame in hand, then stop the listeners: a decision made
        on that last frame is logged and handed to every listener (the actions) while they still take it."""
        self._stop.set()
        self.capture.stop(timeout)
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.error("The pipeline worker did not finish its frame within %.1f s; the listeners stop without "
                          "its decisions", timeout)
        for listener in self.listeners:
            listener.stop(timeout)
        if self._watcher.is_alive() and threading.current_thread() is not self._watcher:
            self._watcher.join(timeout)

    def wait_idle(self) -> None:
        """Let the listeners finish what they queued (call before stop() when a recording has ended)."""
        for listener in self.listeners:
            listener.wait_idle()

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
                    for listener in self.listeners:
                        listener.on_decision(decision, result)
                for listener in self.listeners:
                    listener.on_result(result)
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
                    for listener in self.listeners:
                        listener.on_gallery_changed()
                failing = False
            except Exception:  # reported once per failure streak; the kiosk goes on with what it had
                if not failing:
                    log.exception("The gallery folder could not be checked for changes")
                failing = True
