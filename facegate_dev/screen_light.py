"""The kiosk screen's light on what is presented to the camera: a physical model for tests and benchmarks of
facegate/liveness/screen_light.py; not used by the app.

Units: linear light, relative to a white diffuse (albedo 1) surface facing the room's light, as the camera's
frame holds it before its own gain. `screen_to_room` (k) is the irradiance a full-white screen gives a frontal
face, over the room's irradiance on it. Estimates (a 24" 16:9 monitor, 0.16 m2, at 250 cd/m2: irradiance
pi L sin^2(theta) with theta the half angle it subtends):
    at 40 cm ~190 lux, at 60 cm ~100 lux, at 1 m ~40 lux; a room's vertical illuminance on a face ~150 lux (dim
    lobby) to 300 lux (office) to 1000 lux (near a window). So k ~ 0.6 (40 cm, office), 0.3 (60 cm, office),
    0.1 (60 cm near a window, or 1 m in an office), 0.03 (a phone's screen at 60 cm or a bright lobby).
Of that, only the coloured border lights the face (`border_share`, 0.4: a band an eighth of the screen wide all
round), in colours of a fifth of white's luminance (facegate.liveness.screen_light.PALETTE).

The presentations, each rendered from real frames of the Hamilton clip (Lin-Manuel Miranda, frames 83-210) and
the real FaceMesh of each frame:
- LIVE: albedo x (room + screen colour x max(0, n . l_screen) x (d0/d)^2), i.e. each pixel of the clip (lit by its
  own light, the room) gains k x border x E_c(t) x cos / room_shading, with normals from the frame's mesh (its
  depth stretched by a random 0.8-1.25: the real face is not exactly the model's), the room's shading from an
  ambient + ceiling light, and a faint skin glint; the wall behind, ~2 m away, gets 8 % of the face's share.
- PRINT: one frame printed on paper (reflectance 0.03-0.93), held in a hand (slow shifts of a few pixels and tilts
  of up to 15 degrees): lit by the room and by the screen uniformly (one normal), plus a faint paper sheen; the
  print covers 0.7-2 face widths around the face, the room beyond.
- PHONE: the clip replayed on a phone (its own emission: its white at 250-500 cd/m2 is 2.5-5x the room-lit
  white paper's ~95 cd/m2 at 300 lux; bluish, its own gamma)
  plus a mirror reflection of the screen on the glass: 4 % (glass at normal incidence) of the screen's radiance,
  which relative to the room-lit white is 0.04 x k / sin^2(theta) ~ 0.33 k, over the part of the glass whose
  mirror view sees the coloured border (a random ramp of 0-100 %).
- INJECTED: the recording as a virtual camera delivers it: no room, no screen, no response.
- INJECTOR_TINT: the injected recording plus a uniform tint of the face in the screen's colour, rendered in real
  time with the injector's latency and a guessed strength (the wrong shape).
- INJECTOR_SHAPED: the injected recording relit exactly as LIVE is (the right 3D shape, from its own mesh), with
  the injector's latency. With the kiosk's latency it is LIVE's twin: nothing in this cue stops it.

The camera: a grey-world automatic white balance and an automatic exposure that follow the picture with a time
constant of 0.3-1 s (they fight the effect: the cue measures against the background), a random drift of its
gains, signal-dependent noise, 8 bits and a JPEG round trip. Latencies: the display paints each colour up to one
refresh (17 ms) after it was planned and reports that time; the panel shows it 10-40 ms later; the camera stamps
a frame 20-60 ms after its exposure ends.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from facegate.liveness.screen_light import SCREEN_DIRECTION, LightSequence, linear, mesh_normals

FIRST_FRAME, LAST_FRAME = 83, 210  # Lin-Manuel Miranda facing the camera (frames 211-212 are the next shot)
ROOM_FRAME = 60  # an audience shot: blurred, the room behind a print or a phone
LEAD_S, TAIL_S = 0.3, 0.45  # frames rendered before the sequence and after its end
ROOM_LIGHT = np.array([0.0, -0.8, -0.6])  # towards a ceiling light in front of the person (x right, y down, z away)
ROOM_AMBIENT = 0.6  # share of the room's light that is diffuse (walls, ceiling)
WALL_SHARE = 0.08  # the screen's light on the wall ~2 m behind, relative to the face at ~0.6 m
ROOM_FLOOR = 0.25  # the darkest parts of a face still get a quarter of the light of its best-lit parts
GLASS_REFLECTANCE = 0.04
SCREEN_SIN2 = 0.12  # sin^2 of the half angle a 24" screen subtends at 60 cm


class Presentation(str, enum.Enum):
    LIVE = "live"
    PRINT = "print"
    PHONE = "phone_replay"
    INJECTED = "injected"
    INJECTOR_TINT = "injector_uniform_tint"
    INJECTOR_SHAPED = "injector_3d"


@dataclass(frozen=True)
class Scene:
    screen_to_room: float = 0.3  # k: a full-white screen's irradiance on a frontal face over the room's
    border_share: float = 0.4  # the share of the screen that shows the colour
    face_scale: float = 1.0  # the frame is resized by this (the clip's face is ~90-130 px wide)
    fps: float = 30.0
    injector_delay_s: float = 0.0  # an injector's latency beyond the kiosk's own (0: it reads the display itself)


@dataclass(frozen=True)
class BaseClip:
    """The bona fide frames and their FaceMesh points (frames FIRST_FRAME..LAST_FRAME of the clip)."""

    frames: tuple[np.ndarray, ...]  # RGB uint8
    points: tuple[np.ndarray, ...]  # (468, 3) per frame
    room: np.ndarray  # linear RGB, the blurred room behind presented objects


@dataclass(frozen=True)
class RenderedFrame:
    time: float  # the camera's stamp (monotonic seconds, like capture.Frame.time)
    image: np.ndarray  # RGB uint8


def load_base(clip: Path, engine) -> BaseClip:
    """Read the frontal shot of the clip and mesh each frame with the real models (a few seconds)."""
    return _load_base(str(clip), id(engine), engine)


@lru_cache(maxsize=2)
def _load_base(clip: str, _engine_id: int, engine) -> BaseClip:
    capture = cv2.VideoCapture(clip)
    frames, points, room = [], [], None
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok or index > LAST_FRAME:
            break
        if index == ROOM_FRAME:
            room = linear(cv2.GaussianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (0, 0), 6))
        if index >= FIRST_FRAME:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces = engine.detect(rgb)
            if faces:
                face = max(faces, key=lambda f: f.box[2])
                frames.append(rgb)
                points.append(engine.facemesh.infer(rgb, face).points)
        index += 1
    capture.release()
    if room is None or len(frames) < 60:
        raise ValueError(f"{clip}: not the Hamilton clip (too few frontal frames)")
    return BaseClip(tuple(frames), tuple(points), room)


# ----------------------------------------------------------------------------------------------- light


def _normal_map(points: np.ndarray, shape, depth_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel unit normals, a soft mask of the face and its depth (pixels, relative to the nose) over an image
    of `shape` whose origin is the points' origin: the points' normals splatted and smoothed (a smooth head, no
    finer than the mesh)."""
    h, w = shape
    normals = mesh_normals(points, depth_scale=depth_scale)
    width = float(np.ptp(points[:, 0]))
    acc = np.zeros((h, w, 4), np.float32)
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    depth = (points[:, 2] - points[1, 2]) * depth_scale
    np.add.at(acc, (ys, xs), np.concatenate([normals, depth[:, None]], axis=1).astype(np.float32))
    count = np.zeros((h, w), np.float32)
    np.add.at(count, (ys, xs), 1.0)
    sigma = max(1.0, 0.06 * width)
    blurred = cv2.GaussianBlur(acc, (0, 0), sigma)
    weight = cv2.GaussianBlur(count, (0, 0), sigma)[..., None]
    field = blurred / np.maximum(weight, 1e-6)
    n = field[..., :3]
    n /= np.maximum(np.sqrt((n * n).sum(axis=2, keepdims=True)), 1e-6)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(points[:, :2].astype(np.int32)), 255)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(1.0, 0.03 * width))
    return n, soft, field[..., 3]


