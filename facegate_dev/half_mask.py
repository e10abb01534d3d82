"""A half mask: the victim's face printed, cut off just under the nose, worn over a real person's face (issue 28
item 6).

The outside test's attack: the wearer's own mouth and jaw answer "open your mouth" (the jaw cue sees a real jaw),
and the face recogniser, seeing the victim's eyes, brows and nose, takes it for the victim (distance 0.43-0.45
under a threshold of 0.48). This is FaceGate's own version, for measuring the defences of issue 28 (the lower-face
identity check above all): benchmarks/liveness.py's `half_mask`.

The wearer is real footage: Lin-Manuel Miranda in the clip's frontal shot (frames 83-210 of
short_hamilton_clip.mp4), moving and singing. Per frame of it:
- FaceMesh on his face gives 468 points with depth;
- the victim's photo, meshed the same way, is a 3D surface (the print bent over the wearer's face); the 3D
  similarity (rotation, scale, shift: Umeyama) that best puts the victim's upper-face points on his is found, the
  victim's points are moved by it, and the photo's triangles are warped there (painter's order);
- only the print's upper part is kept: the face oval, cut horizontally just under the victim's nose (raised if that
  would cover the wearer's upper lip), with printed tones (ink and paper range, a little desaturated, paper grain),
  the light of the wearer's face, a thin light paper edge along the cut and a soft shadow under it on his skin;
- the frame then goes through a camera's noise and JPEG.

Answering requests: a live wearer turns, nods and opens his mouth when asked; the footage holds only what he did
on stage. Between requests a stretch of it where he holds still with the mouth closed is played back and forth.
- motion="warp" (the default, the attack as the outside test ran it): on a request his own head, on the idle frame
  being played, is turned, nodded or has its jaw dropped by the puppet's warp (facegate_dev.puppet: his FaceMesh
  points moved in 3D, the jaw's rotated about its hinge, the mouth's inside painted), with a human reaction time
  (puppet.Answerer); the mask is worn over the moved face. The lips, chin and jaw the camera sees are his, and the
  chin really drops.
- motion="footage": only his recorded movements. The footage is read once (FaceMesh: yaw, pitch, mouth opening per
  frame); for each request a stretch that starts near the idle pose and shows the requested movement before any
  other (forward or backward in time) is played after a reaction time, then back. A request no stretch answers is
  left unanswered (it times out): `HalfMask.answerable` says which. In this clip there is no nod, and his mouth never
  opens wide from a still, closed, frontal pose (he sings: 0.19-0.26 of the nose-to-lip height, while turning).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from facegate.vision.align import fit_similarity
from facegate_dev.attacks import _Camera, _camera_effects, _CameraLook, _data_dir, _engine, _read_bgr, _video_frames
from facegate_dev.puppet import (
    FACE_OVAL,
    LOWER_LIP_INNER,
    UPPER_LIP_INNER,
    Answerer,
    _Head,
    _posed,
    delaunay,
    head_from_mesh,
    mouth_interior,
    triangle_maps,
)

MOTIONS = ("warp", "footage")
FOOTAGE = (83, 210)  # the clip's frontal shot of Lin-Manuel Miranda (frames 211-212 are already the next shot)
SUBNASALE, UPPER_LIP_TOP = 2, 0  # FaceMesh: under the nose; the top of the upper lip's middle
MASK_SCALE = 1.2  # the mask's outline: the face oval grown about its centre (to the hairline, past the cheeks)
# Upper-face points the mask is aligned on: eyes' corners, brows, nose bridge and tip, cheekbones, temples.
ALIGN_POINTS = (33, 133, 362, 263, 70, 105, 107, 336, 334, 300, 168, 6, 197, 195, 5, 4, 1, 234, 454, 127, 356,
                116, 345, 123, 352, 10, 151, 9, 108, 337)


@dataclass(frozen=True)
class FootageFrame:
    image: np.ndarray  # BGR uint8
    mesh: np.ndarray | None  # (468, 3) FaceMesh points, None when no face was found
    yaw: float
    pitch: float
    mouth: float  # Mesh.mouth_opening()


@lru_cache(maxsize=2)
def read_footage(clip: Path, first: int, last: int) -> tuple[FootageFrame, ...]:
    """Frames first..last of the clip with the wearer's mesh, pose and mouth opening (read once per process)."""
    from facegate.vision.facemesh import Mesh

    frames, _ = _video_frames(Path(clip), first, last)
    engine = _engine()
    out = []
    for frame in frames:
        image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = engine.detect(image)
        if not faces:
            out.append(FootageFrame(frame, None, 0.0, 0.0, 0.0))
            continue
        mesh: Mesh = engine.facemesh.infer(image, max(faces, key=lambda f: f.box[2] * f.box[3]))
        yaw, pitch = mesh.yaw_pitch()
        out.append(FootageFrame(frame, mesh.points.astype(np.float64), yaw, pitch, mesh.mouth_opening()))
    return tuple(out)


