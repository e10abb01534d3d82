"""Liveness: is the recognised face a live person in front of the camera, not a photo, a screen or a replay?

A plain RGB webcam sees what a flat picture cannot do, measured on FaceMesh's dense landmarks:
- 3D motion: when a real head turns, the nose, eyes and cheeks move with parallax; a photo or screen, however it
  is moved or tilted, moves as one plane, so its landmarks fit a single homography. The cue is the residual of
  the best homography between the check's first mesh and each later one, in units of the eye distance.
- blinks: eye closure against this person's own open-eye level (eye aspect ratio falling below a fraction of its
  running baseline and coming back), not against a fixed number.
- a challenge: random requests (blink twice, turn slightly left/right, nod) in order, each within a time limit,
  each answered from a neutral pose, and no other head movement first. A video recorded in advance passes only
  by chance: `replay_chance()` computes it.

Modes: "off" (recognition alone), "passive" (a blink and 3D motion while the person just stands there),
"challenge" (the requested actions, plus 3D motion). In challenge mode a natural blink is not required (the
challenge may ask for blinks); 3D motion always is: turning the head for the challenge produces it.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

from facegate.vision.facemesh import Mesh


class Action(str, enum.Enum):
    BLINK_TWICE = "blink twice"
    TURN_LEFT = "turn left"
    TURN_RIGHT = "turn right"
    NOD = "nod"


INSTRUCTIONS = {
    Action.BLINK_TWICE: "Please blink twice",
    Action.TURN_LEFT: "Turn your head slightly to your left",  # the person's own left, whatever the screen shows
    Action.TURN_RIGHT: "Turn your head slightly to your right",
    Action.NOD: "Please nod",
}
ICONS = {Action.BLINK_TWICE: "eye", Action.TURN_LEFT: "left", Action.TURN_RIGHT: "right", Action.NOD: "down"}
MODES = ("off", "passive", "challenge")


@dataclass(frozen=True)
class LivenessSettings:
    # off | passive | challenge (see the module docstring).
    mode: str = "challenge"
    # Number of random requests in a challenge (1-4; each adds ~1-2 s for a cooperative person).
    steps: int = 2
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

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"liveness mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 1 <= self.steps <= 4:
            raise ValueError("liveness steps must be between 1 and 4")


def draw_challenge(rng: random.Random, steps: int) -> list[Action]:
    """Random requests, never the same twice in a row (a held pose must not answer two requests)."""
    actions = list(Action)
    sequence: list[Action] = []
    for _ in range(steps):
        sequence.append(rng.choice([a for a in actions if not sequence or a != sequence[-1]]))
    return sequence


def replay_chance(settings: LivenessSettings) -> Fraction:
    """Chance that a recording made in advance passes the challenge. Each step is decided by the first head
    movement the recording happens to show after the request (any other movement fails the check), so the
    recording passes only when, step after step, that movement is the one drawn: 1/4, then 1/3 (no request
    twice in a row). Blink requests are no easier: the recording must blink twice before any head movement."""
    n = len(Action)
    return Fraction(1, n) * Fraction(1, n - 1) ** (settings.steps - 1)


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


class LivenessCheck:
    """One check on one track. Feed it a mesh per frame; it says what to show and when it is decided."""

    def __init__(self, settings: LivenessSettings, rng: random.Random, started: float):
        self.settings = settings
        self.started = started
        self.challenge = draw_challenge(rng, settings.steps) if settings.mode == "challenge" else []
        self.step = 0
        self.step_started = started
        self.blinks = BlinkCounter(settings.blink_ratio)
        self.blinks_at_step_start = 0
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
        return {"mode": self.settings.mode, "blinks": self.blinks.blinks, "parallax": round(self.parallax, 4),
                "lowest_eye_ratio": round(self.blinks.lowest_ratio, 3),
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

    def _challenge_step(self, action: Action, yaw: float, pitch: float) -> str:
        """'done', 'wrong' or 'waiting'. A step counts only from a neutral pose reached after the request (a held
        pose cannot answer it), and the first head movement after that must be the one requested: a recording
        that shows several movements fails on the first one that was not asked for. Blinks are never 'wrong'."""
        if not self.armed:
            if self._neutral(yaw, pitch):
                self.armed = True
                self.blinks_at_step_start = self.blinks.blinks
            return "waiting"
        shown = self._head_action(yaw, pitch)
        if action is Action.BLINK_TWICE:
            if shown is not None:
                self.wrong = shown
                return "wrong"
            return "done" if self.blinks.blinks - self.blinks_at_step_start >= 2 else "waiting"
        if action is Action.NOD:
            if shown is Action.NOD:
                self.nod_down = True
            elif shown is not None:
                self.wrong = shown
                return "wrong"
            return "done" if self.nod_down and self._neutral(yaw, pitch) else "waiting"
        if shown is action:
            return "done"
        if shown is not None:
            self.wrong = shown
            return "wrong"
        return "waiting"

    def update(self, mesh: Mesh, now: float) -> LivenessStatus:
        if self.result is not None:
            return self.result
        self.frames += 1
        points = mesh.points[:, :2]
        if self.reference is None:
            self.reference = points.copy()
        else:
            self.parallax = max(self.parallax, homography_residual(self.reference, points, mesh.interocular()))
        self.blinks.update(mesh.eye_aspect_ratio(), now, (mesh.face_aspect(), mesh.eye_region_aspect()))
        yaw, pitch = mesh.yaw_pitch()
        self.poses.append((yaw, pitch))
        if self.base_pose is None and len(self.poses) >= 3:
            self.base_pose = tuple(np.median(np.array(self.poses), axis=0))
        s = self.settings
        moved_in_3d = self.parallax >= s.min_parallax
        if s.mode == "passive":
            remaining = s.passive_time_s - (now - self.started)
            if self.blinks.blinks >= 1 and moved_in_3d:
                return self._finish(CheckState.PASSED, now)
            if remaining <= 0:
                missing = [m for m, ok in (("no blink", self.blinks.blinks >= 1), ("no 3D head motion", moved_in_3d))
                           if not ok]
                return self._finish(CheckState.FAILED, now, "; ".join(missing))
            return LivenessStatus(CheckState.RUNNING, "Please look at the camera", "eye", remaining, cues=self.cues(now))

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
