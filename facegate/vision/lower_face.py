"""The lower face's own embedding: the aligned chips with everything above a line just under the nose painted
over, through the same two encoders (issue 28 item 4: "the whole face must be the person").

A half mask (the victim's face printed and cut off under the nose, worn over another person's face) is recognised
as the victim: the eyes, brows and nose carry most of what the encoders look at. The part under the cut (upper lip,
mouth, chin, jaw) is the wearer's own. Its embedding, with the upper face hidden, is compared with the same embedding
of the claimed person's enrolled photos (facegate/liveness/whole_face.py); the cut line and the fill are chosen by
benchmarks/whole_face.py.

The line runs across the chip (the chip is upright: its rows are level with the eyes) through the nose base
landmark, lowered by `LOWER_FACE_MARGIN` of the eye-to-nose height.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from facegate.vision.align import chip_to_image_matrix, extract_chip, fit_similarity
from facegate.vision.engine import fuse
from facegate.vision.sface import DLIB_5_IN_SFACE_CHIP, extract_sface_chip

if TYPE_CHECKING:
    from facegate.vision.detect import Face
    from facegate.vision.engine import FaceEngine

NOSE = 4  # dlib's 5 points: 0-3 eye corners, 4 the nose base
# How far under the nose base the painted-over part ends, as a share of the height from the eyes to the nose base.
# Measured by the exploration behind benchmarks/whole_face.py on LFW fold 0 (270 half masks cut 0.1 under the nose
# and recognised as the victim, against 271 same-person pairs granted): cutting at the nose base itself (0.0)
# separated them best (AUC 0.905; 0.884 at 0.15, 0.823 at 0.3, 0.911 at -0.1 which shows the nostrils and did no
# better on masks cut lower). A sheet cut lower leaves a strip of the print in view; it is measured too.
LOWER_FACE_MARGIN = 0.0
# What the hidden upper face is painted with: the mean colour of the visible lower face (a flat patch of skin
# colour), or mid grey; the same on fold 0 (AUC 0.905 and 0.913 at the nose base, 0.884 and 0.882 at 0.15).
FILL_MEAN = "mean"
FILL_GREY = "grey"


def _cut_row(landmarks_in_chip: np.ndarray, margin: float) -> int:
    """The first chip row that is the lower face: under the nose base by `margin` of the eyes-to-nose height."""
    eyes_y = float(landmarks_in_chip[:4, 1].mean())
    nose_y = float(landmarks_in_chip[NOSE, 1])
    return int(np.ceil(nose_y + margin * max(nose_y - eyes_y, 0.0)))


def mask_upper(chip: np.ndarray, cut_row: int, fill: str = FILL_MEAN) -> np.ndarray:
    """A copy of `chip` with rows above `cut_row` painted over (by the lower part's mean colour, or grey)."""
    masked = chip.copy()
    cut_row = int(np.clip(cut_row, 0, len(chip) - 1))
    if fill == FILL_GREY:
        colour = np.full(3, 128, np.uint8)
    else:
        colour = chip[cut_row:].reshape(-1, 3).mean(0).round().astype(np.uint8)
    masked[:cut_row] = colour
    return masked


def lower_face_chips(image_rgb: np.ndarray, face: Face, margin: float = LOWER_FACE_MARGIN,
                     fill: str = FILL_MEAN) -> tuple[np.ndarray, np.ndarray]:
    """(dlib chip, SFace chip) of `face` (which carries landmarks) with the upper face painted over."""
    if face.landmarks is None:
        raise ValueError("the lower face is cut by the landmarks: detect the face with landmarks")
    landmarks = np.asarray(face.landmarks, np.float64)
    # Where the landmarks land in dlib's chip: the inverse of the chip -> image map.
    to_image = chip_to_image_matrix(landmarks)
    to_chip = cv2.invertAffineTransform(to_image)
    in_dlib_chip = landmarks @ to_chip[:, :2].T + to_chip[:, 2]
    dlib_chip = mask_upper(extract_chip(image_rgb, landmarks), _cut_row(in_dlib_chip, margin), fill)
    # SFace's chip is fitted to the template points, so the landmarks land on them up to the fit's residual.
    scale, rot, shift = fit_similarity(landmarks, DLIB_5_IN_SFACE_CHIP)
    in_sface_chip = landmarks @ (scale * rot).T + shift
    sface_chip = mask_upper(extract_sface_chip(image_rgb, landmarks), _cut_row(in_sface_chip, margin), fill)
    return dlib_chip, sface_chip


def embed_lower_faces(engine: FaceEngine, image_rgb: np.ndarray, faces: list[Face],
                      margin: float = LOWER_FACE_MARGIN, fill: str = FILL_MEAN) -> np.ndarray:
    """(N, EMBEDDING_SIZE) fused embeddings of the lower faces of `faces`: the same encoders, the same fusion and
    so the same Euclidean distance as the whole face's, but not the same scale of distances (see the threshold in
    facegate/liveness/whole_face.py)."""
    if not faces:
        return fuse(np.zeros((0, 128), np.float32), np.zeros((0, 128), np.float32))
    pairs = [lower_face_chips(image_rgb, face, margin, fill) for face in faces]
    return engine.embed_chips(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))

