"""A 3D puppet made from one photo of an enrolled person, answering the kiosk's requests (issue 28 item 6).

An outside test made such a puppet and passed the challenge 11 times in 12, both injected as the video stream and
shown on a phone held up to the camera. This is FaceGate's own version, so that the defences of issue 28 (a
passive texture model, a screen-light reflection cue, a lower-face identity check, passive-first fusion) can be
measured against it (benchmarks/liveness.py: `puppet_injected`, `puppet_phone`).

How the puppet is made, from ONE photo:
- the photo is placed on a webcam-sized canvas (face ~140-160 px wide, the room of facegate_dev.attacks behind);
- FaceMesh (facegate.vision.facemesh) gives 468 points with depth; two rings of points around the face oval are
  added: the inner one (hair, ears, neck) turns with the head, the outer one and the canvas border stay put, so
  the head's outline moves against the background and the background in between stretches;
- the points are triangulated once (Delaunay, on the points with the mouth opened, so the lips never share a
  triangle edge that the opening would tear);
- per frame the head's points are un-projected (pinhole camera of the webcam's field of view, each point at its
  own depth), rotated (yaw for turns, pitch for nods, a little roll), the jaw's points rotated about the jaw's
  hinge for an opening mouth, the upper eyelids lowered for a blink, and projected again; every triangle of the
  photo is then warped (piecewise affine, painter's order so the nose hides the far cheek) with one `cv2.remap`;
- an open mouth's inside is painted (dark, the upper teeth, a hint of tongue): the chin really drops in the
  picture, so the jaw cue (facegate.liveness.geometry.JawMotion) sees a jaw, as the outside test found.

`Puppet.frame(instruction)` has PromptFollowingPrint's interface: call it once per frame with the request the kiosk
shows now; after a human reaction time the puppet answers it (turn, nod, open the mouth), holds, and comes back,
with small natural head motion all the time and a blink every few seconds. `presentation`: "injected" (the frames
are the video stream: only a camera's blur, noise and JPEG) or "on_phone" (the puppet video played on a phone held
in a hand in front of the webcam: facegate_dev.attacks._PhoneScene).

Deterministic per seed: every random draw comes from numpy generators seeded with (seed, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facegate_dev.attacks import (
    _Camera,
    _camera_effects,
    _CameraLook,
    _engine,
    _PhoneScene,
    _prepare_background,
    _read_bgr,
    _smooth,
)

PRESENTATIONS = ("injected", "on_phone")

# FaceMesh indices (MediaPipe's canonical mesh).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)  # from corner to corner, as the upper one
MOUTH_CORNERS = (61, 291, 78, 308)
UPPER_LID_PAIRS = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154), (173, 155),
                   (466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381), (398, 382))
LID_FOLDS = ((247, 30, 29, 27, 28, 56, 190), (467, 260, 259, 257, 258, 286, 414))  # above each upper lid
NOSE_BRIDGE, UPPER_LIP_MIDDLE, CHIN = 168, 13, 152


# --------------------------------------------------------------------------------- mesh warping (shared)


def delaunay(points: np.ndarray, size) -> np.ndarray:
    """(T, 3) indices into `points` (N, 2) of their Delaunay triangles inside the rectangle `size` (w, h)."""
    w, h = size
    subdiv = cv2.Subdiv2D((-2, -2, int(w) + 4, int(h) + 4))
    lookup: dict[tuple[int, int], int] = {}
    for index, (x, y) in enumerate(points):
        px, py = float(min(max(x, -1.0), w + 1.0)), float(min(max(y, -1.0), h + 1.0))
        lookup.setdefault((round(px * 16), round(py * 16)), index)
        subdiv.insert((px, py))
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        ids = [lookup.get((round(x * 16), round(y * 16))) for x, y in ((x1, y1), (x2, y2), (x3, y3))]
        if None not in ids and len(set(ids)) == 3:
            triangles.append(ids)
    return np.array(triangles, np.int32)


def triangle_maps(src: np.ndarray, dst: np.ndarray, depth: np.ndarray, triangles: np.ndarray, size):
    """The backward maps (map_x, map_y, float32 (h, w)) of a piecewise-affine warp that moves each triangle from
    `src` points to `dst` points, nearer triangles (smaller mean `depth` of their dst points) drawn over farther
    ones; and the coverage (h, w) bool: pixels no triangle reaches keep map = -1."""
    w, h = size
    ids = np.full((h, w), -1, np.int32)
    d = dst[triangles]  # (T, 3, 2)
    area = ((d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1])
            - (d[:, 2, 0] - d[:, 0, 0]) * (d[:, 1, 1] - d[:, 0, 1]))
    order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")
    for t in order:
        if abs(area[t]) < 1e-3:
            continue
        cv2.fillConvexPoly(ids, np.round(d[t] * 16).astype(np.int32), int(t), lineType=cv2.LINE_8, shift=4)
    # Per triangle, the affine map dst -> src: [x y 1] @ M = [u v].
    ones = np.ones(triangles.shape + (1,))
    dst_h = np.concatenate([d, ones], axis=2)  # (T, 3, 3)
    good = np.abs(area) >= 1e-3
    affine = np.zeros((len(triangles), 3, 2))
    affine[good] = np.linalg.solve(dst_h[good], src[triangles][good])
    covered = ids >= 0
    safe = np.where(covered, ids, 0)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    m = affine[safe]  # (h, w, 3, 2)
    map_x = np.where(covered, xs * m[..., 0, 0] + ys * m[..., 1, 0] + m[..., 2, 0], -1).astype(np.float32)
    map_y = np.where(covered, xs * m[..., 0, 1] + ys * m[..., 1, 1] + m[..., 2, 1], -1).astype(np.float32)
    return map_x, map_y, covered


def rotation(pitch_deg: float, yaw_deg: float, roll_deg: float) -> np.ndarray:
    """Camera-frame rotation (x right, y down, z away): pitch about x (positive: the face looks down), then yaw
    about y (positive: the nose moves to the image's right), then roll about z."""
    a, b, c = (math.radians(v) for v in (pitch_deg, yaw_deg, roll_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, -math.sin(b)], [0, 1, 0], [math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def mouth_interior(frame: np.ndarray, upper: np.ndarray, lower: np.ndarray, rng_value: float = 0.5) -> None:
    """Paint an open mouth's inside (in place, BGR float32 0..255) between the upper lip's inner edge `upper` and
    the lower lip's `lower` ((K, 2) each, corner to corner): dark, the upper teeth along the upper lip, a hint of
    tongue low down. Drawn at 4x and shrunk, so its edges are anti-aliased."""
    polygon = np.vstack([upper, lower[::-1]])
    x0, y0 = np.floor(polygon.min(0)).astype(int) - 2
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + 3
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    scale = 4

    def mask_of(poly: np.ndarray) -> np.ndarray:
        big = np.zeros(((y1 - y0) * scale, (x1 - x0) * scale), np.uint8)
        cv2.fillPoly(big, [np.round((poly - [x0, y0]) * scale).astype(np.int32)], 255, cv2.LINE_AA)
        return cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255

    inside = mask_of(polygon)
    if inside.max() <= 0:
        return
    gap = np.maximum(lower[:, 1] - upper[:, 1], 0)
    # the upper teeth: a band under the upper lip, over the middle two thirds of the mouth's width
    k = len(upper)
    middle = slice(k // 6, k - k // 6)
    teeth_low = upper[middle] + np.stack([np.zeros(len(gap[middle])), np.minimum(0.35 * gap[middle], 6.0)], 1)
    teeth = mask_of(np.vstack([upper[middle], teeth_low[::-1]])) * inside
    tongue_top = lower[middle] - np.stack([np.zeros(len(gap[middle])), 0.3 * gap[middle]], 1)
    tongue = mask_of(np.vstack([tongue_top, lower[middle][::-1]])) * inside
    region = frame[y0:y1, x0:x1]
    dark = np.array([22, 18, 40], np.float32) * (0.8 + 0.4 * rng_value)
    teeth_colour = np.array([175, 190, 205], np.float32)
    tongue_colour = np.array([70, 70, 135], np.float32)
    colour = dark + (teeth_colour - dark) * teeth[..., None] * 0.9 + (tongue_colour - dark) * tongue[..., None] * 0.6
    colour = cv2.GaussianBlur(colour, (0, 0), 0.7)
    region[:] = region * (1 - inside[..., None]) + colour * inside[..., None]


# ----------------------------------------------------------------------------------------------- the head


@dataclass
class _Head:
    """The photo on the canvas and its control points: FaceMesh's 468, the moving ring, the fixed points."""

    canvas: np.ndarray  # float32 BGR (h, w, 3)
    points: np.ndarray  # (N, 3) pixels and depth (FaceMesh's z, pixels), canvas coordinates
    moving: int  # points[:moving] move with the head; the rest stay put
    triangles: np.ndarray
    jaw_weight: np.ndarray  # (N,) how much each point follows the jaw
    hinge: np.ndarray  # (y, z) of the jaw's hinge axis
    jaw_angle: float  # radians of jaw rotation for a full opening
    pivot: np.ndarray  # head rotation centre (x, y, z)
    face_box: tuple[float, float, float, float]  # x, y, w, h on the canvas
    mouth_height: float  # nose bridge to upper lip, pixels


def _jaw_weights(mesh: np.ndarray, count: int) -> np.ndarray:
    """How much each point (FaceMesh's first, then the ring) moves with the jaw: 1 for the lower lip and below it
    between the mouth corners, 0 for the upper lip and above, a ramp outside the corners (cheeks, jaw line)."""
    weight = np.zeros(count)
    upper_line = mesh[list(UPPER_LIP_INNER), :2]
    order = np.argsort(upper_line[:, 0])
    left, right = mesh[61, 0], mesh[291, 0]
    corner_y = (mesh[61, 1] + mesh[291, 1]) / 2
    mouth_w = right - left
    chin_y = mesh[CHIN, 1]
    for i in range(len(mesh)):
        x, y = mesh[i, :2]
        if left < x < right:
            line = np.interp(x, upper_line[order, 0], upper_line[order, 1])
            weight[i] = 1.0 if y > line + 0.5 else 0.0
        else:
            weight[i] = float(np.clip((y - corner_y) / (0.35 * mouth_w) + 0.35, 0, 1))
    weight[list(UPPER_LIP_INNER)] = 0.0
    weight[list(LOWER_LIP_INNER[1:-1])] = 1.0
    weight[list(MOUTH_CORNERS)] = 0.3
    weight[[i for i in range(len(mesh)) if mesh[i, 1] > chin_y - 0.05 * mouth_w]] = 1.0
    return weight


def _build_head(photo: Path, rng, size, face_px: float, background, depth_gain: float = 1.0) -> _Head:
    engine = _engine()
    photo_bgr = _read_bgr(Path(photo))
    faces = engine.detect(cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2RGB))
    if not faces:
        raise ValueError(f"{photo}: no face found for the puppet")
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    x, y, fw, fh = face.box
    scale = face_px / fw
    w, h = size
    # The photo scaled so the face is face_px wide, its face centre a little above the canvas centre, over the room.
    cx, cy = x + fw / 2, y + fh / 2
    matrix = np.array([[scale, 0, w / 2 + rng.uniform(-20, 20) - scale * cx],
                       [0, scale, h / 2 - rng.uniform(15, 35) - scale * cy]])
    room = _prepare_background(background, rng, size)
    placed = cv2.warpAffine(photo_bgr, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(photo_bgr.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    inside = cv2.GaussianBlur(cv2.erode(inside, np.ones((9, 9), np.uint8)), (0, 0), 6)[..., None]
    canvas = placed.astype(np.float32) * inside + room * (1 - inside)
    image = cv2.cvtColor(np.clip(canvas, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
    found = engine.detect(image)
    if not found:
        raise ValueError(f"{photo}: no face found on the puppet's canvas")
    face = max(found, key=lambda f: f.box[2] * f.box[3])
    mesh = engine.facemesh.infer(image, face).points.astype(np.float64)
    mesh[:, 2] *= depth_gain
    return head_from_mesh(canvas, mesh, size, tuple(float(v) for v in face.box))


def head_from_mesh(canvas: np.ndarray, mesh: np.ndarray, size, face_box) -> _Head:
    """The puppet's control points, jaw and triangles for a face whose FaceMesh points `mesh` (468, 3) were found
    on `canvas` (float32 BGR, `size`): the puppet's photo, or a frame of real footage (the half mask's wearer)."""
    w, h = size
    oval = mesh[list(FACE_OVAL)]
    centre = mesh[:, :2].mean(0)
    face_w = float(np.ptp(oval[:, 0]))
    back = float(mesh[:, 2].max())
    # The ring that moves with the head: hair, ears, neck, a little outside the oval and behind it.
    ring = np.hstack([centre + 1.22 * (oval[:, :2] - centre), (oval[:, 2:3] + back) / 2 + 0.25 * face_w])
    fixed = centre + 1.75 * (oval[:, :2] - centre)
    border = [(bx, by) for bx in np.linspace(0, w - 1, 9) for by in (0, h - 1)]
    border += [(bx, by) for by in np.linspace(0, h - 1, 7)[1:-1] for bx in (0, w - 1)]
    still = np.vstack([fixed, np.array(border)])
    still = np.hstack([still, np.full((len(still), 1), back + 0.6 * face_w)])
    points = np.vstack([mesh, ring, still])
    moving = len(mesh) + len(ring)

    mouth_height = float(np.linalg.norm(mesh[UPPER_LIP_MIDDLE, :2] - mesh[NOSE_BRIDGE, :2]))
    weight = np.zeros(len(points))
    weight[:len(mesh)] = _jaw_weights(mesh, len(mesh))
    ring_below = ring[:, 1] > (mesh[61, 1] + mesh[291, 1]) / 2
    weight[len(mesh):moving] = np.where(ring_below, 0.6, 0.0)
    # The jaw's hinge: level with the cheek points (just in front of the ears), well behind the face.
    hinge = np.array([float(mesh[[234, 454], 1].mean()), float(mesh[[234, 454], 2].mean()) + 0.15 * face_w])
    lips = mesh[UPPER_LIP_MIDDLE, 1:3]
    reach = float(np.linalg.norm(lips - hinge))
    jaw_angle = 0.55 * mouth_height / max(reach, 1.0)  # the lips part by ~0.55 of the nose-to-lip height
    pivot = np.array([centre[0], float(mesh[[234, 454], 1].mean()), float(mesh[:, 2].mean()) + 0.55 * face_w])

    head = _Head(canvas, points, moving, np.zeros((0, 3), np.int32), weight, hinge, jaw_angle, pivot,
                 face_box, mouth_height)
    # Triangulate with the mouth open, so that no triangle joins the upper lip to the lower one across the gap.
    opened = _posed(head, _Camera.webcam(size), 0.0, 0.0, 0.0, 1.0, 0.0, (0.0, 0.0), 1.0)[0]
    head.triangles = delaunay(opened, size)
    return head


def _posed(head: _Head, cam: _Camera, pitch: float, yaw: float, roll: float, jaw: float, blink: float,
           shift, zoom: float):
    """The control points (N, 2) on the canvas for this pose, and their depths (N,). The photo is taken as seen by
    `cam` with the face at the camera's working distance: each point is un-projected at its own depth, moved, and
    projected again, so a turn shows true perspective."""
    p = head.points.copy()
    n = head.moving
    if jaw > 0:
        angle = head.jaw_angle * jaw * head.jaw_weight[:n]
        dy, dz = p[:n, 1] - head.hinge[0], p[:n, 2] - head.hinge[1]
        cos, sin = np.cos(angle), np.sin(angle)
        # opening: points in front of the hinge (smaller z) swing down
        p[:n, 1] = head.hinge[0] + dy * cos - dz * sin
        p[:n, 2] = head.hinge[1] + dy * sin + dz * cos
    if blink > 0:
        for upper, lower in UPPER_LID_PAIRS:
            p[upper, :2] += blink * 0.9 * (p[lower, :2] - p[upper, :2])
        for fold, pairs in zip(LID_FOLDS, (UPPER_LID_PAIRS[:7], UPPER_LID_PAIRS[7:]), strict=True):
            drop = np.mean([p[u, 1] - head.points[u, 1] for u, _ in pairs])
            p[list(fold), 1] += 0.45 * drop
    # Un-project (the face's mean depth at the camera's working distance), turn about the pivot, project.
    distance = cam.f  # pixels at the face's depth are canvas pixels
    z0 = float(head.points[:468, 2].mean())
    centre = np.array([cam.cx, cam.cy])
    depth = distance + (p[:, 2] - z0)
    world = np.column_stack([(p[:, :2] - centre) * (depth / distance)[:, None], depth])
    pivot = np.array([*(head.pivot[:2] - centre) * (distance + head.pivot[2] - z0) / distance,
                      distance + head.pivot[2] - z0])
    turned = (world[:n] - pivot) @ rotation(pitch, yaw, roll).T + pivot
    turned[:, :2] = (turned[:, :2] - pivot[:2]) * zoom + pivot[:2] + np.asarray(shift)
    world[:n] = turned
    projected = world[:, :2] * (distance / world[:, 2])[:, None] + centre
    return projected, world[:, 2]


# --------------------------------------------------------------------------------- answering the requests


class Answerer:
    """How a person answers the kiosk's requests, as head poses (pitch, yaw in degrees; jaw 0 closed .. 1 open) per
    frame: after a human reaction time (`reaction_s`), out to the requested pose, held, and back. A new request
    while answering one: the movement under way is finished first (out to its full extent, a short hold), as people
    do. A request still shown after the answer: answered again after a moment. Turns tip the head back a little
    (`lift_deg`): the check never asks for that, so it is never a wrong action, and the extra 3D motion lifts the
    parallax cue before a turn crosses its threshold. Shared by the puppet and the half mask's wearer."""

    def __init__(self, rng, fps: float, *, turn_deg: float, nod_deg: float, lift_deg: float, jaw: float,
                 reaction_s=(0.45, 0.9)):
        self.rng, self.fps = rng, fps
        self.turn_deg, self.nod_deg, self.lift_deg, self.jaw = turn_deg, nod_deg, lift_deg, jaw
        self.reaction_s = reaction_s
        self.last_instruction = ""
        self.plan: list[tuple[float, float, float]] = []  # (pitch, yaw, jaw) per coming frame
        self.answered: list[tuple[float, float, float]] = []  # the plan as it was made (self.plan is its rest)
        self.finish_by = 0  # frames of self.answered to play before the answer to another request may start
        self.waited = 0  # frames since the last answer ended, the request still shown
        self.pose = (0.0, 0.0, 0.0)

    def _ramp(self, start, end, seconds: float) -> list[tuple[float, float, float]]:
        steps = max(2, int(round(seconds * self.fps)))
        return [tuple(a + (b - a) * _ease(k, steps) for a, b in zip(start, end, strict=True))
                for k in range(1, steps + 1)]

    def _answer(self, instruction: str, start) -> list[tuple[float, float, float]]:
        """The poses that answer `instruction`, from the pose `start`."""
        from facegate.liveness import INSTRUCTIONS, Action

        action = next((a for a, text in INSTRUCTIONS.items() if text == instruction), None)
        rest = (0.0, 0.0, 0.0)
        back = self._ramp(start, rest, self.rng.uniform(*self.reaction_s))  # reading the request, it settles
        hold = int(round(self.rng.uniform(0.6, 1.0) * self.fps))
        lift = -self.rng.uniform(0.6, 1.0) * self.lift_deg
        if action in (Action.TURN_LEFT, Action.TURN_RIGHT):
            # the person's left: the nose moves to the image's right (positive yaw here)
            target = (lift, self.turn_deg if action is Action.TURN_LEFT else -self.turn_deg, 0.0)
        elif action is Action.NOD:
            target = (self.nod_deg, 0.0, 0.0)
            hold //= 3
        elif action is Action.OPEN_MOUTH:
            target = (0.0, 0.0, self.jaw)  # not tipped back: the check takes a squashed face for a tilted picture
        else:
            return back
        out = self._ramp(rest, target, self.rng.uniform(0.3, 0.5))
        home = self._ramp(target, rest, self.rng.uniform(0.3, 0.5))
        self.finish_by = len(back) + len(out) + min(hold, int(0.25 * self.fps))
        return back + out + [target] * hold + home

    def next(self, instruction: str) -> tuple[float, float, float]:
        """The pose of the next frame while the kiosk shows `instruction` ("" for none)."""
        if instruction and instruction != self.last_instruction:
            done = len(self.answered) - len(self.plan)
            kept = self.plan[:max(0, self.finish_by - done)]
            start = kept[-1] if kept else self.pose
            self.plan = kept + self._answer(instruction, start)
            self.answered = list(self.plan)
            self.finish_by += len(kept)
            self.waited = 0
        elif instruction and not self.plan:
            self.waited += 1
            if self.waited >= self.fps * self.rng.uniform(0.5, 1.0):
                self.plan = self._answer(instruction, self.pose)
                self.answered = list(self.plan)
                self.waited = 0
        self.last_instruction = instruction
        self.pose = self.plan.pop(0) if self.plan else (0.0, 0.0, 0.0)
        return self.pose


# --------------------------------------------------------------------------------------------- the puppet


def _ease(k: int, steps: int) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, k / max(1, steps)))


class Puppet:
    """A puppet of one photo that answers the kiosk's requests (see the module docstring).

    photo: one photo of the victim (the attack's only material); seed: everything random; presentation:
    "injected" or "on_phone"; turn_deg / nod_deg: how far it turns and nods on request; lift_deg: how far it tips
    back as it turns (Answerer); depth_gain: the relief given to FaceMesh's depths; jaw: how wide the mouth
    opens (1: the lips part by ~0.55 of the nose-to-lip height); reaction_s: (low, high) of the human-like delay
    before it answers a new request; blink_every_s: mean time between blinks (None: no blinks); max_frames: how
    long the natural motion is drawn for (it holds still after)."""

    def __init__(self, photo: Path, *, seed: int, presentation: str = "injected", turn_deg: float = 25.0,
                 nod_deg: float = 18.0, lift_deg: float = 10.0, depth_gain: float = 1.4, jaw: float = 1.0,
                 reaction_s=(0.45, 0.9), blink_every_s: float | None = 4.0, fps: float = 30.0, size=(640, 480),
                 max_frames: int = 1200, background=None):
        if presentation not in PRESENTATIONS:
            raise ValueError(f"presentation must be one of {PRESENTATIONS}, not {presentation!r}")
        rng = np.random.default_rng([seed, 41])
        self.presentation, self.seed, self.fps, self.size = presentation, seed, fps, tuple(size)
        self.cam = _Camera.webcam(size)
        self.head = _build_head(Path(photo), rng, self.size, rng.uniform(140, 160), background, depth_gain)
        # Natural motion: a slow sway of the head, a small drift and breathing-like bob, micro-movements.
        t = np.arange(max_frames) / fps
        self.natural = {
            "pitch": _smooth(rng, t, rng.uniform(1.0, 2.0), 0.05, 0.4) + _smooth(rng, t, 0.25, 2.0, 6.0),
            "yaw": _smooth(rng, t, rng.uniform(1.5, 3.0), 0.05, 0.4) + _smooth(rng, t, 0.25, 2.0, 6.0),
            "roll": _smooth(rng, t, rng.uniform(0.8, 2.0), 0.05, 0.3),
            "x": _smooth(rng, t, rng.uniform(2.0, 5.0), 0.05, 0.35),
            "y": _smooth(rng, t, rng.uniform(1.5, 3.5), 0.05, 0.35),
            "zoom": 1 + _smooth(rng, t, rng.uniform(0.005, 0.015), 0.03, 0.2),
        }
        self.blinks: set[int] = set()
        if blink_every_s:
            at = rng.uniform(0.8, 2.0)
            while at * fps < max_frames:
                start = int(at * fps)
                self.blinks.update(range(start, start + 5))  # ~0.17 s
                at += rng.uniform(0.6, 1.4) * blink_every_s
        self.look = _CameraLook.random(rng)
        self.gain = 1 + _smooth(rng, t, self.look.gain_drift, 0.03, 0.2)
        self.phone: _PhoneScene | None = None
        if presentation == "on_phone":
            x, y, fw, fh = self.head.face_box
            w, h = self.size
            crop_w = int(round(h * 9 / 19.5))
            x0 = int(round(min(max(x + fw / 2 - crop_w / 2, 0), w - crop_w)))
            room = _prepare_background(background, rng, self.size)
            self.phone = _PhoneScene(rng, self.cam, room, self.size, (x0, 0, crop_w, h), fw, (x + fw / 2, y + fh / 2),
                                     max_frames, fps)
        self.answers = Answerer(np.random.default_rng([seed, 43]), fps, turn_deg=turn_deg, nod_deg=nod_deg,
                                lift_deg=lift_deg, jaw=jaw, reaction_s=reaction_s)
        self.index = 0

    def frame(self, instruction: str) -> np.ndarray:
        """The next camera frame (BGR uint8) while the kiosk shows `instruction` ("" for none)."""
        image = self.render(*self.answers.next(instruction))
        self.index += 1
        return image

    def render(self, pitch: float, yaw: float, jaw: float) -> np.ndarray:
        """Frame `self.index` of the puppet posed (degrees; jaw 0 closed .. 1 open), natural motion added."""
        i = min(self.index, len(self.natural["yaw"]) - 1)
        n = self.natural
        head = self.head
        blink = 1.0 if self.index in self.blinks else 0.0
        dst, depth = _posed(head, self.cam, pitch + n["pitch"][i], yaw + n["yaw"][i], n["roll"][i], jaw, blink,
                            (n["x"][i], n["y"][i]), n["zoom"][i])
        map_x, map_y, covered = triangle_maps(head.points[:, :2], dst, depth, head.triangles, self.size)
        image = cv2.remap(head.canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        image[~covered] = head.canvas[~covered]
        if jaw > 0.02:
            mouth_interior(image, dst[list(UPPER_LIP_INNER)], dst[list(LOWER_LIP_INNER)],
                           float(np.random.default_rng([self.seed, 47]).random()))
        if self.phone is not None:
            return self.phone.frame(np.clip(image, 0, 255).astype(np.uint8), self.index, self.seed)
        return _camera_effects(image, self.look, float(self.gain[i]), self.seed, self.index)
