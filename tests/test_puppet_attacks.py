"""The adaptive attackers of issue 28 item 6: a 3D puppet from one photo (facegate_dev.puppet) and a half mask worn
over real footage (facegate_dev.half_mask), rendered for real from the shared photos and clip.

Each must matter: recognised as its victim by the real models (with liveness off it would be let in), the puppet's
mouth opening a jaw the jaw cue sees drop, the half mask's lower face the wearer's own. Their pass rates against
the check are benchmarks/liveness.py --attackers-only.
"""

import cv2
import numpy as np
import pytest

from facegate.liveness import JawMotion, LivenessSettings
from facegate.policy import PolicySettings
from facegate.vision.facemesh import UPPER_LIP_INNER

THRESHOLD = PolicySettings().threshold


def mesh_of(engine, frame_bgr):
    image = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    faces = engine.detect(image)
    assert faces, "no face found in the attack's frame"
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    return face, engine.facemesh.infer(image, face), image


def match(engine, gallery, frame_bgr):
    face, _, image = mesh_of(engine, frame_bgr)
    return gallery.match(engine.embed(image, [face])[0])


@pytest.fixture(scope="module")
def powell(lfw):
    from facegate_dev.victims import puppet_victims

    return next(v for v in puppet_victims() if v.name == "Colin Powell")


@pytest.fixture(scope="module")
def gallery(engine, tmp_path_factory, clips, lfw):
    from facegate_dev.victims import half_mask_victims, victim_gallery

    return victim_gallery(engine, tmp_path_factory.mktemp("victims") / "gallery", half_mask_victims()[:2])


@pytest.fixture(scope="module")
def puppet(powell):
    from facegate_dev.puppet import Puppet

    return Puppet(powell.photo, seed=3)


def test_the_puppet_is_recognised_as_its_victim_and_its_jaw_drops(engine, gallery, puppet, powell):
    """Built from a photo that is not enrolled; recognised as the victim frontal and turned; its mouth opens by
    dropping the chin, as the jaw cue reads the picture (JawMotion: the chin's own drop against the upper face)."""
    assert powell.photo not in powell.enrolled
    for pose in ((0.0, 0.0, 0.0), (0.0, 20.0, 0.0), (0.0, 0.0, 1.0)):
        found = match(engine, gallery, puppet.render(*pose))
        assert found.name == "Colin Powell" and found.distance < THRESHOLD, (pose, found)

    _, closed, closed_rgb = mesh_of(engine, puppet.render(0.0, 0.0, 0.0))
    _, opened, opened_rgb = mesh_of(engine, puppet.render(0.0, 0.0, 1.0))
    jaw = JawMotion()
    jaw.closed(cv2.cvtColor(closed_rgb, cv2.COLOR_RGB2GRAY), closed)
    parted = opened.mouth_opening() - closed.mouth_opening()
    drop = jaw.drop(cv2.cvtColor(opened_rgb, cv2.COLOR_RGB2GRAY), opened)
    assert closed.mouth_opening() < 0.08  # a closed mouth to open from
    assert parted > 2 * LivenessSettings().mouth_open_delta, parted
    assert drop is not None and drop > JawMotion.MIN_RATIO * parted, (drop, parted)

    # turns and a nod move the head as far as the check asks
    base_yaw, base_pitch = closed.yaw_pitch()
    for pose, check in (((0.0, 25.0, 0.0), lambda y, p: y - base_yaw), ((0.0, -25.0, 0.0), lambda y, p: base_yaw - y),
                        ((18.0, 0.0, 0.0), lambda y, p: p - base_pitch)):
        _, turned, _ = mesh_of(engine, puppet.render(*pose))
        needed = LivenessSettings().nod_delta if pose[0] else LivenessSettings().turn_delta
        assert check(*turned.yaw_pitch()) > needed, pose


def test_the_puppet_answers_a_request_after_a_reaction_time(puppet):
    from facegate.liveness import INSTRUCTIONS, Action
    from facegate_dev.puppet import Answerer

    answers = Answerer(np.random.default_rng(0), 30.0, turn_deg=25.0, nod_deg=18.0, lift_deg=10.0, jaw=1.0)
    poses = [answers.next(INSTRUCTIONS[Action.OPEN_MOUTH]) for _ in range(60)]
    first_open = next(i for i, (_, _, jaw) in enumerate(poses) if jaw > 0.05)
    assert 10 <= first_open <= 40  # not before a human could have read the request
    assert max(jaw for _, _, jaw in poses) == 1.0 and all(abs(yaw) < 1e-9 for _, yaw, _ in poses)


def test_puppet_renders_are_deterministic_per_seed(powell, puppet):
    from facegate_dev.puppet import Puppet

    again, other = Puppet(powell.photo, seed=3), Puppet(powell.photo, seed=4, presentation="on_phone")
    first = [puppet.render(0.0, 10.0, 0.5) for _ in range(2)]
    assert np.array_equal(first[0], again.render(0.0, 10.0, 0.5))
    assert not np.array_equal(first[0], other.render(0.0, 10.0, 0.5))
    assert other.render(0.0, 0.0, 0.0).shape == (480, 640, 3)


@pytest.fixture(scope="module")
def half_mask(clips):
    from facegate_dev.half_mask import HalfMask

    return HalfMask(clips / "obama2.jpg", seed=0)


def test_the_half_mask_is_recognised_as_its_victim_with_the_wearers_mouth(engine, gallery, half_mask):
    """The victim's upper face over Lin-Manuel Miranda's: recognised as Barack Obama (enrolled from another photo)
    while the mouth and chin the camera sees are the wearer's own (the footage's pixels, only camera noise added),
    and his eyes are hidden under the print."""
    frames = half_mask.idle[:: max(1, len(half_mask.idle) // 4)][:4]
    distances = []
    for index in frames:
        worn = half_mask.wearer_frame(index)
        found = match(engine, gallery, worn)
        assert found.name == "Barack Obama", found
        distances.append(found.distance)
        source = half_mask.footage[index]
        mesh = source.mesh
        own = source.image.astype(np.float32)

        def region(points, pad=3):
            x0, y0 = np.floor(points.min(0)).astype(int) - pad
            x1, y1 = np.ceil(points.max(0)).astype(int) + pad
            return (slice(max(y0, 0), y1), slice(max(x0, 0), x1))

        lips = region(mesh[[61, 291, 17, UPPER_LIP_INNER], :2] + [0, 2])
        eyes = region(mesh[[33, 133, 362, 263, 159, 145, 386, 374], :2])
        assert np.abs(worn[lips].astype(np.float32) - own[lips]).mean() < 8  # his own mouth
        assert np.abs(worn[eyes].astype(np.float32) - own[eyes]).mean() > 15  # the victim's printed eyes
    assert float(np.median(distances)) < THRESHOLD, distances


def test_half_mask_renders_are_deterministic_per_seed(clips, half_mask):
    from facegate_dev.half_mask import HalfMask

    again = HalfMask(clips / "obama2.jpg", seed=0)
    frames = [(half_mask.frame(""), again.frame("")) for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in frames)
    other = HalfMask(clips / "obama2.jpg", seed=1)
    assert not np.array_equal(other.wearer_frame(0), half_mask.wearer_frame(0))
