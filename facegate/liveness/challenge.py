"""The challenge: random requests, each answered from a neutral pose, and what a replay's chance of passing is."""

from __future__ import annotations

import enum
import functools
import itertools
import random
from fractions import Fraction

from facegate.liveness.settings import LivenessSettings


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

