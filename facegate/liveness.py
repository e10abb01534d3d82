"""Liveness: is the recognised face a live person in front of the camera, not a photo, a screen or a replay?

A plain RGB webcam sees what a picture cannot do, measured on FaceMesh's dense landmarks:
- the mouth opening from closed. A sheet of paper, flat or bent, turned or tilted however the attacker likes,
  cannot part its printed lips. Tilts that foreshorten the printed face are told apart by the face's own
  proportions (MouthWatch, Mesh.mouth_opening). A print with the mouth cut out, worn over the attacker's face,
  opens the attacker's real mouth, but its printed chin stays put where a real jaw drops: the chin's movement is
  read from the picture itself (JawMotion), since FaceMesh moves its chin landmark with any open mouth.
- blinks (passive mode only): eye closure against this person's own open-eye level. FaceMesh's eye landmarks
  barely follow a real eyelid (a full closure moves the eye ratio by 2-5 % on real clips, where 35 % is needed),
  so a challenge never asks for a blink: a live person would fail it, and a print with the eyes cut out, held
  over the attacker's face, would blink with the attacker's own eyes anyway.
- 3D motion: when a real head turns, the nose, eyes and cheeks move with parallax; a photo or screen held flat,
  however it is moved or tilted, moves as one plane, so its landmarks fit a single homography. The cue is the
  residual of the best homography between the check's first mesh and each later one, in eye distances. A sheet
  bent about one axis and turned shows parallax too: that is why every challenge also asks to open the mouth.
- a challenge: random requests in order, each within a time limit, each answered from a neutral pose: always
  "open your mouth", and at least one head movement (turn slightly left/right, nod).
  Whatever is shown first after a request must be the request: another head movement or an unrequested mouth
  opening fails the check. So a video recorded in advance passes only when its
  actions happen to be the drawn ones in the drawn order: `replay_chance()`.

Modes: "off" (recognition alone), "passive" (a blink and 3D motion while the person just stands there),
"challenge" (the requested actions, plus 3D motion).
"""

from __future__ import annotations

import enum
import functools
import itertools
import random
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

from facegate.config import Settings
from facegate.vision.facemesh import CHIN, NOSE_BRIDGE, NOSE_TIP, UPPER_LIP_INNER, Mesh


class Action(str, enum.Enum):
    OPEN_MOUTH = "open mouth"
    TURN_LEFT = "turn left"
    TURN_RIGHT = "turn right"
    NOD = "nod"


# In every challenge: what a sheet of paper cannot do, however it is bent, turned or tilted (issue 14: a print
# curled about one axis and turned on request moves in 3D like a head, so head movements alone do not tell it
# from a face). Not a blink: see the module docstring.
REQUIRED_ACTION = Action.OPEN_MOUTH
HEAD_ACTIONS = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)
INSTRUCTIONS = {
    Action.OPEN_MOUTH: "Please open your mouth",
    Action.TURN_LEFT: "Turn your head slightly to your left",  # the person's own left, whatever the screen shows
    Action.TURN_RIGHT: "Turn your head slightly to your right",
    Action.NOD: "Please nod",
}
ICONS = {Action.OPEN_MOUTH: "mouth", Action.TURN_LEFT: "left",
         Action.TURN_RIGHT: "right", Action.NOD: "down"}
class LivenessMode(str, enum.Enum):
    OFF = "off"  # no check: a photo of an enrolled person is let in
    PASSIVE = "passive"  # a natural blink and 3D motion (refuses most real people: see the module docstring)
    CHALLENGE = "challenge"  # random requests, the mouth with the jaw among them


MODES = tuple(mode.value for mode in LivenessMode)  # the words of the `liveness` setting
# A challenge has the mouth opening and a head movement: at least two requests.
MIN_STEPS, MAX_STEPS = 2, 4


