"""The liveness setting's modes and the check's tunable figures."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from facegate.config import Settings


class LivenessMode(str, enum.Enum):
    OFF = "off"  # no check: a photo of an enrolled person is let in
    PASSIVE = "passive"  # a natural blink and 3D motion (refuses most real people: see the module docstring)
    CHALLENGE = "challenge"  # random requests, the mouth with the jaw among them
    # The passive cues first (facegate/liveness/cues.py: the texture model, the screen's light, the whole face):
    # granted without a request when every cue that can work says live; refused when one is sure of an attack;
    # the requests of a challenge only when they stay unsure.
    ADAPTIVE = "adaptive"


MODES = tuple(mode.value for mode in LivenessMode)  # the words of the `liveness` setting
# A challenge has the mouth opening and a head movement: at least two requests.
MIN_STEPS, MAX_STEPS = 2, 4


@dataclass(frozen=True)
class LivenessSettings:
    mode: LivenessMode = LivenessMode.ADAPTIVE  # the setting's word is accepted too
    # Number of random requests in a challenge (2-4; each adds ~1-2 s for a cooperative person). Three: with the
    # mouth in every challenge, two requests leave only 6 challenges (a replay's chance 1 in 6), three leave 24.
    steps: int = 3
    # Seconds allowed for each request (2-10).
    step_time_s: float = 5.0
    # Adaptive: seconds the passive cues have to agree that the face is live before the requests start (0.5-5).
    doubt_after_s: float = 1.5
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

