"""Reading photos from disk into RGB uint8 arrays, whatever their format quirks.

What `load_image` does with the photos people actually have (each case is tested in tests/test_bad_input.py):

- JPEG, PNG, BMP, WebP, TIFF and GIF are read by their content, whatever the file is named.
- EXIF orientation is honoured: a phone photo stored sideways with an "Orientation" tag comes out upright.
- Large photos are shrunk on load to `max_side`. A large JPEG is decoded directly at 1/2, 1/4 or 1/8 scale
  (libjpeg's DCT scaling): a 50-megapixel photo costs ~0.1 s and ~25 MB instead of ~0.6 s and ~290 MB.
- Greyscale becomes three equal channels; 16-bit and floating-point images become 8-bit; a transparent
  background is laid onto white (what an image viewer shows).
- An animated GIF: its first frame is used (what the file shows before it plays).
- Refused with a plain reason and what to do, as `ImageError`: a missing, empty, truncated or oversized file,
  something that is not an image (text, PDF, HEIC ...), a photo of more than `MAX_PIXELS` pixels.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from pathlib import Path

import cv2
import numpy as np

from facegate.errors import ImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
# Larger photos are shrunk on load: a face needs no more than this to be found and encoded well,
# and a 50-megapixel phone photo would otherwise cost ~150 MB and seconds per step.
MAX_PHOTO_SIDE = 2000
# No photo is this large; a bigger file is a video or a disk image with the wrong name (and would be read whole).
MAX_FILE_BYTES = 256 * 1024 * 1024
# Pixel limits, checked from the file's header before decoding. A JPEG is decoded at up to 1/8 scale, so even a
# 200-megapixel phone photo is cheap; other formats are decoded whole (100 MP of RGBA is 400 MB).
EMPTY_FILE = "the file is empty (0 bytes); replace it with a real photo"
MAX_PIXELS = 100_000_000
MAX_JPEG_PIXELS = 260_000_000

_SAVE_AGAIN = "save it again as JPEG or PNG"
_REDUCED_JPEG = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                 8: cv2.IMREAD_REDUCED_COLOR_8}


def is_image_name(path: Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _fail(path: Path, reason: str) -> ImageError:
    return ImageError(f"{path}: {reason}", path=path, reason=reason)


def file_problem(info: os.stat_result) -> str | None:
    """Why a file with this stat can be no photo (before a byte of it is read), or None."""
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a photo; choose a photo file (JPEG or PNG)"
    if not stat.S_ISREG(info.st_mode):  # a pipe or device would be read forever
        return "is not a regular file; choose a photo file (JPEG or PNG)"
    if info.st_size > MAX_FILE_BYTES:
        return (f"the file is {info.st_size / 2**20:.0f} MB, too large for a photo (at most "
                f"{MAX_FILE_BYTES // 2**20} MB); save a smaller copy as JPEG")
    if info.st_size == 0:  # also what /proc's endless files report: never read them
        return EMPTY_FILE
    return None


def load_image(path: str | Path, max_side: int = MAX_PHOTO_SIDE) -> np.ndarray:
    """RGB uint8 (H, W, 3), upright, longest side at most `max_side`. Raises ImageError with the reason."""
    path = Path(path)
    try:
        problem = file_problem(path.stat())
        if problem:
            raise _fail(path, problem)
        data = np.fromfile(path, dtype=np.uint8)  # np.fromfile + imdecode copes with non-ASCII paths
    except OSError as exc:
        raise _fail(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if data.size == 0:
        raise _fail(path, EMPTY_FILE)
    try:
        image_bgr = _decode(data, max_side, path)
    except (cv2.error, ValueError, MemoryError) as exc:  # a damaged file that got past the decoder's checks
        raise _fail(path, f"not a readable image ({exc.__class__.__name__}); {_SAVE_AGAIN}") from exc
    return prepare_frame(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), max_side)


def prepare_frame(image_rgb: np.ndarray, max_side: int = MAX_PHOTO_SIDE) -> np.ndarray:
    return np.ascontiguousarray(_shrink(image_rgb, max_side))


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    if max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


# ----------------------------------------------------------------------------------------------- decoding

def _decode(data: np.ndarray, max_side: int, path: Path) -> np.ndarray:
    """BGR uint8, upright, at most about max_side (the caller shrinks the rest of the way)."""
    head = data[:64].tobytes()
    kind = _sniff(head)
    if kind in _NOT_PHOTOS:
        raise _fail(path, _NOT_PHOTOS[kind])
    raw = data.tobytes() if kind in ("jpeg", "tiff") else b""
    if kind == "jpeg":
        size, scan = _jpeg_frame(raw)
    else:
        size, scan = (_tiff_dimensions(raw) if kind == "tiff" else _dimensions(kind, head)), -1
        if kind == "tiff" and size is None:  # no size we can read: no telling how much memory it would take
            raise _fail(path, f"the size of this TIFF cannot be read before decoding it; {_SAVE_AGAIN}")
    if size is not None:
        width, height = size
        limit = MAX_JPEG_PIXELS if kind == "jpeg" else MAX_PIXELS
        if width * height > limit:
            raise _fail(path, f"the photo is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more "
                              f"than the {limit // 1_000_000} megapixels FaceGate reads; save a smaller copy "
                              "(for example 4000 pixels wide) as JPEG")
    if kind == "jpeg":
        # The image data starts but its end marker never comes: cut short. (Data after that marker, such as the
        # video of a "motion photo", is fine; an EXIF thumbnail's own end marker comes before the image data.)
        if scan >= 0 and raw.rfind(b"\xff\xd9", scan) < 0:
            raise _fail(path, "the JPEG file is truncated (an interrupted download or copy); copy it again from "
                              f"the original, or {_SAVE_AGAIN}")
        factor = 1
        if size is not None:
            while factor < 8 and max(size) / (factor * 2) >= max_side:
                factor *= 2
        image = cv2.imdecode(data, _REDUCED_JPEG[factor])  # these flags apply the EXIF orientation themselves
        if image is None:
            raise _fail(path, f"not a readable image (a damaged JPEG); {_SAVE_AGAIN}")
        return _shrink(image, max_side)

    image, orientation = _decode_unchanged(data)
    if image is None:
        if kind == "gif":
            raise _fail(path, f"this GIF cannot be read by the installed OpenCV; {_SAVE_AGAIN}")
        if kind is None and _looks_like_text(head):
            raise _fail(path, "not a readable image: this is a text file; choose a JPEG or PNG photo")
        raise _fail(path, f"not a readable image (corrupt, truncated or unsupported format); {_SAVE_AGAIN}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in (1, 2, 3, 4):
        raise _fail(path, f"the image has {channels} colour channels (not grey, RGB or RGBA); {_SAVE_AGAIN}")
    image = _to_uint8(_shrink(image, max_side))
    image = _to_bgr(image, channels)
    return _orient(image, orientation)


def _decode_unchanged(data: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The image with its alpha and bit depth, and its EXIF orientation (1 when it has none).

    IMREAD_UNCHANGED keeps alpha and 16 bits but does not apply the orientation, so it is read from the EXIF
    block OpenCV returns (OpenCV >= 4.12). TIFF is the exception: libtiff applies it and OpenCV returns no EXIF."""
    if hasattr(cv2, "imdecodeWithMetadata"):
        image, types, blocks = cv2.imdecodeWithMetadata(data, cv2.IMREAD_UNCHANGED)
        if image is None or image.size == 0:
            return None, 1
        orientation = 1
        for kind, block in zip(types, blocks, strict=False):
            if kind == cv2.IMAGE_METADATA_EXIF:
                orientation = exif_orientation(np.asarray(block, np.uint8).tobytes())
        return image, orientation
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # older OpenCV: orientation of PNG/WebP is not known
    return (None if decoded is None or decoded.size == 0 else decoded), 1


