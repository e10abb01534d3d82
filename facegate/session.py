"""A running kiosk: capture thread -> pipeline worker -> listeners (access log, learner, speech, window, ...).

The same session runs under the window, headless (`facegate run --headless`), in the benchmarks and in the tests,
built by `build_session`. Speech and disk writes happen on their own threads (SpeechWorker, AccessLog); listeners
are called on the session's threads and must return quickly (the window turns them into Qt signals).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from collections.abc import Sequence

from facegate.capture import CaptureThread, SourceSpec, SourceState, SourceStatus, parse_source
from facegate.liveness import LivenessSettings
from facegate.pipeline import FrameResult, Pipeline, PipelineSettings
from facegate.policy import AccessPolicy, Decision, PolicySettings, Verdict

if TYPE_CHECKING:
    from facegate.actions.listener import ActionsListener

log = logging.getLogger(__name__)

# A frame the pipeline fails on is skipped (logged) and the kiosk goes on; this many failures in a row mean
# something is broken for good, and the session stops with the error (shown by the window, exit code headless).
MAX_FAILED_FRAMES_IN_A_ROW = 25
# Decisions that open a door or alert a guard: committed to the access log before they are announced (at most
# this long a wait). Unknown faces are logged without waiting: nothing is done on them.
ACTED_ON = (Verdict.GRANTED, Verdict.DENIED)
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


class AccessLogListener(SessionListener):
    """Every decision into the access log; a grant or denial is on the disk before later listeners announce it."""

    def __init__(self, access_log, source: str):
        self.access_log = access_log
        self.source = source

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        from facegate.access_log import AccessEvent

        event = AccessEvent(
            time=time.time(), track_id=decision.track_id, person=decision.name, distance=decision.distance,
            margin=decision.margin, decision=decision.verdict, source=self.source,
            details={"frame": result.frame.index, "greeted": decision.greet, "reason": decision.reason,
                     **decision.details},
            snapshot=result.snapshots.get(decision.track_id))
        if decision.verdict in ACTED_ON:
            # On the disk before anyone hears or sees it (a door opens on it): a crash or power cut right after
            # the greeting cannot leave a grant without its log entry. A log that cannot be written in time is an
            # error in the app's log, and the decision still goes out: a full disk must not lock everyone out.
            self.access_log.record_durably(event, DURABLE_WAIT_S)
        else:
            self.access_log.record(event)


class LearningListener(SessionListener):
    """Offers liveness-checked grants to the template learner (facegate.learning), which runs on its own thread."""

    def __init__(self, learner):
        self.learner = learner

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.verdict is Verdict.GRANTED:
            self.learner.offer(decision.name, result.snapshots.get(decision.track_id), decision.details)

    def wait_idle(self) -> None:
        self.learner.wait_idle()

    def stop(self, timeout: float) -> None:
        self.learner.stop(timeout)


class SpeechListener(SessionListener):
    """Greets once per visit and speaks liveness requests, never over a greeting for someone else."""

    def __init__(self, speech, greeting_template: str = "Welcome {name}"):
        self.speech = speech
        self.greeting_template = greeting_template
        self._last_greeting = float("-inf")

    def on_decision(self, decision: Decision, result: FrameResult) -> None:
        if decision.greet and decision.name is not None:  # a greeting grant always names the person
            from facegate.speech import render_greeting

            self._last_greeting = time.monotonic()
            self.speech.say(render_greeting(self.greeting_template, decision.name))

    def on_result(self, result: FrameResult) -> None:
        if result.prompts and time.monotonic() - self._last_greeting >= 3.0:
            for prompt in result.prompts:
                self.speech.say(prompt)


class KioskSession:
    """Capture thread -> pipeline worker -> listeners. Build one with `build_session`."""

    def __init__(self, source: str | int | SourceSpec, pipeline: Pipeline, *,
                 listeners: Sequence[SessionListener] = (), realtime: bool = True, loop: bool = False,
                 reader_factory=None):
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
        self.actions: ActionsListener | None = None  # facegate.actions.ActionsListener, set by build_session when actions are configured

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
        self._stop.set()
        self.capture.stop(timeout)
        for listener in self.listeners:
            listener.stop(timeout)
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout)
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


def build_session(settings, engine, gallery, *, source: str | int | SourceSpec, realtime: bool = True,
                  loop: bool = False, listeners: Sequence[SessionListener] = (), access_log=None, speech=None,
                  learn: bool | None = None, on_learned=None, learner=None, liveness=None, rng=None,
                  reader_factory=None, actions: bool = True, on_action_health=None,
                  on_tailgating=None) -> KioskSession:
    """A kiosk session wired the one way the app, `run --headless`, the benchmarks and the tests use.

    settings: facegate.config.Settings (policy, pipeline, liveness, greeting, learning). Listeners hear the session
    after the built-in ones, in this order: the access log (a decision is durable before anything announces it),
    the template learner, speech. learn: learn from visits (default: settings.learn_from_visits), with a
    TemplateLearner made from the settings that calls on_learned, or with `learner` when given. liveness:
    overrides the settings' liveness (a benchmark says which mode it measures). reader_factory: wraps how frames
    are read (benchmarks letterbox or stack the clip; tests spoil frames). actions: the door pulse, MQTT and
    webhook the settings ask for (facegate.actions), right after the access log: a door opens only on a grant
    already on the disk; on_action_health(ActionHealth) and on_tailgating(ActionEvent) are called on the
    actions' threads. The session's `actions` is that listener (None without any)."""
    spec = source if isinstance(source, SourceSpec) else parse_source(source)
    pipeline = Pipeline(engine, gallery, AccessPolicy(PolicySettings.from_settings(settings)), PipelineSettings.from_settings(settings),
                        liveness if liveness is not None else LivenessSettings.from_settings(settings), rng)
    built_in: list[SessionListener] = []
    if access_log is not None:
        built_in.append(AccessLogListener(access_log, str(spec)))
    action_listener = None
    if actions:
        from facegate.actions.listener import build_actions

        action_listener = build_actions(settings, access_log=access_log, on_health=on_action_health,
                                        on_alert=on_tailgating)
        if action_listener is not None:
            built_in.append(action_listener)
    if learner is None and (settings.learn_from_visits if learn is None else learn):
        from facegate.learning import LearningSettings, TemplateLearner

        learner = TemplateLearner(gallery, LearningSettings.from_settings(settings), on_learned)
    if learner is not None:
        built_in.append(LearningListener(learner))
    if speech is not None:
        built_in.append(SpeechListener(speech, settings.greeting_template))
    session = KioskSession(spec, pipeline, listeners=built_in + list(listeners), realtime=realtime, loop=loop,
                           reader_factory=reader_factory)
    session.actions = action_listener
    return session
