"""Pixel morphs from one person's photo toward another's, offered to the template learner as kiosk visits.

The attack on learning from visits (issue 30, item 7): someone who is granted as an enrolled person shows the
kiosk, visit after visit, a face that is a little more like somebody else each time (alpha-blends of the two
photos, the other aligned onto the first by their five landmarks). If each step is learned, the person's
template walks toward the other face. Used by benchmarks/learning_drift.py and tests/test_learning.py; not by
the app.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np

from facegate.pipeline import face_crop

# What a liveness-passed grant carries in its details (the learner takes nothing else).
LIVE_GRANT = {"liveness": {"steps_passed": 2}}
# Between two visits: more than the learner's least time between two learned photos (an hour by default).
VISIT_GAP_S = 2 * 3600.0


def largest_face(engine, image_rgb: np.ndarray):
    """The largest face the engine finds (with landmarks), or None."""
    faces = engine.detect(image_rgb)
    return max(faces, key=lambda f: f.width) if faces else None


def morphs_toward(engine, base_rgb: np.ndarray, other_rgb: np.ndarray, alphas: Sequence[float]) -> list[np.ndarray]:
    """`base_rgb` blended with `other_rgb` (aligned onto it by a similarity transform of the five landmarks), one
    image per alpha: 0 is the base photo, 1 the other face in the base photo's place."""
    base, other = largest_face(engine, base_rgb), largest_face(engine, other_rgb)
    if base is None or other is None:
        raise ValueError("both photos need a face")
    transform, _ = cv2.estimateAffinePartial2D(other.landmarks.astype(np.float32), base.landmarks.astype(np.float32))
    height, width = base_rgb.shape[:2]
    warped = cv2.warpAffine(other_rgb, transform, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    start = base_rgb.astype(np.float32)
    return [np.clip((1 - a) * start + a * warped, 0, 255).round().astype(np.uint8) for a in alphas]


def visit_snapshot(engine, image_rgb: np.ndarray) -> np.ndarray | None:
    """What the kiosk hands the learner for a grant: the face crop around the detected box (pipeline.face_crop)."""
    face = largest_face(engine, image_rgb)
    return None if face is None else face_crop(image_rgb, face.box)


class KioskVisits:
    """The real TemplateLearner of a gallery, offered grants as the kiosk's LearningListener offers them, on a
    clock of its own (visits VISIT_GAP_S apart). Stop it when done."""

    def __init__(self, gallery, settings, start: float = 1_796_000_000.0):
        from facegate.learning import TemplateLearner

        self.now = start
        self.decided: list = []  # every LearnOutcome, in order
        self.learner = TemplateLearner(gallery, settings, on_learned=self.decided.append, clock=lambda: self.now)

    def visit(self, name: str, snapshot: np.ndarray | None):
        """A liveness-passed grant of `name` with this face snapshot, one gap after the last visit: the learner's
        outcome, or None when it did not take the offer."""
        self.now += VISIT_GAP_S
        before = len(self.decided)
        if not self.learner.offer(name, snapshot, LIVE_GRANT):
            return None
        deadline = time.monotonic() + 120
        while len(self.decided) == before:  # on_learned runs on the learner's thread once it decided
            if time.monotonic() > deadline:
                raise TimeoutError("the template learner did not decide within 120 s")
            time.sleep(0.01)
        return self.decided[before]

    def stop(self) -> None:
        self.learner.stop()