@dataclass(frozen=True)
class LivenessSettings:
    mode: LivenessMode = LivenessMode.CHALLENGE  # the setting's word is accepted too
    # Number of random requests in a challenge (2-4; each adds ~1-2 s for a cooperative person). Three: with the
    # mouth in every challenge, two requests leave only 6 challenges (a replay's chance 1 in 6), three leave 24.
    steps: int = 3
    # Seconds allowed for each request (2-10).
    step_time_s: float = 5.0
    # Seconds a passive check may take before it fails (a natural blink comes every 2-10 s) (4-20).
    passive_time_s: float = 10.0
    # A blink: eye aspect ratio under this fraction of the person's open-eye level, then back (0.5-0.8).
    blink_ratio: float = 0.65
    # 3D motion: homography residual (in eye distances) that a flat picture does not reach (0.05-0.1). Measured:
    # rendered prints reach 0.033 (flat) and 0.042 (bent); a real head turning slightly 0.09-0.1, widely 0.2.
    min_parallax: float = 0.07
    # Head turn for "turn left/right": nose shift between the cheeks, as a fraction of half the face (0.15-0.5).
    turn_delta: float = 0.25
    # Nod: nose drop between forehead and chin, as a fraction of half the face (0.08-0.3).
    nod_delta: float = 0.15
    # Mouth opened: Mesh.mouth_opening() this far above the person's own closed level. Measured on the clip:
    # closed 0-0.03, singing peaks 0.11-0.22; opened on request a mouth gives 0.3 and more.
    mouth_open_delta: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> LivenessSettings:
        return cls(mode=LivenessMode(settings.liveness), steps=settings.liveness_steps,
                   step_time_s=settings.liveness_step_time_s)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"liveness mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        object.__setattr__(self, "mode", LivenessMode(self.mode))  # frozen; "challenge" -> the enum
        if not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise ValueError(f"liveness steps must be between {MIN_STEPS} and {MAX_STEPS}")


@functools.cache
def possible_challenges(steps: int) -> tuple[tuple[Action, ...], ...]:
    """Every challenge of `steps` requests: never the same request twice in a row (a held pose must not answer
    two), the mouth opening (REQUIRED_ACTION: a bent print turned on request, with or without its eyes cut out,
    has nothing else left to fail) and at least one head movement (the 3D motion cue needs the head to move)."""
    return tuple(sequence for sequence in itertools.product(list(Action), repeat=steps)
                 if all(a != b for a, b in itertools.pairwise(sequence))
                 and REQUIRED_ACTION in sequence and any(a in HEAD_ACTIONS for a in sequence))


def draw_challenge(rng: random.Random, steps: int) -> list[Action]:
    """One of the possible challenges, each as likely as any other."""
    return list(rng.choice(possible_challenges(steps)))


def replay_chance(settings: LivenessSettings) -> Fraction:
    """Chance that a recording made in advance passes the challenge. Each step is decided by the first action
    the recording shows after the request (a head movement or a mouth opening),
    and any action that was not requested fails the check, so a recording passes only the one challenge whose
    requests are its own actions in its own order; challenges are drawn uniformly: 1 in their number."""
    return Fraction(1, len(possible_challenges(settings.steps)))


@dataclass(frozen=True)
class AttemptSettings:
    """How failed checks slow down whoever tries again as the same person (a denied attacker steps out of view
    and comes back at once: without this, a 1-in-12 replay is a matter of a minute)."""

    # Failed checks of one identity are remembered this long (s).
    memory_s: float = 3600.0
    # Wait before the next check after the first failure (s); it doubles with each further failure.
    cooldown_s: float = 10.0
    # From this many remembered failures: a guard alert at each failure, and the identity waits `lockout_s`.
    alert_after: int = 3
    lockout_s: float = 900.0
    # Each remembered failure adds one request to the next challenge, up to this many.
    max_steps: int = 4


