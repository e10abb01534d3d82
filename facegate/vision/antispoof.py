"""Passive presentation-attack detection: a live face or a print / a screen, told by texture in one frame.

Silent-Face-Anti-Spoofing's two MiniFASNets (Minivision, Apache-2.0; weights/README.md), converted to ONNX and run
by OpenCV's DNN module. Each sees the face box enlarged about its centre (2.7x for MiniFASNetV2, 4.0x for
MiniFASNetV1SE: the face with its surroundings, where a sheet's or a phone's edge, moire and glare show), resized
to 80x80, BGR 0-255 as the original feeds it. Each gives a softmax over 3 classes, class 1 a live face; the
original fuses the two by summing the softmaxes, so the live probability here is the mean of the two class-1
probabilities. The crop follows the original's: the enlarged box keeps the face box's aspect, shrinks its scale
where the frame is too small for it, and is shifted to stay inside the frame.

The boxes the original was trained with came from its RetinaFace detector, which draws a near-square box lower
on the face than YuNet's taller one; `detector_box_to_training_box` maps a YuNet box onto RetinaFace's. Fitted on
the Silent-Face project's three sample images (images/sample/), where both detectors were run: side = the mean of
YuNet's width and height, centre 7 % of YuNet's height lower. That put the boxes within 9 px of the original's on
200-260 px faces, and gave the original's published verdicts with scores within 0.07 (0.75 / 0.75 / 0.99 against
its 0.73 / 0.82 / 0.99). benchmarks/pad_model.py measures the model as FaceGate runs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facegate.errors import ModelFileError
from facegate.vision.weights import MINIFASNET_V1SE, MINIFASNET_V2, WeightFile, verified_path

INPUT_SIZE = 80
LIVE_CLASS = 1  # the original's labels: 1 a live face; 0 and 2 the two kinds of attack it was trained on


@dataclass(frozen=True)
class PadNetwork:
    weight: WeightFile
    scale: float  # how much the face box is enlarged about its centre before the 80x80 resize


NETWORKS = (PadNetwork(MINIFASNET_V2, 2.7), PadNetwork(MINIFASNET_V1SE, 4.0))
BOX_DROP = 0.07  # RetinaFace's box centre sits this share of YuNet's box height lower (see the module's note)


def detector_box_to_training_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """FaceGate's (YuNet's) face box as the RetinaFace box the networks were trained on: a square whose side is
    the mean of width and height, its centre lowered by BOX_DROP of the height."""
    x, y, w, h = box
    side = (w + h) / 2
    cx, cy = x + w / 2, y + h / 2 + BOX_DROP * h
    return cx - side / 2, cy - side / 2, side, side


def enlarged_box(frame_w: int, frame_h: int, box: tuple[float, float, float, float],
                 scale: float) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), inclusive, of `box` enlarged `scale` times about its centre, as the original
    crops: the scale is lowered where the frame cannot hold it, and the box is shifted back inside the frame."""
    x, y, w, h = box
    w, h = max(float(w), 1.0), max(float(h), 1.0)
    scale = min((frame_h - 1) / h, (frame_w - 1) / w, scale)
    half_w, half_h = w * scale / 2, h * scale / 2
    cx, cy = x + w / 2, y + h / 2
    left, top, right, bottom = cx - half_w, cy - half_h, cx + half_w, cy + half_h
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > frame_w - 1:
        left, right = left - (right - frame_w + 1), frame_w - 1.0
    if bottom > frame_h - 1:
        top, bottom = top - (bottom - frame_h + 1), frame_h - 1.0
    return int(left), int(top), int(right), int(bottom)


def pad_input(image_rgb: np.ndarray, box: tuple[float, float, float, float], scale: float) -> np.ndarray:
    """The 1x3x80x80 float32 BGR blob one network takes for the face in `box`."""
    frame_h, frame_w = image_rgb.shape[:2]
    left, top, right, bottom = enlarged_box(frame_w, frame_h, box, scale)
    crop = cv2.resize(image_rgb[top:bottom + 1, left:right + 1], (INPUT_SIZE, INPUT_SIZE))
    return np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)


class PresentationAttackModel:
    """`infer(image_rgb, face_box) -> live probability` (0-1). The networks load on first use; one instance may be
    shared between threads (an OpenCV Net runs one forward at a time, under the lock)."""

    def __init__(self, model_paths: tuple[str | Path, str | Path] | None = None):
        self._paths = model_paths
        self._nets: list[cv2.dnn.Net] | None = None
        self._lock = threading.Lock()

    def _load(self) -> list[cv2.dnn.Net]:
        if self._nets is None:
            paths = self._paths or tuple(verified_path(n.weight) for n in NETWORKS)
            try:
                self._nets = [cv2.dnn.readNetFromONNX(str(p)) for p in paths]
            except cv2.error as exc:
                raise ModelFileError(f"a presentation-attack model in {', '.join(map(str, paths))} cannot be "
                                     f"read by OpenCV ({str(exc).strip().splitlines()[-1]})") from exc
        return self._nets

    def class_probabilities(self, image_rgb: np.ndarray, face_box: tuple[float, float, float, float], *,
                            training_box: bool = False) -> np.ndarray:
        """(2, 3): each network's softmax (rows in NETWORKS' order; column LIVE_CLASS is the live face). The box is
        FaceGate's detector's, or (`training_box`) already drawn as the original's RetinaFace draws it."""
        box = face_box if training_box else detector_box_to_training_box(face_box)
        blobs = [pad_input(image_rgb, box, n.scale) for n in NETWORKS]
        out = np.zeros((len(NETWORKS), 3), np.float32)
        with self._lock:
            for i, (net, blob) in enumerate(zip(self._load(), blobs, strict=True)):
                net.setInput(blob)
                out[i] = net.forward().reshape(-1)
        return out

    def infer(self, image_rgb: np.ndarray, face_box: tuple[float, float, float, float]) -> float:
        """The fused live probability of the face in `face_box` (x, y, w, h in pixels of the RGB frame, as FaceGate's
        detector draws it)."""
        return float(self.class_probabilities(image_rgb, face_box)[:, LIVE_CLASS].mean())
