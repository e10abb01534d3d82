"""The whole face must be the claimed person (issue 28 item 4): a passive cue against the half mask.

A half mask is the victim's face printed and cut off just under the nose, worn over another real person's face:
the print's eyes, brows and nose are recognised as the victim (fused distance 0.43-0.45, under the 0.48 threshold,
in an outside test), while the wearer's own mouth and jaw answer "open your mouth". This cue embeds the lower face
alone (facegate/vision/lower_face.py: the chips with everything above a line under the nose painted over, through
the same two encoders) and compares it with the same embedding of the claimed person's enrolled photos
(`Gallery.lower_face_embeddings`). Another person's jaw under the print is farther from them than the claimed
person's own jaw is.

What its verdicts mean: ATTACK, the lower face is someone else's; LIVE, the lower face is the claimed person's,
which says nothing about liveness on its own (a whole printed face passes it): this cue can refuse, never vouch.
`VOUCHES_FOR_LIVENESS = False` says so to the fusion. UNSURE: too few frames measured yet; UNAVAILABLE: the claimed
person has no enrolled photo whose lower face could be embedded.

Cost: one embedding (two encoders, 30-100 ms) per measured frame, so frames are measured at most every
`every_s` seconds and at most `max_frames` of them; further frames are ignored.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from facegate.liveness.cues import CueResult, CueVerdict
from facegate.vision.detect import Face
from facegate.vision.engine import FaceEngine
from facegate.vision.facemesh import Mesh
from facegate.vision.lower_face import embed_lower_faces

# The largest median distance (fused, as the whole face's) from the visitor's lower face to the claimed person's
# closest enrolled lower face that is taken for the claimed person. Chosen by benchmarks/whole_face.py on LFW folds
# 0-1 (548 same-person pairs granted by the whole face: the smallest distance refusing at most 2 % of them, 0.530),
# reported on folds 2-3: it refuses 2.7 % of granted same-person pairs and 42 % of the half masks cut just under
# the nose that the whole face takes for the victim (29 % of masks cut lower, over the upper lip, edge softened);
# on the clip, 0 of 110 cue runs on Lin-Manuel Miranda singing say ATTACK (117 of 118 granted frames pass).
# Lower refuses more masks and more people (0.50: 6.3 % and 61 %; 0.475: 10 % and 74 %): the fusion's choice.
LOWER_FACE_THRESHOLD = 0.53
MIN_FRAMES = 3  # measured frames before any verdict: one frame may be blurred, mid-word or half turned
MAX_FRAMES = 5  # then the verdict stands; later frames cost nothing
EVERY_S = 0.15  # between measured frames: consecutive video frames are nearly the same picture


def judge(distances: list[float], threshold: float = LOWER_FACE_THRESHOLD, min_frames: int = MIN_FRAMES
          ) -> CueVerdict:
    """The verdict on a track's lower-face distances (one per measured frame): their median against the
    threshold, once there are `min_frames` of them. One rule for the cue and benchmarks/whole_face.py."""
    if len(distances) < min_frames:
        return CueVerdict.UNSURE
    return CueVerdict.ATTACK if float(np.median(distances)) > threshold else CueVerdict.LIVE


class LowerFaceSource(Protocol):
    """Where the claimed person's enrolled lower faces come from: a Gallery (or its site replica)."""

    def lower_face_embeddings(self, name: str) -> np.ndarray: ...


class WholeFaceCue:
    """Passive cue for one track claiming `person` (see the module's docstring).

    `WholeFaceCue(engine, gallery, person)`: the kiosk's engine and gallery; the enrolled lower faces are asked of
    the gallery on the first frame (computed there once per photo and kept)."""

    name = "whole_face"
    VOUCHES_FOR_LIVENESS = False

    def __init__(self, engine: FaceEngine, gallery: LowerFaceSource, person: str,
                 threshold: float = LOWER_FACE_THRESHOLD, min_frames: int = MIN_FRAMES,
                 max_frames: int = MAX_FRAMES, every_s: float = EVERY_S):
        self.engine = engine
        self.gallery = gallery
        self.person = person
        self.threshold = threshold
        self.min_frames = min_frames
        self.max_frames = max_frames
        self.every_s = every_s
        self._enrolled: np.ndarray | None = None
        self._last: float | None = None
        self.distances: list[float] = []

    def enrolled(self) -> np.ndarray:
        if self._enrolled is None:
            self._enrolled = np.asarray(self.gallery.lower_face_embeddings(self.person), np.float64)
        return self._enrolled

    def update(self, image_rgb: np.ndarray, face: Face, mesh: Mesh, now: float) -> None:
        if len(self.distances) >= self.max_frames or face.landmarks is None:
            return
        if self._last is not None and now - self._last < self.every_s:
            return
        enrolled = self.enrolled()
        if not len(enrolled):
            return
        self._last = now
        lower = embed_lower_faces(self.engine, image_rgb, [face])[0].astype(np.float64)
        self.distances.append(float(np.linalg.norm(enrolled - lower, axis=1).min()))

    def result(self) -> CueResult:
        if self._enrolled is not None and not len(self._enrolled):
            return CueResult(CueVerdict.UNAVAILABLE, reason=f"no enrolled photo of {self.person} shows a lower face")
        frames = len(self.distances)
        verdict = judge(self.distances, self.threshold, self.min_frames)
        if verdict is CueVerdict.UNSURE:
            return CueResult(verdict, frames=frames, reason="lower face not measured on enough frames yet")
        details = {"distances": [round(d, 3) for d in self.distances], "threshold": self.threshold}
        reason = "the lower face is not the claimed person's" if verdict is CueVerdict.ATTACK else ""
        return CueResult(verdict, float(np.median(self.distances)), frames, reason, details)