class AttemptLimiter:
    """Failed liveness checks per claimed identity: cool-down, a longer challenge, then a guard alert."""

    def __init__(self, settings: AttemptSettings | None = None):
        self.settings = settings or AttemptSettings()
        self._failures: dict[str, list[float]] = {}

    def failures(self, name: str, now: float) -> int:
        kept = [t for t in self._failures.get(name, []) if now - t < self.settings.memory_s]
        if kept:
            self._failures[name] = kept
        else:
            self._failures.pop(name, None)
        return len(kept)

    def wait_left(self, name: str, now: float) -> float:
        """Seconds before `name` may be checked again (0: now)."""
        count = self.failures(name, now)
        if count == 0:
            return 0.0
        s = self.settings
        pause = s.lockout_s if count >= s.alert_after else s.cooldown_s * 2 ** (count - 1)
        return max(0.0, self._failures[name][-1] + pause - now)

    def steps_for(self, name: str, base_steps: int, now: float) -> int:
        return min(max(base_steps, self.settings.max_steps), base_steps + self.failures(name, now))

    def record_failure(self, name: str, now: float) -> tuple[int, bool]:
        """(failures remembered now, whether this one alerts the guard)."""
        self._failures.setdefault(name, []).append(now)
        count = self.failures(name, now)
        return count, count >= self.settings.alert_after

    def record_pass(self, name: str) -> None:
        self._failures.pop(name, None)


def chance_per_hour(settings: LivenessSettings, attempts: AttemptSettings | None = None) -> Fraction:
    """Chance that a recording made in advance passes within one hour of trying as one identity, retrying the
    moment each wait ends: every attempt draws a fresh challenge, one request longer after each failure."""
    attempts = attempts or AttemptSettings()
    limiter, now, fail_all = AttemptLimiter(attempts), 0.0, Fraction(1)
    while now < 3600.0:
        steps = limiter.steps_for("x", settings.steps, now)
        fail_all *= 1 - replay_chance(LivenessSettings(mode=settings.mode, steps=steps))
        limiter.record_failure("x", now)
        now += max(limiter.wait_left("x", now), 1.0)
    return 1 - fail_all


class CheckState(str, enum.Enum):
    RUNNING = "running"  # a request is shown (or the passive check watches)
    PASSED = "passed"
    FAILED = "failed"
    WAITING = "waiting"  # no check yet: the claimed identity waits after failed checks (AttemptLimiter)


@dataclass
class LivenessStatus:
    state: CheckState
    instruction: str = ""
    icon: str = ""
    remaining_s: float = 0.0
    reason: str = ""
    cues: dict = field(default_factory=dict)


def homography_residual(reference: np.ndarray, current: np.ndarray, scale: float) -> float:
    """RMS distance between `current` and `reference` mapped by their best-fitting homography, in units of
    `scale`. ~0.01-0.03 for a picture (landmark noise); a real head turning shows far more."""
    matrix, _ = cv2.findHomography(reference.astype(np.float32), current.astype(np.float32), 0)
    if matrix is None:
        return 0.0
    projected = cv2.perspectiveTransform(reference[None].astype(np.float32), matrix)[0]
    return float(np.sqrt(((projected - current) ** 2).sum(1).mean()) / max(scale, 1e-6))


