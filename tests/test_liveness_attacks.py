"""Presentation attacks against the liveness check: rendered from the real photos and clip (facegate_dev/attacks.py).

Every attack here is granted with liveness off (tests/test_attacks.py proves it through the CLI); with passive or
challenge liveness none may be. The full table with all 12 request sequences per video is benchmarks/liveness.py.
"""

import random

import pytest

from facegate_dev.attacks import PRINT_KINDS, build_suite, impersonated_gallery
from facegate.capture import CaptureThread
from facegate.liveness import Action, LivenessSettings, draw_challenge
from facegate.pipeline import Pipeline
from facegate.policy import AccessPolicy, Verdict

# The requests a replay of the clip would most easily answer (his recorded movements), and a blink request.
SEQUENCES = [(Action.TURN_RIGHT, Action.TURN_LEFT), (Action.TURN_LEFT, Action.TURN_RIGHT),
             (Action.BLINK_TWICE, Action.NOD)]


def seed_for(sequence) -> int:
    return next(s for s in range(100_000) if tuple(draw_challenge(random.Random(s), 2)) == tuple(sequence))


@pytest.fixture(scope="module")
def suite(tmp_path_factory, clips):
    return build_suite(tmp_path_factory.mktemp("attacks"), seed=0, quick=True)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, clips, engine):
    return impersonated_gallery(engine, tmp_path_factory.mktemp("liveness-gallery") / "gallery")


def granted_names(engine, gallery, video, mode, seed=0):
    pipeline = Pipeline(engine, gallery, AccessPolicy(), liveness=LivenessSettings(mode=mode),
                        rng=random.Random(seed))
    capture = CaptureThread(video, realtime=False).start()
    names = []
    while (frame := capture.next_frame(10.0)) is not None:
        names += [d.name for d in pipeline.process(frame).decisions if d.verdict is Verdict.GRANTED]
    capture.stop()
    return names


@pytest.mark.slow
def test_prints_are_never_granted_with_liveness(engine, gallery, suite):
    prints = [a for a in suite if a.kind in PRINT_KINDS]
    assert len(prints) == 6
    for attack in prints:
        assert granted_names(engine, gallery, attack.path, "off") == [attack.target]  # a strong attack
        assert granted_names(engine, gallery, attack.path, "passive") == [], attack.path.name
        for sequence in SEQUENCES:
            assert granted_names(engine, gallery, attack.path, "challenge", seed_for(sequence)) == [], \
                (attack.path.name, sequence)


@pytest.mark.slow
def test_screen_replays_are_not_granted_by_the_challenge(engine, gallery, suite):
    replays = [a for a in suite if a.kind == "screen_replay"]
    assert len(replays) == 2
    for attack in replays:
        assert attack.target in granted_names(engine, gallery, attack.path, "off")
        for sequence in SEQUENCES:
            assert granted_names(engine, gallery, attack.path, "challenge", seed_for(sequence)) == [], \
                (attack.path.name, sequence)


# ------------------------------------------------------------------ prints that follow the requests (issue 14)

def _follow(engine, gallery, clips, sequence, *, curl, axis=0, turn_deg=55.0):
    from facegate_dev.attacks import PromptFollowingPrint, follow_prompts

    attacker = PromptFollowingPrint(clips / "obama2.jpg", seed=1, curl=curl, axis=axis, turn_deg=turn_deg,
                                    nod_deg=turn_deg)
    return follow_prompts(engine, gallery, attacker, seed_for(sequence))


def test_a_print_answering_blink_twice_with_tilts_is_refused(engine, gallery, clips):
    """The red team's answer to "blink twice" (two sharp forward tilts of a curled print, the rest of the
    requests answered by turning or tilting the print) is refused: the tilts are not blinks, and they show a
    head movement that was not asked for."""
    for sequence in ((Action.BLINK_TWICE, Action.TURN_LEFT), (Action.TURN_RIGHT, Action.BLINK_TWICE)):
        decision = _follow(engine, gallery, clips, sequence, curl=0.3)
        assert decision is not None and decision.verdict is Verdict.DENIED, (sequence, decision)
        assert decision.details["liveness"]["blinks"] == 0


@pytest.mark.xfail(strict=True, reason="issue 14, open: a print curled about its vertical axis and turned on "
                                       "request passes the challenge (README, 'NOT stopped today')")
def test_a_curled_print_turned_on_request_is_refused(engine, gallery, clips):
    """The hole the README states, kept as a test: when the check learns to tell a face from a curved sheet, this
    passes, and strict xfail makes the suite say so until the marker is removed."""
    for sequence in ((Action.NOD, Action.TURN_LEFT), (Action.TURN_RIGHT, Action.NOD)):  # granted today
        decision = _follow(engine, gallery, clips, sequence, curl=0.3)
        assert decision is None or decision.verdict is not Verdict.GRANTED, sequence
