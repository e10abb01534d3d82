"""A crowd scene made of the real clip: Lin-Manuel Miranda at the desk (his frontal shot, frames 83-210, the left
half) beside the audience of its last shot (frames 212-274, the right half), as one 640x360 video.

The clip never shows him and the audience together; a kiosk at a reception desk does (the person at the desk and
people waiting behind or beside them). The screenshots of the README (scripts/screenshot.py --crowd) and the
tests of what a wait or a request shows to the others in view use it. Every pixel comes from the clip, unscaled.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLIP = "short_hamilton_clip.mp4"
HIM = (83, 210)  # his frontal frames (inclusive)
AUDIENCE = (212, 274)  # the audience shot (inclusive), played forwards and backwards to last as long as he does
HIM_X = 70  # the left edge of his half (he stands at ~x 180-260 in the clip)
AUDIENCE_X = 300  # the left edge of the audience's half (Barack Obama at ~x 480)
FPS = 29.97


def write_crowd_clip(clips: Path, out: Path) -> Path:
    """Write the crowd scene to `out` (an .avi with MJPG, as OpenCV writes everywhere) and return it."""
    capture = cv2.VideoCapture(str(clips / CLIP))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames[index] = frame
        index += 1
    capture.release()
    if HIM[1] not in frames or AUDIENCE[1] not in frames:
        raise ValueError(f"{clips / CLIP} is shorter than the clip this scene is made of ({index} frames)")
    audience = list(range(AUDIENCE[0], AUDIENCE[1] + 1))
    bounce = audience + audience[-2:0:-1]  # forwards and backwards: no cut inside the audience half
    height, width = frames[0].shape[:2]
    half = width // 2
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for step, his in enumerate(range(HIM[0], HIM[1] + 1)):
        scene = np.empty_like(frames[0])
        scene[:, :half] = frames[his][:, HIM_X:HIM_X + half]
        scene[:, half:] = frames[bounce[step % len(bounce)]][:, AUDIENCE_X:AUDIENCE_X + half]
        writer.write(scene)
    writer.release()
    return out
