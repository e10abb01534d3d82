"""Presentation attacks against the liveness check: rendered from the real photos and clip (facegate_dev/attacks.py).

Every attack here is granted with liveness off (tests/test_attacks.py proves it through the CLI); with passive or
challenge liveness none may be. The full table with all 12 request sequences per video is benchmarks/liveness.py.
"""

import random
import shutil

import pytest

from facegate_dev.attacks import PRINT_KINDS, build_suite
from facegate.capture import CaptureThread
from facegate.gallery import Gallery
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
    folder = tmp_path_factory.mktemp("liveness-gallery") / "gallery"
    for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Barack Obama", "obama.jpg")):
        (folder / name).mkdir(parents=True)
        shutil.copy(clips / photo, folder / name / photo)
    result = Gallery(folder, engine)
    result.refresh()
    return result


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
