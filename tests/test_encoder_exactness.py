"""Our TensorFlow encoder and our chip aligner against dlib itself, on real LFW faces.

dlib is the oracle: chips come from dlib's HOG detector, 5-point model and `get_face_chip`, descriptors from
`face_recognition_model_v1.compute_face_descriptor`. Skips when the LFW data is not on this machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from facegate_dev.datasets import dlib_reference_faces, lfw_dir, lfw_sample

FACES = 24
COMPONENT_TOLERANCE = 1e-4
ALIGNER_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def faces():
    """(images, dlib landmarks (N,5,2), dlib chips (N,150,150,3)) for FACES real LFW faces."""
    if lfw_dir() is None:
        pytest.skip("LFW data not found (set FACEGATE_DATA or place it in ../shared/data/lfw)")
    found = dlib_reference_faces(lfw_sample(FACES, 41), FACES)
    images = [face.image for face in found]
    landmarks = [face.landmarks for face in found]
    chips = [face.chip for face in found]
    assert len(chips) >= 20, f"only {len(chips)} LFW faces found by dlib HOG"
    return images, np.stack(landmarks), np.stack(chips)


@pytest.fixture(scope="module")
def encoder():
    from facegate.vision.encoder import FaceEncoder

    return FaceEncoder()


@pytest.fixture(scope="module")
def dlib_descriptors(faces):
    import dlib

    from facegate.vision.weights import DLIB_RESNET, verified_path

    model = dlib.face_recognition_model_v1(str(verified_path(DLIB_RESNET)))
    _, _, chips = faces
    return np.array([np.asarray(model.compute_face_descriptor(chip)) for chip in chips], np.float64)


def test_encoder_matches_dlib_descriptor(faces, encoder, dlib_descriptors):
    _, _, chips = faces
    ours = encoder.infer(chips).astype(np.float64)
    assert ours.shape == dlib_descriptors.shape
    diff = np.abs(ours - dlib_descriptors)
    worst = np.unravel_index(diff.argmax(), diff.shape)
    print(f"\nencoder vs dlib on {len(chips)} chips: max |component diff| = {diff.max():.3e}, "
          f"max Euclidean = {np.linalg.norm(ours - dlib_descriptors, axis=1).max():.3e}")
    assert diff.max() <= COMPONENT_TOLERANCE, (
        f"face {worst[0]} component {worst[1]}: ours {ours[worst]:.6f} vs dlib {dlib_descriptors[worst]:.6f}")


def test_our_aligner_matches_dlib_chip_embedding(faces, encoder, dlib_descriptors):
    from facegate.vision.align import extract_chip

    images, landmarks, _ = faces
    our_chips = np.stack([extract_chip(image, points) for image, points in zip(images, landmarks, strict=False)])
    ours = encoder.infer(our_chips).astype(np.float64)
    distances = np.linalg.norm(ours - dlib_descriptors, axis=1)
    print(f"\nour aligner vs dlib get_face_chip on {len(images)} faces: embedding distance "
          f"median {np.median(distances):.4f}, max {distances.max():.4f}")
    assert distances.max() < ALIGNER_TOLERANCE, (
        f"face {int(distances.argmax())}: distance {distances.max():.4f} "
        f"(all: {np.array2string(distances, precision=4)})")
