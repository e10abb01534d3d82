"""Settings: one typed object with a default and a one-line reason for each value, loaded and saved here only."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from facegate.errors import FaceGateError
from facegate.storage import atomic_write_bytes, ensure_private_dir


def default_data_dir() -> Path:
    """Per-user folder for the gallery, cache and log (never shared between users)."""
    if os.environ.get("FACEGATE_HOME"):
        return Path(os.environ["FACEGATE_HOME"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "FaceGate"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "FaceGate"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "facegate"


@dataclass
class Settings:
    # Euclidean distance in dlib's embedding space under which a face counts as that person.
    # dlib's own rule is 0.6 (LFW equal-error point, ~1 % false accepts); a door wants fewer: safe range 0.40-0.60.
    threshold: float = 0.5
    # The best person must be at least this much closer than the second-best person (0.0-0.2).
    min_margin: float = 0.05
    # Face detector: "yunet" (default, fast) or "hog" (dlib).
    detector: str = "yunet"
    # Folder of enrolled people; empty means <data dir>/gallery.
    gallery: str = ""

    def gallery_path(self) -> Path:
        return Path(self.gallery).expanduser() if self.gallery else default_data_dir() / "gallery"


def config_path() -> Path:
    return default_data_dir() / "config.json"


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    if not path.is_file():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FaceGateError(f"{path}: cannot read the settings ({exc}); fix or delete the file to use defaults")
    if not isinstance(raw, dict):
        raise FaceGateError(f"{path}: settings must be a JSON object")
    settings = Settings()
    known = {f.name: f for f in fields(Settings)}
    for key, value in raw.items():
        if key not in known:
            raise FaceGateError(f"{path}: unknown setting {key!r}; known settings: {', '.join(known)}")
        default = getattr(settings, key)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise FaceGateError(f"{path}: setting {key!r} must be a {type(default).__name__}, got {value!r}")
        setattr(settings, key, value)
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    path = path or config_path()
    ensure_private_dir(path.parent)
    atomic_write_bytes(path, json.dumps(asdict(settings), indent=2).encode("utf-8"))
