"""Snapshot enrollment from the live picture, without Qt: whom to enroll, whether a frame makes a good reference
photo, which of the three poses it fills, and when the face has been held long enough to take it.

The person nearest the camera (the largest face) is the one enrolled; faces in the background narrower than
`BYSTANDER_WIDTH` of its width are ignored, a second face about as large blocks the shot: which of the two is
enrolling cannot be told. The photo stored is a crop around the enrollee, so a bystander is not stored with them
(and the gallery's own rule for a photo with two faces, gallery.AMBIGUOUS_SECOND_FACE, still applies to it).

Three shots, each of one pose: straight at the camera, turned slightly one way, turned slightly the other way. The
kiosk matches a face to the nearest enrolled photo, and people do not walk up to a door looking straight into the
lens: shots that differ in pose cover the faces the kiosk will see, where three straight shots would be three near
copies of one. A frame fills whichever pose is still missing, in any order, once the face has stayed good and in
that pose for `HOLD_S` (a short steady hold: not a face caught mid-turn or mid-step, which is blurred).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import cv2
import numpy as np

from facegate.pipeline import face_crop
from facegate.vision.detect import Face
from facegate.vision.engine import sharpness

# A face narrower than this share of the enrollee's is someone farther back (at 60 % about 1.7 times as far from
# the camera) and does not block a shot. On the clip's 640x360 frames the smallest faces the detector finds beside
# an 80 px face are 40-47 px (0.5-0.6); someone at the enrollee's side is 0.8-1.2.
BYSTANDER_WIDTH = 0.6
# The brightness of the face (mean grey, 0-255) and the sharpness of its 150 px chip a reference photo needs.
MIN_BRIGHTNESS = 60.0
MAX_BRIGHTNESS = 215.0
MIN_ENROLL_SHARPNESS = 20.0
# Head turn = how far the nose base sits beside the midpoint of the eyes, in eye distances (image x; the sign says
# which side). On the test clip: about 0.05 looking straight, 0.15-0.25 for a slight turn, 0.4-0.6 near profile.
# Whose left is whose depends on whether the picture is mirrored, so the sides are named "one way" and "the other".
MAX_STRAIGHT_TURN = 0.12
MIN_TURN = 0.12  # a turned shot differs from the straight one by at least this
MAX_TURN = 0.5  # and is not near profile: the kiosk does not grant in profile either
# How long the face must stay good, still and in one missing pose before it is taken. The clip's slight turns last
# 0.6-1.3 s; a person asked to turn holds it for about a second.
HOLD_S = 0.3
# During a hold the face's centre stays within this share of its width of where the hold began: the same face, not
# one that swapped places with another. Measured from the start, not frame to frame, so that frames the pipeline
# skips do not break a hold; the detector's own jitter is about 0.1, a person shifting on their feet 0.2-0.3. Blur
# from moving is the sharpness check's to catch, on each frame.
MAX_DRIFT = 0.5
# A hold survives a frame or two off the pose for this long (s): a head that sways a little around a pose (the clip's
# singer, anyone talking) holds it for a second with brief slips, and restarting at every slip never completes.
HOLD_GAP_S = 0.2
# The photo stored is the face with this much context around it (as pipeline.face_crop grows it): the gallery
# finds the face again in it, and no bystander's face is stored with it.
PHOTO_GROW = 1.0


class Pose(enum.Enum):
    STRAIGHT = "Straight"
    ONE_SIDE = "Turned one way"
    OTHER_SIDE = "Turned the other way"

    @property
    def instruction(self) -> str:
        return {Pose.STRAIGHT: "Look straight at the camera",
                Pose.ONE_SIDE: "Turn your head slightly to one side",
                Pose.OTHER_SIDE: "Now turn your head slightly to the other side"}[self]


POSES = tuple(Pose)


def head_turn(landmarks: np.ndarray) -> float:
    """Signed head turn from dlib's 5 points (0 = straight at the camera)."""
    right_eye, left_eye = landmarks[:2].mean(0), landmarks[2:4].mean(0)
    eyes = (right_eye + left_eye) / 2
    return float((landmarks[4][0] - eyes[0]) / max(np.linalg.norm(right_eye - left_eye), 1e-6))


