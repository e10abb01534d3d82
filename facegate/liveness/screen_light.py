"""Light from the kiosk's own screen (issue 28 item 3): the screen shows a short random colour sequence around the
picture, and a live face must reflect it, in time and in shape.

Why it tells live from not live. The light of the screen falls on whatever is in front of the camera:
- a live face is a diffuse 3D surface: the parts that face the screen (forehead, nose, the front of the cheeks)
  take on its colour more than the parts turned away (the sides of the face, under the chin);
- a print is a flat sheet: it takes on the colour too, but uniformly (every point faces the screen alike);
- a phone or a monitor shows its own picture: its pixels emit, they do not reflect diffusely; only its glass
  shows a faint mirror image of the kiosk's screen (a glint, flat in shape);
- an injected stream (a virtual camera, a hijacked feed) never sees the screen at all: a recording cannot know a
  sequence drawn a moment ago, so an injector must render the reflection in real time, with the right delay and
  the right 3D shape. One that does all of that perfectly passes this cue: only a trusted camera stops it.

What is measured. Per frame, the mean linear colour of small patches at FaceMesh points of a few face regions and
of the background beside the face. Brightness changes (head turns under the room light, the camera's exposure)
are removed by keeping only chromaticity (each channel's log less the log luminance); the camera's white balance
drift and the room's light on a moving head change slowly, and are removed as a cubic polynomial in time over the
check (the background beside the face can serve as a reference too: `background_reference`, off by default, as on
the test clip a moving stage behind the face added more noise than it removed). What is left is fitted against
the colours the screen emitted (as the display reported painting them, `LightSequence.shown`), over a range of
delays (the display's lag and the camera's exposure and transport). The cue then asks: is there a response at the
best delay, is its chroma direction the emitted one, and is it shaped like a face lit from the front (regions
respond in proportion to how they face the screen, from the mesh's own 3D normals, over the room's light on them,
read from their brightness) or uniformly (flat)? Pixels near clipping are left out (they cannot take on colour).

Limits, plainly: a webcam's automatic white balance and exposure work against the effect (the cue removes global
drifts, not a camera that re-balances each region); at arm's length a monitor's light on a face is weak in a lit
room (a few per cent of the room's light in each channel near a window), where the cue says UNSURE rather than
ATTACK; the sequence must be long enough for a few frames per colour (30 fps: 4-7 frames).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facegate.liveness.cues import CueResult, CueVerdict
from facegate.vision.detect import Face
from facegate.vision.facemesh import CHIN, FOREHEAD, LEFT_EYE, RIGHT_EYE, Mesh

# ----------------------------------------------------------------------------------------------- the sequence


@dataclass(frozen=True)
class ScreenColour:
    """One colour of the sequence, as LINEAR RGB (0..1) of the display: what the physics needs. `display_rgb` is
    what a widget paints (sRGB, 0..255)."""

    name: str
    rgb: tuple[float, float, float]

    @property
    def display_rgb(self) -> tuple[int, int, int]:
        return tuple(int(round(255 * srgb_encode(c))) for c in self.rgb)  # type: ignore[return-value]


def srgb_encode(linear: float) -> float:
    linear = min(max(linear, 0.0), 1.0)
    return 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055


REC709 = np.array([0.2126, 0.7152, 0.0722])
# The luminance of every colour (Rec. 709 Y of the linear RGB): a fifth of the display's white, so the border
# flickers in hue, hardly in brightness (comfortable, and the camera's exposure has nothing to chase).
COLOUR_LUMINANCE = 0.2


def _equal_luminance(name: str, direction: tuple[float, float, float]) -> ScreenColour:
    rgb = np.array(direction, dtype=float)
    rgb = rgb * min(COLOUR_LUMINANCE / float(REC709 @ rgb), 1.0 / rgb.max())
    return ScreenColour(name, (float(rgb[0]), float(rgb[1]), float(rgb[2])))


# Saturated hues of equal luminance (blue cannot reach a fifth of white's luminance on its own: some green helps).
PALETTE: tuple[ScreenColour, ...] = tuple(_equal_luminance(name, direction) for name, direction in (
    ("red", (1.0, 0.04, 0.04)),
    ("orange", (1.0, 0.35, 0.0)),
    ("yellow-green", (0.55, 0.6, 0.0)),
    ("green", (0.04, 1.0, 0.04)),
    ("cyan", (0.0, 0.55, 0.8)),
    ("blue", (0.08, 0.16, 1.0)),
    ("violet", (0.5, 0.04, 1.0)),
    ("magenta", (1.0, 0.04, 0.65)),
))
IDLE = ScreenColour("idle", (0.0, 0.0, 0.0))  # the border when no sequence runs: the window's dark background
MIN_COLOURS, MAX_COLOURS = 4, 6
MIN_PERIOD_S, MAX_PERIOD_S = 0.15, 0.25
MIN_CHROMA_STEP = 0.3  # consecutive colours at least this far apart in chromaticity (rgb / sum)


def chromaticity(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=float)
    return rgb / max(float(rgb.sum()), 1e-9)


class LightSequence:
    """A random colour sequence for the screen's border, and when each colour was actually shown.

    Times are seconds on time.monotonic(), the clock of capture.Frame.time for a camera. `start(t)` plans the
    sequence from t; the widget that paints the border asks `colour_at(now)` at every paint and reports
    `shown(index, painted_at)` the first time it paints each colour; `emitted(t)` then follows the reported paint
    times (Qt's paint and the screen's refresh add latency that the plan does not know) and the plan where nothing
    was reported. Thread-safe: the window reports, the pipeline worker reads.
    """

    def __init__(self, colours: Sequence[ScreenColour], periods: Sequence[float]):
        if len(colours) != len(periods) or not colours:
            raise ValueError("a light sequence needs one period per colour")
        self.colours = tuple(colours)
        self.periods = tuple(float(p) for p in periods)
        self._start: float | None = None
        self._shown: dict[int, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def draw(cls, rng: random.Random | None = None) -> LightSequence:
        """4-6 colours of 150-250 ms each, drawn from a secure RNG (random.SystemRandom unless `rng` is given, for
        tests): each differs clearly from the one before, and together they span two chroma directions (not just
        back and forth between two hues), so the direction of a face's response can be checked."""
        rng = rng or random.SystemRandom()
        count = rng.randint(MIN_COLOURS, MAX_COLOURS)
        while True:
            colours = [rng.choice(PALETTE)]
            while len(colours) < count:
                candidate = rng.choice(PALETTE)
                if np.abs(chromaticity(candidate.rgb) - chromaticity(colours[-1].rgb)).sum() >= MIN_CHROMA_STEP:
                    colours.append(candidate)
            chroma = np.array([chromaticity(c.rgb) for c in colours])
            spread = np.linalg.svd(chroma - chroma.mean(0), compute_uv=False)
            if spread[1] >= 0.15:
                break
        periods = [rng.uniform(MIN_PERIOD_S, MAX_PERIOD_S) for _ in colours]
        return cls(colours, periods)

    @property
    def duration(self) -> float:
        return sum(self.periods)

    def start(self, at: float) -> None:
        with self._lock:
            self._start = at
            self._shown = {}

    @property
    def started_at(self) -> float | None:
        return self._start

    def planned_starts(self) -> list[float]:
        if self._start is None:
            return []
        return list(self._start + np.concatenate([[0.0], np.cumsum(self.periods)[:-1]]))

    @property
    def end(self) -> float | None:
        """When the last colour ends (as planned, or as shown where the display reported it later)."""
        if self._start is None:
            return None
        with self._lock:
            starts = self._effective_starts()
        return starts[-1] + self.periods[-1]

    def index_at(self, t: float) -> int | None:
        """The index of the colour the plan shows at t; None before the start and after the end."""
        if self._start is None or t < self._start:
            return None
        elapsed = t - self._start
        for index, period in enumerate(self.periods):
            if elapsed < period:
                return index
            elapsed -= period
        return None

    def colour_at(self, t: float) -> ScreenColour:
        """What the border should show at t (IDLE outside the sequence)."""
        index = self.index_at(t)
        return IDLE if index is None else self.colours[index]

    def shown(self, index: int, t: float) -> None:
        """The display painted colour `index` at t (the first report of each colour counts)."""
        with self._lock:
            self._shown.setdefault(index, t)

    def shown_times(self) -> dict[int, float]:
        with self._lock:
            return dict(self._shown)

    def _effective_starts(self) -> list[float]:
        starts = self.planned_starts()
        for index, at in self._shown.items():
            starts[index] = at
        return starts

    def emitted(self, times: np.ndarray) -> np.ndarray:
        """(n, 3) linear RGB the screen emitted at each time: the colour of the latest period begun (as reported,
        else as planned), IDLE before the first and after the planned length of the last."""
        times = np.asarray(times, dtype=float)
        out = np.zeros((times.size, 3))
        if self._start is None:
            return out
        with self._lock:
            starts = np.array(self._effective_starts())
        ends = starts + np.array(self.periods)
        for index, colour in enumerate(self.colours):
            nxt = starts[index + 1] if index + 1 < len(starts) else ends[index]
            inside = (times >= starts[index]) & (times < nxt)
            out[inside] = colour.rgb
        return out


