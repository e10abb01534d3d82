"""Turns the session's worker-thread callbacks into Qt signals (queued onto the UI thread)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from facegate.kiosk import KioskView
from facegate.liveness.screen_light import LightSequence


class SessionBridge(QObject, KioskView):
    frame_ready = Signal(object)  # FrameResult
    decision = Signal(object, object)  # Decision, FrameResult
    source_status = Signal(object)  # SourceStatus
    engine_ready = Signal(object)  # the loaded FaceEngine
    failed = Signal(str)  # a message for the user
    learned = Signal(object)  # facegate.learning.LearnOutcome
    gallery_changed = Signal()  # another process changed the gallery folder; it has been read again
    action_health = Signal(object)  # facegate.actions.ActionHealth: a receiver slow, down, or back
    tailgating = Signal(object)  # facegate.actions.ActionEvent: a face appeared while the door was open
    site_event = Signal(object, object)  # facegate.site.sync.SiteEvent and its payload: the site link's news
    light = Signal(object)  # facegate.liveness.screen_light.LightSequence: show it round the picture now
    speech_failed = Signal(object, str)  # the SpeechWorker that stopped, and why (its own thread)

    def start_light(self) -> LightSequence:
        """A new colour sequence for a liveness check (kiosk.ScreenLight; the pipeline worker calls it): the
        window shows it at once and reports its paint times to it."""
        sequence = LightSequence.draw()
        self.light.emit(sequence)
        return sequence

    # facegate.kiosk.KioskView's calls, made on the session's and the parts' threads; emitting is thread-safe.
    def on_result(self, result) -> None:
        self.frame_ready.emit(result)

    def on_decision(self, decision, result) -> None:
        self.decision.emit(decision, result)

    def on_source_status(self, status) -> None:
        self.source_status.emit(status)

    def on_learned(self, outcome) -> None:  # called on the learner's thread
        self.learned.emit(outcome)

    def on_gallery_changed(self) -> None:  # called on the session's gallery watcher thread
        self.gallery_changed.emit()

    def on_action_health(self, health) -> None:  # called on an action's thread
        self.action_health.emit(health)

    def on_tailgating(self, alert) -> None:  # called on the session's thread
        self.tailgating.emit(alert)

    def on_site_event(self, kind, payload) -> None:  # called on the site link's thread
        self.site_event.emit(kind, payload)