def exif_orientation(block: bytes) -> int:
    """The Orientation tag (1-8) of an EXIF block (TIFF structure, with or without the "Exif\\0\\0" prefix);
    1 when absent or unreadable. Never raises: a damaged tag means "upright", not an unusable photo."""
    if block.startswith(b"Exif\0\0"):
        block = block[6:]
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None or len(block) < 8:
        return 1
    (ifd,) = struct.unpack_from(order + "I", block, 4)
    if ifd + 2 > len(block):
        return 1
    (count,) = struct.unpack_from(order + "H", block, ifd)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(block) - 11), 12):
        tag, kind = struct.unpack_from(order + "HH", block, entry)
        if tag == 0x0112 and kind == 3:  # Orientation, SHORT
            (value,) = struct.unpack_from(order + "H", block, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright, as EXIF orientation 1-8 asks (the same as OpenCV and Pillow do)."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(image), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return cv2.convertScaleAbs(image, alpha=1.0 / 257.0)  # 65535 -> 255, rounded
    if image.dtype.kind == "f":
        image = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if image.size and float(image.max()) <= 1.0 else 1.0  # 0-1 images are the usual kind
        return np.clip(image * scale + 0.5, 0, 255).astype(np.uint8)
    # An explicit output array: OpenCV writes into it, and every version of its stubs accepts the call.
    return cv2.normalize(image.astype(np.float32), np.empty(image.shape, np.uint8), 0, 255, cv2.NORM_MINMAX,
                         dtype=cv2.CV_8U)


def _to_bgr(image: np.ndarray, channels: int) -> np.ndarray:
    """BGR from grey, grey + alpha, BGR or BGRA (uint8). Transparent parts are laid onto white."""
    if channels in (1, 3):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR) if channels == 1 else image
    colour, alpha = image[..., :-1], image[..., -1:]
    if int(alpha.min()) < 255:  # many PNGs carry an alpha channel with nothing transparent: then it is skipped
        weight = alpha.astype(np.float32) / 255.0
        colour = np.clip(colour.astype(np.float32) * weight + 255.0 * (1.0 - weight) + 0.5, 0, 255).astype(np.uint8)
    colour = np.ascontiguousarray(colour)
    return cv2.cvtColor(colour, cv2.COLOR_GRAY2BGR) if channels == 2 else colour


