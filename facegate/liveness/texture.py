"""The texture cue: does the face look like skin in front of the camera, or like a print or a screen?

Each meshed frame of the track is given to the passive presentation-attack model (facegate/vision/antispoof.py:
MiniFASNet, trained on moire, print dots, glare, colour range and the edges around the face), which answers a live
probability. One frame can be fooled by blur or a reflection, so the cue decides on the median of the last WINDOW
frames, and only once it has MIN_FRAMES of them.

The thresholds were chosen on the calibration sets of benchmarks/pad_model.py (`--calibration`), never on the sets
it then reports: bona fide, the audience shots of the real clip (frames 15-82 and 215-274, not Lin-Manuel's
frontal shot) and the first half of its LFW sample; attacks, the rendered suite drawn with seed 1 (prints in a
hand, bent, on a stand, two phone replays; the report uses seed 2). See TextureSettings for the figures.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from facegate.errors import ModelFileError
from facegate.liveness.cues import CueResult, CueVerdict
from facegate.vision.antispoof import PresentationAttackModel
from facegate.vision.detect import Face
from facegate.vision.facemesh import Mesh


@dataclass(frozen=True)
class TextureSettings:
    # Decided on the median live probability of the last `window` frames. Chosen on the calibration sets (module
    # docstring; benchmarks/pad_model.py --calibration), where the 15-frame medians were: bona fide audience shots
    # of the real clip 0.84-1.00 (median 0.96 and 1.00 in its two shots); rendered prints 0.000-0.001; rendered
    # phone replays 0.014-0.74 (median 0.07, 95th percentile 0.50). Single LFW photos (re-compressed web images,
    # no video) ran lower than the clip: 5th percentile 0.04, 25th 0.64.
    # LIVE lets the check skip its requests, so it sits well above the highest attack median seen (0.74, margin
    # 0.21) and accepts some live stretches as UNSURE (the lowest live ones, 0.84-0.95). ATTACK refuses a person,
    # so it sits far below the lowest live median seen (0.84) and catches most replays and every print seen.
    live_threshold: float = 0.95  # at or above: LIVE
    attack_threshold: float = 0.2  # at or below: ATTACK; in between: UNSURE
    window: int = 15  # frames (half a second at 30 fps)
    min_frames: int = 5  # fewer frames than this: UNSURE, whatever they say


class TextureCue:
    """A PassiveCue (facegate/liveness/cues.py) on the presentation-attack model's live probability.

    `TextureCue(engine.pad_model)` for one track; `update(...)` on each of its meshed frames; `result()` any time.
    One instance per track: it keeps that track's recent probabilities."""

    name = "texture"
    VOUCHES_FOR_LIVENESS = True

    def __init__(self, model: PresentationAttackModel, settings: TextureSettings | None = None):
        self.model = model
        self.settings = settings or TextureSettings()
        self._recent: deque[float] = deque(maxlen=self.settings.window)
        self._frames = 0
        self._unavailable = ""
        self._lock = threading.Lock()

    def update(self, image_rgb: np.ndarray, face: Face, mesh: Mesh | None, now: float) -> None:
        """One frame of the track. The mesh is not used: the model reads the face box and its surroundings."""
        if self._unavailable:
            return
        try:
            live = self.model.infer(image_rgb, face.box)
        except ModelFileError as exc:
            self._unavailable = str(exc)
            return
        self.add(live)

    def add(self, live_probability: float) -> None:
        """One frame's live probability (what `update` feeds; benchmarks that already have it call this)."""
        with self._lock:
            self._recent.append(float(live_probability))
            self._frames += 1

    def result(self) -> CueResult:
        s = self.settings
        if self._unavailable:
            return CueResult(CueVerdict.UNAVAILABLE, reason=f"presentation-attack model: {self._unavailable}")
        with self._lock:
            recent = list(self._recent)
            frames = self._frames
        if not recent:
            return CueResult(CueVerdict.UNSURE, frames=0, reason="no frame yet")
        score = float(np.median(recent))
        details = {"window": len(recent), "lowest": float(min(recent)), "highest": float(max(recent))}
        if frames < s.min_frames:
            return CueResult(CueVerdict.UNSURE, score, frames, f"{frames} of {s.min_frames} frames", details)
        if score >= s.live_threshold:
            return CueResult(CueVerdict.LIVE, score, frames, "", details)
        if score <= s.attack_threshold:
            return CueResult(CueVerdict.ATTACK, score, frames, "print or screen texture", details)
        return CueResult(CueVerdict.UNSURE, score, frames, "texture between live and attack", details)