def _room_shading(normals: np.ndarray) -> np.ndarray:
    """The room's irradiance on a surface of these normals, relative to a frontal one."""
    room = (ROOM_LIGHT / np.linalg.norm(ROOM_LIGHT)).astype(np.float32)
    frontal = ROOM_AMBIENT + (1 - ROOM_AMBIENT) * max(0.0, float(-room[2]))
    return (ROOM_AMBIENT + (1 - ROOM_AMBIENT) * np.clip(normals @ room, 0, None)) / frontal


def _face_window(points: np.ndarray, shape) -> tuple[int, int, int, int]:
    x, y, w, h = _box_of(points)
    pad = 0.3 * max(w, h)
    return (max(int(x - pad), 0), max(int(y - pad), 0), min(int(x + w + pad) + 1, shape[1]),
            min(int(y + h + pad) + 1, shape[0]))


def face_gain(image_lin: np.ndarray, points: np.ndarray, share: float, depth_scale: float, screen_dir: np.ndarray,
              distance_px: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The screen's light on a live face, per pixel of a window round the face, relative to the room's light
    there (the gain of each channel per unit of emitted colour), and the skin's faint glint (absolute).

    albedo x (room + screen) = picture x (1 + screen / room): the room's irradiance on each pixel is read from
    the picture itself, as its luminance smoothed over the mesh's scale (skin of one albedo: a pixel is dark
    because little light falls on it), relative to the face's best-lit parts, which face the room's light."""
    x0, y0, x1, y1 = window = _face_window(points, image_lin.shape[:2])
    local = points - np.array([x0, y0, 0.0])
    normals, mask, depth = _normal_map(local, (y1 - y0, x1 - x0), depth_scale)
    cosine = np.clip(normals @ screen_dir.astype(np.float32), 0, None)
    falloff = (distance_px / (distance_px + np.maximum(depth, -0.5 * distance_px))) ** 2
    luma = image_lin[y0:y1, x0:x1] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    width = float(np.ptp(points[:, 0]))
    smooth = cv2.GaussianBlur(luma, (0, 0), max(1.0, 0.08 * width))
    lit = float(np.percentile(smooth[mask > 0.5], 90)) if (mask > 0.5).any() else float(smooth.max())
    room = np.clip(smooth / max(lit, 1e-6), ROOM_FLOOR, 1.5)
    gain = share * (mask * cosine * falloff / room + (1 - mask) * WALL_SHARE)
    glint = 0.02 * share * mask * cosine ** 16
    return gain, glint, window


def relight_face(image_lin: np.ndarray, points: np.ndarray, colour: np.ndarray, scene: Scene, depth_scale: float,
                 screen_dir: np.ndarray, distance_px: float) -> np.ndarray:
    """A live face (or a 3D-shaped injection) under the room plus the screen's `colour` (linear RGB):
    albedo x (room + screen), i.e. the pixel as the room lit it times (1 + gain x colour)."""
    share = scene.screen_to_room * scene.border_share
    colour = colour.astype(np.float32)
    out = image_lin * (1 + share * WALL_SHARE * colour)
    gain, glint, (x0, y0, x1, y1) = face_gain(image_lin, points, share, depth_scale, screen_dir,
                                              distance_px)
    out[y0:y1, x0:x1] = image_lin[y0:y1, x0:x1] * (1 + gain[..., None] * colour) + glint[..., None] * colour
    return out


# ----------------------------------------------------------------------------------------------- the camera


ENCODE_LEVELS = 1 << 16  # linear steps fine enough for the darkest skin (8192 flattened its colour changes)
_ENCODE = (255 * np.array([12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
                           for v in np.linspace(0, 1, ENCODE_LEVELS)])).astype(np.float32)


class _Camera:
    """Automatic white balance (grey world) and exposure that follow the picture slowly, gain drift, noise, 8 bits,
    JPEG."""

    def __init__(self, rng: np.random.Generator, fps: float, fixed: bool = False):
        self.rng = rng
        self.alpha = 1 - math.exp(-1 / (fps * rng.uniform(0.3, 1.0)))
        self.fixed = fixed  # a recording's colours were set when it was recorded
        self.wb: np.ndarray | None = None
        self.exposure: float | None = None
        self.frame = 0
        # A slow wander of the colour gains (up to ~1 % per second), on top of the grey-world balance.
        self._drift = [(rng.uniform(0.1, 0.5), rng.uniform(0, 2 * math.pi), rng.normal(0, 0.004)) for _ in range(3)]
        self.fps = fps

    def drift(self, frame: int) -> np.ndarray:
        t = frame / self.fps
        return np.array([1 + a * math.sin(2 * math.pi * f * t + p) for f, p, a in self._drift]) / np.array(
            [1 + a * math.sin(2 * math.pi * f * (t - 1 / self.fps) + p) for f, p, a in self._drift])

    def shoot(self, frame_lin: np.ndarray, scale: float) -> np.ndarray:
        if scale != 1.0:
            frame_lin = cv2.resize(frame_lin, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        means = frame_lin.reshape(-1, 3).mean(0)
        wb_target = means.mean() / np.maximum(means, 1e-6)
        # Exposure for a mid-grey picture, never clipping more than its brightest 1 % (a webcam's metering).
        highlights = float(np.percentile(frame_lin[::4, ::4].max(axis=2), 99))
        exposure_target = min(0.2 / max(float(means.mean()), 1e-6), 0.95 / max(highlights, 1e-6))
        if self.wb is None or self.exposure is None:
            self.wb, self.exposure = wb_target, exposure_target
        elif not self.fixed:
            self.wb = self.wb + self.alpha * (wb_target - self.wb)
            self.wb = self.wb * self.drift(self.frame)
            self.exposure += self.alpha * (exposure_target - self.exposure)
        self.frame += 1
        gains = (self.wb * self.exposure).astype(np.float32)
        levels = np.clip(frame_lin * gains * (ENCODE_LEVELS - 1), 0, ENCODE_LEVELS - 1).astype(np.int32)
        encoded = _ENCODE[levels]
        noise = self.rng.standard_normal(encoded.shape, dtype=np.float32)
        encoded = encoded + noise * (0.6 + 0.012 * encoded)
        image = np.clip(encoded + 0.5, 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1].copy()


# ----------------------------------------------------------------------------------------------- presentations


@dataclass(frozen=True)
class _Timing:
    frame_ends: np.ndarray  # when each frame's exposure ends
    stamp_delay: float  # the camera's stamp after the exposure
    panel_lag: float  # the panel lights up this long after the paint the display reported
    exposure: float


def _show(sequence: LightSequence, start: float, rng: np.random.Generator) -> None:
    """The window's side: start the sequence and report each colour's paint (the next refresh after its plan)."""
    sequence.start(start)
    for index, planned in enumerate(sequence.planned_starts()):
        sequence.shown(index, planned + float(rng.uniform(0, 1 / 60)))


def _emitted(sequence: LightSequence, timing: _Timing, i: int, delay: float = 0.0) -> np.ndarray:
    """The colour frame i's exposure saw (the panel's light, `delay` later for an injector)."""
    ends = timing.frame_ends[i] - timing.panel_lag - delay
    samples = ends - np.linspace(0, timing.exposure, 6)
    return sequence.emitted(samples).mean(0)


def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points[:, :2].min(0)
    x1, y1 = points[:, :2].max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _hand(rng: np.random.Generator, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hand's slow drift (px), tilt (degrees about x and y) and tremor over the frames."""
    phase = rng.uniform(0, 2 * math.pi, 6)
    f = rng.uniform(0.2, 0.6, 6)
    shift = np.stack([3 * np.sin(2 * math.pi * f[0] * times + phase[0]),
                      2 * np.sin(2 * math.pi * f[1] * times + phase[1])], axis=1)
    shift += rng.normal(0, 0.4, shift.shape)
    tilt0 = rng.uniform(-15, 15, 2)
    tilt = tilt0 + 3 * np.stack([np.sin(2 * math.pi * f[2] * times + phase[2]),
                                 np.sin(2 * math.pi * f[3] * times + phase[3])], axis=1)
    return shift, tilt, phase


