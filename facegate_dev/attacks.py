"""Presentation-attack videos for tests and benchmarks; not used by the app.

A presentation attack holds a picture of an enrolled person up to the kiosk's webcam. This module renders such
attacks from real photos and video, deterministically from a seed, so that a liveness check can be tested
against attacks that would otherwise be granted (every suite attack is recognised as its target with liveness
off; tests/test_attacks.py checks that through the real CLI).

Physical model (millimetres, a pinhole webcam with a 60 degree horizontal field of view, principal point at the
image centre):
- a print is a textured sheet (the photo with a white paper border, printed tones, paper grain) whose local
  frame (u right, v down, w away from the viewer) is placed by a rotation R and translation T. A flat sheet is
  the plane w = 0; a bent sheet is a cylinder (axis vertical or horizontal) on which the flat sheet is wrapped
  without stretching (arc length = sheet coordinate). Each output pixel's ray is intersected with the surface
  analytically and the sheet texture is sampled there with `cv2.remap` (a flat sheet is then exactly one
  homography; a bent one is not). Shading is Lambertian plus a faint paper sheen, from the true surface normal.
- a phone is a flat rounded body with a black bezel and a 9:19.5 screen playing the video frames in order. Its
  screen is self-luminous (no shading), shows a display gamma / black level / colour temperature of its own, a
  specular glare and a faint reflection that move with the phone's tilt, and moire: the screen's RGB sub-pixel
  stripes and row gaps, box-filtered by the camera's pixel (sinc of the local projected frequency) and point
  sampled at the pixel centres, which aliases into drifting colour fringes exactly as a real sensor does; plus a
  faint explicit low-frequency fringe with drifting phase.
- a hand moves the object with a smooth random drift (a few sinusoids under 0.5 Hz), a physiological tremor
  (4-11 Hz, 1-3 px peak) and slowly changing tilts about x and y (up to about +-25 degrees) and a small roll;
  a stand holds a print still, with a fixed tilt and a sub-half-pixel vibration.
- the camera adds defocus blur, signal-dependent noise, an auto-exposure-like gain drift and a JPEG round trip
  per frame; the file is then written with OpenCV's 'mp4v' codec (MJPG .avi where that codec is missing).

Everything random comes from `numpy.random.default_rng(seed)` (the camera noise of frame i from (seed, i)), and
face boxes come from the deterministic YuNet detector, so a seed always renders the same frames.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

PRINT_KINDS = ("print_flat_hand", "print_bent_hand", "print_stand")
SCREEN_KIND = "screen_replay"
HFOV_DEG = 60.0  # a typical webcam
# Audience shots of the Hamilton clip (no face in focus, no Obama): blurred, they are the room behind the attacker.
BACKGROUND_FRAMES = (52, 56, 60, 64, 68)
LIGHT = np.array([-0.3, -0.6, -1.0]) / np.linalg.norm([-0.3, -0.6, -1.0])  # towards the room light, camera frame


@dataclass(frozen=True)
class AttackVideo:
    kind: str
    path: Path
    target: str  # the enrolled name the attack impersonates
    enrollment_photo: Path
    description: str
    frames: int
    fps: float


# ----------------------------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Camera:
    width: int
    height: int
    f: float

    @classmethod
    def webcam(cls, size) -> _Camera:
        width, height = int(size[0]), int(size[1])
        return cls(width, height, width / (2 * math.tan(math.radians(HFOV_DEG / 2))))

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2

    @property
    def cy(self) -> float:
        return (self.height - 1) / 2

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points -> (N, 2) pixels."""
        return np.stack([self.f * points[:, 0] / points[:, 2] + self.cx,
                         self.f * points[:, 1] / points[:, 2] + self.cy], axis=1)

    def ray(self, px: float, py: float) -> np.ndarray:
        return np.array([(px - self.cx) / self.f, (py - self.cy) / self.f, 1.0])


