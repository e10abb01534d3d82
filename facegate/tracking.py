"""Tracks: one id per face across frames, so a person is encoded when new and re-checked now and then,
not on every frame. Greedy IoU association is enough at kiosk distances (few faces, little motion per frame).

A box is not an identity: one person leaving while another steps into the same place (or a cut in a video) keeps
the box and changes the face. The tracker marks a track whose box moved abruptly (`jumped`), and the pipeline
compares each new encoding with the track's recent ones (`recent_embeddings`) and splits the track when they do
not agree (`Tracker.split`), so a name, a liveness check or a wait never passes to another face.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facegate.vision.detect import Face

if TYPE_CHECKING:
    from facegate.liveness import LivenessStatus


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


# How many of a track's embeddings a new one is compared with: a few, so a slow turn of the head is followed.
RECENT_EMBEDDINGS = 5


@dataclass
class Track:
    id: int
    face: Face
    first_seen: float
    last_seen: float
    seen_in_frame: bool = True
    last_encoded: float | None = None
    encodings: int = 0
    # The latest match (set when the track is encoded).
    distance: float | None = None
    margin: float | None = None
    # The liveness check's latest status while one runs, or the wait before the next one (set by the pipeline).
    liveness: LivenessStatus | None = None
    # The face's last few embeddings: a new one far from all of them is another face (the pipeline splits).
    recent_embeddings: deque = field(default_factory=lambda: deque(maxlen=RECENT_EMBEDDINGS))
    # The box moved more between two frames than a face does (see Tracker.steady_iou): compare the face again now.
    jumped: bool = False

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.face.box

    def distance_to_recent(self, embedding: np.ndarray) -> float:
        """The distance from `embedding` to the nearest of this face's recent embeddings (inf before the first)."""
        if not self.recent_embeddings:
            return float("inf")
        return float(np.linalg.norm(np.asarray(self.recent_embeddings) - embedding, axis=1).min())


class Tracker:
    def __init__(self, min_iou: float = 0.3, max_age_s: float = 0.7, steady_iou: float = 0.5):
        self.min_iou = min_iou
        # A face moving at a kiosk keeps at least this overlap from one frame to the next (the clip: 0.55 and more
        # over 600 frame pairs; its two cuts kept the track at 0.39 and 0.40): below it the track has `jumped`.
        self.steady_iou = steady_iou
        self.max_age_s = max_age_s  # a face unseen this long has left (or the track is unreliable)
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, faces: list[Face], now: float) -> tuple[list[Track], list[Track]]:
        """Associate this frame's faces with tracks. Returns (tracks seen now or recently, tracks ended)."""
        for track in self.tracks.values():
            track.seen_in_frame = False
        pairs = sorted(((iou(t.box, f.box), tid, fi) for tid, t in self.tracks.items()
                        for fi, f in enumerate(faces)), reverse=True)
        used_tracks, used_faces = set(), set()
        for overlap, tid, fi in pairs:
            if overlap < self.min_iou:
                break
            if tid in used_tracks or fi in used_faces:
                continue
            track = self.tracks[tid]
            track.face, track.last_seen, track.seen_in_frame = faces[fi], now, True
            track.jumped = track.jumped or overlap < self.steady_iou
            used_tracks.add(tid)
            used_faces.add(fi)
        for fi, face in enumerate(faces):
            if fi not in used_faces:
                self._start(face, now)
        ended = [t for t in self.tracks.values() if now - t.last_seen > self.max_age_s]
        for track in ended:
            del self.tracks[track.id]
        return list(self.tracks.values()), ended

    def split(self, track: Track, now: float) -> Track:
        """`track`'s face is not the face it followed: end it and start a new track, with nothing carried over, for
        the face it holds now."""
        del self.tracks[track.id]
        return self._start(track.face, now, seen_in_frame=track.seen_in_frame)

    def _start(self, face: Face, now: float, seen_in_frame: bool = True) -> Track:
        track = Track(self._next_id, face, now, now, seen_in_frame=seen_in_frame)
        self.tracks[track.id] = track
        self._next_id += 1
        return track

    def clear(self) -> list[Track]:
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended


def boxes_array(tracks: list[Track]) -> np.ndarray:
    return np.array([t.box for t in tracks], np.float32).reshape(-1, 4)
