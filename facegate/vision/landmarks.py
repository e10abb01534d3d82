"""dlib's 5-point landmark model (eye corners, nose base): the points dlib's face chips are defined by."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facegate.vision.detect import Face
from facegate.vision.weights import DLIB_LANDMARKS_5, verified_path


class Landmarker5:
    def __init__(self, model_path: str | Path | None = None):
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(model_path or verified_path(DLIB_LANDMARKS_5)))

    def locate(self, image_rgb: np.ndarray, face: Face, box_map=(0.0, 0.0, 1.0)) -> np.ndarray:
        """(5, 2) landmarks for `face`. `box_map` turns the detector's box into the square box the model
        was trained on: (centre shift x / width, centre shift y / height, side / width)."""
        x, y, w, h = face.box
        shift_x, shift_y, side_ratio = box_map
        cx, cy, side = x + w / 2 + shift_x * w, y + h / 2 + shift_y * h, side_ratio * w
        rect = self._dlib.rectangle(int(round(cx - side / 2)), int(round(cy - side / 2)),
                                    int(round(cx + side / 2)), int(round(cy + side / 2)))
        shape = self._predictor(image_rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64)