@dataclass(frozen=True)
class _Segment:
    """Footage frames to play for one answer: from `start` in steps of `step` (+1/-1) for `length` frames,
    `crossing` of them before the movement is clear."""

    start: int
    step: int
    length: int
    crossing: int

    def frames(self, hold: int) -> list[int]:
        out = [self.start + self.step * k for k in range(self.length + 1)]
        return out + [out[-1]] * hold + out[::-1]


def _plan_segments(footage, settings) -> tuple[list[int], dict, tuple[float, float, float]]:
    """The idle stretch (frame indices: he holds still, mouth closed), the segment answering each request that the
    footage can answer from it, and the idle pose (yaw, pitch, mouth). Of the stretches where he holds still (6
    frames or more), the one from which the most challenges (of settings.steps requests) can be answered."""
    usable = [f.mesh is not None for f in footage]
    yaw = np.array([f.yaw for f in footage])
    pitch = np.array([f.pitch for f in footage])
    mouth = np.array([f.mouth for f in footage])
    n = len(footage)
    stretches = []
    for a in range(n):
        if not usable[a] or mouth[a] > 0.06:
            continue
        b = a
        while (b + 1 < n and usable[b + 1] and mouth[b + 1] <= 0.06 and np.ptp(yaw[a:b + 2]) <= 0.1
               and np.ptp(pitch[a:b + 2]) <= 0.08):
            b += 1
        if b - a >= 5:
            stretches.append(list(range(a, b + 1)))
    from facegate.liveness import possible_challenges

    best: tuple[list[int], dict, tuple[float, float, float]] = ([], {}, (0.0, 0.0, 0.0))
    best_answered = -1
    for idle in stretches:
        home = (float(np.median(yaw[idle])), float(np.median(pitch[idle])), float(np.median(mouth[idle])))
        segments = _segments_from(home, yaw, pitch, mouth, usable, settings)
        answered = sum(all(a in segments for a in c) for c in possible_challenges(settings.steps))
        if (answered, len(segments), len(idle)) > (best_answered, len(best[1]), len(best[0])):
            best_answered = answered
            best = (idle, segments, home)
    if not best[0]:
        raise ValueError("the footage has no stretch where the wearer holds still with the mouth closed")
    return best


def _segments_from(home, yaw, pitch, mouth, usable, settings) -> dict:
    """For each request, the shortest stretch of footage (forward or backward) that starts near the pose `home` and
    shows that movement clearly before any other."""
    from facegate.liveness import Action

    n = len(yaw)
    # With margins over the check's thresholds: the mask moves the mesh a little.
    need = {Action.TURN_LEFT: settings.turn_delta + 0.05, Action.TURN_RIGHT: settings.turn_delta + 0.05,
            Action.NOD: settings.nod_delta + 0.02, Action.OPEN_MOUTH: settings.mouth_open_delta + 0.03}
    safe = {Action.TURN_LEFT: 0.18, Action.TURN_RIGHT: 0.18, Action.NOD: 0.1,
            Action.OPEN_MOUTH: settings.mouth_open_delta - 0.015}

    def shown(i: int) -> dict:
        dy, dp, dm = yaw[i] - home[0], pitch[i] - home[1], mouth[i] - home[2]
        return {Action.TURN_LEFT: dy, Action.TURN_RIGHT: -dy, Action.NOD: dp, Action.OPEN_MOUTH: dm}

    segments: dict = {}
    for action in Action:
        found: list[_Segment] = []
        for a in range(n):
            if not usable[a] or abs(yaw[a] - home[0]) > 0.07 or abs(pitch[a] - home[1]) > 0.05 or mouth[a] > 0.06:
                continue
            for step in (1, -1):
                for k in range(1, 45):
                    i = a + step * k
                    if not 0 <= i < n or not usable[i]:
                        break
                    moved = shown(i)
                    if any(v >= safe[other] for other, v in moved.items() if other is not action):
                        break
                    if moved[action] >= need[action]:  # played up to here, held (the peak), and back
                        found.append(_Segment(a, step, k, k))
                        break
        if found:
            segments[action] = min(found, key=lambda s: (s.crossing, s.start))
    return segments