def choose_enrollee(faces: list[Face]) -> tuple[Face | None, str | None]:
    """(the face to enroll, None), or (None, what the person should do). The largest face is the person nearest the
    camera; a face at least BYSTANDER_WIDTH as wide is someone else about as near."""
    if not faces:
        return None, "No face in view: please stand in front of the camera"
    largest = max(faces, key=lambda f: f.width)
    others = [f for f in faces if f is not largest and f.width >= BYSTANDER_WIDTH * largest.width]
    if others:
        return None, "Two people close to the camera: only the person enrolling, please"
    return largest, None


def face_problem(image: np.ndarray, face: Face, min_face_width: float) -> str | None:
    """What keeps this face from being a good reference photo (size, place, light, blur); None when it is."""
    if face.width < min_face_width:
        return "Please move closer to the camera"
    x, y, w, h = face.box
    if x < 0 or y < 0 or x + w > image.shape[1] or y + h > image.shape[0]:
        return "Please move to the middle of the picture"
    crop = face_crop(image, face.box, grow=0.0)
    if crop.size == 0:
        return "Please move to the middle of the picture"
    brightness = float(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).mean())
    if brightness < MIN_BRIGHTNESS:
        return "Too dark: turn on a light or face the window"
    if brightness > MAX_BRIGHTNESS:
        return "Too bright: move out of the direct light"
    if sharpness(cv2.resize(crop, (150, 150))) < MIN_ENROLL_SHARPNESS:
        return "Hold still, please"
    return None


def pose_of(turn: float, straight_turn: float | None) -> Pose | None:
    """The pose a head turn shows (the sides measured from the straight shot when there is one), or None: between
    poses, or too far turned."""
    if straight_turn is None and abs(turn) <= MAX_STRAIGHT_TURN:
        return Pose.STRAIGHT
    if straight_turn is not None and abs(turn - straight_turn) < MIN_TURN / 2 and abs(turn) <= MAX_STRAIGHT_TURN:
        return Pose.STRAIGHT
    if abs(turn) > MAX_TURN:
        return None
    change = turn - (straight_turn if straight_turn is not None else 0.0)
    # Turned enough: MIN_TURN from the straight shot; or, when the straight shot itself leans that way (a camera
    # a little to one side), half of it from the shot and MIN_TURN from square on. Without the second, a
    # straight shot at 0.10 asked for 0.22 the other way, more than the clip's singer ever turns to that side.
    leaning = (straight_turn is not None and abs(change) >= MIN_TURN / 2 and abs(turn) >= MIN_TURN
               and turn * change > 0)
    if abs(change) < MIN_TURN and not leaning:
        return None
    return Pose.ONE_SIDE if change < 0 else Pose.OTHER_SIDE


@dataclass
class Shot:
    pose: Pose
    photo: np.ndarray  # RGB: the face with context, as it will be stored
    turn: float
    embedding: np.ndarray | None = None  # set once the gallery's own analysis accepted the photo


@dataclass
class Judgement:
    """What one frame says: the enrollee's face (or None), the pose it fills, what to tell the person, and whether
    the hold is complete (take the shot now)."""

    face: Face | None
    pose: Pose | None
    advice: str  # shown to the person: what to do, or that the shot is being held
    good: bool  # a usable frame for a missing pose (a manual Capture may take it)
    ready: bool = False  # good and held for HOLD_S: take it


