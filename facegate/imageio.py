"""Reading photos from disk into RGB uint8 arrays, whatever their format quirks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.errors import ImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# Larger photos are shrunk on load: a face needs no more than this to be found and encoded well,
# and a 50-megapixel phone photo would otherwise cost ~150 MB and seconds per step.
MAX_PHOTO_SIDE = 2000


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | Path, max_side: int = MAX_PHOTO_SIDE) -> np.ndarray:
    """RGB uint8 (H, W, 3). Applies EXIF rotation, drops alpha, expands greyscale, scales 16-bit to 8-bit."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # np.fromfile + imdecode copes with non-ASCII paths
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if data.size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); replace it with a real photo")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # IMREAD_COLOR honours EXIF orientation
    if image is None:
        raise ImageError(f"{path}: not a readable image (corrupt, truncated or unsupported format); "
                         "save it again as JPEG or PNG")
    return prepare_frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), max_side)


def prepare_frame(image_rgb: np.ndarray, max_side: int = MAX_PHOTO_SIDE) -> np.ndarray:
    if max(image_rgb.shape[:2]) > max_side:
        scale = max_side / max(image_rgb.shape[:2])
        image_rgb = cv2.resize(image_rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image_rgb)