def _tilted_normal(tilt_deg: np.ndarray) -> np.ndarray:
    ax, ay = np.radians(tilt_deg)
    n = np.array([math.sin(ay), -math.sin(ax) * math.cos(ay), -math.cos(ax) * math.cos(ay)])
    return n / np.linalg.norm(n)


def render(kind: Presentation, base: BaseClip, sequence: LightSequence, scene: Scene, seed: int,
           t0: float = 1000.0) -> list[RenderedFrame]:
    """The frames the kiosk's camera delivers while `sequence` is shown (started here at t0 + LEAD_S, its paints
    reported as the window would), for one presentation."""
    rng = np.random.default_rng(seed)
    _show(sequence, t0 + LEAD_S, rng)
    count = int(math.ceil((LEAD_S + sequence.duration + TAIL_S) * scene.fps))
    frame_ends = t0 + np.arange(count) / scene.fps + rng.normal(0, 0.002, count)
    timing = _Timing(frame_ends, float(rng.uniform(0.02, 0.06)), float(rng.uniform(0.01, 0.04)),
                     0.8 / scene.fps)
    first = int(rng.integers(0, len(base.frames) - count))
    depth_scale = float(rng.uniform(0.8, 1.25))
    screen_dir = SCREEN_DIRECTION + np.array([0, rng.uniform(-0.1, 0.15), 0])
    screen_dir /= np.linalg.norm(screen_dir)
    camera = _Camera(rng, scene.fps, fixed=kind in (Presentation.INJECTED, Presentation.INJECTOR_TINT,
                                                     Presentation.INJECTOR_SHAPED))
    times = frame_ends - t0
    shift, tilt, _ = _hand(rng, times)
    # An object held up: how far it reaches around the face, and the ramp of the glass's mirror view of the border.
    margin = float(rng.uniform(0.7, 2.0)) if kind is Presentation.PRINT else float(rng.uniform(0.25, 0.5))
    phone_light = float(rng.uniform(2.5, 5.0))
    phone_tint = np.array([0.95, 1.0, 1.08]) * rng.uniform(0.97, 1.03, 3)
    ramp = rng.uniform(0, 1, 2)
    tint_strength = scene.screen_to_room * scene.border_share * float(rng.uniform(0.5, 1.0))
    injector_delay = scene.injector_delay_s
    frames = []
    for i in range(count):
        j = first + i
        colour = _emitted(sequence, timing, i).astype(np.float32)
        if kind is Presentation.LIVE:
            image = linear(base.frames[j])
            width = float(np.ptp(base.points[j][:, 0]))
            out = relight_face(image, base.points[j], colour, scene, depth_scale, screen_dir,
                               distance_px=width * 600 / 150)
        elif kind in (Presentation.INJECTED, Presentation.INJECTOR_TINT, Presentation.INJECTOR_SHAPED):
            out = linear(base.frames[j])
            seen = _emitted(sequence, timing, i, injector_delay).astype(np.float32)
            if kind is Presentation.INJECTOR_TINT:
                x0, y0, x1, y1 = _face_window(base.points[j], out.shape[:2])
                _, mask, _ = _normal_map(base.points[j] - np.array([x0, y0, 0.0]), (y1 - y0, x1 - x0), 1.0)
                out = out.copy()
                out[y0:y1, x0:x1] *= 1 + tint_strength * mask[..., None] * seen.astype(np.float32)
            elif kind is Presentation.INJECTOR_SHAPED:
                width = float(np.ptp(base.points[j][:, 0]))
                out = relight_face(out, base.points[j], seen, scene, 1.0, SCREEN_DIRECTION,
                                   distance_px=width * 600 / 150)
        else:
            held = base.frames[first] if kind is Presentation.PRINT else base.frames[j]
            points = base.points[first] if kind is Presentation.PRINT else base.points[j]
            out = _held_object(kind, linear(held), points, base.room, colour, scene, margin, shift[i], tilt[i],
                               screen_dir, phone_light, phone_tint, ramp)
        frames.append(RenderedFrame(float(frame_ends[i] + timing.stamp_delay), camera.shoot(out, scene.face_scale)))
    return frames