def _rotation(rx_deg: float, ry_deg: float, rz_deg: float) -> np.ndarray:
    """Local sheet frame -> camera frame: roll about z, after yaw about y, after pitch about x."""
    ax, ay, az = (math.radians(v) for v in (rx_deg, ry_deg, rz_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class _Bend:
    """A cylinder the sheet is wrapped on. axis 0: the sheet curves along u (vertical axis); 1: along v.
    sign +1: the middle bulges towards the camera (edges recede); -1: the edges come towards the camera."""

    radius: float
    axis: int
    sign: int


def _local_points(u: np.ndarray, v: np.ndarray, bend: _Bend | None) -> np.ndarray:
    """Flat sheet coordinates (mm, arc length on a bent sheet) -> (N, 3) points of the surface, local frame."""
    u, v = np.asarray(u, float).ravel(), np.asarray(v, float).ravel()
    if bend is None:
        return np.stack([u, v, np.zeros_like(u)], axis=1)
    curved = u if bend.axis == 0 else v
    theta = curved / bend.radius
    along = bend.radius * np.sin(theta)
    depth = bend.sign * bend.radius * (1 - np.cos(theta))
    return np.stack([along, v, depth] if bend.axis == 0 else [u, along, depth], axis=1)


def _inverse_map(cam: _Camera, rot: np.ndarray, trans: np.ndarray, bend: _Bend | None, box):
    """For each pixel of box (x0, y0, x1, y1): the sheet coordinates (u, v) in mm hit by its ray, the surface
    normal facing the camera (camera frame, (3, h, w)), the point's depth, and whether the ray hits at all."""
    x0, y0, x1, y1 = box
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    d = ((xs - cam.cx) / cam.f, (ys - cam.cy) / cam.f)
    e = [rot[0, k] * d[0] + rot[1, k] * d[1] + rot[2, k] for k in range(3)]  # R^T d
    g = rot.T @ trans  # R^T T: local = t * e - g
    if bend is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = g[2] / e[2]
        valid = np.isfinite(t) & (t > 0)
        u, v = t * e[0] - g[0], t * e[1] - g[1]
        n_local = (np.zeros_like(u), np.zeros_like(u), np.ones_like(u))
    else:
        a_i, f_i = (0, 1) if bend.axis == 0 else (1, 0)
        r, s = bend.radius, bend.sign
        h = g[2] + s * r
        alpha = e[a_i] ** 2 + e[2] ** 2
        beta = -2 * (e[a_i] * g[a_i] + e[2] * h)
        gamma = g[a_i] ** 2 + h ** 2 - r * r
        disc = beta * beta - 4 * alpha * gamma
        root = np.sqrt(np.maximum(disc, 0))
        best_t = np.full(xs.shape, np.inf)
        best_theta = np.zeros(xs.shape)
        for t in ((-beta - root) / (2 * alpha), (-beta + root) / (2 * alpha)):
            along, depth = t * e[a_i] - g[a_i], t * e[2] - g[2]
            cos_part = r - s * depth  # = r cos(theta)
            ok = (disc >= 0) & (t > 0) & (cos_part > 0) & (t < best_t)
            best_theta = np.where(ok, np.arctan2(along, cos_part), best_theta)
            best_t = np.where(ok, t, best_t)
        valid = np.isfinite(best_t)
        t = np.where(valid, best_t, 1.0)
        curved = r * best_theta
        flat = t * e[f_i] - g[f_i]
        u, v = (curved, flat) if bend.axis == 0 else (flat, curved)
        n_a, n_c = -s * np.sin(best_theta), np.cos(best_theta)
        zeros = np.zeros_like(n_a)
        n_local = (n_a, zeros, n_c) if bend.axis == 0 else (zeros, n_a, n_c)
    normal = np.stack([-(rot[k, 0] * n_local[0] + rot[k, 1] * n_local[1] + rot[k, 2] * n_local[2])
                       for k in range(3)])
    f32 = np.float32
    return (u.astype(f32), v.astype(f32), normal.astype(f32), t.astype(f32), valid,
            (d[0].astype(f32), d[1].astype(f32)))


@dataclass
class _Surface:
    """A texture (premultiplied BGR + alpha, float32 0..1) in the sheet's local frame: texture pixel
    (origin[0], origin[1]) is the local origin, one texture pixel is mm_per_px millimetres."""

    rgba: np.ndarray
    mm_per_px: float
    origin: tuple[float, float]
    bend: _Bend | None = None
    extent: tuple[float, float, float, float] | None = None  # (u0, u1, v0, v1) mm holding every opaque texel

    def corners_mm(self):
        if self.extent is None:
            rows = np.flatnonzero(self.rgba[..., 3].max(axis=1) > 0)
            cols = np.flatnonzero(self.rgba[..., 3].max(axis=0) > 0)
            if len(rows) == 0:
                rows = cols = np.array([0])
            ox, oy, k = self.origin[0], self.origin[1], self.mm_per_px
            self.extent = ((cols[0] - 1 - ox) * k, (cols[-1] + 1 - ox) * k,
                           (rows[0] - 1 - oy) * k, (rows[-1] + 1 - oy) * k)
        return self.extent


@dataclass
class _Rendered:
    premult: np.ndarray  # (h, w, 3) float32 0..1, inside box
    alpha: np.ndarray  # (h, w) float32
    box: tuple[int, int, int, int]
    u: np.ndarray  # sheet coordinates (mm) of each pixel of box
    v: np.ndarray
    normal: np.ndarray
    depth: np.ndarray
    rays: tuple


def _render_surface(cam: _Camera, surface: _Surface, rot, trans) -> _Rendered | None:
    u0, u1, v0, v1 = surface.corners_mm()
    edge = np.linspace(0, 1, 24)
    us = np.concatenate([u0 + (u1 - u0) * edge, np.full(24, u1), u1 - (u1 - u0) * edge, np.full(24, u0)])
    vs = np.concatenate([np.full(24, v0), v0 + (v1 - v0) * edge, np.full(24, v1), v1 - (v1 - v0) * edge])
    points = _local_points(us, vs, surface.bend) @ rot.T + trans
    if np.any(points[:, 2] <= 1):
        raise ValueError("the attack surface reaches behind the camera")
    px = cam.project(points)
    x0, y0 = (max(0, int(math.floor(v)) - 2) for v in px.min(axis=0))
    x1 = min(cam.width, int(math.ceil(px[:, 0].max())) + 3)
    y1 = min(cam.height, int(math.ceil(px[:, 1].max())) + 3)
    if x1 <= x0 or y1 <= y0:
        return None
    box = (x0, y0, x1, y1)
    u, v, normal, depth, valid, rays = _inverse_map(cam, rot, trans, surface.bend, box)
    map_x = np.where(valid, u / surface.mm_per_px + surface.origin[0], -10).astype(np.float32)
    map_y = np.where(valid, v / surface.mm_per_px + surface.origin[1], -10).astype(np.float32)
    sampled = cv2.remap(surface.rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=(0, 0, 0, 0))
    return _Rendered(sampled[..., :3], sampled[..., 3], box, u, v, normal, depth, rays)


def _shade(rendered: _Rendered, exposure: float, sheen: float) -> np.ndarray:
    """Lambertian paper lit from the upper front-left, plus a faint broad sheen; 1.0 for a frontal sheet."""
    n = rendered.normal
    lambert = np.maximum(0.0, LIGHT[0] * n[0] + LIGHT[1] * n[1] + LIGHT[2] * n[2])
    frontal = -LIGHT[2]
    ambient = 0.35
    diffuse = (1 - ambient) / frontal
    # Half vector between the light and the direction to the camera (-ray).
    light = LIGHT.astype(np.float32)[:, None, None]
    view = -np.stack([rendered.rays[0], rendered.rays[1], np.ones_like(rendered.rays[0])])
    view /= np.sqrt((view * view).sum(axis=0, keepdims=True))
    half = view + light
    half /= np.sqrt((half * half).sum(axis=0, keepdims=True))
    spec = np.maximum(0.0, (half * n).sum(axis=0)) ** 30
    return (exposure * (ambient + diffuse * lambert) + sheen * spec).astype(np.float32)


# -------------------------------------------------------------------------------------------------- motion


def _smooth(rng, t: np.ndarray, peak: float, low: float, high: float, parts: int = 3) -> np.ndarray:
    """A smooth random signal with frequencies in [low, high] Hz whose largest magnitude over t is `peak`."""
    signal = np.zeros_like(t)
    for k in range(parts):
        signal += rng.uniform(0.5, 1.0) / (k + 1) * np.sin(2 * np.pi * rng.uniform(low, high) * t
                                                            + rng.uniform(0, 2 * np.pi))
    biggest = np.abs(signal).max()
    return signal * (peak / biggest) if biggest > 0 else signal


@dataclass
class _Motion:
    """Per-frame pose parameters: where the anchor point (the face) projects, its depth, and the tilts."""

    px: np.ndarray
    py: np.ndarray
    depth: np.ndarray
    rx: np.ndarray
    ry: np.ndarray
    rz: np.ndarray

    @classmethod
    def hand(cls, rng, t, anchor_px, depth, *, tilt=25.0, drift=(32.0, 22.0), tremor=(1.0, 3.0), roll=6.0):
        n = len(t)
        tremor_peak = rng.uniform(*tremor)
        shake = [_smooth(rng, t, tremor_peak, 4.0, 11.0) + 0.15 * tremor_peak * rng.standard_normal(n)
                 for _ in range(2)]
        px = anchor_px[0] + _smooth(rng, t, rng.uniform(0.6, 1.0) * drift[0], 0.05, 0.45) + shake[0]
        py = anchor_px[1] + _smooth(rng, t, rng.uniform(0.6, 1.0) * drift[1], 0.05, 0.45) + shake[1]
        z = depth * (1 + _smooth(rng, t, rng.uniform(0.04, 0.08), 0.03, 0.3))
        rx = _smooth(rng, t, rng.uniform(0.6, 1.0) * tilt, 0.06, 0.35) + _smooth(rng, t, 0.3, 4.0, 9.0)
        ry = _smooth(rng, t, rng.uniform(0.7, 1.0) * tilt, 0.06, 0.35) + _smooth(rng, t, 0.3, 4.0, 9.0)
        rz = _smooth(rng, t, rng.uniform(0.4, 1.0) * roll, 0.05, 0.3)
        return cls(px, py, z, rx, ry, rz)

    @classmethod
    def stand(cls, rng, t, anchor_px, depth):
        n = len(t)
        tilt = [rng.choice([-1, 1]) * rng.uniform(4, 12) for _ in range(2)]
        vibration = [_smooth(rng, t, rng.uniform(0.15, 0.35), 12.0, 25.0, parts=2) for _ in range(2)]
        return cls(anchor_px[0] + vibration[0], anchor_px[1] + vibration[1], np.full(n, depth),
                   np.full(n, tilt[0]), np.full(n, tilt[1]), np.full(n, rng.uniform(-2.5, 2.5)))

    def pose(self, i: int, cam: _Camera, anchor_local: np.ndarray):
        """R, T such that the anchor point (local frame) projects to (px, py) at depth `depth`."""
        rot = _rotation(self.rx[i], self.ry[i], self.rz[i])
        anchor_cam = self.depth[i] * cam.ray(self.px[i], self.py[i])
        return rot, anchor_cam - rot @ anchor_local


# -------------------------------------------------------------------------------------------------- camera


@dataclass(frozen=True)
class _CameraLook:
    defocus: float  # gaussian sigma, px
    read_noise: float  # noise sigma at black, levels
    shot_noise: float  # noise variance per level of signal
    gain_drift: float  # peak relative auto-exposure gain change
    jpeg_quality: int

    @classmethod
    def random(cls, rng) -> _CameraLook:
        return cls(rng.uniform(0.6, 0.95), rng.uniform(1.2, 2.2), rng.uniform(0.03, 0.07), rng.uniform(0.03, 0.07),
                   int(rng.integers(72, 91)))


def _camera_effects(frame: np.ndarray, look: _CameraLook, gain: float, seed: int, index: int) -> np.ndarray:
    """float32 BGR 0..255 -> uint8 BGR: defocus, exposure gain, sensor noise, JPEG round trip."""
    frame = cv2.GaussianBlur(frame, (0, 0), look.defocus) * gain
    noise_rng = np.random.default_rng([seed, index, 7])
    sigma = np.sqrt(look.read_noise ** 2 + look.shot_noise * np.clip(frame, 0, 255))
    frame = frame + sigma * noise_rng.standard_normal(frame.shape, dtype=np.float32)
    image = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


# ---------------------------------------------------------------------------------------------- resources


def _data_dir() -> Path:
    from facegate_dev.datasets import clips_dir

    found = clips_dir()
    if found is None:
        raise FileNotFoundError("the test clips are absent: set FACEGATE_DATA or provide ../shared/data/clips")
    return found


@lru_cache(maxsize=1)
def _engine():
    from facegate.vision.engine import FaceEngine

    return FaceEngine()


@lru_cache(maxsize=1)
def _eager_detector():
    from facegate.vision.detect import YuNetDetector

    return YuNetDetector(score_threshold=0.3)


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(image.shape[:2])
    return image if scale >= 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _largest_face(image_bgr: np.ndarray):
    faces = _engine().detect(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), landmarks=False)
    return faces[0].box if faces else None


def _read_bgr(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def _default_background(rng, size) -> np.ndarray:
    """A blurred audience shot of the clip, as the room behind the attacker (float32 BGR)."""
    clip = _data_dir() / "short_hamilton_clip.mp4"
    wanted = int(rng.choice(BACKGROUND_FRAMES))
    capture = cv2.VideoCapture(str(clip))
    frame = None
    for index in range(wanted + 1):
        ok, frame = capture.read()
        if not ok:
            raise ValueError(f"{clip}: cannot read frame {index}")
    capture.release()
    # From the left 75 % of an audience shot: out-of-focus people, no face in the foreground.
    h = frame.shape[0]
    width = int(h * size[0] / size[1] * 0.8)
    x0 = int(rng.integers(0, max(1, int(frame.shape[1] * 0.75) - width)))
    y0 = int(rng.integers(0, max(1, h - int(h * 0.8))))
    region = frame[y0:y0 + int(h * 0.8), x0:x0 + width]
    if rng.random() < 0.5:
        region = region[:, ::-1]
    room = cv2.resize(region, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    room = room * rng.uniform(1.0, 1.5) + rng.uniform(6, 14)  # the kiosk's room is lit better than a theatre
    # Out of focus behind the attacker; blurred further until the app's detector, made far more eager than the
    # app's (camera noise can tip a borderline blob over its threshold), sees no face in it, and then some more:
    # the attack is then the only face in the picture.
    sigma = rng.uniform(5.0, 7.0)
    while True:
        blurred = cv2.GaussianBlur(room, (0, 0), sigma)
        preview = cv2.cvtColor(np.clip(blurred, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
        found = [face for side in (320, max(size)) for face in _eager_detector().detect(_shrink(preview, side))
                 if face.width < 0.4 * min(_shrink(preview, side).shape[:2])]  # not the whole-frame blob
        if sigma > 30 or not found:
            # with a margin: the sheet's bright edge beside a blurred head can still make up a face
            return cv2.GaussianBlur(room, (0, 0), sigma * 1.4)
        sigma *= 1.25


def _prepare_background(background, rng, size) -> np.ndarray:
    if background is None:
        return _default_background(rng, size)
    image = np.asarray(background)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    bgr = cv2.cvtColor(image[..., :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA).astype(np.float32)


class _Writer:
    """cv2.VideoWriter with 'mp4v' into .mp4, or MJPG into .avi where mp4v cannot be written."""

    def __init__(self, out: Path, fps: float, size):
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.path = out.with_suffix(".mp4")
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, tuple(size))
        if not self._writer.isOpened():
            self._writer.release()
            self.path.unlink(missing_ok=True)
            self.path = out.with_suffix(".avi")
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"MJPG"), fps, tuple(size))
        if not self._writer.isOpened():
            raise OSError(f"{out}: OpenCV cannot write a video here (neither mp4v nor MJPG)")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()


# ---------------------------------------------------------------------------------------------- textures


def _ellipse_mask(shape, centre, axes, angle_deg, scale: int = 4) -> np.ndarray:
    """An anti-aliased filled ellipse (float32 0..1, full `shape`), drawn at `scale` times the resolution
    inside its bounding square only."""
    out = np.zeros(shape[:2], np.float32)
    reach = max(axes) + 2
    x0, y0 = max(0, int(centre[0] - reach)), max(0, int(centre[1] - reach))
    x1, y1 = min(shape[1], int(centre[0] + reach) + 1), min(shape[0], int(centre[1] + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return out
    big = np.zeros(((y1 - y0) * scale, (x1 - x0) * scale), np.uint8)
    cv2.ellipse(big, (int(round((centre[0] - x0) * scale)), int(round((centre[1] - y0) * scale))),
                (max(1, int(round(axes[0] * scale))), max(1, int(round(axes[1] * scale)))), angle_deg, 0, 360, 255,
                -1, cv2.LINE_AA)
    out[y0:y1, x0:x1] = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA) / np.float32(255)
    return out


def _rounded_rect_mask(shape, rect, radius: float, scale: int = 4) -> np.ndarray:
    """Anti-aliased filled rounded rectangle (x0, y0, x1, y1) in texture pixels."""
    x0, y0, x1, y1 = (v * scale for v in rect)
    r = radius * scale
    big = np.zeros((shape[0] * scale, shape[1] * scale), np.uint8)
    pts = [(int(round(a)), int(round(b))) for a, b in
           ((x0 + r, y0), (x1 - r, y0), (x1, y0 + r), (x1, y1 - r), (x1 - r, y1), (x0 + r, y1), (x0, y1 - r),
            (x0, y0 + r))]
    cv2.fillPoly(big, [np.array(pts, np.int32)], 255)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x1 - r, y1 - r), (x0 + r, y1 - r)):
        cv2.circle(big, (int(round(cx)), int(round(cy))), int(round(r)), 255, -1, cv2.LINE_AA)
    return cv2.resize(big, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _nonzero_box(mask: np.ndarray):
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    cols = np.flatnonzero(mask.max(axis=0) > 0)
    if len(rows) == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _paint(rgba: np.ndarray, mask: np.ndarray, colour_bgr01) -> None:
    """Composite a (h, w) coverage mask of colour ((h, w, 3) or (3,)) over a premultiplied texture, in place
    (only inside the mask's bounding box)."""
    box = _nonzero_box(mask)
    if box is None:
        return
    m = mask[box]
    colour = np.asarray(colour_bgr01, np.float32)
    if colour.ndim == 3:
        colour = np.broadcast_to(colour, mask.shape + (3,))[box]
    target = rgba[box]
    target[..., :3] = target[..., :3] * (1 - m[..., None]) + colour * m[..., None]
    target[..., 3] = target[..., 3] * (1 - m) + m


SKIN_BGR = np.array([0.47, 0.58, 0.80])


def _blob(rgba, centre, axes, angle, colour, *, nail: bool = False) -> None:
    """A finger, thumb, palm or sleeve: a rounded blob of `colour`, rounder-looking for its darker rim; with a
    nail near the tip (the end the first axis points to) when the back of a finger faces the camera."""
    h, w = rgba.shape[:2]
    mask = _ellipse_mask((h, w), centre, axes, angle)
    box = _nonzero_box(mask)
    if box is None:
        return
    inner = _ellipse_mask((h, w), centre, (axes[0] * 0.7, axes[1] * 0.6), angle)
    shade = np.full((h, w), 0.7, np.float32)
    shade[box] += 0.3 * cv2.GaussianBlur(inner[box], (0, 0), max(1.0, min(axes) * 0.3))
    _paint(rgba, mask, np.asarray(colour, np.float32) * shade[..., None])
    if nail:
        a = math.radians(angle)
        tip = (centre[0] + 0.62 * axes[0] * math.cos(a), centre[1] + 0.62 * axes[0] * math.sin(a))
        nail_mask = _ellipse_mask((h, w), tip, (axes[0] * 0.26, axes[1] * 0.5), angle) * 0.5
        _paint(rgba, nail_mask * mask, np.array([0.68, 0.74, 0.88], np.float32) * (0.7 + 0.3 * shade[..., None]))


def _hand_at_edge(behind, front, edge_x: float, y: float, side: int, mm: float, skin, sleeve, rng) -> None:
    """A hand gripping a sheet's side edge (side -1: left edge, +1: right edge; texture px, mm = px per mm):
    palm and sleeved forearm behind the sheet (only what sticks out past the edge shows), thumb in front."""
    out = side
    lean = rng.uniform(-8, 8)
    _blob(behind, (edge_x + out * 45 * mm, y + 160 * mm), (36 * mm, 125 * mm), -out * 12 + lean, sleeve)
    _blob(behind, (edge_x + out * 13 * mm, y + 18 * mm), (20 * mm, 40 * mm), -out * 12 + lean, skin)
    angle = (-25 if side < 0 else 205) + rng.uniform(-10, 10)
    _blob(front, (edge_x + out * 3 * mm, y - 4 * mm), (23 * mm, 10.5 * mm), angle, skin, nail=True)


def _print_texture(photo_bgr: np.ndarray, face_box, rng, *, face_mm: float, mm_per_px: float, kind: str):
    """The printed sheet as a texture; returns (rgba, origin px, face centre in local mm, sheet size mm)."""
    x, y, w, h = face_box
    H, W = photo_bgr.shape[:2]
    # The attacker prints a head-and-shoulders crop of the photo, face a little above the middle.
    crop_w = min(W, 2.0 * w)
    crop_h = min(H, 1.3 * crop_w)
    cx, cy = x + w / 2, y + h / 2 + 0.08 * h
    cx0 = int(round(min(max(cx - crop_w / 2, 0), W - crop_w)))
    cy0 = int(round(min(max(cy - crop_h / 2, 0), H - crop_h)))
    crop = photo_bgr[cy0:cy0 + int(crop_h), cx0:cx0 + int(crop_w)]
    photo_w_mm = face_mm * crop.shape[1] / w
    photo_h_mm = photo_w_mm * crop.shape[0] / crop.shape[1]
    border_mm = photo_w_mm * rng.uniform(0.07, 0.09)
    sheet_w_mm, sheet_h_mm = photo_w_mm + 2 * border_mm, photo_h_mm + 2 * border_mm

    # Printed tones: a narrower range than the screen (ink black, paper white), a little desaturated.
    paper = np.array([0.90, 0.93, 0.94]) * rng.uniform(0.97, 1.0)  # BGR, slightly warm white
    ink = np.array([0.11, 0.10, 0.10])
    pw, ph = int(round(photo_w_mm / mm_per_px)), int(round(photo_h_mm / mm_per_px))
    printed = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    grey = printed.mean(axis=2, keepdims=True)
    printed = grey + rng.uniform(0.82, 0.95) * (printed - grey)
    printed = ink + (paper - ink) * np.clip(printed, 0, 1) ** rng.uniform(1.0, 1.12)

    stand = kind == "print_stand"
    pad_mm = 12.0 if stand else 70.0  # room for the hands at the sides
    below_mm = 150.0 if stand else 230.0  # room for the stand's stem, or the forearms
    tw = int(round((sheet_w_mm + 2 * pad_mm) / mm_per_px))
    th = int(round((sheet_h_mm + 12.0 + below_mm) / mm_per_px))
    sx0, sy0 = pad_mm / mm_per_px, 12.0 / mm_per_px
    sx1, sy1 = sx0 + sheet_w_mm / mm_per_px, sy0 + sheet_h_mm / mm_per_px
    rgba = np.zeros((th, tw, 4), np.float32)
    sheet = _rounded_rect_mask((th, tw), (sx0, sy0, sx1, sy1), 0.6 / mm_per_px)
    colour = np.empty((th, tw, 3), np.float32)
    colour[:] = paper
    bx, by = int(round(sx0 + border_mm / mm_per_px)), int(round(sy0 + border_mm / mm_per_px))
    colour[by:by + ph, bx:bx + pw] = printed[: th - by, : tw - bx]
    # Paper grain (fibres, ~0.5 mm) and a faint uneven ink/paper gain over centimetres.
    grain = cv2.GaussianBlur(rng.standard_normal((th, tw)).astype(np.float32), (0, 0), max(0.6, 0.5 / mm_per_px))
    grain *= 0.012 / max(grain.std(), 1e-6)
    blotch = cv2.resize(rng.standard_normal((6, 6)).astype(np.float32), (tw, th), interpolation=cv2.INTER_CUBIC)
    colour *= (1 + grain + 0.012 * blotch)[..., None]
    front = np.zeros_like(rgba)
    if not stand:
        # Held at both sides a little below the middle: thumbs in front, the rest of the hands behind.
        skin = SKIN_BGR * rng.uniform(0.75, 1.05)
        sleeve = np.array(rng.choice([[0.35, 0.22, 0.15], [0.2, 0.2, 0.22], [0.45, 0.42, 0.4], [0.2, 0.3, 0.45]]))
        for side in (-1, 1):
            _hand_at_edge(rgba, front, sx0 if side < 0 else sx1, sy0 + (sy1 - sy0) * rng.uniform(0.55, 0.72),
                          side, 1 / mm_per_px, skin, sleeve * rng.uniform(0.8, 1.1), rng)
    _paint(rgba, sheet, colour)
    rgba[..., :3] = rgba[..., :3] * (1 - front[..., 3:]) + front[..., :3]
    rgba[..., 3] = np.maximum(rgba[..., 3], front[..., 3])

    if stand:
        # A dark acrylic ledge across the bottom of the sheet on a stem going down out of the picture.
        stem_w = 18.0 / mm_per_px
        stem = np.zeros((th, tw), np.float32)
        cxs = (sx0 + sx1) / 2
        stem[int(sy1 - 4 / mm_per_px):, int(cxs - stem_w / 2):int(cxs + stem_w / 2)] = 1
        ledge = _rounded_rect_mask((th, tw), (sx0 - 3 / mm_per_px, sy1 - 7 / mm_per_px, sx1 + 3 / mm_per_px,
                                              sy1 + 3 / mm_per_px), 2 / mm_per_px)
        ramp = np.linspace(0.22, 0.12, th, dtype=np.float32)[:, None, None]
        _paint(rgba, np.maximum(stem, ledge), np.array([0.16, 0.15, 0.15]) * ramp / 0.17)

    origin = ((sx0 + sx1) / 2, (sy0 + sy1) / 2)
    face_px = (bx + (x + w / 2 - cx0) * pw / crop.shape[1], by + (y + h / 2 - cy0) * ph / crop.shape[0])
    face_local = np.array([(face_px[0] - origin[0]) * mm_per_px, (face_px[1] - origin[1]) * mm_per_px, 0.0])
    return rgba, origin, face_local, (sheet_w_mm, sheet_h_mm)


# ------------------------------------------------------------------------------------------ print attacks


@dataclass
class _PrintScene:
    """A printed sheet in front of the webcam, ready to be posed frame by frame."""

    cam: _Camera
    room: np.ndarray
    surface: _Surface
    anchor: np.ndarray  # the face centre on the sheet, local frame
    depth: float  # mm from the camera to the face centre
    look: _CameraLook | None = None  # set by the caller, after its motion draws (keeps seeded renders stable)

    def frame(self, rot: np.ndarray, trans: np.ndarray, *, gain: float, exposure: float, sheen: float, seed: int,
              index: int) -> np.ndarray:
        frame = self.room.copy()
        rendered = _render_surface(self.cam, self.surface, rot, trans)
        if rendered is not None:
            x0, y0, x1, y1 = rendered.box
            lit = rendered.premult * _shade(rendered, exposure, sheen)[..., None] * 255
            region = frame[y0:y1, x0:x1]
            frame[y0:y1, x0:x1] = region * (1 - rendered.alpha[..., None]) + lit
        return _camera_effects(frame, self.look, gain, seed, index)


def _print_scene(photo: Path, rng, size, kind: str, background, bend_sag: float | None = None,
                 bend_axis: int | None = None, bend_sign: int | None = None,
                 seen: np.ndarray | None = None) -> _PrintScene:
    """The sheet for `kind`; bend_sag (fraction of the curved extent), bend_axis and bend_sign (+1: bulging
    towards the camera) override a bent print's random curl. `seen`: the photo as it is seen on the sheet where
    that differs from the print (holes cut in it with the attacker's own features behind), placed where the photo
    is."""
    cam = _Camera.webcam(size)
    photo_bgr = _read_bgr(Path(photo))
    face_box = _largest_face(photo_bgr)
    if face_box is None:
        raise ValueError(f"{photo}: no face found to print")
    photo_bgr = photo_bgr if seen is None else seen
    room = _prepare_background(background, rng, (cam.width, cam.height))
    stand = kind == "print_stand"
    face_px = rng.uniform(120, 145) if stand else rng.uniform(128, 148)  # face width in the picture, frontal
    face_mm = rng.uniform(85, 100)  # the printed face (a little smaller than life: the sheet is about A4)
    depth = cam.f * face_mm / face_px
    mm_per_px = depth / (1.5 * cam.f)  # texture ~1.5x finer than the picture: no aliasing, little blur
    rgba, origin, face_local, (sheet_w, sheet_h) = _print_texture(photo_bgr, face_box, rng, face_mm=face_mm,
                                                                  mm_per_px=mm_per_px, kind=kind)
    bend = None
    if kind == "print_bent_hand":
        axis = int(rng.integers(0, 2)) if bend_axis is None else bend_axis
        extent = sheet_w if axis == 0 else sheet_h
        sag = (rng.uniform(0.03, 0.06) if bend_sag is None else bend_sag) * extent
        # The chord is the flat extent; for small angles sag = extent^2 / (8 r).
        sign = int(rng.choice([-1, 1]))  # drawn either way: a seed renders the same sheet as before
        bend = _Bend(radius=extent ** 2 / (8 * sag), axis=axis, sign=sign if bend_sign is None else bend_sign)
    surface = _Surface(rgba, mm_per_px, origin, bend)
    anchor = _local_points([face_local[0]], [face_local[1]], bend)[0]
    return _PrintScene(cam, room, surface, anchor, depth)


def render_print_attack(photo: Path, out: Path, *, kind: str, seed: int, seconds: float = 8.0, fps: float = 30.0,
                        size=(640, 480), background: np.ndarray | None = None) -> Path:
    """Render a printed-photo attack (`kind` in PRINT_KINDS) as a video; returns the file written (.mp4, or
    .avi where mp4v is unavailable). `background` (RGB, any size) replaces the default blurred room."""
    if kind not in PRINT_KINDS:
        raise ValueError(f"unknown print attack kind {kind!r}; expected one of {PRINT_KINDS}")
    rng = np.random.default_rng([seed, PRINT_KINDS.index(kind), 11])
    scene = _print_scene(photo, rng, size, kind, background)
    cam = scene.cam
    frames = max(1, int(round(seconds * fps)))
    t = np.arange(frames) / fps
    anchor_px = (cam.cx + rng.uniform(-20, 20), cam.cy + rng.uniform(-25, 5))
    stand = kind == "print_stand"
    motion = _Motion.stand(rng, t, anchor_px, scene.depth) if stand else _Motion.hand(rng, t, anchor_px, scene.depth)
    scene.look = _CameraLook.random(rng)
    gain = 1 + _smooth(rng, t, scene.look.gain_drift, 0.03, 0.2)
    exposure = rng.uniform(0.88, 1.0)
    sheen = rng.uniform(0.03, 0.08)
    writer = _Writer(out, fps, size)
    try:
        for i in range(frames):
            rot, trans = motion.pose(i, cam, scene.anchor)
            writer.write(scene.frame(rot, trans, gain=float(gain[i]), exposure=exposure, sheen=sheen, seed=seed,
                                     index=i))
    finally:
        writer.close()
    return writer.path


def render_tilt_blinks(photo: Path, *, seed: int, tilt_deg: float, bent: bool = False, fps: float = 30.0,
                       size=(640, 480)) -> list[np.ndarray]:
    """A print held still and tilted sharply away from the camera twice (top edge back, about 0.13 s down and
    0.13 s up): the tilt flattens the printed eyes, which an eye-ratio blink detector reads as two blinks (an
    outside red team's answer to "blink twice"). Returns the frames (BGR uint8), 0.7 s still before, between
    and after."""
    kind = "print_bent_hand" if bent else "print_flat_hand"
    rng = np.random.default_rng([seed, 23])
    scene = _print_scene(photo, rng, size, kind, None, bend_sag=0.3 if bent else None, bend_axis=0 if bent else None)
    scene.look = _CameraLook.random(rng)
    still = [0.0] * int(0.7 * fps)
    ramp = list(np.linspace(0, tilt_deg, 4))
    profile = still + ramp + ramp[::-1] + still[: len(still) // 2] + ramp + ramp[::-1] + still
    anchor_px = (scene.cam.cx, scene.cam.cy - 10)
    frames = []
    for i, pitch in enumerate(profile):
        rot = _rotation(pitch, 0.0, 0.0)
        trans = scene.depth * scene.cam.ray(*anchor_px) - rot @ scene.anchor
        frames.append(scene.frame(rot, trans, gain=1.0, exposure=0.95, sheen=0.05, seed=seed, index=i))
    return frames


# ------------------------------------------------------------------------------ holes cut in a print (issue 14)

# FaceMesh landmark indices: each eye's contour (outer corner, upper lid, inner corner, lower lid), the lips' outer
# contour and the upper lip's inner edge.
_EYE_CONTOURS = ((33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
                 (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249))
_LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
_UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)


def _photo_landmarks(photo_bgr: np.ndarray) -> np.ndarray:
    """FaceMesh's 468 landmarks (x, y pixels) on the photo's largest face."""
    image = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2RGB)
    faces = _engine().detect(image)
    if not faces:
        raise ValueError("no face found in the photo")
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    return _engine().facemesh.infer(image, face).points[:, :2]


def _closed_eyes(photo_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The photo with both eyes shut: each eye covered by the skin of its upper lid, a lash line along the lower
    lid (the attacker's own eyes closing behind holes cut in the print)."""
    out = photo_bgr.astype(np.float32)
    for contour in _EYE_CONTOURS:
        eye = points[list(contour)]
        width = float(np.linalg.norm(eye[0] - eye[8]))
        upper = eye[:9]
        lid = np.zeros(photo_bgr.shape[:2], np.uint8)
        cv2.fillPoly(lid, [np.round(np.vstack([upper - [0, 0.08 * width], (upper - [0, 0.3 * width])[::-1]]))
                           .astype(np.int32)], 1)
        skin = np.median(photo_bgr[lid > 0], axis=0)
        cover = np.zeros(photo_bgr.shape[:2], np.float32)
        centre = eye.mean(0)
        cv2.fillPoly(cover, [np.round((eye - centre) * [1.2, 1.6] + centre).astype(np.int32)], 1.0)
        cover = np.clip(1.5 * cv2.GaussianBlur(cover, (0, 0), max(0.8, 0.06 * width)), 0, 1)[..., None]
        out = out * (1 - cover) + skin * cover
        lower = np.vstack([eye[8:], eye[:1]])
        lash_line = 0.85 * lower + 0.15 * np.linspace(eye[8], eye[0], len(lower))
        lash = np.zeros(photo_bgr.shape[:2], np.float32)
        cv2.polylines(lash, [np.round(lash_line).astype(np.int32)], False, 1.0, max(1, round(0.05 * width)),
                      cv2.LINE_AA)
        lash = 0.75 * cv2.GaussianBlur(lash, (0, 0), 0.7)[..., None]
        out = out * (1 - lash) + np.array([30.0, 30.0, 35.0]) * lash
    return np.clip(out, 0, 255).astype(np.uint8)


def _opened_mouth(photo_bgr: np.ndarray, points: np.ndarray, drop: float) -> np.ndarray:
    """The photo seen through a hole cut round the mouth, the attacker's mouth behind it opened: below the upper
    lip's inner edge everything inside the hole (lower lip, then chin skin) moves down by `drop` (a fraction of
    the nose bridge to upper lip height) and the gap is the dark of an open mouth. The printed chin outside the
    hole stays where it is: only the jaw behind the sheet drops."""
    if drop <= 0:
        return photo_bgr
    from facegate.vision.facemesh import NOSE_BRIDGE, UPPER_LIP_INNER

    height = float(np.linalg.norm(points[UPPER_LIP_INNER] - points[NOSE_BRIDGE]))
    gap = drop * height
    lips = points[list(_LIPS_OUTER)]
    centre = lips.mean(0)
    hole = np.zeros(photo_bgr.shape[:2], np.uint8)
    cv2.fillPoly(hole, [np.round((lips - centre) * [1.25, 1.3] + centre).astype(np.int32)], 1)
    hole = np.maximum(hole, np.roll(hole, int(math.ceil(gap)), axis=0))  # room for the lower lip to drop
    ys, xs = np.nonzero(hole)
    edge = points[list(_UPPER_LIP_INNER)]
    order = np.argsort(edge[:, 0])
    lip_line = np.interp(xs, edge[order, 0], edge[order, 1])
    out = photo_bgr.copy()
    below = ys >= lip_line + gap
    out[ys[below], xs[below]] = photo_bgr[np.round(ys[below] - gap).astype(int), xs[below]]
    in_gap = (ys >= lip_line) & ~below
    out[ys[in_gap], xs[in_gap]] = (25, 20, 45)  # the dark inside of a mouth
    return out


def mouth_cue(engine, frames, arm_at: int = 5):
    """The liveness check's mouth cue (facegate.liveness.MouthWatch) over rendered `frames` (BGR), armed at frame
    `arm_at` as a challenge step is, with the face's squash from the blink counter's proportions and the chin's
    movement, as LivenessCheck feeds it. Returns the MouthWatch: `.opened` is what a check would have taken for an
    opened mouth."""
    from facegate.liveness import BlinkCounter, LivenessSettings, MouthWatch

    settings = LivenessSettings()
    blinks, watch = BlinkCounter(settings.blink_ratio), MouthWatch(settings.mouth_open_delta)
    for index, frame in enumerate(frames):
        image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = engine.detect(image)
        if faces:
            mesh = engine.facemesh.infer(image, faces[0])
            blinks.update(mesh.eye_aspect_ratio(), index / 30.0, (mesh.face_aspect(), mesh.eye_region_aspect()))
            watch.see(mesh, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), blinks.foreshortening)
        if index == arm_at:
            watch.arm()
    return watch


class PromptFollowingPrint:
    """A print held still that answers the kiosk's requests, as an attacker reading the screen does (issue 14's
    red team): on "turn left/right" it turns the sheet about its vertical axis, on "nod" it tilts it forward, on
    "open your mouth" it tilts it sharply back and returns; each after a reaction time, held, then back to the
    start.

    Call `frame(instruction)` once per frame with the request the kiosk shows now ("" for none); it returns the
    next camera frame (BGR uint8). curl: sag of the sheet as a fraction of its curved extent (0: flat); axis 0
    curls it about the vertical axis, 1 about the horizontal one; it bulges towards the camera.

    cut_out: holes cut in the print, worn over the attacker's own face ("eyes", "mouth"): the attacker's eyes blink
    behind it every 3 s, and with the mouth cut out "open your mouth" is answered by the attacker's mouth opening
    (the sheet held still; the printed chin stays put). The attacker's features are drawn on the photo's own
    (`_closed_eyes`, `_opened_mouth`), in the sheet's plane: the centimetre between the sheet and the face is
    not modelled."""

    MOUTH_DROP = 0.35  # how far the attacker's lower lip drops, in nose-bridge-to-upper-lip heights


    MOUTH_LEVELS = 4  # the cut-out mouth's openings rendered, from closed to MOUTH_DROP

    def __init__(self, photo: Path, *, seed: int, curl: float, axis: int = 0, turn_deg: float = 40.0,
                 nod_deg: float = 40.0, flick_deg: float = 65.0, reaction_s: float = 0.4, fps: float = 30.0,
                 size=(640, 480), cut_out: tuple[str, ...] = ()):
        import copy

        rng = np.random.default_rng([seed, 31])
        kind = "print_bent_hand" if curl > 0 else "print_flat_hand"
        # bulging towards the camera: the curl that reads most like a face
        sheet = dict(bend_sag=curl if curl > 0 else None, bend_axis=axis, bend_sign=1)
        before = copy.deepcopy(rng)
        self.scene = _print_scene(photo, rng, size, kind, None, **sheet)
        self.scene.look = _CameraLook.random(rng)
        # Holes cut in the sheet, the attacker's own eyes or mouth behind them: the same sheet, seen with them
        # shut or open (each drawn from the same random state, so only the features differ).
        self.cut_out = tuple(cut_out)
        if set(self.cut_out) - {"eyes", "mouth"}:
            raise ValueError(f"cut_out: 'eyes' and/or 'mouth', not {cut_out!r}")
        self.surfaces: dict[tuple[bool, int], _Surface] = {(False, 0): self.scene.surface}
        if self.cut_out:
            photo_bgr = _read_bgr(Path(photo))
            points = _photo_landmarks(photo_bgr)
            eyes = (False, True) if "eyes" in self.cut_out else (False,)
            levels = range(self.MOUTH_LEVELS) if "mouth" in self.cut_out else range(1)
            for shut in eyes:
                for level in levels:
                    if (shut, level) not in self.surfaces:
                        seen = _closed_eyes(photo_bgr, points) if shut else photo_bgr
                        seen = _opened_mouth(seen, points, self.MOUTH_DROP * level / (self.MOUTH_LEVELS - 1))
                        self.surfaces[(shut, level)] = _print_scene(photo, copy.deepcopy(before), size, kind, None,
                                                                    seen=seen, **sheet).surface
        self.turn_deg, self.nod_deg, self.flick_deg = turn_deg, nod_deg, flick_deg
        self.reaction = int(round(reaction_s * fps))
        self.fps = fps
        self.seed = seed
        self.index = 0
        self.last_instruction = ""
        self.plan: list[tuple[float, float]] = []  # (pitch, yaw) per coming frame
        self.mouth_plan: list[int] = []  # the cut-out mouth's opening level per coming frame
        self.pose = (0.0, 0.0)
        self.anchor_px = (self.scene.cam.cx, self.scene.cam.cy - 10)

    def _ramp(self, pitch: float, yaw: float, seconds: float, start=(0.0, 0.0)) -> list[tuple[float, float]]:
        steps = max(2, int(round(seconds * self.fps)))
        return [(start[0] + (pitch - start[0]) * k / steps, start[1] + (yaw - start[1]) * k / steps)
                for k in range(1, steps + 1)]

    def _answer(self, instruction: str) -> list[tuple[float, float]]:
        from facegate.liveness import INSTRUCTIONS, Action

        # The attacker reads the request on the screen, as the person would.
        action = next((a for a, text in INSTRUCTIONS.items() if text == instruction), None)
        # While reading the new request the hand brings the sheet back from wherever it was.
        still = self._ramp(0.0, 0.0, self.reaction / self.fps, start=self.pose)
        hold = int(round(0.6 * self.fps))
        if action in (Action.TURN_LEFT, Action.TURN_RIGHT):
            # bulging towards the camera, the sheet turned this way reads as the person's left (or right)
            yaw = (-1.0 if action is Action.TURN_LEFT else 1.0) * self.turn_deg
            out = self._ramp(0.0, yaw, 0.35)
            return still + out + [(0.0, yaw)] * hold + out[::-1] + [(0.0, 0.0)]
        if action is Action.NOD:
            out = self._ramp(self.nod_deg, 0.0, 0.3)
            return still + out + [(self.nod_deg, 0.0)] * (hold // 2) + out[::-1] + [(0.0, 0.0)]
        if action is Action.OPEN_MOUTH and "mouth" in self.cut_out:
            # The attacker's own mouth opens behind the hole, the sheet held still.
            top = self.MOUTH_LEVELS - 1
            opening = [round(top * k / 6) for k in range(1, 7)]  # 0.2 s
            self.mouth_plan = [0] * len(still) + opening + [top] * int(0.8 * self.fps) + opening[::-1] + [0]
            return still + [(0.0, 0.0)] * (len(self.mouth_plan) - len(still))
        if action is Action.OPEN_MOUTH:
            # A sheet cannot part its printed lips: the best it can do is stretch and squash the face by tilting.
            flick = self._ramp(-self.flick_deg, 0.0, 0.2)
            return still + flick + [(-self.flick_deg, 0.0)] * int(0.2 * self.fps) + flick[::-1] + [(0.0, 0.0)]
        return []

    def frame(self, instruction: str) -> np.ndarray:
        if instruction and instruction != self.last_instruction:
            self.plan = self._answer(instruction)
        self.last_instruction = instruction
        pitch, yaw = self.pose = self.plan.pop(0) if self.plan else (0.0, 0.0)
        mouth = self.mouth_plan.pop(0) if self.mouth_plan else 0
        shut = "eyes" in self.cut_out and (self.index + 45) % int(3 * self.fps) < 4  # a natural blink, 0.13 s
        self.scene.surface = self.surfaces[(shut, mouth)]
        rot = _rotation(pitch, yaw, 0.0)
        trans = self.scene.depth * self.scene.cam.ray(*self.anchor_px) - rot @ self.scene.anchor
        image = self.scene.frame(rot, trans, gain=1.0, exposure=0.95, sheen=0.05, seed=self.seed, index=self.index)
        self.index += 1
        return image


def impersonated_gallery(engine, folder: Path):
    """A gallery in `folder` (made) with the people the attacks impersonate, enrolled from one photo each: Lin-Manuel
    Miranda (lin-manuel-miranda.png) and Barack Obama (obama.jpg, not the photo the prints are made from)."""
    import shutil

    from facegate.gallery import Gallery

    clips = _data_dir()
    for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Barack Obama", "obama.jpg")):
        (folder / name).mkdir(parents=True)
        shutil.copy(clips / photo, folder / name / photo)
    gallery = Gallery(folder, engine)
    gallery.refresh()
    return gallery


class PromptFollower(Protocol):
    """An attacker that reads the request the kiosk shows and answers it: PromptFollowingPrint, and the puppet and
    half mask of facegate_dev.puppet and facegate_dev.half_mask."""

    fps: float

    def frame(self, instruction: str) -> np.ndarray:
        """The next camera frame (BGR uint8) while the kiosk shows `instruction` ("" for none)."""
        ...


def follow_prompts(engine, gallery, attacker: PromptFollower, challenge_seed: int, max_frames: int = 600,
                   steps: int | None = None, mode: str = "challenge", cues: bool = False):
    """Run a prompt-following attacker through the real pipeline (challenge liveness of `steps` requests, the
    default's when None, drawn from `challenge_seed`; or liveness `mode` "off", "passive" or "adaptive"), frame by
    frame, the attacker seeing the request shown on each frame; with `cues`, the kiosk's passive cues run in the
    check (facegate.kiosk.liveness_cues: texture, whole face). Returns the first grant or denial, or None when
    neither came."""
    import random

    from facegate.capture import Frame
    from facegate.kiosk import liveness_cues
    from facegate.liveness import LivenessSettings
    from facegate.pipeline import Pipeline
    from facegate.policy import AccessPolicy, Verdict

    settings = LivenessSettings(mode=mode) if steps is None else LivenessSettings(mode=mode, steps=steps)
    pipeline = Pipeline(engine, gallery, AccessPolicy(), liveness=settings, rng=random.Random(challenge_seed),
                        cue_factory=liveness_cues(engine, gallery) if cues else None)
    instruction = ""
    for index in range(max_frames):
        image = cv2.cvtColor(attacker.frame(instruction), cv2.COLOR_BGR2RGB)
        result = pipeline.process(Frame(image, index, index / attacker.fps))
        instruction = next((t.instruction for t in result.tracks if t.instruction), "")
        for decision in result.decisions:
            if decision.verdict in (Verdict.GRANTED, Verdict.DENIED):
                return decision
    return None


# ----------------------------------------------------------------------------------------- screen replay


@dataclass(frozen=True)
class _Phone:
    screen_w: float = 64.0  # mm
    aspect: float = 19.5 / 9
    bezel: float = 3.4
    corner: float = 9.0
    res_w: int = 1080  # screen pixels across

    @property
    def screen_h(self) -> float:
        return self.screen_w * self.aspect

    @property
    def body(self) -> tuple[float, float]:
        return self.screen_w + 2 * self.bezel, self.screen_h + 2 * self.bezel


def _video_frames(video: Path, first: int, last: int):
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"{video}: cannot open the video")
    src_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    index = 0
    while index <= last:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= first:
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        raise ValueError(f"{video}: no frames in {first}..{last}")
    return frames, float(src_fps)


def _face_crop(frames, aspect_w_over_h: float):
    """A fixed portrait crop (x0, y0, w, h) around the face over the frames, filling a 9:19.5 screen, and the
    median face box width and centre in the source."""
    sample = np.linspace(0, len(frames) - 1, min(len(frames), 12)).round().astype(int)
    boxes = [box for box in (_largest_face(frames[i]) for i in sample) if box is not None]
    H, W = frames[0].shape[:2]
    if not boxes:
        raise ValueError("no face found in the replayed frames")
    boxes = np.array(boxes)
    lefts, rights = boxes[:, 0], boxes[:, 0] + boxes[:, 2]
    crop_h = H
    crop_w = min(W, int(round(crop_h * aspect_w_over_h)))
    centre_x = (np.percentile(lefts, 15) + np.percentile(rights, 85)) / 2
    x0 = int(round(min(max(centre_x - crop_w / 2, 0), W - crop_w)))
    face_w = float(np.median(boxes[:, 2]))
    face_c = (float(np.median(boxes[:, 0] + boxes[:, 2] / 2)), float(np.median(boxes[:, 1] + boxes[:, 3] / 2)))
    return (x0, 0, crop_w, crop_h), face_w, face_c


def _phone_texture(phone: _Phone, mm_per_px: float, rng):
    """The phone held in a left hand, as a premultiplied texture with the screen black: palm behind the lower
    left, finger tips peeking out behind the right edge, thumb in front over the left bezel. Returns it with
    the screen rectangle (texture px), the screen's weight (its mask less the thumb) and the body centre."""
    mm = 1 / mm_per_px
    pad = 40.0
    bw, bh = phone.body
    tw, th = int(round((bw + 2 * pad) * mm)), int(round((bh + 2 * pad) * mm))
    rgba = np.zeros((th, tw, 4), np.float32)
    bx0, by0 = pad * mm, pad * mm
    bx1, by1 = bx0 + bw * mm, by0 + bh * mm
    skin = SKIN_BGR * rng.uniform(0.75, 1.05)
    _blob(rgba, (bx0 + 6 * mm, by0 + bh * 0.86 * mm), (32 * mm, 46 * mm), rng.uniform(15, 30), skin)
    for k in range(3):
        _blob(rgba, (bx1 + 1.5 * mm, by0 + bh * (0.5 + 0.11 * k + rng.uniform(-0.015, 0.015)) * mm),
              (9.5 * mm, 7.5 * mm), 180 + rng.uniform(-12, 12), skin)
    body = _rounded_rect_mask((th, tw), (bx0, by0, bx1, by1), phone.corner * mm)
    inner = _rounded_rect_mask((th, tw), (bx0 + 0.8 * mm, by0 + 0.8 * mm, bx1 - 0.8 * mm, by1 - 0.8 * mm),
                               (phone.corner - 0.8) * mm)
    _paint(rgba, body, np.array([0.30, 0.29, 0.28]) * rng.uniform(0.8, 1.2))  # the metal rim catches light
    _paint(rgba, inner, np.array([0.035, 0.035, 0.04]))  # black glass over the bezel
    sx0, sy0 = bx0 + phone.bezel * mm, by0 + phone.bezel * mm
    sx1, sy1 = sx0 + phone.screen_w * mm, sy0 + phone.screen_h * mm
    screen_mask = _rounded_rect_mask((th, tw), (sx0, sy0, sx1, sy1), (phone.corner - phone.bezel) * mm)
    front = np.zeros_like(rgba)
    _blob(front, (bx0 - 2 * mm, by0 + bh * rng.uniform(0.64, 0.72) * mm), (19 * mm, 8.5 * mm),
          rng.uniform(-40, -25), skin, nail=True)
    rgba[..., :3] = rgba[..., :3] * (1 - front[..., 3:]) + front[..., :3]
    rgba[..., 3] = np.maximum(rgba[..., 3], front[..., 3])
    weight = screen_mask * (1 - front[..., 3])
    return rgba, (sx0, sy0, sx1, sy1), weight, ((bx0 + bx1) / 2, (by0 + by1) / 2)


def _display(content_bgr: np.ndarray, gamma: float, brightness: float, black: float, tint: np.ndarray):
    """What the phone's panel emits for a frame: its own gamma, brightness, black level and white point."""
    linear = (content_bgr.astype(np.float32) / 255) ** gamma
    return np.clip(black + (1 - black) * brightness * linear * tint, 0, 1)


def _sinc(x: np.ndarray) -> np.ndarray:
    x = np.float32(np.pi) * x
    small = np.abs(x) < 1e-4
    return np.where(small, np.float32(1), np.sin(x) / np.where(small, np.float32(1), x))


def _moire(u_px: np.ndarray, v_px: np.ndarray, strength: float, fill: float) -> np.ndarray:
    """Relative modulation (h, w, 3) seen by the camera from the panel's sub-pixel structure: RGB stripes of a
    third of a pixel each along u and row gaps along v, box-filtered by the camera pixel (fill factor `fill`:
    a sinc of the local projected frequency) and sampled at the pixel centres, which aliases them."""
    du_x, du_y = np.gradient(u_px, axis=1), np.gradient(u_px, axis=0)
    dv_x, dv_y = np.gradient(v_px, axis=1), np.gradient(v_px, axis=0)
    along_u = np.float32(strength * 1.65) * _sinc(fill * du_x) * _sinc(fill * du_y)
    rows = np.float32(strength * 0.35) * _sinc(fill * dv_x) * _sinc(fill * dv_y) * np.cos(2 * np.pi * v_px)
    out = np.empty(u_px.shape + (3,), np.float32)
    for channel, centre in ((2, 1 / 6), (1, 3 / 6), (0, 5 / 6)):  # R, G, B stripes left to right (BGR order)
        out[..., channel] = along_u * np.cos(2 * np.pi * (u_px - centre)) + rows
    return out


class _PhoneScene:
    """A phone held in a hand in front of the webcam, its screen showing a fixed crop of some content (a recorded
    video, a rendered puppet) frame by frame: bezel and thumb, hand sway and tremor, the panel's gamma and white
    point, moire, glare and a faint room reflection, then the camera's blur, noise and JPEG.

    Everything random is drawn in the constructor from `rng`, in a fixed order, for `n_frames` frames (the hand's
    motion is one smooth signal over them; frame indices past the end repeat the last pose)."""

    def __init__(self, rng, cam: _Camera, room: np.ndarray, content_size, crop, face_w_src: float, face_c_src,
                 n_frames: int, fps: float, phone: _Phone | None = None):
        """content_size: (W, H) of the frames that will be shown; crop: (x0, y0, w, h) of them that the screen
        shows (filling its width); face_w_src, face_c_src: the face's width and centre in the content, pixels."""
        self.cam, self.room = cam, room
        self.phone = phone = phone if phone is not None else _Phone(res_w=int(rng.choice([720, 828, 1080, 1170])))
        self.crop = crop
        cx0, cy0, cw, ch = crop
        face_mm = face_w_src * phone.screen_w / cw  # the crop fills the screen's width
        face_px = rng.uniform(108, 128)
        depth = cam.f * face_mm / face_px
        self.mm_per_px = mm_per_px = depth / (1.6 * cam.f)
        static, (sx0, sy0, sx1, sy1), self.weight, self.origin = _phone_texture(phone, mm_per_px, rng)
        self.texture = static.copy()
        self.surface = _Surface(self.texture, mm_per_px, self.origin)  # its screen is repainted for each frame
        left, top_screen = int(round(sx0)), int(round(sy0))
        self.scr_w, self.scr_h = scr_w, scr_h = int(round(sx1 - sx0)), int(round(sy1 - sy0))
        self.content_h = content_h = min(scr_h, int(round(scr_w * ch / cw)))
        self.bar = bar = (scr_h - content_h) // 2  # letterbox, when the content is wider than 9:19.5
        self.region = region = (slice(top_screen, top_screen + scr_h), slice(left, left + scr_w))
        self.static_screen, self.screen_weight = static[region][..., :3], self.weight[region][..., None]
        self.screen_origin = (sx0, sy0)
        face_tex = (left + (face_c_src[0] - cx0) * scr_w / cw,
                    top_screen + bar + (face_c_src[1] - cy0) * content_h / ch)
        origin = self.origin
        self.anchor = np.array([(face_tex[0] - origin[0]) * mm_per_px, (face_tex[1] - origin[1]) * mm_per_px, 0.0])

        self.n_frames = n_out = max(1, int(n_frames))
        self.t = t = np.arange(n_out) / fps
        anchor_px = (cam.cx + rng.uniform(-25, 25), cam.cy + rng.uniform(-45, -15))
        self.motion = _Motion.hand(rng, t, anchor_px, depth, tilt=18.0, drift=(26.0, 18.0))
        self.look = look = _CameraLook.random(rng)
        self.gain = 1 + _smooth(rng, t, look.gain_drift, 0.03, 0.2)
        self.gamma, self.brightness = rng.uniform(0.85, 1.15), rng.uniform(0.88, 1.05)
        self.black = rng.uniform(0.025, 0.055)
        self.tint = np.array([rng.uniform(1.0, 1.06), 1.0, rng.uniform(0.9, 0.97)], np.float32)  # BGR: cooler white
        self.moire_strength, self.fill = rng.uniform(0.35, 0.6), rng.uniform(0.55, 0.8)
        self.fringe_k, self.fringe_angle = 2 * np.pi / rng.uniform(7, 16), rng.uniform(0, np.pi)
        self.fringe_speed = rng.uniform(0.8, 2.5) * rng.choice([-1, 1])
        self.fringe_amp = rng.uniform(0.012, 0.025)
        self.glare_centre = (rng.uniform(-18, 18), rng.uniform(15, 45))  # mm from the body centre: lower half
        self.glare_sigma = (rng.uniform(7, 12), rng.uniform(14, 24))
        self.glare_peak = rng.uniform(0.15, 0.28)
        self.reflection = rng.uniform(0.03, 0.07)
        self.mirrored = cv2.GaussianBlur(room[:, ::-1], (0, 0), 4.0) / 255
        self.pixel_mm = phone.screen_w / phone.res_w
        self.grid_y, self.grid_x = np.mgrid[0:cam.height, 0:cam.width].astype(np.float32)

    def frame(self, content_bgr: np.ndarray, index: int, seed: int) -> np.ndarray:
        """The camera frame (BGR uint8) of the phone at frame `index` showing `content_bgr` (uint8, content_size)."""
        i = min(index, self.n_frames - 1)
        cam, motion, mm_per_px, origin = self.cam, self.motion, self.mm_per_px, self.origin
        cx0, cy0, cw, ch = self.crop
        screen = np.empty((self.scr_h, self.scr_w, 3), np.float32)
        screen[:] = self.black * self.tint
        content = cv2.resize(content_bgr[cy0:cy0 + ch, cx0:cx0 + cw], (self.scr_w, self.content_h),
                             interpolation=cv2.INTER_CUBIC)
        screen[self.bar:self.bar + self.content_h] = _display(content, self.gamma, self.brightness, self.black,
                                                              self.tint)
        self.texture[self.region][..., :3] = (self.static_screen * (1 - self.screen_weight)
                                              + screen * self.screen_weight)
        rot, trans = motion.pose(i, cam, self.anchor)
        rendered = _render_surface(cam, self.surface, rot, trans)
        frame = self.room.copy()
        if rendered is not None:
            x0, y0, x1, y1 = rendered.box
            tex_x = rendered.u / np.float32(mm_per_px) + np.float32(origin[0])
            tex_y = rendered.v / np.float32(mm_per_px) + np.float32(origin[1])
            on_screen = cv2.remap(self.weight, tex_x, tex_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=0)[..., None]
            # The panel's pixel grid seen by the sensor (moire), and a faint fringe drifting with time/tilt.
            sx0, sy0 = self.screen_origin
            u_px = (rendered.u - np.float32((sx0 - origin[0]) * mm_per_px)) / np.float32(self.pixel_mm)
            v_px = (rendered.v - np.float32((sy0 - origin[1]) * mm_per_px)) / np.float32(self.pixel_mm)
            angle = self.fringe_angle + math.radians(motion.rz[i])
            fringe = self.fringe_amp * np.cos(self.fringe_k * (self.grid_x[y0:y1, x0:x1] * math.cos(angle)
                                                               + self.grid_y[y0:y1, x0:x1] * math.sin(angle))
                                              + self.fringe_speed * self.t[i] + 0.3 * (motion.rx[i] + motion.ry[i]))
            modulation = _moire(u_px, v_px, self.moire_strength, self.fill) + fringe[..., None]
            lit = rendered.premult * (1 + modulation * on_screen)
            # Glass over screen and bezel: a glare patch that slides with the tilt, a faint room reflection.
            gu = self.glare_centre[0] + 1.4 * motion.ry[i]
            gv = self.glare_centre[1] - 1.4 * motion.rx[i]
            glare = self.glare_peak * np.exp(-0.5 * (((rendered.u - gu) / self.glare_sigma[0]) ** 2
                                                     + ((rendered.v - gv) / self.glare_sigma[1]) ** 2))
            glass = on_screen[..., 0] + (1 - on_screen[..., 0]) * 0.4 * rendered.alpha
            lit += (glare[..., None] + self.reflection * self.mirrored[y0:y1, x0:x1]) * glass[..., None]
            frame[y0:y1, x0:x1] = frame[y0:y1, x0:x1] * (1 - rendered.alpha[..., None]) + lit * 255
        return _camera_effects(frame, self.look, float(self.gain[i]), seed, index)


def render_screen_replay(video: Path, out: Path, *, seed: int, first_frame: int, last_frame: int,
                         crop_face: bool = True, seconds: float | None = None, fps=30.0, size=(640, 480),
                         background=None) -> Path:
    """Render a phone held up to the camera replaying frames first_frame..last_frame of `video` at their own
    rate (looped when `seconds` is longer; by default they play once). crop_face: the screen shows a fixed
    portrait crop around the face (found with the app's detector), as an attacker zooms in; otherwise the
    whole frame, letterboxed. Returns the file written."""
    rng = np.random.default_rng([seed, 23])
    cam = _Camera.webcam(size)
    room = _prepare_background(background, rng, (cam.width, cam.height))
    frames, src_fps = _video_frames(Path(video), first_frame, last_frame)
    if seconds is None:
        seconds = len(frames) / src_fps
    phone = _Phone(res_w=int(rng.choice([720, 828, 1080, 1170])))
    H, W = frames[0].shape[:2]
    if crop_face:
        crop, face_w_src, face_c_src = _face_crop(frames, 1 / phone.aspect)
    else:
        crop, face_w_src, face_c_src = (0, 0, W, H), W / 8, (W / 2, H / 2)
    n_out = max(1, int(round(seconds * fps)))
    scene = _PhoneScene(rng, cam, room, (W, H), crop, face_w_src, face_c_src, n_out, fps, phone=phone)
    writer = _Writer(out, fps, size)
    try:
        for i in range(n_out):
            src = frames[int(math.floor(scene.t[i] * src_fps + 1e-6)) % len(frames)]
            writer.write(scene.frame(src, i, seed))
    finally:
        writer.close()
    return writer.path


# ------------------------------------------------------------------------------------------------- suite


def build_suite(out_dir: Path, seed: int = 0, quick: bool = False) -> list[AttackVideo]:
    """Render the standard attack suite into out_dir and write out_dir/manifest.json: each print kind from
    Lin-Manuel Miranda's enrollment photo and from a second photo of Barack Obama, and two phone replays of
    the clip's frontal Lin-Manuel shot (frames 82-210). quick: 4 s videos instead of 8 s."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = _data_dir()
    seconds = 4.0 if quick else 8.0
    fps = 30.0
    sources = [("lmm", clips / "lin-manuel-miranda.png", "Lin-Manuel Miranda", clips / "lin-manuel-miranda.png"),
               ("obama", clips / "obama2.jpg", "Barack Obama", clips / "obama.jpg")]
    wording = {"print_flat_hand": "flat print held in a trembling, tilting hand",
               "print_bent_hand": "bent print (cylinder) held in a trembling, tilting hand",
               "print_stand": "flat print on a stand, fixed tilt, tiny vibration"}
    attacks: list[AttackVideo] = []
    index = 0
    for label, photo, target, enrolled in sources:
        for kind in PRINT_KINDS:
            item_seed = seed * 1000 + index
            path = render_print_attack(photo, out_dir / f"{kind}_{label}.mp4", kind=kind, seed=item_seed,
                                       seconds=seconds, fps=fps)
            attacks.append(AttackVideo(kind, path, target, enrolled,
                                       f"{wording[kind]}: {photo.name} (seed {item_seed})",
                                       int(round(seconds * fps)), fps))
            index += 1
    for replay in range(2):
        item_seed = seed * 1000 + index
        path = render_screen_replay(clips / "short_hamilton_clip.mp4", out_dir / f"screen_replay_{replay + 1}.mp4",
                                    seed=item_seed, first_frame=82, last_frame=210, seconds=seconds, fps=fps)
        attacks.append(AttackVideo(SCREEN_KIND, path, "Lin-Manuel Miranda", clips / "lin-manuel-miranda.png",
                                   f"phone replaying short_hamilton_clip.mp4 frames 82-210, face crop, held in a "
                                   f"hand (seed {item_seed})", int(round(seconds * fps)), fps))
        index += 1
    manifest = {"seed": seed, "quick": quick, "attacks": [_manifest_entry(a, out_dir) for a in attacks]}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    return attacks


def _manifest_entry(attack: AttackVideo, out_dir: Path) -> dict:
    entry = asdict(attack)
    entry["path"] = attack.path.name if attack.path.parent == out_dir else str(attack.path)
    entry["enrollment_photo"] = str(attack.enrollment_photo)
    return entry


def load_manifest(out_dir: Path) -> list[AttackVideo]:
    """The attacks listed in out_dir/manifest.json (paths resolved against out_dir)."""
    out_dir = Path(out_dir)
    raw = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    return [AttackVideo(e["kind"], out_dir / e["path"], e["target"], Path(e["enrollment_photo"]), e["description"],
                        int(e["frames"]), float(e["fps"])) for e in raw["attacks"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facegate_dev.attacks",
                                     description="Render the presentation-attack test suite (not part of the app).")
    parser.add_argument("out_dir", help="folder for the videos and manifest.json")
    parser.add_argument("--quick", action="store_true", help="4 s videos instead of 8 s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        build_suite(Path(args.out_dir), seed=args.seed, quick=args.quick)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print((Path(args.out_dir) / "manifest.json").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