class BlinkCounter:
    """Counts blinks against the person's own open-eye level (the upper part of their recent eye ratio).

    The eye ratio is taken relative to the proportions of the region around the eyes (brow to cheek over eye
    width): a printed face tilted sharply away from the camera flattens its printed eyes (the eye ratio falls) but
    flattens their brows and cheeks with them, so the relative ratio stays; a real blink closes the eyelids and
    leaves brows and cheeks where they were. A closure during which the face is flattened by more than 10 % is
    not counted at all (real blinks leave the proportions within a few per cent)."""

    MAX_FLATTENING = 0.9

    def __init__(self, ratio: float):
        self.ratio = ratio
        self.history: list[float] = []
        self.aspects: list[tuple[float, ...]] = []
        self.closed_since: float | None = None
        self.closure_flattened = False
        self.blinks = 0
        self.lowest_ratio = 1.0
        self.lowest_raw_ratio = 1.0  # without the face-proportion correction, for the record
        self.foreshortening = 1.0  # the latest frame's most flattened face proportion against its usual value

    def update(self, ear: float, now: float, aspects: tuple[float, ...] | None = None) -> bool:
        """Returns True when a blink just completed. `aspects`: proportions of the face that a blink leaves alone
        and a tilt away from the camera flattens (Mesh.face_aspect(), Mesh.eye_region_aspect()), same frame."""
        self.history.append(ear)
        if aspects is not None:
            self.aspects.append(tuple(aspects))
        for kept in (self.history, self.aspects):
            if len(kept) > 90:
                kept.pop(0)
        if len(self.history) < 4:
            return False
        baseline = float(np.percentile(self.history, 80))
        raw = ear / baseline if baseline > 0 else 1.0
        foreshortening = 1.0
        if aspects is not None and len(self.aspects) >= 4:
            usual = np.median(np.array(self.aspects), axis=0)
            # the most flattened proportion: what is left of an eye ratio dip after it is not a blink
            foreshortening = min(1.0, *(now_ / max(usual_, 1e-6) for now_, usual_ in zip(aspects, usual, strict=False)))
        self.foreshortening = foreshortening
        relative = raw / max(foreshortening, 1e-6)
        self.lowest_raw_ratio = min(self.lowest_raw_ratio, raw)
        self.lowest_ratio = min(self.lowest_ratio, relative)
        flattened = foreshortening < self.MAX_FLATTENING
        if relative < self.ratio or (raw < self.ratio and flattened):
            if self.closed_since is None:
                self.closed_since = now
                self.closure_flattened = False
            # A closure seen while the face is flattened is a tilt (or a blink during one): it does not count.
            self.closure_flattened |= flattened
            return False
        if self.closed_since is not None and relative > 0.85:
            closed_for = now - self.closed_since
            self.closed_since = None
            if closed_for <= 0.6 and not self.closure_flattened:  # a blink; longer is eyes shut, not a blink
                self.blinks += 1
                return True
        return False


# Where the jaw's movement is read (FaceMesh indices): points a jaw drop leaves alone (eye corners, brows, nose,
# the cheek under each eye) and points on the chin, below the lower lip.
RIGID_POINTS = (33, 133, 362, 263, 1, 4, 6, 168, 197, 105, 334, 119, 348)
CHIN_POINTS = (CHIN, 148, 377, 175, 199, 200, 171, 396)


