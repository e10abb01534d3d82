"""The recognition engine: image -> faces -> landmarks -> aligned chips -> embeddings.

A face's embedding is the fusion of two independently trained embedders: dlib's ResNet (150x150 chip, 128-d,
averaged with its mirror image's) and SFace (112x112 chip, 128-d unit vector), concatenated with a weight
each: `[DLIB_WEIGHT * dlib, SFACE_WEIGHT * sface]`. Plain Euclidean distance between two fused
embeddings is then sqrt(DLIB_WEIGHT^2 d_dlib^2 + SFACE_WEIGHT^2 d_sface^2), a weighted score-level fusion,
so the gallery, the policy and calibration keep working with "a distance under a threshold" unchanged.

One object owns the models and loads each lazily, once, on first use (TensorFlow takes seconds to
start; the detector alone is enough for an enrollment preview). Safe to share between threads (the pipeline
worker and an enrollment worker): detection and landmarks take a lock, the encoder has its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facegate.vision.align import CHIP_SIZE, extract_chip
from facegate.vision.detect import Detector, Face, create_detector
from facegate.vision.landmarks import Landmarker5
from facegate.vision.sface import (
    SFACE_CHIP_SIZE,
    SFACE_EMBEDDING_SIZE,
    extract_sface_chip,
)

if TYPE_CHECKING:  # loaded on first use: importing the engine does not start TensorFlow
    from facegate.vision.antispoof import PresentationAttackModel
    from facegate.vision.encoder import FaceEncoder
    from facegate.vision.facemesh import FaceMesh
    from facegate.vision.sface import SFaceEncoder

DLIB_EMBEDDING_SIZE = 128
EMBEDDING_SIZE = DLIB_EMBEDDING_SIZE + SFACE_EMBEDDING_SIZE
# Fusion weights, measured on LFW by `benchmarks/lfw.py --fusion-sweep` (all 7,701 images: 29.6 M different-
# person pairs, 8,101 same-person pairs).
# Their ratio: SFace's weight from 0.3 to 1.2 times dlib's, the share of same-person pairs accepted at a 1e-5
# false-match rate was highest from 1.0 (96.8 %; dlib alone 47.1 %, SFace alone 96.0 %). Their size: the fused
# distance is scaled so that its 1 % false-match point is 0.60, as dlib's own is, so thresholds keep their
# meaning (0.6 = dlib's "same person" rule; 0.5 = about 3 in a million false matches per compared photo).
DLIB_WEIGHT = 0.445
SFACE_WEIGHT = 0.445

# Below this many pixels across, dlib's embedder was not trained to work (its chips come from >= 80 px faces).
MIN_FACE_WIDTH = 40
# Variance of the Laplacian of the grey chip; LFW's softest usable photos sit around 40-60.
MIN_SHARPNESS = 15.0
# Mean grey level (0-255) of the face itself; below it the face is a shadow (and looks blurred as well).
MIN_FACE_BRIGHTNESS = 35.0
# A rotation of the photo must find its face this much more surely than the photo as it is, to be taken for the
# upright one: upright photos always won, by at least 0.021, on 400 LFW photos turned every way.
UPRIGHT_SCORE_MARGIN = 0.01


@dataclass
class FaceQuality:
    width: float
    sharpness: float
    brightness: float = 128.0

    def problems(self, min_width: float = MIN_FACE_WIDTH, min_sharpness: float = MIN_SHARPNESS) -> list[str]:
        found = []
        if self.width < min_width:
            found.append(f"face too small ({self.width:.0f} px wide, needs {min_width:.0f})")
        if self.brightness < MIN_FACE_BRIGHTNESS:  # a dark face is blurred too: the cause is the light
            found.append(f"face too dark (brightness {self.brightness:.0f} of 255, needs {MIN_FACE_BRIGHTNESS:.0f}); "
                         "use a photo taken in better light")
        elif self.sharpness < min_sharpness:
            found.append(f"face too blurred (sharpness {self.sharpness:.0f}, needs {min_sharpness:.0f})")
        return found


def sharpness(chip_rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2GRAY)
    # The centre of the chip is the face itself; the corners are background or padding.
    centre = grey[CHIP_SIZE // 5: -CHIP_SIZE // 5, CHIP_SIZE // 5: -CHIP_SIZE // 5]
    return float(cv2.Laplacian(centre, cv2.CV_64F).var())


def _landmarks(face: Face) -> np.ndarray:
    if face.landmarks is None:
        raise ValueError("a face is aligned by its landmarks: detect it with landmarks=True or locate_landmarks()")
    return face.landmarks


class FaceEngine:
    def __init__(self, detector: str = "yunet", mirror_average: bool = True):
        self._detector_name = detector
        self.mirror_average = mirror_average
        self._detector: Detector | None = None
        self._landmarker: Landmarker5 | None = None
        self._encoder: FaceEncoder | None = None
        self._sface: SFaceEncoder | None = None
        self._facemesh: FaceMesh | None = None
        self._pad_model: PresentationAttackModel | None = None
        self._lock = threading.RLock()

    @property
    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                self._detector = create_detector(self._detector_name)
            return self._detector

    @property
    def landmarker(self) -> Landmarker5:
        with self._lock:
            if self._landmarker is None:
                self._landmarker = Landmarker5()
            return self._landmarker

    @property
    def encoder(self) -> FaceEncoder:
        with self._lock:
            if self._encoder is None:
                from facegate.vision.encoder import FaceEncoder

                self._encoder = FaceEncoder()
            return self._encoder

    @property
    def sface(self) -> SFaceEncoder:
        with self._lock:
            if self._sface is None:
                from facegate.vision.sface import SFaceEncoder

                self._sface = SFaceEncoder()
            return self._sface

    @property
    def facemesh(self) -> FaceMesh:
        """Dense landmarks for liveness; loaded only when a liveness check first runs."""
        with self._lock:
            if self._facemesh is None:
                from facegate.vision.facemesh import FaceMesh

                self._facemesh = FaceMesh()
            return self._facemesh

    @property
    def pad_model(self) -> PresentationAttackModel:
        """The passive presentation-attack model (print / screen texture); its networks load on first inference."""
        with self._lock:
            if self._pad_model is None:
                from facegate.vision.antispoof import PresentationAttackModel

                self._pad_model = PresentationAttackModel()
            return self._pad_model

    def load_models(self) -> None:
        """Load every model now (seconds: TensorFlow starts), so that the first face is not kept waiting."""
        _ = (self.detector, self.landmarker, self.encoder, self.sface)  # each property loads its model

    def detect(self, image_rgb: np.ndarray, max_side: int | None = None, landmarks: bool = True) -> list[Face]:
        """Faces, largest first, with landmarks unless `landmarks=False` (see `locate_landmarks`).
        `max_side` runs the detector on a reduced copy (faster); landmarks always use the full image."""
        with self._lock:  # OpenCV's DNN and dlib's predictor are not safe to share between threads
            return self._detect(image_rgb, max_side, landmarks)

    def _detect(self, image_rgb: np.ndarray, max_side: int | None, landmarks: bool) -> list[Face]:
        scale = 1.0
        small = image_rgb
        if max_side and max(image_rgb.shape[:2]) > max_side:
            scale = max_side / max(image_rgb.shape[:2])
            small = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = sorted((f.scaled(1 / scale) for f in self.detector.detect(small)), key=lambda f: -f.width)
        if landmarks:
            self.locate_landmarks(image_rgb, faces)
        return faces

    def locate_landmarks(self, image_rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        with self._lock:
            for face in faces:
                face.landmarks = self.landmarker.locate(image_rgb, face, self.detector.landmark_box_map)
        return faces

    def chips(self, image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
        return np.stack([extract_chip(image_rgb, _landmarks(f)) for f in faces])

    def sface_chips(self, image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, SFACE_CHIP_SIZE, SFACE_CHIP_SIZE, 3), np.uint8)
        return np.stack([extract_sface_chip(image_rgb, _landmarks(f)) for f in faces])

    def embed_chips(self, chips: np.ndarray, sface_chips: np.ndarray) -> np.ndarray:
        """Fused embedding of each face from its two chips (dlib's and SFace's, in the same order).

        dlib's encoder sees the chip and its mirror image in one batch and their embeddings are averaged: on LFW
        (benchmarks/lfw.py) 99.10 % instead of 98.95 %, for ~3 ms more per face. SFace's mirror bought nothing
        measurable in the fusion (same-person pairs accepted at a 1e-5 false-match rate: 96.95 % with it,
        96.78 % without; LFW 99.58 % with, 99.68 % without) and would cost 9 ms per face: not used."""
        if len(chips) != len(sface_chips):
            raise ValueError(f"{len(chips)} dlib chips but {len(sface_chips)} SFace chips")
        if self.mirror_average and len(chips):
            both = self.encoder.infer(np.concatenate([chips, chips[:, :, ::-1]]))
            dlib = (both[: len(chips)] + both[len(chips):]) / 2
        else:
            dlib = self.encoder.infer(chips)
        return fuse(dlib, self.sface.infer(sface_chips))

    def embed(self, image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """(N, EMBEDDING_SIZE) fused embeddings of `faces` (which carry landmarks)."""
        return self.embed_chips(self.chips(image_rgb, faces), self.sface_chips(image_rgb, faces))

    @staticmethod
    def quality(face: Face, chip_rgb: np.ndarray) -> FaceQuality:
        centre = chip_rgb[CHIP_SIZE // 5: -CHIP_SIZE // 5, CHIP_SIZE // 5: -CHIP_SIZE // 5]
        return FaceQuality(width=face.width, sharpness=sharpness(chip_rgb),
                           brightness=float(cv2.cvtColor(centre, cv2.COLOR_RGB2GRAY).mean()))

    def upright(self, image_rgb: np.ndarray) -> tuple[np.ndarray, int]:
        """The photo turned by the quarter turns (0-3, counter-clockwise) that show its face upright, and that
        number. A photo saved sideways or upside down without EXIF otherwise gives a face the landmark model
        reads as upright, and an embedding of nobody (0.665 from the same person's upright photo). The detector
        finds a turned face too, less surely: the most sure of the four turns wins."""
        scores = []
        for turns in range(4):
            faces = self.detect(np.ascontiguousarray(np.rot90(image_rgb, turns)), max_side=640, landmarks=False)
            scores.append(faces[0].score if faces else 0.0)
        best = int(np.argmax(scores))
        if best == 0 or scores[best] < scores[0] + UPRIGHT_SCORE_MARGIN:
            return image_rgb, 0
        return np.ascontiguousarray(np.rot90(image_rgb, best)), best


def fuse(dlib: np.ndarray, sface: np.ndarray) -> np.ndarray:
    """Fused embeddings from dlib's (N, 128) and SFace's unit (N, 128) embeddings."""
    return np.concatenate([DLIB_WEIGHT * np.asarray(dlib, np.float32),
                           SFACE_WEIGHT * np.asarray(sface, np.float32)], axis=1).astype(np.float32)


def split(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of `fuse`: (dlib's embeddings, SFace's unit embeddings)."""
    embeddings = np.asarray(embeddings)
    return (embeddings[..., :DLIB_EMBEDDING_SIZE] / DLIB_WEIGHT,
            embeddings[..., DLIB_EMBEDDING_SIZE:] / SFACE_WEIGHT)
