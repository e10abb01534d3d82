"""The contract every passive liveness cue keeps, so the check can weigh them together (issue 28: passive first,
requests only when in doubt).

A passive cue watches one track while its claimed identity awaits liveness. It is fed every meshed frame and says,
whenever asked, what it has concluded so far: LIVE (sure enough to grant without asking anything), ATTACK (sure
enough to refuse), or UNSURE (not enough evidence, or evidence both ways: the check falls back to requests). A cue
that cannot work on this kiosk (no screen to light the face, a model file missing) says UNAVAILABLE and is left
out, never counted as LIVE.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from facegate.vision.detect import Face
from facegate.vision.facemesh import Mesh


class CueVerdict(str, enum.Enum):
    LIVE = "live"
    ATTACK = "attack"
    UNSURE = "unsure"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class CueResult:
    verdict: CueVerdict
    score: float | None = None  # the cue's own figure (e.g. the model's live probability), for the log
    frames: int = 0  # frames the verdict rests on
    reason: str = ""  # plain words for the log when it is not LIVE ("screen texture", "no reflection of the light")
    details: dict = field(default_factory=dict)  # anything else worth keeping in the log's cues


class PassiveCue(Protocol):
    name: str  # a short key for the log ("texture", "screen_light", "whole_face")
    # False for a cue whose LIVE says only "nothing wrong here", not "a live person" (the whole-face cue: a full
    # print of the person passes it). Such a cue can refuse, and a passive grant waits for its verdict, but it
    # never makes one on its own.
    VOUCHES_FOR_LIVENESS: bool

    def update(self, image_rgb: np.ndarray, face: Face, mesh: Mesh, now: float) -> None:
        """One frame of the track: the whole RGB frame, the face's box (and 5 landmarks) and its dense mesh."""

    def result(self) -> CueResult:
        """What the cue concludes from the frames seen so far."""
