"""Still half-mask composites for the whole-face check (issue 28 item 4): one person's upper face over another's
lower face, as a print cut off under the nose and worn over someone else's face looks to the camera.

The victim's photo is warped onto the wearer's by the similarity that best maps the victim's 5 landmarks (eyes and
nose base) onto the wearer's, as a wearer lines the print's eyes up with their own; above a line `cut` eye-to-nose
heights under the (mapped) nose base, perpendicular to the eyes' axis, the picture is the victim's, under it the
wearer's. `feather` softens the paper's edge over that many pixels (0: a hard cut).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facegate.vision.align import fit_similarity

JUST_UNDER_THE_NOSE = 0.1  # the outside test's mask: cut just under the nose
LOWER_CUT = 0.3  # a sheet that also covers most of the upper lip


@dataclass(frozen=True)
class HalfMask:
    cut: float = JUST_UNDER_THE_NOSE
    feather: float = 0.0  # pixels of a soft edge; 0 keeps the paper's hard edge

    @property
    def label(self) -> str:
        return f"cut {self.cut:.2f} under the nose, {'soft' if self.feather else 'hard'} edge"


def half_mask_composite(victim_rgb: np.ndarray, victim_landmarks: np.ndarray, wearer_rgb: np.ndarray,
                        wearer_landmarks: np.ndarray, mask: HalfMask = HalfMask()) -> np.ndarray:
    """The wearer's photo with the victim's upper face over it (see the module's docstring)."""
    scale, rot, shift = fit_similarity(np.asarray(victim_landmarks, np.float64),
                                       np.asarray(wearer_landmarks, np.float64))
    matrix = np.hstack([scale * rot, shift[:, None]])
    height, width = wearer_rgb.shape[:2]
    warped = cv2.warpAffine(victim_rgb, matrix, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    mapped = np.asarray(victim_landmarks, np.float64) @ matrix[:, :2].T + matrix[:, 2]
    down = mapped[4] - mapped[:4].mean(0)  # eyes' centre -> nose base
    eye_to_nose = float(np.linalg.norm(down))
    down /= max(eye_to_nose, 1e-6)
    line = mapped[4] + mask.cut * eye_to_nose * down
    rows, cols = np.mgrid[:height, :width]
    under = (cols - line[0]) * down[0] + (rows - line[1]) * down[1]  # > 0 under the cut
    # the victim's share of each pixel: 1 above the cut, 0 under it, a ramp `feather` pixels wide across it
    victim = np.clip(0.5 - under / mask.feather, 0.0, 1.0) if mask.feather > 0 else (under < 0).astype(np.float64)
    blended = warped * victim[..., None] + wearer_rgb * (1.0 - victim[..., None])
    return blended.round().astype(np.uint8)
