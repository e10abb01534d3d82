import os
import shutil
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from facegate_dev.datasets import clips_dir, lfw_dir  # noqa: E402


@pytest.fixture(scope="session")
def clips() -> Path:
    found = clips_dir()
    if found is None:
        pytest.skip("test clips absent: set FACEGATE_DATA or provide ../shared/data/clips")
    return found


@pytest.fixture(scope="session")
def lfw() -> Path:
    found = lfw_dir()
    if found is None:
        pytest.skip("LFW absent: set FACEGATE_DATA or provide ../shared/data/lfw")
    return found


@pytest.fixture(scope="session")
def engine():
    from facegate.vision.engine import FaceEngine

    return FaceEngine()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A throw-away FaceGate home (settings, PIN, default data) with the admin PIN already set."""
    from helpers import ADMIN_PIN

    from facegate.admin import AdminPin
    from facegate.config import default_data_dir

    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path / "home"))
    AdminPin(default_data_dir() / "admin.json").set_pin(ADMIN_PIN)
    return tmp_path


@pytest.fixture(scope="module")
def lmm_gallery(tmp_path_factory, clips, engine):
    """A gallery of one person, Lin-Manuel Miranda, from his enrollment photo (the person in the clip's frontal
    shot), shared by a test module."""
    from facegate.gallery import Gallery

    folder = tmp_path_factory.mktemp("lmm") / "gallery"
    folder.mkdir()
    shutil.copy(clips / "lin-manuel-miranda.png", folder / "Lin-Manuel Miranda.png")
    gallery = Gallery(folder, engine)
    gallery.refresh()
    return gallery


@pytest.fixture()
def people_gallery(tmp_path, clips) -> Path:
    """A gallery folder in both layouts: person folders (people_small/train) plus one top-level photo."""
    folder = tmp_path / "gallery"
    shutil.copytree(clips / "people_small" / "train", folder)
    for path in [folder, *folder.rglob("*")]:  # the shared data is read-only; the copy must not be
        path.chmod(0o700 if path.is_dir() else 0o600)
    shutil.copy(clips / "lin-manuel-miranda.png", folder / "Lin-Manuel Miranda.png")
    return folder


# Threads the app starts (their names). One still running when the interpreter exits can be cut off inside native
# code (an OpenCV read, TensorFlow), which aborts the process after every test has passed ("FATAL: exception not
# rethrown", exit 134). Every test must stop what it starts; this says which one did not.
PRODUCT_THREADS = ("pipeline worker", "capture ", "model loader", "facegate-", "template learner",
                   "gallery watcher")


@pytest.fixture(scope="session", autouse=True)
def no_app_thread_outlives_the_tests():
    yield
    deadline = time.monotonic() + 30.0
    for thread in threading.enumerate():
        if thread.name.startswith(PRODUCT_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(PRODUCT_THREADS)]
    assert not left, f"threads of the app still running after the tests (a test did not stop them): {left}"