# ----------------------------------------------------------------------------------------------- face regions

# MediaPipe FaceMesh points sampled per region (the subject's right side is the image's left in a frontal view).
# The front regions face the screen; the sides of the face are turned away from it by 45-80 degrees, which is what
# gives a 3D face its shape of response.
REGIONS: dict[str, tuple[int, ...]] = {
    "forehead": (10, 151, 9, 108, 337, 67, 297),
    "nose": (1, 4, 5, 195, 197, 6),
    "right_cheek": (50, 101, 118, 205, 36, 117),
    "left_cheek": (280, 330, 347, 425, 266, 346),
    "chin": (152, 175, 199, 200, 208, 428),
    "right_side": (234, 93, 132, 127, 137, 177),
    "left_side": (454, 323, 361, 356, 366, 401),
}
FRONT_REGIONS = ("forehead", "nose", "right_cheek", "left_cheek")
# The shape is judged on the regions of bare skin in most faces (a beard covers the chin, of another albedo).
SHAPE_REGIONS = ("forehead", "nose", "right_cheek", "left_cheek", "right_side", "left_side")
# Towards the screen from the face, in the mesh's frame (x right, y down, z away from the camera): the camera sits
# on the screen's top edge and the coloured border surrounds the picture, so the light comes from straight ahead
# and a little below.
SCREEN_DIRECTION = np.array([0.0, 0.25, -1.0]) / math.hypot(0.25, 1.0)
FACE_ASPECT = 1.2  # forehead-to-chin over cheek-to-cheek of a frontal face (the size in "face widths")
NEIGHBOURS = 10  # mesh points in each local plane fit of a normal
PATCH_SIZE = 0.18  # half the side of the square sampled round each point, in eye distances