class JawMotion:
    """Does the chin move down as the mouth opens? A real mouth opens by dropping the jaw: the chin moves down
    against the rest of the face by about as much as the lips part, or more. A print with the mouth cut out, the
    attacker's own mouth opening behind it, parts the lips while the printed chin moves with the sheet.

    FaceMesh cannot tell these apart: it moves its chin landmark with any open mouth, whether or not the chin in
    the picture moved (0.25-0.73 times the lips' parting on such prints). So this reads the picture: the face's
    points are followed by optical flow (pyramidal Lucas-Kanade) from the last frame the mouth was closed; the
    movement of the upper face (one affine map: the head turning, or the sheet moving) is taken away from the
    chin's, and what is left, downward, is the jaw's drop. Measured (median per clip, lips parted 0.08 or more):
    people talking 0.21-1.59 times the parting (benchmarks/liveness_bona_fide.py: one clip of ten under the bar),
    the Hamilton clip's opening above 1.5; cut-out mouths rendered on flat and bent prints -0.04 to 0.03 times."""

    MIN_RATIO = 0.25  # the chin's own drop, as a share of the lips' parting (both in Mesh.mouth_opening's unit)

    def __init__(self) -> None:
        self.reference: tuple[np.ndarray, np.ndarray, float, float] | None = None  # grey, points, height, opening
        self.lowest_ratio = float("inf")  # the lowest ratio while the lips were parted 0.1 or more, for the record

    def closed(self, grey: np.ndarray, mesh: Mesh) -> None:
        """The mouth is closed on this frame: the face to compare with."""
        points = mesh.points[:, :2].astype(np.float32)
        height = float(np.linalg.norm(points[UPPER_LIP_INNER] - points[NOSE_BRIDGE]))
        self.reference = (grey, points, height, mesh.mouth_opening())

    def drop(self, grey: np.ndarray, mesh: Mesh) -> float | None:
        """The chin's own movement down since the mouth was last closed, in nose-bridge-to-upper-lip heights;
        None when it cannot be followed."""
        if self.reference is None:
            return None
        before, points, height, _ = self.reference
        followed = list(RIGID_POINTS + CHIN_POINTS)
        start = points[followed].reshape(-1, 1, 2)
        # The head's movement (from FaceMesh's nose tip) as the first guess: the flow then only refines it.
        guess = (start + (mesh.points[NOSE_TIP, :2] - points[NOSE_TIP])).astype(np.float32)
        window = max(9, int(0.5 * height)) | 1
        found, status, _ = cv2.calcOpticalFlowPyrLK(before, grey, start, guess, winSize=(window, window), maxLevel=3,
                                                    flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        found, ok = found.reshape(-1, 2), status.ravel() == 1
        rigid = len(RIGID_POINTS)
        if ok[:rigid].sum() < 4 or ok[rigid:].sum() < 3:
            return None
        head, _ = cv2.estimateAffine2D(start[:rigid, 0][ok[:rigid]], found[:rigid][ok[:rigid]], method=cv2.LMEDS)
        if head is None:
            return None
        chin_before = start[rigid:, 0][ok[rigid:]]
        expected = chin_before @ head[:, :2].T + head[:, 2]
        return float(np.median(found[rigid:][ok[rigid:], 1] - expected[:, 1]) / max(height, 1e-6))

    def follows(self, grey: np.ndarray, mesh: Mesh) -> bool:
        """The chin has dropped with the lips since the mouth was last closed (False when it cannot be seen)."""
        if self.reference is None:
            return False
        parted = mesh.mouth_opening() - self.reference[3]
        if parted < 0.02:  # not opening: nothing to compare
            return False
        drop = self.drop(grey, mesh)
        if drop is None:
            return False
        if parted >= 0.1:
            self.lowest_ratio = min(self.lowest_ratio, drop / parted)
        return drop >= self.MIN_RATIO * parted


class MouthWatch:
    """The mouth opening from closed, against the person's own usual level (the lower part of their recent
    Mesh.mouth_opening(), taken only from frames where the face has its usual proportions).

    A picture cannot part its printed lips, but tilting or bending it changes how open a printed mouth looks:
    tilted forward an open printed mouth looks closed, tilted back it looks up to ~1.3x wider, and curled about
    the horizontal axis and tilted back up to 1.8x (perspective brings the mouth nearer than the eyes; measured on
    obama2.jpg, whose mouth is open, printed). So:
    - "closed" is also closed in absolute terms (CLOSED_MAX): a picture of an open mouth is never closed, and an
      opening must start from closed;
    - frames whose proportions are squashed by more than MAX_SQUASH (a tilt; a real mouth opening leaves them alone
      or lengthens the face) neither teach the usual level nor count as an opening;
    - an opening is seen on OPEN_FRAMES frames in a row (a real one lasts a third of a second or more; a flick of
      the sheet, or a landmark glitch, a frame or two), each with the chin dropping with it (JawMotion: see())."""

    CLOSED_MAX = 0.08
    MAX_SQUASH = 0.95
    OPEN_FRAMES = 3

    def __init__(self, delta: float):
        self.delta = delta
        self.history: list[float] = []
        self.widest = 0.0  # the largest opening above the usual level, for the record
        self.opening = 0.0  # the latest, above the usual level
        self.absolute = float("inf")  # the latest Mesh.mouth_opening(); unknown until there is a usual level
        self.usual_proportions = False  # the latest frame's face is not squashed
        self._open_frames = 0
        self._seen_closed = self._opened = False
        self.jaw = JawMotion()

    def see(self, mesh: Mesh, grey: np.ndarray, foreshortening: float) -> None:
        """One frame as the check reads it: the opening, the face's squash (BlinkCounter.foreshortening) and the
        chin's drop since the mouth was last closed, read from `grey`, the frame the mesh was found in."""
        self.update(mesh.mouth_opening(), foreshortening, self.jaw.follows(grey, mesh))
        if self.is_closed:
            self.jaw.closed(grey, mesh)

    def update(self, opening: float, foreshortening: float, jaw_drops: bool) -> None:
        """`foreshortening`: the face's most squashed proportion against its usual value, same frame
        (BlinkCounter.foreshortening); `jaw_drops`: the chin moved down with the lips (JawMotion.follows)."""
        usual_proportions = self.usual_proportions = foreshortening >= self.MAX_SQUASH
        if usual_proportions:
            self.history.append(opening)
            if len(self.history) > 90:
                self.history.pop(0)
        if len(self.history) < 4:
            return
        self.absolute = opening  # from here on; before it, nothing is known to be closed
        self.opening = opening - float(np.percentile(self.history, 20))
        if usual_proportions:
            self.widest = max(self.widest, self.opening)
        self._open_frames = self._open_frames + 1 if self.is_open and usual_proportions and jaw_drops else 0
        if self.is_closed:
            self._seen_closed = True
        elif self._open_frames >= self.OPEN_FRAMES and self._seen_closed:
            self._opened = True

    @property
    def is_open(self) -> bool:
        return self.opening >= self.delta

    @property
    def is_closed(self) -> bool:
        """Closed against the person's usual level and in absolute terms (a picture of an open mouth never is), on
        a face not squashed (tilted forward, a printed open mouth looks closed)."""
        return self.opening <= self.delta / 3 and self.absolute <= self.CLOSED_MAX and self.usual_proportions

    def arm(self) -> None:
        """A request starts: only an opening from a closed mouth seen from now on counts."""
        self._seen_closed = self.is_closed
        self._opened = False
        self._open_frames = 0

    @property
    def opened(self) -> bool:
        """Opened (from closed) since arm()."""
        return self._opened


class LivenessCheck:
    """One check on one track. Feed it a mesh per frame; it says what to show and when it is decided."""

    def __init__(self, settings: LivenessSettings, rng: random.Random, started: float):
        self.settings = settings
        self.started = started
        self.challenge = draw_challenge(rng, settings.steps) if settings.mode is LivenessMode.CHALLENGE else []
        self.step = 0
        self.step_started = started
        self.blinks = BlinkCounter(settings.blink_ratio)
        self.mouth = MouthWatch(settings.mouth_open_delta)
        self.reference: np.ndarray | None = None
        self.parallax = 0.0
        self.base_pose: tuple[float, float] | None = None
        self.poses: list[tuple[float, float]] = []
        self.nod_down = False
        self.armed = False
        self.wrong: Action | None = None
        self.frames = 0
        self.result: LivenessStatus | None = None

    def cues(self, now: float) -> dict:
        return {"mode": self.settings.mode.value, "blinks": self.blinks.blinks, "parallax": round(self.parallax, 4),
                "lowest_eye_ratio": round(self.blinks.lowest_ratio, 3), "widest_mouth": round(self.mouth.widest, 3),
                "lowest_jaw_ratio": (None if self.mouth.jaw.lowest_ratio == float("inf")
                                     else round(self.mouth.jaw.lowest_ratio, 2)),
                "challenge": [a.value for a in self.challenge], "steps_passed": self.step,
                "frames": self.frames, "seconds": round(now - self.started, 2)}

    def _head_action(self, yaw: float, pitch: float) -> Action | None:
        """The head movement shown now, relative to the pose at the start of the check."""
        assert self.base_pose is not None  # update() runs a challenge step only once the base pose is known
        base_yaw, base_pitch = self.base_pose
        if yaw - base_yaw >= self.settings.turn_delta:  # the person's left: their nose moves to the image's right
            return Action.TURN_LEFT
        if yaw - base_yaw <= -self.settings.turn_delta:
            return Action.TURN_RIGHT
        if pitch - base_pitch >= self.settings.nod_delta:  # the downward half of a nod
            return Action.NOD
        return None

    def _neutral(self, yaw: float, pitch: float) -> bool:
        assert self.base_pose is not None  # update() runs a challenge step only once the base pose is known
        base_yaw, base_pitch = self.base_pose
        return (abs(yaw - base_yaw) < self.settings.turn_delta / 2
                and abs(pitch - base_pitch) < self.settings.nod_delta / 2)

    def _shown(self, yaw: float, pitch: float) -> list[Action]:
        """The actions shown since the step was armed: the head movement now, a mouth opened from closed."""
        shown = [a for a in (self._head_action(yaw, pitch),) if a is not None]
        if self.mouth.opened:
            shown.append(Action.OPEN_MOUTH)
        return shown

    def _challenge_step(self, action: Action, yaw: float, pitch: float) -> str:
        """'done', 'wrong' or 'waiting'. A step counts only from a neutral pose with the mouth not open, reached
        after the request (a held pose cannot answer it), and the first action shown after that must be the one
        requested: a recording that shows several actions fails on the first one that was not asked for."""
        if not self.armed:
            if self._neutral(yaw, pitch) and not self.mouth.is_open:
                self.armed = True
                self.mouth.arm()
            return "waiting"
        shown = self._shown(yaw, pitch)
        unrequested = [a for a in shown if a is not action]
        if unrequested:
            self.wrong = unrequested[0]
            return "wrong"
        if action is Action.OPEN_MOUTH:
            return "done" if shown else "waiting"  # opened from closed; the next request waits for it to close
        if action is Action.NOD:
            self.nod_down |= bool(shown)
            return "done" if self.nod_down and self._neutral(yaw, pitch) else "waiting"
        return "done" if shown else "waiting"

    def update(self, mesh: Mesh, image: np.ndarray, now: float) -> LivenessStatus:
        """`image`: the frame the mesh was found in (RGB), for the chin's movement."""
        if self.result is not None:
            return self.result
        self.frames += 1
        points = mesh.points[:, :2]
        if self.reference is None:
            self.reference = points.copy()
        else:
            self.parallax = max(self.parallax, homography_residual(self.reference, points, mesh.interocular()))
        self.blinks.update(mesh.eye_aspect_ratio(), now, (mesh.face_aspect(), mesh.eye_region_aspect()))
        self.mouth.see(mesh, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), self.blinks.foreshortening)
        yaw, pitch = mesh.yaw_pitch()
        self.poses.append((yaw, pitch))
        if self.base_pose is None and len(self.poses) >= 3:
            self.base_pose = tuple(np.median(np.array(self.poses), axis=0))
        s = self.settings
        moved_in_3d = self.parallax >= s.min_parallax
        if s.mode is LivenessMode.PASSIVE:
            remaining = s.passive_time_s - (now - self.started)
            if self.blinks.blinks >= 1 and moved_in_3d:
                return self._finish(CheckState.PASSED, now)
            if remaining <= 0:
                missing = [m for m, ok in (("no blink", self.blinks.blinks >= 1), ("no 3D head motion", moved_in_3d))
                           if not ok]
                return self._finish(CheckState.FAILED, now, "; ".join(missing))
            return LivenessStatus(CheckState.RUNNING, "Please look at the camera", "eye", remaining,
                                  cues=self.cues(now))

        action = self.challenge[self.step]
        outcome = "waiting" if self.base_pose is None else self._challenge_step(action, yaw, pitch)
        if outcome == "wrong":
            assert self.wrong is not None  # _challenge_step sets it whenever it answers "wrong"
            return self._finish(CheckState.FAILED, now, f"asked to {action.value}, saw {self.wrong.value}")
        if outcome == "done":
            self.step += 1
            self.step_started = now
            self.armed = False
            self.nod_down = False
            if self.step == len(self.challenge):
                if moved_in_3d:
                    return self._finish(CheckState.PASSED, now)
                return self._finish(CheckState.FAILED, now, "the face moved like a flat picture (no 3D motion)")
            action = self.challenge[self.step]
        remaining = s.step_time_s - (now - self.step_started)
        if remaining <= 0:
            return self._finish(CheckState.FAILED, now, f"timed out waiting for: {action.value}")
        return LivenessStatus(CheckState.RUNNING, INSTRUCTIONS[action], ICONS[action], remaining, cues=self.cues(now))

    def _finish(self, state: CheckState, now: float, reason: str = "") -> LivenessStatus:
        self.result = LivenessStatus(state, reason=reason, cues=self.cues(now))
        return self.result
