"""SFace (Zhong et al., 2021; OpenCV Zoo), the second face embedder: 112x112 chip -> 128-d unit vector.

Trained independently of dlib's ResNet (other data, other loss, other architecture), so the two make partly
different mistakes and their distances fuse into a score that separates people better than either
(`facegate/vision/engine.py`, measured by benchmarks/lfw.py and benchmarks/openset.py).

The chip is aligned from dlib's 5 points (the landmarks every face already has), onto where those points lie
in SFace's own chips (OpenCV's `FaceRecognizerSF.alignCrop` places YuNet's eye centres, nose tip and mouth
corners on the ArcFace template; the medians below are where dlib's points land in 1,500 such LFW chips).
One set of landmarks serves both embedders and any detector, and it separates people better than YuNet's
keypoints: at a 1e-5 false-match rate on LFW, 96.4 % of same-person pairs accepted instead of 95.4 %. It runs in
OpenCV's DNN module: about 9 ms per chip on 2 cores with OpenCV 5's graph engine, which needs the input named
(`FaceRecognizerSF` does not name it and fails there); 19 ms with the classic engine.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from facegate.vision.align import fit_similarity
from facegate.vision.weights import SFACE, verified_path

SFACE_CHIP_SIZE = 112
SFACE_EMBEDDING_SIZE = 128

# dlib's 5 points (image-right eye outer, inner; image-left eye outer, inner; nose base) in SFace chip pixels:
# the median over 1,500 LFW faces aligned by alignCrop (spread 2-3 px, mostly YuNet's keypoint noise).
DLIB_5_IN_SFACE_CHIP = np.array([
    (79.4403, 53.1771),
    (65.6528, 53.7655),
    (30.2801, 53.8401),
    (44.2759, 53.9900),
    (55.2601, 80.4520),
], np.float64)


def extract_sface_chip(image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112 RGB chip SFace expects, from an image and dlib's 5 landmarks of the face."""
    scale, rot, shift = fit_similarity(landmarks, DLIB_5_IN_SFACE_CHIP)
    matrix = np.hstack([scale * rot, shift[:, None]])
    return cv2.warpAffine(image_rgb, matrix, (SFACE_CHIP_SIZE, SFACE_CHIP_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


INPUT_NAME = "data"


class SFaceEncoder:
    def __init__(self, model_path: str | Path | None = None):
        self._net = cv2.dnn.readNetFromONNX(str(model_path or verified_path(SFACE)))
        self._lock = threading.Lock()  # one cv2.dnn.Net must not run two forwards at once

    def infer(self, chips_rgb: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) uint8 RGB chips -> (N, 128) float32 unit vectors."""
        if len(chips_rgb) == 0:
            return np.zeros((0, SFACE_EMBEDDING_SIZE), np.float32)
        # SFace was trained on RGB pixels 0-255 without mean or scale (as FaceRecognizerSF feeds it).
        blob = cv2.dnn.blobFromImages(list(chips_rgb), 1.0, (SFACE_CHIP_SIZE, SFACE_CHIP_SIZE), (0, 0, 0),
                                      swapRB=False, crop=False)
        with self._lock:
            self._net.setInput(blob, INPUT_NAME)
            out = self._net.forward().reshape(len(chips_rgb), -1).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