def mesh_normals(points: np.ndarray, depth_scale: float = 1.0,
                 which: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Unit surface normals at mesh points (all, or `which`), from a plane fitted to each point's nearest
    neighbours in 3D, pointing towards the camera (negative z). `depth_scale` stretches the mesh's z (a face
    deeper or flatter than the model's estimate)."""
    pts = np.asarray(points, dtype=float)[:, :3] * np.array([1.0, 1.0, depth_scale])
    idx = np.arange(len(pts)) if which is None else np.asarray(which)
    distances = np.linalg.norm(pts[idx, None, :] - pts[None, :, :], axis=2)
    near = np.argpartition(distances, NEIGHBOURS, axis=1)[:, :NEIGHBOURS + 1]
    local = pts[near] - pts[near].mean(axis=1, keepdims=True)
    covariance = np.einsum("nki,nkj->nij", local, local)
    normals = np.linalg.eigh(covariance)[1][:, :, 0]  # the direction of least spread
    normals *= np.where(normals[:, 2] > 0, -1.0, 1.0)[:, None]
    return normals


_REGION_POINTS = np.array(sorted({i for points in REGIONS.values() for i in points}))
_REGION_SLOTS = {name: np.searchsorted(_REGION_POINTS, points) for name, points in REGIONS.items()}


def facing(mesh_points: np.ndarray) -> dict[str, float]:
    """How much each region faces the screen: the mean of max(0, n . l) over its points."""
    normals = mesh_normals(mesh_points, which=_REGION_POINTS)
    cosines = np.clip(normals @ SCREEN_DIRECTION, 0.0, None)
    return {name: float(cosines[slots].mean()) for name, slots in _REGION_SLOTS.items()}


_SRGB_TO_LINEAR = np.array([(v / 255 / 12.92) if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4
                            for v in range(256)], dtype=np.float32)


def linear(image_rgb: np.ndarray) -> np.ndarray:
    """8-bit sRGB -> linear light (float32)."""
    return _SRGB_TO_LINEAR[image_rgb]


# An 8-bit value this high may clip once the screen adds its light (~15 %): its colour no longer follows the light.
SATURATED = 235


def _patch_mean(crop_rgb: np.ndarray, crop_lin: np.ndarray, x: float, y: float, half: int) -> np.ndarray | None:
    """Mean linear colour of the square patch at (x, y), without its clipped pixels; None off the picture or when
    most of it is clipped."""
    h, w = crop_lin.shape[:2]
    xi, yi = int(round(x)), int(round(y))
    if xi - half < 0 or yi - half < 0 or xi + half >= w or yi + half >= h:
        return None
    window = (slice(yi - half, yi + half + 1), slice(xi - half, xi + half + 1))
    fine = crop_rgb[window].max(axis=2) < SATURATED
    if fine.mean() < 0.5:
        return None
    return crop_lin[window][fine].mean(0)


# ----------------------------------------------------------------------------------------------- the cue


@dataclass(frozen=True)
class ScreenLightSettings:
    latency_range_s: tuple[float, float] = (0.0, 0.25)  # searched: display lag + exposure + transport
    # This kiosk's own delay, measured (None: not measured). The search still covers latency_range_s; a response
    # that fits best outside this window comes late (an injector that must see the colour before it renders it)
    # or early, and the cue is UNSURE.
    expected_latency_s: tuple[float, float] | None = None
    latency_step_s: float = 0.01
    lead_s: float = 0.25  # frames kept from before the sequence (the idle border: the baseline)
    min_interocular_px: float = 18.0  # smaller faces: too few pixels per patch (UNSURE)
    # The face's centre may travel this many face widths during the sequence, and change its size by this share
    # (the regions follow the mesh; a large move changes the room's light on them and what lies behind).
    max_travel: float = 1.5
    max_scale_change: float = 0.35
    min_coverage: float = 0.8  # the share of the sequence's colours that need frames
    live_z: float = 4.0  # the front's response must be this many standard errors above zero (any verdict but no light)
    # The smallest response (log chroma per unit of emitted colour) a live face shows on this kiosk: below it, with
    # confidence, the face does not respond (ATTACK). A frontal face responds by about k x the border's share
    # (k: the screen's light on the face over the room's), so it depends on the screen's brightness and the room;
    # calibrate per site. The default suits k ~ 0.3 with a 40 % border (benchmarks/screen_light.py: 0.4 k border).
    min_live_response: float = 0.05
    min_correlation: float = 0.5  # the front's chroma must follow the emitted chroma (direction and timing)
    # The response's shape index is ~1 for a face lit from the front, ~0 for a flat surface: LIVE when it is surely
    # (2 standard errors) above shape_live, ATTACK when surely below shape_face.
    shape_live: float = 0.25
    shape_face: float = 0.6
    drift_degree: int = 3  # the slow drift removed before the fit: a polynomial in time of this degree
    # Measure against the background beside the face (the camera's drift). Off by default: on the clip a moving
    # stage behind adds more colour noise than it removes; the polynomial drift removal handles a smooth balance.
    background_reference: bool = False


@dataclass
class _Sample:
    time: float
    regions: dict[str, np.ndarray]  # name -> mean linear RGB
    background: np.ndarray | None
    facing: dict[str, float]
    centre: np.ndarray
    width: float


@dataclass(frozen=True)
class LightFit:
    """The fit of the face's colour to the emitted sequence at the best delay."""

    latency_s: float
    response: dict[str, float]  # region -> slope (log chroma per unit of emitted linear colour)
    front_response: float
    front_se: float
    correlation: float  # of the front regions' chroma with the emitted chroma
    shape: float  # 1: responds as a 3D face lit from the front would (expected); 0: uniformly
    shape_se: float
    facing: dict[str, float] = field(default_factory=dict)  # region -> mean max(0, n . l_screen)
    expected: dict[str, float] = field(default_factory=dict)  # region -> a 3D face's relative response


class ScreenLightCue:
    """PassiveCue: does the face reflect the kiosk screen's colour sequence, in time and shaped like a 3D face?

    `sequence` None: this kiosk has no screen to light the face with (headless, a camera far from the screen): the
    cue says UNAVAILABLE. The sequence must be started (LightSequence.start) by whoever shows it.
    """

    name = "screen_light"
    VOUCHES_FOR_LIVENESS = True

    def __init__(self, sequence: LightSequence | None, settings: ScreenLightSettings | None = None):
        self.sequence = sequence
        self.settings = settings or ScreenLightSettings()
        self._samples: list[_Sample] = []
        self._small = 0
        self._patches: list[tuple[int, int, int, int]] | None = None

    # ------------------------------------------------------------------ frames
    def update(self, image_rgb: np.ndarray, face: Face, mesh: Mesh, now: float) -> None:
        seq = self.sequence
        if seq is None or seq.started_at is None:
            return
        end = seq.end
        assert end is not None
        if now < seq.started_at - self.settings.lead_s or now > end + self.settings.latency_range_s[1] + 0.1:
            return
        points = mesh.points
        interocular = float(np.linalg.norm(points[RIGHT_EYE[0], :2] - points[LEFT_EYE[0], :2]))
        if interocular < self.settings.min_interocular_px:
            self._small += 1
            return
        half = max(1, int(round(PATCH_SIZE * interocular)))
        x0, y0 = np.floor(points[:, :2].min(0)).astype(int) - 3 * half
        x1, y1 = np.ceil(points[:, :2].max(0)).astype(int) + 3 * half
        h, w = image_rgb.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        crop_rgb = image_rgb[y0:y1, x0:x1]
        crop = linear(crop_rgb)
        regions: dict[str, np.ndarray] = {}
        for name, idx in REGIONS.items():
            means = [m for i in idx
                     if (m := _patch_mean(crop_rgb, crop, points[i, 0] - x0, points[i, 1] - y0, half)) is not None]
            if means:
                regions[name] = np.mean(means, axis=0)
        # The face's size from forehead to chin: a head turn hardly changes it (its width it does).
        width = float(np.linalg.norm(points[FOREHEAD, :2] - points[CHIN, :2])) / FACE_ASPECT
        centre = points[:, :2].mean(0)
        if self._patches is None:
            self._patches = _reference_patches(image_rgb.shape, points, width)
        self._samples.append(_Sample(now, regions, _background(image_rgb, self._patches, points), facing(points),
                                     centre, width))

    # ------------------------------------------------------------------ verdict
    def result(self) -> CueResult:
        seq, s = self.sequence, self.settings
        if seq is None:
            return CueResult(CueVerdict.UNAVAILABLE, reason="no screen to light the face")
        if seq.started_at is None:
            return CueResult(CueVerdict.UNSURE, reason="the light sequence has not started")
        end = seq.end
        assert end is not None
        samples = [x for x in self._samples if len(x.regions) == len(REGIONS)]
        frames = len(samples)
        if not samples or samples[-1].time < end + s.latency_range_s[1]:
            if self._small and not samples:
                return CueResult(CueVerdict.UNSURE, frames=0, reason="the face is too small")
            return CueResult(CueVerdict.UNSURE, frames=frames, reason="the light sequence is still running")
        if self._small > frames:
            return CueResult(CueVerdict.UNSURE, frames=frames, reason="the face is too small")
        widths = np.array([x.width for x in samples])
        centres = np.array([x.centre for x in samples])
        travel = float(np.linalg.norm(centres.max(0) - centres.min(0)) / np.median(widths))
        scale_change = float(widths.max() / widths.min() - 1)
        if travel > s.max_travel or scale_change > s.max_scale_change:
            return CueResult(CueVerdict.UNSURE, frames=frames, reason="the face moved too much",
                             details={"travel": round(travel, 3), "scale_change": round(scale_change, 3)})
        fit = fit_response(samples, seq, s)
        if fit is None:
            return CueResult(CueVerdict.UNSURE, frames=frames, reason="too few frames during the light sequence")
        z = fit.front_response / max(fit.front_se, 1e-9)
        details = {"latency_ms": round(1000 * fit.latency_s), "front_response": round(fit.front_response, 4),
                   "front_z": round(z, 1), "correlation": round(fit.correlation, 3), "shape": round(fit.shape, 3),
                   "shape_se": round(fit.shape_se, 3) if math.isfinite(fit.shape_se) else None,
                   "response": {k: round(v, 4) for k, v in fit.response.items()},
                   "expected": {k: round(v, 3) for k, v in fit.expected.items()}}
        score = fit.shape if z >= s.live_z else 0.0
        if fit.front_response + 2 * fit.front_se < s.min_live_response:
            return CueResult(CueVerdict.ATTACK, score, frames, "no reflection of the screen's light", details)
        if z < s.live_z or fit.correlation < s.min_correlation:
            return CueResult(CueVerdict.UNSURE, score, frames, "the response to the screen's light is weak", details)
        if fit.shape + 2 * fit.shape_se <= s.shape_face:
            return CueResult(CueVerdict.ATTACK, score, frames, "the screen's light falls on a flat surface", details)
        window = s.expected_latency_s
        if window is not None and not window[0] - 1e-6 <= fit.latency_s <= window[1] + 1e-6:
            return CueResult(CueVerdict.UNSURE, score, frames, "the response comes at the wrong delay", details)
        if fit.shape - 2 * fit.shape_se >= s.shape_live:
            return CueResult(CueVerdict.LIVE, score, frames, "", details)
        return CueResult(CueVerdict.UNSURE, score, frames, "the response's shape is unclear", details)


def _reference_patches(shape, points: np.ndarray, width: float) -> list[tuple[int, int, int, int]]:
    """Where the background is measured: beside the face (both sides, at eye height, 1.0-1.4 face widths from its
    centre) where the face is when the sequence starts, then at the same place in the picture (a wall does not
    move; a patch following the face would sweep across the room as the head moves)."""
    h, w = shape[:2]
    cx = float(points[:, 0].mean())
    y = float(points[[RIGHT_EYE[0], LEFT_EYE[0]], 1].mean())
    half_h = max(2.0, 0.25 * width)
    patches = []
    for side in (-1, 1):
        a, b = sorted((cx + side * 1.0 * width, cx + side * 1.4 * width))
        x0, x1 = int(max(a, 0)), int(min(b, w))
        y0, y1 = int(max(y - half_h, 0)), int(min(y + half_h, h))
        if x1 - x0 >= 3 and y1 - y0 >= 3:
            patches.append((x0, y0, x1, y1))
    return patches


def _background(image_rgb: np.ndarray, patches: list[tuple[int, int, int, int]], points: np.ndarray) \
        -> np.ndarray | None:
    """Mean linear colour of the reference patches the face does not cover now: far from the screen, they show
    the camera's own colour drift."""
    fx0, fy0 = points[:, :2].min(0)
    fx1, fy1 = points[:, :2].max(0)
    pixels = [linear(image_rgb[y0:y1, x0:x1]).reshape(-1, 3) for x0, y0, x1, y1 in patches
              if x1 < fx0 or x0 > fx1 or y1 < fy0 or y0 > fy1]
    return np.concatenate(pixels).mean(0) if pixels else None


def _log_chroma(rgb: np.ndarray) -> np.ndarray:
    """Each channel's log relative to the log luminance: a change of brightness alone (a head turning under the
    room's light, the camera's exposure) leaves it; a change of colour moves it. Unlike a mean over the channels,
    it keeps a dim channel's noise (blue, under warm light) out of the others."""
    rgb = np.maximum(np.asarray(rgb, dtype=float), 1e-4)
    return np.log(rgb) - np.log(rgb @ REC709)[..., None]


def _detrend(values: np.ndarray, times: np.ndarray, degree: int) -> np.ndarray:
    """Remove a polynomial drift in time per column: the room's light on a moving head and the camera's white
    balance and exposure change slowly and smoothly over a second, the screen's colours step every 150-250 ms in
    a random order (almost orthogonal to any low polynomial)."""
    t = (times - times.mean()) / max(float(np.ptp(times)), 1e-6)
    basis = np.stack([t ** d for d in range(degree + 1)], axis=1)
    flat = values.reshape(len(times), -1)
    coef, *_ = np.linalg.lstsq(basis, flat, rcond=None)
    return (flat - basis @ coef).reshape(values.shape)


def _exposed(seq: LightSequence, times: np.ndarray, latency: float, exposure: float) -> np.ndarray:
    """The emitted colour as a frame stamped at t saw it: averaged over its exposure, `latency` earlier."""
    offsets = np.linspace(0.0, exposure, 5)
    return np.mean([seq.emitted(times - latency - o) for o in offsets], axis=0)


def fit_response(samples: list[_Sample], seq: LightSequence, s: ScreenLightSettings) -> LightFit | None:
    """Fit every region's chroma to the emitted chroma at each delay in the range; keep the delay where the front
    regions follow best. A channel counts in proportion to its level in the region (a dim channel's log is
    noisy: fewer photons, coarser 8-bit steps)."""
    times = np.array([x.time for x in samples])
    if len(times) < 8 or seq.started_at is None:
        return None
    exposure = float(np.median(np.diff(times)))
    names = list(REGIONS)
    have = [i for i, x in enumerate(samples) if x.background is not None]
    if have and s.background_reference:  # a frame whose reference the face covered takes the nearest frame's
        nearest = [min(have, key=lambda i: abs(i - k)) for k in range(len(samples))]
        reference = np.array([_log_chroma(samples[i].background) for i in nearest])  # type: ignore[arg-type]
        reference -= reference.mean(0)
    else:
        reference = np.zeros((len(samples), 3))
    colours = np.stack([np.array([x.regions[n] for x in samples]) for n in names], axis=1)  # (T, regions, 3)
    level = colours.mean(axis=0)
    weight = np.sqrt(level / level.mean(axis=1, keepdims=True))  # (regions, 3): sqrt of the channel's weight
    y = _detrend(_log_chroma(colours) - reference[:, None, :], times, s.drift_degree) * weight
    front = [names.index(n) for n in FRONT_REGIONS]
    front_weight = weight[front].mean(axis=0)
    front_y = y[:, front].mean(axis=1)
    best: tuple[float, float, np.ndarray] | None = None
    for latency in np.arange(s.latency_range_s[0], s.latency_range_s[1] + 1e-9, s.latency_step_s):
        covered = {seq.index_at(t - latency) for t in times} - {None}
        if len(covered) < s.min_coverage * len(seq.colours):
            continue
        x = _detrend(_log_free(_exposed(seq, times, float(latency), exposure)), times, s.drift_degree)
        xf = x * front_weight
        energy = float((xf ** 2).sum())
        if energy <= 1e-12:
            continue
        corr = float((front_y * xf).sum() / math.sqrt(energy * max(float((front_y ** 2).sum()), 1e-18)))
        if best is None or corr > best[0]:
            best = (corr, float(latency), x)
    if best is None:
        return None
    corr, latency, x = best
    xr = x[:, None, :] * weight[None]  # (T, regions, 3)
    slopes = np.einsum("trc,trc->r", y, xr) / np.einsum("trc,trc->r", xr, xr)
    dof = max((x.shape[0] - s.drift_degree - 1) * 2 - 1, 1)  # 2 chroma channels per frame, less the fit
    xf = x * front_weight
    energy = float((xf ** 2).sum())
    front_slope = float((front_y * xf).sum() / energy)
    residual = front_y - front_slope * xf
    se = math.sqrt(float((residual ** 2).sum()) / dof / energy * _autocorrelation_factor(residual))
    facing_mean = {n: float(np.mean([x_.facing[n] for x_ in samples])) for n in names}
    expected = expected_response(np.array([facing_mean[n] for n in names]), level @ REC709)
    shape, shape_se = _shape_index(y, xr, dof, expected, [names.index(n) for n in SHAPE_REGIONS])
    return LightFit(latency, dict(zip(names, slopes.tolist(), strict=True)), front_slope, se, corr, shape, shape_se,
                    facing_mean, dict(zip(names, expected.tolist(), strict=True)))


def expected_response(facing_by_region: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """How strongly each region of a live face should take on the screen's colour, relative to its own colour:
    the screen's light on it (how it faces the screen) over the room's light on it. The room's light is read from
    the region's brightness, skin being of about one albedo everywhere (a region is dark because the room lights
    it less), relative to the best-lit region and never below a quarter of it."""
    room = np.clip(luma / max(float(luma.max()), 1e-9), 0.25, 1.0)
    return facing_by_region / room


def _shape_index(y: np.ndarray, xr: np.ndarray, dof: int, expected: np.ndarray, which: list[int]) \
        -> tuple[float, float]:
    """The slope of the regions' responses against a 3D face's expected ones, both relative to their mean: 1 when
    the face responds as a 3D face lit from the front, 0 when it responds uniformly (flat); and its standard
    error. Computed on the contrast between regions (weights summing to zero), so that whatever changes every
    region's colour alike (the room's light, the camera's balance) cancels."""
    e = expected[which]
    contrast_weights = e / e.mean() - 1
    denominator = float((contrast_weights ** 2).sum())
    yw, xw = y[:, which], xr[:, which]
    mean_r = float((yw * xw).sum() / (xw * xw).sum())
    if denominator < 1e-9 or mean_r <= 1e-9:
        return 0.0, float("inf")
    contrast = np.einsum("trc,r->tc", yw, contrast_weights)
    # A face that responds as expected (r_k = mean_r (1 + w_k)) gives the contrast mean_r * sum_k(w_k^2 x_kc).
    predicted = np.einsum("trc,r->tc", xw, contrast_weights ** 2)
    energy = float((predicted ** 2).sum())
    slope = float((contrast * predicted).sum()) / energy
    residual = contrast - slope * predicted
    se = math.sqrt(float((residual ** 2).sum()) / dof / energy * _autocorrelation_factor(residual))
    return slope / mean_r, se / mean_r


def _autocorrelation_factor(residual: np.ndarray) -> float:
    """How much a residual that drifts from frame to frame (a face's colour under a changing light, a mesh that
    wobbles) inflates a slope's variance over white noise: (1 + rho) / (1 - rho) with rho its lag-1
    autocorrelation (0 or more)."""
    a, b = residual[:-1].ravel(), residual[1:].ravel()
    rho = float((a * b).sum() / max(float((residual ** 2).sum()), 1e-18))
    rho = min(max(rho, 0.0), 0.9)
    return (1 + rho) / (1 - rho)


def _log_free(emitted: np.ndarray) -> np.ndarray:
    """The emitted colour as a small added light moves _log_chroma: each channel less the luminance
    (log(1 + a) ~ a for the few per cent a screen adds)."""
    return emitted - (emitted @ REC709)[:, None]
