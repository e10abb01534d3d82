"""Where the test and benchmark data lives (../shared/data), and the LFW pairs protocol.

Not used by the app itself. Set FACEGATE_DATA to point elsewhere; callers skip cleanly when it is absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The data folder, or None when it is not on this machine."""
    configured = os.environ.get("FACEGATE_DATA")
    candidate = Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def clips_dir() -> Path | None:
    root = shared_data_dir()
    return root / "clips" if root and (root / "clips").is_dir() else None


def lfw_dir() -> Path | None:
    root = shared_data_dir()
    return root / "lfw" if root and (root / "lfw" / "pairs.txt").is_file() else None


@dataclass(frozen=True)
class LfwPair:
    fold: int
    first: Path
    second: Path
    same: bool


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / "images" / name / f"{name}_{number:04d}.jpg"


def lfw_pairs(root: Path | None = None) -> list[LfwPair]:
    """The View 2 protocol: 10 folds, each 300 same-person then 300 different-person pairs."""
    root = root or lfw_dir()
    if root is None:
        raise FileNotFoundError("LFW not found: set FACEGATE_DATA or place it in ../shared/data/lfw")
    lines = (root / "pairs.txt").read_text().split("\n")
    folds, per_fold = (int(v) for v in lines[0].split())
    pairs = []
    rows = [line.split() for line in lines[1:] if line.strip()]
    for i, row in enumerate(rows):
        fold = i // (2 * per_fold)
        if len(row) == 3:
            pairs.append(LfwPair(fold, lfw_image(root, row[0], int(row[1])), lfw_image(root, row[0], int(row[2])),
                                 True))
        else:
            pairs.append(LfwPair(fold, lfw_image(root, row[0], int(row[1])), lfw_image(root, row[2], int(row[3])),
                                 False))
    if len(pairs) != folds * per_fold * 2:
        raise ValueError(f"pairs.txt lists {len(pairs)} pairs, expected {folds * per_fold * 2}")
    return pairs


def lfw_sample(count: int, stride: int) -> list[Path]:
    """Distinct LFW image paths spread over the pairs list (every `stride`-th pair), deterministic. Returns twice
    `count`, as spares for images in which a detector finds no face."""
    seen, paths = set(), []
    for pair in lfw_pairs()[::stride]:
        for path in (pair.first, pair.second):
            if path not in seen:
                seen.add(path)
                paths.append(path)
    return paths[: count * 2]


@dataclass(frozen=True)
class ReferenceFace:
    """A face prepared by dlib itself: the oracle our detector, aligner and encoder are measured against."""

    image: np.ndarray  # RGB uint8
    landmarks: np.ndarray  # (5, 2) dlib 5-point landmarks
    chip: np.ndarray  # (150, 150, 3) dlib.get_face_chip(image, shape, 150, 0.25)


def dlib_reference_faces(paths: list[Path], count: int) -> list[ReferenceFace]:
    """Up to `count` faces exactly as dlib/face_recognition prepare them: HOG (upsample 1), the face nearest the
    image centre, 5-point landmarks, `get_face_chip`."""
    import dlib

    from facegate.imageio import load_image
    from facegate.vision.weights import DLIB_LANDMARKS_5, verified_path

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(verified_path(DLIB_LANDMARKS_5)))
    faces = []
    for path in paths:
        image = load_image(path)
        rects = detector(image, 1)
        if not rects:
            continue
        h, w = image.shape[:2]
        rect = min(rects, key=lambda r: ((r.left() + r.right()) / 2 - w / 2) ** 2
                   + ((r.top() + r.bottom()) / 2 - h / 2) ** 2)
        shape = predictor(image, rect)
        faces.append(ReferenceFace(image, np.array([(p.x, p.y) for p in shape.parts()], np.float64),
                                   np.asarray(dlib.get_face_chip(image, shape, 150, 0.25))))
        if len(faces) == count:
            break
    return faces
