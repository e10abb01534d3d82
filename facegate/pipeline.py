"""Frame processing: detect (reduced resolution) -> track -> for new or due tracks only: landmarks -> chips ->
encoder (one batch) -> gallery match -> per-track vote (policy) -> decisions.

The pipeline knows nothing of Qt, speech or disk: it returns a `FrameResult` per frame, and whoever runs it
(`facegate.session`) hands the results on to the window, the speech worker and the access log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from facegate.capture import Frame
from facegate.policy import AccessPolicy, Decision, Verdict
from facegate.tracking import Track, Tracker


@dataclass(frozen=True)
class PipelineSettings:
    # The detector sees frames shrunk to this longest side: 320 finds faces from ~60 px (in 640x480) at ~3 ms.
    detect_max_side: int = 320
    # Faces narrower than this (full-frame pixels) are not encoded: too far from the kiosk to be reliable.
    min_face_width: int = 60
    # Faces encoded per frame at most (one batch); the rest wait for the next frame.
    max_batch: int = 4
    # Granted tracks are re-encoded this often (s), catching a swap of faces between tracks.
    recheck_granted_s: float = 1.0
    # Unknown tracks are retried this often (s): a person turning to face the camera can still be recognised.
    retry_unknown_s: float = 0.25


@dataclass(frozen=True)
class TrackView:
    """What the window draws for one face (an immutable copy; the pipeline keeps the live Track)."""

    id: int
    box: tuple[float, float, float, float]
    state: str  # pending | granted | unknown | denied
    name: str | None
    distance: float | None
    margin: float | None
    caption: str


@dataclass
class FrameResult:
    frame: Frame
    tracks: list[TrackView]
    decisions: list[Decision]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # track id -> face crop for the log
    encoded: int = 0
    seconds: float = 0.0


def face_crop(image: np.ndarray, box, grow: float = 0.6) -> np.ndarray:
    """The face with some context around it, for the access log."""
    x, y, w, h = box
    cx, cy, side = x + w / 2, y + h / 2, max(w, h) * (1 + grow)
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(image.shape[1], cx + side / 2)), int(min(image.shape[0], cy + side / 2))
    return image[y0:y1, x0:x1].copy()


class Pipeline:
    def __init__(self, engine, gallery, policy: AccessPolicy | None = None,
                 settings: PipelineSettings | None = None):
        self.engine = engine
        self.gallery = gallery
        self.policy = policy or AccessPolicy()
        self.settings = settings or PipelineSettings()
        self.tracker = Tracker()

    def _due(self, track: Track, now: float) -> bool:
        if track.face.width < self.settings.min_face_width:
            return False
        verdict, _ = self.policy.verdict(track.id)
        if track.last_encoded is None or verdict is Verdict.PENDING:
            return True
        interval = (self.settings.recheck_granted_s if verdict is Verdict.GRANTED
                    else self.settings.retry_unknown_s)
        return now - track.last_encoded >= interval

    def process(self, frame: Frame, now: float | None = None) -> FrameResult:
        started = time.perf_counter()
        now = frame.time if now is None else now
        image = frame.image
        faces = self.engine.detect(image, max_side=self.settings.detect_max_side, landmarks=False)
        tracks, ended = self.tracker.update(faces, now)
        for track in ended:
            self.policy.forget_track(track.id)

        visible = [t for t in tracks if t.seen_in_frame]
        due = [t for t in visible if self._due(t, now)]
        due.sort(key=lambda t: (self.policy.verdict(t.id)[0] is not Verdict.PENDING, t.last_encoded or 0.0))
        due = due[: self.settings.max_batch]
        decisions: list[Decision] = []
        snapshots: dict[int, np.ndarray] = {}
        if due:
            self.engine.locate_landmarks(image, [t.face for t in due])
            embeddings = self.engine.embed(image, [t.face for t in due])
            for track, match in zip(due, self.gallery.match_many(embeddings)):
                track.last_encoded, track.encodings = now, track.encodings + 1
                track.distance, track.margin = match.distance, match.margin
                track.extra["best"] = match.name
                decision = self.policy.add_vote(track.id, match, now)
                if decision is not None:
                    decisions.append(decision)
                    snapshots[track.id] = face_crop(image, track.box)

        views = []
        for track in tracks:
            verdict, name = self.policy.verdict(track.id)
            if verdict is Verdict.GRANTED and track.seen_in_frame:
                self.policy.person_seen(track.id, now)
            track.state, track.name = verdict.value, name
            if track.face.width < self.settings.min_face_width and verdict is Verdict.PENDING:
                track.caption = "Please come closer"
            elif verdict is Verdict.GRANTED:
                track.caption = name
            elif verdict is Verdict.UNKNOWN:
                track.caption = "Unknown"
            elif verdict is Verdict.DENIED:
                track.caption = "Denied"
            else:
                track.caption = "Recognising..."
            views.append(TrackView(track.id, track.box, track.state, track.name, track.distance, track.margin,
                                   track.caption))
        return FrameResult(frame, views, decisions, snapshots, len(due), time.perf_counter() - started)

    def reset(self) -> None:
        """Forget every track (e.g. the source changed)."""
        for track in self.tracker.clear():
            self.policy.forget_track(track.id)
