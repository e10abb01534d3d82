"""The second embedder (SFace) and its fusion with dlib's, on real LFW faces.

OpenCV's own `FaceRecognizerSF.alignCrop` (from YuNet's keypoints) is the oracle for the SFace chip; LFW's
pairs are the evidence that the fused distance keeps strangers apart at the app's default threshold.
Skips when the LFW data is not on this machine.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facegate.config import Settings
from facegate.imageio import load_image
from facegate.vision.engine import DLIB_WEIGHT, SFACE_WEIGHT, split
from facegate.vision.weights import SFACE, YUNET, verified_path
from facegate_dev.datasets import lfw_dir, lfw_pairs, lfw_sample

PAIRS_PER_KIND = 100


@pytest.fixture(scope="module")
def lfw_root():
    root = lfw_dir()
    if root is None:
        pytest.skip("LFW data not found (set FACEGATE_DATA or place it in ../shared/data/lfw)")
    return root


def _central_face(engine, image):
    faces = engine.detect(image)
    assert faces, "no face found in an LFW image"
    h, w = image.shape[:2]
    return min(faces, key=lambda f: (f.centre[0] - w / 2) ** 2 + (f.centre[1] - h / 2) ** 2)


def test_sface_chip_from_dlib_points_matches_opencvs_alignment(lfw_root, engine):
    """Our chip (from dlib's 5 points) and OpenCV's (from YuNet's keypoints) give SFace the same face."""
    detector = cv2.FaceDetectorYN.create(str(verified_path(YUNET)), "", (250, 250), 0.7, 0.3, 5000)
    reference = cv2.FaceRecognizerSF.create(str(verified_path(SFACE)), "")  # only its alignCrop is used
    similarities = []
    for path in lfw_sample(10, 97):  # 20 images
        image = load_image(path)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        detector.setInputSize((image.shape[1], image.shape[0]))
        _, rows = detector.detect(bgr)
        row = min(rows, key=lambda r: (r[0] + r[2] / 2 - 125) ** 2 + (r[1] + r[3] / 2 - 125) ** 2)
        theirs = cv2.cvtColor(reference.alignCrop(bgr, row), cv2.COLOR_BGR2RGB)
        ours = engine.sface_chips(image, [_central_face(engine, image)])[0]
        a, b = engine.sface.infer(np.stack([theirs, ours]))
        similarities.append(float(a @ b))
    # Same face, slightly different alignment: ~0.9+; a wrong template (mirrored, shifted) falls below 0.6.
    assert np.median(similarities) > 0.9 and min(similarities) > 0.75, similarities


def test_fused_distance_is_the_weighted_fusion_of_both(lfw_root, engine):
    images = [load_image(p) for p in lfw_sample(1, 501)]  # 2 images
    first, second = (engine.embed(im, [_central_face(engine, im)])[0] for im in images)
    (dlib_a, sface_a), (dlib_b, sface_b) = split(first), split(second)
    assert np.linalg.norm(sface_a) == pytest.approx(1.0, abs=1e-5)
    assert 1.0 < np.linalg.norm(dlib_a) < 2.0  # dlib's embeddings are not normalised
    fused = np.linalg.norm(first - second)
    expected = np.hypot(DLIB_WEIGHT * np.linalg.norm(dlib_a - dlib_b),
                        SFACE_WEIGHT * np.linalg.norm(sface_a - sface_b))
    assert fused == pytest.approx(expected, rel=1e-5)


def test_default_threshold_keeps_lfw_strangers_apart(lfw_root, engine):
    """At the app's default threshold no different-person pair of the first fold matches, and at least 90 % of its
    same-person pairs do (a single photo each: a kiosk with 3 enrolled photos and votes does better)."""
    pairs = [p for p in lfw_pairs(lfw_root) if p.fold == 0]
    chosen = [p for p in pairs if p.same][:PAIRS_PER_KIND] + [p for p in pairs if not p.same][:PAIRS_PER_KIND]
    cache = {}

    def embedding(path):
        if path not in cache:
            image = load_image(path)
            cache[path] = engine.embed(image, [_central_face(engine, image)])[0]
        return cache[path]

    distances = np.array([np.linalg.norm(embedding(p.first) - embedding(p.second)) for p in chosen])
    same = np.array([p.same for p in chosen])
    threshold = Settings().threshold
    assert (distances[~same] >= threshold).all(), np.sort(distances[~same])[:5]
    assert (distances[same] < threshold).mean() >= 0.9, np.sort(distances[same])[-10:]
