"""Presentation-attack videos (facegate_dev.attacks), rendered for real from the shared photos and clip.

The point of the suite is that each attack matters: with liveness off, the kiosk (the real CLI, real models)
grants every attack to the person it impersonates, and to nobody else.
"""

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from facegate_dev.attacks import (
    PRINT_KINDS,
    SCREEN_KIND,
    build_suite,
    load_manifest,
    render_print_attack,
    render_screen_replay,
)


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory, clips):
    out = tmp_path_factory.mktemp("attacks")
    return out, build_suite(out, seed=0, quick=True)


def read_frames(path, limit=None):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.mark.slow
def test_suite_files_and_manifest(quick_suite):
    out, attacks = quick_suite
    assert len(attacks) == 8
    kinds = [a.kind for a in attacks]
    assert all(kinds.count(kind) == 2 for kind in PRINT_KINDS) and kinds.count(SCREEN_KIND) == 2
    targets = {(a.kind, a.target) for a in attacks}
    assert {(kind, "Lin-Manuel Miranda") for kind in PRINT_KINDS} <= targets
    assert {(kind, "Barack Obama") for kind in PRINT_KINDS} <= targets
    assert all(a.enrollment_photo.name == "obama.jpg" for a in attacks if a.target == "Barack Obama")

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 0 and manifest["quick"] is True and len(manifest["attacks"]) == 8
    assert load_manifest(out) == attacks

    for attack in attacks:
        assert attack.path.parent == out and attack.path.suffix in (".mp4", ".avi")
        assert attack.fps == 30.0 and attack.frames == 120  # 4 s at 30 fps
        frames = read_frames(attack.path)
        assert len(frames) == attack.frames, attack.path.name
        assert all(frame.shape == (480, 640, 3) for frame in frames)
        assert float(np.std(frames[0])) > 10  # a picture, not a blank frame


def test_same_seed_renders_the_same_frames(tmp_path, clips):
    def print_attack(folder, seed):
        return render_print_attack(clips / "lin-manuel-miranda.png", tmp_path / folder / "a.mp4",
                                   kind="print_bent_hand", seed=seed, seconds=0.2)

    first, again, other = (read_frames(print_attack(f, s), 3) for f, s in (("a", 5), ("b", 5), ("c", 6)))
    assert len(first) == 3
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=False))
    assert not np.array_equal(first[0], other[0])

    def replay(folder, seed):
        return render_screen_replay(clips / "short_hamilton_clip.mp4", tmp_path / folder / "r.mp4", seed=seed,
                                    first_frame=82, last_frame=120, seconds=0.2)

    first, again, other = (read_frames(replay(f, s), 3) for f, s in (("d", 1), ("e", 1), ("f", 2)))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=False))
    assert not np.array_equal(first[0], other[0])


def test_sheet_geometry_is_exact_and_only_a_flat_sheet_is_one_homography():
    """The liveness check will test whether landmark motion fits one homography: the renderer's ray casting
    must invert its forward model exactly, give a flat sheet exactly one homography, and a bent one not."""
    from facegate_dev.attacks import _Bend, _Camera, _inverse_map, _local_points, _rotation

    cam = _Camera.webcam((640, 480))
    rot, trans = _rotation(15, -20, 4), np.array([10.0, -5.0, 380.0])
    rng = np.random.default_rng(0)
    u, v = rng.uniform(-100, 100, 60), rng.uniform(-130, 130, 60)
    for bend, curved in ((None, False), (_Bend(600.0, 0, 1), True), (_Bend(500.0, 1, -1), True)):
        pixels = cam.project(_local_points(u, v, bend) @ rot.T + trans)
        for (x, y), uu, vv in zip(pixels, u, v, strict=False):
            gu, gv, _, _, valid, _ = _inverse_map(cam, rot, trans, bend, (int(x), int(y), int(x) + 2, int(y) + 2))
            fx, fy = x - int(x), y - int(y)
            weights = np.array([[(1 - fx) * (1 - fy), fx * (1 - fy)], [(1 - fx) * fy, fx * fy]])
            assert valid.all()
            assert abs((gu * weights).sum() - uu) < 0.01 and abs((gv * weights).sum() - vv) < 0.01
        homography, _ = cv2.findHomography(np.stack([u, v], 1), pixels, 0)
        fitted = cv2.perspectiveTransform(np.stack([u, v], 1)[None].astype(np.float64), homography)[0]
        residual = np.abs(fitted - pixels).max()
        assert (residual > 2.0) if curved else (residual < 0.01), (bend, residual)


def test_unknown_kind_is_refused(tmp_path, clips):
    with pytest.raises(ValueError, match="print_flat_hand"):
        render_print_attack(clips / "obama2.jpg", tmp_path / "x.mp4", kind="mask", seed=0)


@pytest.mark.slow
def test_every_attack_is_granted_to_its_target_with_liveness_off(quick_suite, clips, tmp_path):
    """Strong attacks: the kiosk without liveness opens the door for each one, to the impersonated person."""
    _, attacks = quick_suite
    gallery = tmp_path / "gallery"
    for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Barack Obama", "obama.jpg")):
        (gallery / name).mkdir(parents=True)
        shutil.copy(clips / photo, gallery / name / photo)
        (gallery / name / photo).chmod(0o600)  # the shared data is read-only; the copy must not be

    def run(attack):
        result = subprocess.run([sys.executable, "-m", "facegate", "run", "--headless", "--fast", "--no-speech",
                                 "--no-log", "--liveness", "off", "--source", str(attack.path),
                                 "--gallery", str(gallery)], capture_output=True, text=True, timeout=300)
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return attack, result.returncode, [line for line in lines if line["type"] == "decision"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(run, attacks))
    for attack, code, decisions in outcomes:
        grants = [d for d in decisions if d["decision"] == "granted"]
        assert code == 0, attack.path.name
        assert any(d["name"] == attack.target for d in grants), (attack.path.name, decisions)
        assert all(d["name"] == attack.target for d in grants), (attack.path.name, decisions)
