"""The passive presentation-attack model (vision/antispoof.py) and the texture cue (liveness/texture.py).

Its speed is measured by benchmarks/pad_model.py, not here."""

import shutil

import cv2
import numpy as np
import pytest

from facegate.errors import ModelFileError
from facegate.liveness.cues import CueVerdict
from facegate.liveness.texture import TextureCue, TextureSettings
from facegate.vision.antispoof import (
    LIVE_CLASS,
    PresentationAttackModel,
    detector_box_to_training_box,
    enlarged_box,
)
from facegate.vision.weights import MINIFASNET_V1SE, MINIFASNET_V2, verified_path, verify


@pytest.fixture(scope="module")
def pad_model():
    return PresentationAttackModel()


def largest(engine, image_rgb):
    faces = engine.detect(image_rgb, landmarks=False)
    assert faces, "no face found"
    return max(faces, key=lambda f: f.box[2] * f.box[3])


def clip_frames(path, indices):
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while index <= max(indices):
        ok, frame = capture.read()
        if not ok:
            break
        if index in indices:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return frames


def test_the_converted_weights_are_pinned_and_an_altered_copy_is_refused(tmp_path):
    for weight in (MINIFASNET_V2, MINIFASNET_V1SE):
        assert verified_path(weight).name == weight.relative_path
        altered = tmp_path / weight.relative_path
        shutil.copy(verified_path(weight), altered)
        data = bytearray(altered.read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit of one weight
        altered.write_bytes(bytes(data))
        with pytest.raises(ModelFileError, match="pinned SHA-256") as refused:
            verify(weight, altered)
        assert f"git checkout -- weights/{weight.relative_path}" in str(refused.value)


def test_a_file_opencv_cannot_read_is_a_model_file_error_and_the_cue_says_unavailable(tmp_path, clips):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a network")
    model = PresentationAttackModel((broken, broken))
    image = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(ModelFileError, match="cannot be read"):
        model.infer(image, (40, 30, 60, 60))
    cue = TextureCue(model)
    from facegate.vision.detect import Face

    cue.update(image, Face((40, 30, 60, 60), 0.9), None, 0.0)
    assert cue.result().verdict is CueVerdict.UNAVAILABLE


def test_the_enlarged_box_keeps_inside_the_frame_as_the_original_crops():
    # Centred and small enough: the box grows about its centre.
    assert enlarged_box(640, 480, (300, 200, 40, 40), 2.0) == (280, 180, 360, 260)
    # Too close to the left edge: shifted right, same size.
    left, top, right, bottom = enlarged_box(640, 480, (0, 200, 40, 40), 2.7)
    assert left == 0 and right - left == pytest.approx(108, abs=1)
    # Bigger than the frame allows: the scale drops so that the height fits.
    left, top, right, bottom = enlarged_box(640, 480, (250, 100, 200, 200), 4.0)
    assert (top, bottom) == (0, 479)
    # YuNet's tall box becomes RetinaFace's square one, lower on the face.
    x, y, w, h = detector_box_to_training_box((100, 100, 80, 100))
    assert w == h == 90 and y + h / 2 > 150


def test_real_frames_of_the_clip_look_live_and_a_rendered_print_does_not(pad_model, engine, clips, tmp_path):
    from facegate_dev.attacks import render_print_attack, render_screen_replay

    live = [pad_model.infer(f, largest(engine, f).box)
            for f in clip_frames(clips / "short_hamilton_clip.mp4", set(range(95, 200, 15)))]
    assert np.median(live) > 0.9, live

    printed = render_print_attack(clips / "lin-manuel-miranda.png", tmp_path / "print.mp4", kind="print_flat_hand",
                                  seed=5, seconds=0.3)
    frames = clip_frames(printed, {2, 6})
    attack = [pad_model.infer(f, largest(engine, f).box) for f in frames]
    assert max(attack) < 0.1, attack

    replay = render_screen_replay(clips / "short_hamilton_clip.mp4", tmp_path / "replay.mp4", seed=5,
                                  first_frame=120, last_frame=132)
    frames = clip_frames(replay, {3, 9})
    shown = [pad_model.infer(f, largest(engine, f).box) for f in frames]
    assert np.median(shown) < 0.5, shown


def test_the_two_networks_each_give_a_softmax(pad_model, engine, clips):
    [frame] = clip_frames(clips / "short_hamilton_clip.mp4", {150})
    face = largest(engine, frame)
    probabilities = pad_model.class_probabilities(frame, face.box)
    assert probabilities.shape == (2, 3)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert pad_model.infer(frame, face.box) == pytest.approx(float(probabilities[:, LIVE_CLASS].mean()))


def test_the_cue_waits_for_enough_frames_then_decides_on_the_median(pad_model):
    settings = TextureSettings(live_threshold=0.95, attack_threshold=0.2, window=15, min_frames=5)
    cue = TextureCue(pad_model, settings)
    assert cue.result().verdict is CueVerdict.UNSURE and cue.result().frames == 0
    for _ in range(4):
        cue.add(0.99)
    assert cue.result().verdict is CueVerdict.UNSURE  # 4 frames of 5
    cue.add(0.99)
    assert cue.result().verdict is CueVerdict.LIVE and cue.result().score == pytest.approx(0.99)
    cue.add(0.01)  # one frame fooled by a reflection does not move the median
    assert cue.result().verdict is CueVerdict.LIVE

    attack = TextureCue(pad_model, settings)
    for value in (0.05, 0.1, 0.9, 0.02, 0.15):
        attack.add(value)
    result = attack.result()
    assert result.verdict is CueVerdict.ATTACK and result.score == pytest.approx(0.1) and result.reason

    between = TextureCue(pad_model, settings)
    for _ in range(10):
        between.add(0.6)
    assert between.result().verdict is CueVerdict.UNSURE


def test_the_cue_forgets_frames_older_than_its_window(pad_model):
    cue = TextureCue(pad_model, TextureSettings(window=5, min_frames=3))
    for _ in range(20):
        cue.add(0.0)
    assert cue.result().verdict is CueVerdict.ATTACK
    for _ in range(5):
        cue.add(1.0)
    assert cue.result().verdict is CueVerdict.LIVE and cue.result().frames == 25


def test_the_cue_on_real_frames_through_update(pad_model, engine, clips):
    cue = TextureCue(pad_model)
    for i, frame in enumerate(clip_frames(clips / "short_hamilton_clip.mp4", set(range(100, 190, 9)))):
        cue.update(frame, largest(engine, frame), None, i / 30)
    result = cue.result()
    assert result.frames == 10
    assert result.verdict is CueVerdict.LIVE, result