# ----------------------------------------------------------------------------------------- file headers

_NOT_PHOTOS = {
    "pdf": "not a readable image: this is a PDF document; export the photo from it as JPEG or PNG",
    "heic": "not a readable image: HEIC/HEIF photos (the iPhone default) are not supported; save it again as JPEG "
            "(on the phone, or with any photo viewer's Export)",
    "zip": "not a readable image: this is a ZIP archive or office document; unpack or export the photo as JPEG "
           "or PNG",
    "video": "not a readable image: this is a video; take a still from it and save it as JPEG or PNG",
}


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "tiff"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "heic"
        if brand not in (b"avif", b"avis"):
            return "video"  # mp4, mov, 3gp
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut in two by the end of `head`
            return False
        text = head[:exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _dimensions(kind: str | None, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF, BMP or WebP; None when unknown (for TIFF and others
    the decoder's own limit applies)."""
    try:
        if kind == "png" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if kind == "gif":
            return struct.unpack("<HH", head[6:10])
        if kind == "bmp":
            width, height = struct.unpack("<ii", head[18:26])
            return width, abs(height)
        if kind == "webp":
            chunk = head[12:16]
            if chunk == b"VP8X":
                return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", head[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(head[21:25], "little")
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    except struct.error:
        return None
    return None


def _tiff_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a TIFF's first image, from its first IFD (tags 256 and 257); None when not found."""
    try:
        order = "<" if data[:2] == b"II" else ">"
        (offset,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[offset:offset + 2])
        found = {}
        for i in range(min(count, 4096)):
            entry = data[offset + 2 + 12 * i: offset + 14 + 12 * i]
            tag, kind, _ = struct.unpack(order + "HHI", entry[:8])
            if tag in (256, 257):
                found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3
                                           else entry[8:12])[0]
        return (found[256], found[257]) if len(found) == 2 else None
    except (struct.error, IndexError):
        return None


# A marker with a length field, or EOI, after its 0xFF (skipping FF00 stuffing, RSTn, SOI, TEM and fill bytes:
# a search without repetition, so a file of millions of fill bytes is scanned in linear time, in C).
_LENGTH_MARKER = re.compile(rb"\xff[^\x00\x01\xd0-\xd8\xff]")

# Start-of-frame markers (baseline, extended, progressive, lossless, arithmetic); not DHT (C4), JPG (C8), DAC (CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_segments(data: bytes):
    """(offset, marker, length) of each marker segment before the image data, then of the start-of-scan (or
    end-of-image) marker itself, where the walk stops. Stray and fill bytes between segments are skipped, as
    libjpeg does."""
    pos, end = 2, len(data)
    while True:
        found = _LENGTH_MARKER.search(data, pos)
        if found is None:
            return
        at, marker = found.start(), data[found.start() + 1]
        if marker in (0xDA, 0xD9) or at + 4 > end:
            yield at, marker, 0
            return
        length = (data[at + 2] << 8) | data[at + 3]
        yield at, marker, length
        pos = at + 2 + max(length, 2)


def _jpeg_frame(data: bytes) -> tuple[tuple[int, int] | None, int]:
    """((width, height) or None, offset of the first start-of-scan marker or -1), from the marker segments."""
    size = None
    for at, marker, _ in _jpeg_segments(data):
        if marker == 0xDA:
            return size, at
        if marker in _SOF and at + 9 <= len(data):
            size = ((data[at + 7] << 8) | data[at + 8], (data[at + 5] << 8) | data[at + 6])
    return size, -1


def metadata_bytes(data: bytes) -> int:
    """Bytes of a JPEG's APPn and COM segments (EXIF, XMP, ICC profiles, comments) before its image data."""
    return sum(length for _, marker, length in _jpeg_segments(data) if 0xE0 <= marker <= 0xEF or marker == 0xFE)