def _held_object(kind: Presentation, picture: np.ndarray, points: np.ndarray, room: np.ndarray, colour: np.ndarray,
                 scene: Scene, margin: float, shift: np.ndarray, tilt: np.ndarray, screen_dir: np.ndarray,
                 phone_light: float, phone_tint: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """A print or a phone held up in front of the room: the picture inside its outline, the room outside."""
    share, screen_to_room = scene.screen_to_room * scene.border_share, scene.screen_to_room
    h, w = picture.shape[:2]
    x, y, bw, bh = _box_of(points)
    if kind is Presentation.PRINT:
        outline = (x - margin * bw, y - 0.6 * margin * bh, x + bw + margin * bw, y + bh + 1.2 * margin * bh)
    else:  # a phone upright: the face fills its width
        outline = (x - margin * bw, y - 0.9 * bh, x + bw + margin * bw, y + bh + 1.1 * bh)
    inside = np.zeros((h, w), np.float32)
    cv2.rectangle(inside, (int(outline[0]), int(outline[1])), (int(outline[2]), int(outline[3])), 1.0, -1)
    normal = _tilted_normal(tilt)
    if kind is Presentation.PRINT:
        reflectance = 0.03 + 0.9 * np.clip(picture / max(float(np.percentile(picture, 99.5)), 1e-6), 0, 1)
        room_light = float(_room_shading(normal[None])[0])
        gradient = 1 + 0.05 * (np.linspace(-1, 1, w)[None, :, None] * math.sin(math.radians(tilt[1])))
        cosine = max(0.0, float(normal @ screen_dir))
        sheen = 0.01 * share * colour
        surface = reflectance * gradient * (room_light + share * cosine * colour) + sheen
    else:
        bezel = np.zeros((h, w), np.float32)
        pad = 0.04 * (outline[2] - outline[0])
        cv2.rectangle(bezel, (int(outline[0] + pad), int(outline[1] + pad)),
                      (int(outline[2] - pad), int(outline[3] - pad)), 1.0, -1)
        emission = phone_light * np.power(picture, 1.1) * phone_tint + 0.004
        across = np.clip((np.arange(w)[None, :] - outline[0]) / max(outline[2] - outline[0], 1), 0, 1)
        mirror = (ramp[0] + (ramp[1] - ramp[0]) * across)[..., None]
        glass = GLASS_REFLECTANCE * screen_to_room / SCREEN_SIN2 * mirror * colour
        surface = bezel[..., None] * emission + glass + 0.01
    matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]], np.float32)
    surface = cv2.warpAffine(surface.astype(np.float32), matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    inside = cv2.warpAffine(inside, matrix, (w, h))[..., None]
    lit_room = room * (1 + share * WALL_SHARE * colour)
    return inside * surface + (1 - inside) * lit_room