@dataclass
class SnapshotSession:
    """The three shots and the hold in progress. Feed it each frame's faces (`judge`), store what it says to take
    (`add`), and `retake` a pose to take it again."""

    min_face_width: float
    poses: tuple[Pose, ...] = POSES  # the shots wanted (a visitor, for a day: the straight one is enough)
    shots: dict[Pose, Shot] = field(default_factory=dict)
    _hold_pose: Pose | None = None
    _hold_since: float | None = None
    _hold_box: tuple[float, float, float, float] | None = None  # where the hold began
    _hold_seen: float | None = None  # the last frame that kept the hold

    @property
    def missing(self) -> list[Pose]:
        return [p for p in self.poses if p not in self.shots]

    @property
    def complete(self) -> bool:
        return not self.missing

    def ordered(self) -> list[Shot]:
        return [self.shots[p] for p in self.poses if p in self.shots]

    def _straight_turn(self) -> float | None:
        straight = self.shots.get(Pose.STRAIGHT)
        return straight.turn if straight is not None else None

    def reset_hold(self) -> None:
        self._hold_pose = self._hold_since = self._hold_box = self._hold_seen = None

    def _slip(self, now: float) -> None:
        """A frame off the hold: it ends only when the slip lasts longer than HOLD_GAP_S."""
        if self._hold_seen is None or now - self._hold_seen > HOLD_GAP_S:
            self.reset_hold()

    def judge(self, image: np.ndarray, faces: list[Face], now: float) -> Judgement:
        """Judge one frame (faces with landmarks, from the engine's detector). `now` is the frame's time."""
        face, problem = choose_enrollee(faces)
        if face is None:
            self.reset_hold()
            return Judgement(None, None, problem or "", False)
        problem = face_problem(image, face, self.min_face_width)
        if problem is not None or face.landmarks is None:
            self._slip(now)
            return Judgement(face, None, problem or "Please look at the camera", False)
        turn = head_turn(face.landmarks)
        pose = pose_of(turn, self._straight_turn())
        if pose is None or pose in self.shots:
            self._slip(now)
            return Judgement(face, None, self.pose_advice(turn), False)
        steady = (self._hold_pose is pose and self._hold_box is not None
                  and _shift(self._hold_box, face.box) <= MAX_DRIFT)
        if not steady:  # the hold (re)starts here
            self._hold_pose, self._hold_since, self._hold_box = pose, now, face.box
        self._hold_seen = now
        assert self._hold_since is not None
        ready = now - self._hold_since >= HOLD_S
        return Judgement(face, pose, f"{pose.value}: hold still...", True, ready)

    def pose_advice(self, turn: float) -> str:
        """What to do for a missing pose, given the head's turn now."""
        if abs(turn) > MAX_TURN:
            return "Not so far: turn back a little towards the camera"
        wanted = self.missing[0] if self.missing else None
        if wanted is Pose.STRAIGHT:
            return "Please look straight at the camera"
        if wanted is Pose.ONE_SIDE and Pose.OTHER_SIDE in self.shots or wanted is Pose.OTHER_SIDE:
            return "Now turn your head slightly the other way"
        return "Turn your head slightly to one side"

    def take(self, image: np.ndarray, judgement: Judgement) -> Shot:
        """The shot this judgement stands for (not stored yet: the gallery checks the photo first)."""
        assert judgement.face is not None and judgement.pose is not None and judgement.face.landmarks is not None
        self.reset_hold()
        return Shot(judgement.pose, face_crop(image, judgement.face.box, grow=PHOTO_GROW),
                    head_turn(judgement.face.landmarks))

    def unlike_shots(self, embedding: np.ndarray, stranger: float) -> float | None:
        """The distance to the nearest shot already taken when it is `stranger` or more (the policy's
        unknown_distance: the kiosk would take the face for a stranger), else None. Three photos of one person,
        never a bystander who stepped in for one of them. The nearest, not each: the same face turned 0.4 apart is
        0.3-0.55 from itself in the clip's 80 px video frames, another person 0.55-0.67."""
        taken = [shot.embedding for shot in self.ordered() if shot.embedding is not None]
        if not taken:
            return None
        nearest = float(min(np.linalg.norm(np.asarray(taken) - embedding, axis=1)))
        return nearest if nearest >= stranger else None

    def add(self, shot: Shot) -> None:
        self.shots[shot.pose] = shot
        self.reset_hold()

    def retake(self, pose: Pose) -> None:
        self.shots.pop(pose, None)
        self.reset_hold()

    def clear(self) -> None:
        self.shots.clear()
        self.reset_hold()


def _shift(before: tuple[float, float, float, float], after: tuple[float, float, float, float]) -> float:
    """How far a face's centre moved from one box to another, as a share of the first box's width."""
    bx, by, bw, bh = before
    ax, ay, aw, ah = after
    return float(np.hypot((ax + aw / 2) - (bx + bw / 2), (ay + ah / 2) - (by + bh / 2)) / max(bw, 1.0))
