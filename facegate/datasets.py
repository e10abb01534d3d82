"""Where the test and benchmark data lives (../shared/data), and the LFW pairs protocol.

Not used by the app itself. Set FACEGATE_DATA to point elsewhere; callers skip cleanly when it is absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The data folder, or None when it is not on this machine."""
    configured = os.environ.get("FACEGATE_DATA")
    candidate = Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def clips_dir() -> Path | None:
    root = shared_data_dir()
    return root / "clips" if root and (root / "clips").is_dir() else None


def lfw_dir() -> Path | None:
    root = shared_data_dir()
    return root / "lfw" if root and (root / "lfw" / "pairs.txt").is_file() else None


@dataclass(frozen=True)
class LfwPair:
    fold: int
    first: Path
    second: Path
    same: bool


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / "images" / name / f"{name}_{number:04d}.jpg"


def lfw_pairs(root: Path | None = None) -> list[LfwPair]:
    """The View 2 protocol: 10 folds, each 300 same-person then 300 different-person pairs."""
    root = root or lfw_dir()
    if root is None:
        raise FileNotFoundError("LFW not found: set FACEGATE_DATA or place it in ../shared/data/lfw")
    lines = (root / "pairs.txt").read_text().split("\n")
    folds, per_fold = (int(v) for v in lines[0].split())
    pairs = []
    rows = [line.split() for line in lines[1:] if line.strip()]
    for i, row in enumerate(rows):
        fold = i // (2 * per_fold)
        if len(row) == 3:
            pairs.append(LfwPair(fold, lfw_image(root, row[0], int(row[1])), lfw_image(root, row[0], int(row[2])), True))
        else:
            pairs.append(LfwPair(fold, lfw_image(root, row[0], int(row[1])), lfw_image(root, row[2], int(row[3])), False))
    if len(pairs) != folds * per_fold * 2:
        raise ValueError(f"pairs.txt lists {len(pairs)} pairs, expected {folds * per_fold * 2}")
    return pairs
