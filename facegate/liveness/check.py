"""One liveness check on one track: it reads each frame's mesh and says what to show and when it is decided."""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facegate.liveness.challenge import ICONS, INSTRUCTIONS, Action, draw_challenge
from facegate.liveness.cues import CueResult, CueVerdict, PassiveCue
from facegate.liveness.geometry import BlinkCounter, MouthWatch, homography_residual
from facegate.liveness.settings import LivenessMode, LivenessSettings
from facegate.vision.detect import Face
from facegate.vision.facemesh import Mesh


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


class LivenessCheck:
    """One check on one track. Feed it a mesh per frame; it says what to show and when it is decided.

    `cues`: the passive cues (facegate/liveness/cues.py) fed every frame (the pipeline gives none in the "passive"
    mode). One that is sure of an attack fails the check whatever else happens. In the adaptive mode, a check whose
    available cues all say live within `doubt_after_s` passes without a request; otherwise the challenge's requests
    start then."""

    def __init__(self, settings: LivenessSettings, rng: random.Random, started: float,
                 cues: Sequence[PassiveCue] = ()):
        self.settings = settings
        self.started = started
        self.rng = rng
        self.passive_cues = list(cues)
        self.cue_results: dict[str, CueResult] = {}
        self.challenge = draw_challenge(rng, settings.steps) if settings.mode is LivenessMode.CHALLENGE else []
        self.asked_at: float | None = started if self.challenge else None  # when the requests began
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
                "frames": self.frames, "seconds": round(now - self.started, 2),
                "asked": self.asked_at is not None,
                "passive": {name: {"verdict": r.verdict.value, "score": None if r.score is None else round(r.score, 3),
                                   "frames": r.frames, **({"reason": r.reason} if r.reason else {}), **r.details}
                            for name, r in self.cue_results.items()}}

    def _passive_verdict(self) -> tuple[CueVerdict, str]:
        """What the passive cues say together: ATTACK (with the reason) when one is sure of an attack; LIVE when
        every cue that can work here says live and at least one of them vouches for liveness (a veto-only cue,
        VOUCHES_FOR_LIVENESS False, must have said LIVE too, but cannot make a grant alone); UNSURE otherwise."""
        results = self.cue_results
        attacks = [f"{name}: {r.reason or 'an attack'}" for name, r in results.items()
                   if r.verdict is CueVerdict.ATTACK]
        if attacks:
            return CueVerdict.ATTACK, "; ".join(attacks)
        vouching = {cue.name for cue in self.passive_cues if cue.VOUCHES_FOR_LIVENESS}
        available = {name: r for name, r in results.items() if r.verdict is not CueVerdict.UNAVAILABLE}
        if (vouching & available.keys()) and all(r.verdict is CueVerdict.LIVE for r in available.values()):
            return CueVerdict.LIVE, ""
        return CueVerdict.UNSURE, ""

    def _start_requests(self, now: float) -> None:
        """Adaptive: the cues stayed unsure; the challenge starts, from the pose the person has now."""
        self.challenge = draw_challenge(self.rng, self.settings.steps)
        self.asked_at = self.step_started = now
        self.poses, self.base_pose, self.armed = [], None, False

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

    def update(self, mesh: Mesh, image: np.ndarray, now: float, face: Face | None = None) -> LivenessStatus:
        """`image`: the frame the mesh was found in (RGB), for the chin's movement and the passive cues; `face`: the
        detected face the mesh was found on (the passive cues need it; without it they are not fed)."""
        if self.result is not None:
            return self.result
        self.frames += 1
        if face is not None:
            for cue in self.passive_cues:
                cue.update(image, face, mesh, now)
                self.cue_results[cue.name] = cue.result()
        passive, why = self._passive_verdict()
        if passive is CueVerdict.ATTACK:
            return self._finish(CheckState.FAILED, now, why)
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

        if s.mode is LivenessMode.ADAPTIVE and self.asked_at is None:
            if passive is CueVerdict.LIVE:
                return self._finish(CheckState.PASSED, now)
            if now - self.started < s.doubt_after_s:
                # Nothing is asked of the person meanwhile: no instruction, no icon.
                return LivenessStatus(CheckState.RUNNING, remaining_s=s.doubt_after_s - (now - self.started),
                                      cues=self.cues(now))
            self._start_requests(now)
            self.poses.append((yaw, pitch))
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