class HalfMask:
    """The victim's upper face, printed and cut under the nose, worn over real footage of another person, who
    answers the kiosk's requests (see the module docstring).

    photo: a photo of the victim (the print); seed: everything random; clip / first_frame / last_frame: the
    wearer's footage (default: the Hamilton clip's frontal shot); reaction_s: (low, high) delay before answering;
    motion: "warp" (his own head and jaw moved on request) or "footage" (only his recorded movements); turn_deg,
    nod_deg, lift_deg: as the puppet's (motion="warp"). Call `frame(instruction)` once per frame with the request
    the kiosk shows ("" for none); `wearer_frame(i)` is footage frame i with the mask on, nothing else."""

    def __init__(self, photo: Path, *, seed: int, clip: Path | None = None, first_frame: int = FOOTAGE[0],
                 last_frame: int = FOOTAGE[1], reaction_s=(0.45, 0.9), motion: str = "warp", turn_deg: float = 25.0,
                 nod_deg: float = 18.0, lift_deg: float = 10.0):
        from facegate.liveness import Action, LivenessSettings

        rng = np.random.default_rng([seed, 53])
        self.seed = seed
        clip = Path(clip) if clip is not None else _data_dir() / "short_hamilton_clip.mp4"
        self.footage = read_footage(clip, first_frame, last_frame)
        self.fps = float(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS) or 30.0)
        if motion not in MOTIONS:
            raise ValueError(f"motion must be one of {MOTIONS}, not {motion!r}")
        self.motion = motion
        self.idle, self.segments, self.home = _plan_segments(self.footage, LivenessSettings())
        self.answerable = tuple(Action) if motion == "warp" else tuple(self.segments)
        self.reaction_s = reaction_s
        self.heads: dict[int, _Head] = {}  # the wearer's head as a puppet, per footage frame (motion="warp")
        self.answers = Answerer(np.random.default_rng([seed, 61]), self.fps, turn_deg=turn_deg, nod_deg=nod_deg,
                                lift_deg=lift_deg, jaw=1.0, reaction_s=reaction_s)
        self._print(Path(photo), rng)
        self.look = _CameraLook(defocus=0.35, read_noise=rng.uniform(1.0, 1.8), shot_noise=rng.uniform(0.02, 0.04),
                                gain_drift=0.0, jpeg_quality=int(rng.integers(80, 92)))
        self.exposure = rng.uniform(0.9, 1.02)
        self.reactions = np.random.default_rng([seed, 59])
        self.index = 0
        self.idle_at = int(rng.integers(0, len(self.idle)))
        self.idle_step = 1
        self.queue: list[tuple[int, float]] = []  # (footage frame or -1: idle, jaw opening 0..1) to play next
        self.last_instruction = ""
        self.waited = 0

    # ------------------------------------------------------------------------------------------ the print

    def _print(self, photo: Path, rng) -> None:
        """The victim's print (texture with alpha: the face oval above the cut) and its 3D points."""
        engine = _engine()
        photo_bgr = _read_bgr(photo)
        image = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2RGB)
        faces = engine.detect(image)
        if not faces:
            raise ValueError(f"{photo}: no face found for the mask")
        face = max(faces, key=lambda f: f.box[2] * f.box[3])
        points = engine.facemesh.infer(image, face).points.astype(np.float64)
        h, w = photo_bgr.shape[:2]
        # Cut just under the nose; raised if, worn, it would reach the wearer's upper lip (the attacker trims it).
        nose, lip = points[SUBNASALE, 1], points[UPPER_LIP_TOP, 1]
        cut = nose + rng.uniform(0.15, 0.3) * (lip - nose)
        frontal = self.footage[self.idle[len(self.idle) // 2]].mesh
        assert frontal is not None  # the idle stretch has a face on every frame
        scale, rot, shift = fit_similarity(points[list(ALIGN_POINTS)], frontal[list(ALIGN_POINTS)])
        worn_cut = (scale * rot @ np.array([points[SUBNASALE, 0], cut, points[SUBNASALE, 2]]) + shift)[1]
        wearer_nose, wearer_lip = frontal[SUBNASALE, 1], frontal[UPPER_LIP_TOP, 1]
        highest_allowed = wearer_nose + 0.5 * (wearer_lip - wearer_nose)
        if worn_cut > highest_allowed:
            cut -= (worn_cut - highest_allowed) / max(scale, 1e-6)
        self.cut = float(cut)

        oval = points[list(FACE_OVAL)]
        centre = points[:, :2].mean(0)
        ring = np.hstack([centre + MASK_SCALE * (oval[:, :2] - centre), oval[:, 2:3]])
        outline = np.zeros((h, w), np.uint8)
        cv2.fillPoly(outline, [np.round(ring[:, :2] * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        alpha = outline.astype(np.float32) / 255
        ys = np.arange(h, dtype=np.float32)[:, None]
        alpha *= np.clip(cut - ys + 0.5, 0, 1)  # the straight cut, anti-aliased
        # Printed tones and paper grain (as facegate_dev.attacks._print_texture prints a sheet).
        colour = photo_bgr.astype(np.float32) / 255
        grey = colour.mean(axis=2, keepdims=True)
        colour = grey + rng.uniform(0.82, 0.95) * (colour - grey)
        paper, ink = np.array([0.90, 0.93, 0.94]), np.array([0.11, 0.10, 0.10])
        colour = ink + (paper - ink) * np.clip(colour, 0, 1) ** rng.uniform(1.0, 1.12)
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
        colour *= (1 + 0.012 * grain / max(float(grain.std()), 1e-6))[..., None]
        # The paper's light core shows along the cut edge.
        edge = np.clip(1 - np.abs(ys - (cut - 0.8)), 0, 1) * (outline.astype(np.float32) / 255)
        colour = colour * (1 - 0.6 * edge[..., None]) + paper * 0.6 * edge[..., None]
        self.texture = np.dstack([colour * 255, alpha]).astype(np.float32)
        self.points = np.vstack([points, ring])
        self.triangles = delaunay(self.points[:, :2], (w, h))
        self.align = list(ALIGN_POINTS)

    # ------------------------------------------------------------------------------------------- frames

    def _posed_wearer(self, at: int, pose) -> tuple[np.ndarray, np.ndarray | None]:
        """Footage frame `at`, his head turned, nodded and his jaw dropped by `pose` (pitch, yaw degrees, jaw 0..1)
        with the puppet's warp (float32 BGR), and his mesh there (468, 3); as filmed when the pose is neutral."""
        source = self.footage[at]
        if source.mesh is None or max(abs(v) for v in pose) < 0.02:
            return source.image.astype(np.float32), source.mesh
        h, w = source.image.shape[:2]
        if at not in self.heads:
            mesh = source.mesh
            box = (*mesh[:, :2].min(0), *np.ptp(mesh[:, :2], axis=0))
            self.heads[at] = head_from_mesh(source.image.astype(np.float32), mesh, (w, h), box)
        head = self.heads[at]
        cam = _Camera.webcam((w, h))
        pitch, yaw, jaw = pose
        dst, depth = _posed(head, cam, pitch, yaw, 0.0, jaw, 0.0, (0.0, 0.0), 1.0)
        map_x, map_y, covered = triangle_maps(head.points[:, :2], dst, depth, head.triangles, (w, h))
        image = cv2.remap(head.canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        image[~covered] = head.canvas[~covered]
        if jaw > 0.02:
            mouth_interior(image, dst[list(UPPER_LIP_INNER)], dst[list(LOWER_LIP_INNER)])
        z0 = float(head.points[:468, 2].mean())
        return image, np.column_stack([dst[:468], depth[:468] - cam.f + z0])

    def _wear(self, frame: np.ndarray, mesh: np.ndarray | None) -> np.ndarray:
        """The wearer's frame (float32 BGR) with the mask on, placed on his FaceMesh points `mesh`."""
        if mesh is None:
            return frame
        scale, rot, shift = fit_similarity(self.points[self.align], mesh[self.align])
        worn = self.points @ (scale * rot).T + shift
        h, w = frame.shape[:2]
        map_x, map_y, covered = triangle_maps(self.points[:, :2], worn[:, :2], worn[:, 2], self.triangles, (w, h))
        layer = cv2.remap(self.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0, 0))
        layer[~covered] = 0
        alpha = layer[..., 3]
        if alpha.max() <= 0:
            return frame
        # The print takes the light of the face it is worn on (the same room lamp), and the camera's blur.
        inside = alpha > 0.5
        # The attacker matched the print's colours to the wearer's skin, so that the edges do not stand out.
        skin = frame[inside].mean(axis=0)
        printed = layer[..., :3][inside].mean(axis=0)
        gain = self.exposure * skin / np.maximum(printed, 1.0)
        colour = cv2.GaussianBlur(layer[..., :3] * gain, (0, 0), 0.6)
        alpha = cv2.GaussianBlur(alpha, (0, 0), 0.5)
        # A soft shadow of the paper on the skin below and beside it.
        shadow = np.clip(cv2.GaussianBlur(np.roll(alpha, 2, axis=0), (0, 0), 2.0) - alpha, 0, 1)
        frame = frame * (1 - 0.35 * shadow[..., None])
        return frame * (1 - alpha[..., None]) + colour * alpha[..., None]

    def _answer(self, instruction: str) -> list[int]:
        """motion="footage": the footage frames that answer `instruction` (-1: idle), after a reaction time."""
        from facegate.liveness import INSTRUCTIONS

        action = next((a for a, text in INSTRUCTIONS.items() if text == instruction), None)
        segment = self.segments.get(action)
        if segment is None:
            return []
        wait = [-1] * int(round(self.reactions.uniform(*self.reaction_s) * self.fps))
        return wait + segment.frames(int(self.reactions.integers(3, 9)))

    def _idle_frame(self) -> int:
        at = self.idle_at
        if not 0 <= at + self.idle_step < len(self.idle):
            self.idle_step = -self.idle_step
        self.idle_at = at + self.idle_step if len(self.idle) > 1 else at
        return self.idle[at]

    def frame(self, instruction: str) -> np.ndarray:
        """The next camera frame (BGR uint8) while the kiosk shows `instruction` ("" for none)."""
        pose = (0.0, 0.0, 0.0)
        if self.motion == "warp":
            pose = self.answers.next(instruction)
            at = self._idle_frame()
        else:
            if instruction and instruction != self.last_instruction:
                self.queue = self._answer(instruction)
                self.waited = 0
            elif instruction and not self.queue:
                self.waited += 1  # still asked: answer again after a moment
                if self.waited >= self.fps * self.reactions.uniform(0.6, 1.0):
                    self.queue = self._answer(instruction)
                    self.waited = 0
            self.last_instruction = instruction
            wanted = self.queue.pop(0) if self.queue else -1
            at = wanted if wanted >= 0 else self._idle_frame()
        image = _camera_effects(self._wear(*self._posed_wearer(at, pose)), self.look, 1.0, self.seed, self.index)
        self.index += 1
        return image

    def wearer_frame(self, index: int) -> np.ndarray:
        """Footage frame `index` (from first_frame) with the mask on, without the request logic (for checks)."""
        source = self.footage[index]
        return _camera_effects(self._wear(source.image.astype(np.float32), source.mesh), self.look, 1.0, self.seed,
                               index)
