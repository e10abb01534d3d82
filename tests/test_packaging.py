"""What the wheel ships: the app's packages and its assets, not the tests' and benchmarks' support code."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info where it builds, and the checkout stays clean.
    source = out / "source"
    skip = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
    shutil.copytree(ROOT, source, ignore=skip)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [wheel] = out.glob("facegate-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_the_wheel_holds_every_app_package_and_the_assets(wheel_names):
    packages = sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "facegate").rglob("__init__.py"))
    missing = [p for p in packages if f"{p}/__init__.py" not in wheel_names]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert {"facegate/assets/facegate.svg", "facegate/assets/facegate.desktop"} <= wheel_names


def test_test_and_benchmark_support_is_not_shipped(wheel_names):
    assert not [n for n in wheel_names if n.startswith("facegate_dev/") or n.startswith("tests/")]
    assert not [n for n in wheel_names if n.endswith(("attacks.py", "datasets.py", "speech_audio.py"))]


def test_the_installed_app_finds_its_icon_through_package_resources():
    import importlib.resources

    assert (importlib.resources.files("facegate.assets") / "facegate.svg").is_file()
