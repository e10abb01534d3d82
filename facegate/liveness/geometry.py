"""Cues read from the face's geometry and its movement: 3D parallax, blinks, the mouth opening and the jaw's drop."""

from __future__ import annotations

import cv2
import numpy as np

from facegate.vision.facemesh import CHIN, NOSE_BRIDGE, NOSE_TIP, UPPER_LIP_INNER, Mesh


def homography_residual(reference: np.ndarray, current: np.ndarray, scale: float) -> float:
    """RMS distance between `current` and `reference` mapped by their best-fitting homography, in units of
    `scale`. ~0.01-0.03 for a picture (landmark noise); a real head turning shows far more."""
    matrix, _ = cv2.findHomography(reference.astype(np.float32), current.astype(np.float32), 0)
    if matrix is None:
        return 0.0
    projected = cv2.perspectiveTransform(reference[None].astype(np.float32), matrix)[0]
    return float(np.sqrt(((projected - current) ** 2).sum(1).mean()) / max(scale, 1e-6))


class BlinkCounter:
    """Counts blinks against the person's own open-eye level (the upper part of their recent eye ratio).

    The eye ratio is taken relative to the proportions of the region around the eyes (brow to cheek over eye
    width): a printed face tilted sharply away from the camera flattens its printed eyes (the eye ratio falls) but
    flattens their brows and cheeks with them, so the relative ratio stays; a real blink closes the eyelids and
    leaves brows and cheeks where they were. A closure during which the face is flattened by more than 10 % is
    not counted at all (real blinks leave the proportions within a few per cent)."""

    MAX_FLATTENING = 0.9

    def __init__(self, ratio: float):
        self.ratio = ratio
        self.history: list[float] = []
        self.aspects: list[tuple[float, ...]] = []
        self.closed_since: float | None = None
        self.closure_flattened = False
        self.blinks = 0
        self.lowest_ratio = 1.0
        self.lowest_raw_ratio = 1.0  # without the face-proportion correction, for the record
        self.foreshortening = 1.0  # the latest frame's most flattened face proportion against its usual value

    def update(self, ear: float, now: float, aspects: tuple[float, ...] | None = None) -> bool:
        """Returns True when a blink just completed. `aspects`: proportions of the face that a blink leaves alone
        and a tilt away from the camera flattens (Mesh.face_aspect(), Mesh.eye_region_aspect()), same frame."""
        self.history.append(ear)
        if aspects is not None:
            self.aspects.append(tuple(aspects))
        for kept in (self.history, self.aspects):
            if len(kept) > 90:
                kept.pop(0)
        if len(self.history) < 4:
            return False
        baseline = float(np.percentile(self.history, 80))
        raw = ear / baseline if baseline > 0 else 1.0
        foreshortening = 1.0
        if aspects is not None and len(self.aspects) >= 4:
            usual = np.median(np.array(self.aspects), axis=0)
            # the most flattened proportion: what is left of an eye ratio dip after it is not a blink
            foreshortening = min(1.0, *(now_ / max(usual_, 1e-6) for now_, usual_ in zip(aspects, usual, strict=False)))
        self.foreshortening = foreshortening
        relative = raw / max(foreshortening, 1e-6)
        self.lowest_raw_ratio = min(self.lowest_raw_ratio, raw)
        self.lowest_ratio = min(self.lowest_ratio, relative)
        flattened = foreshortening < self.MAX_FLATTENING
        if relative < self.ratio or (raw < self.ratio and flattened):
            if self.closed_since is None:
                self.closed_since = now
                self.closure_flattened = False
            # A closure seen while the face is flattened is a tilt (or a blink during one): it does not count.
            self.closure_flattened |= flattened
            return False
        if self.closed_since is not None and relative > 0.85:
            closed_for = now - self.closed_since
            self.closed_since = None
            if closed_for <= 0.6 and not self.closure_flattened:  # a blink; longer is eyes shut, not a blink
                self.blinks += 1
                return True
        return False


# Where the jaw's movement is read (FaceMesh indices): points a jaw drop leaves alone (eye corners, brows, nose,
# the cheek under each eye) and points on the chin, below the lower lip.
RIGID_POINTS = (33, 133, 362, 263, 1, 4, 6, 168, 197, 105, 334, 119, 348)
CHIN_POINTS = (CHIN, 148, 377, 175, 199, 200, 171, 396)


class JawMotion:
    """Does the chin move down as the mouth opens? A real mouth opens by dropping the jaw: the chin moves down
    against the rest of the face by about as much as the lips part, or more. A print with the mouth cut out, the
    attacker's own mouth opening behind it, parts the lips while the printed chin moves with the sheet.

    FaceMesh cannot tell these apart: it moves its chin landmark with any open mouth, whether or not the chin in
    the picture moved (0.25-0.73 times the lips' parting on such prints). So this reads the picture: the face's
    points are followed by optical flow (pyramidal Lucas-Kanade) from the last frame the mouth was closed; the
    movement of the upper face (one affine map: the head turning, or the sheet moving) is taken away from the
    chin's, and what is left, downward, is the jaw's drop. Measured (median per clip, lips parted 0.08 or more):
    people talking 0.21-1.59 times the parting (benchmarks/liveness_bona_fide.py: one clip of ten under the bar),
    the Hamilton clip's opening above 1.5; cut-out mouths rendered on flat and bent prints -0.04 to 0.03 times."""

    MIN_RATIO = 0.25  # the chin's own drop, as a share of the lips' parting (both in Mesh.mouth_opening's unit)

    def __init__(self) -> None:
        self.reference: tuple[np.ndarray, np.ndarray, float, float] | None = None  # grey, points, height, opening
        self.lowest_ratio = float("inf")  # the lowest ratio while the lips were parted 0.1 or more, for the record

    def closed(self, grey: np.ndarray, mesh: Mesh) -> None:
        """The mouth is closed on this frame: the face to compare with."""
        points = mesh.points[:, :2].astype(np.float32)
        height = float(np.linalg.norm(points[UPPER_LIP_INNER] - points[NOSE_BRIDGE]))
        self.reference = (grey, points, height, mesh.mouth_opening())

    def drop(self, grey: np.ndarray, mesh: Mesh) -> float | None:
        """The chin's own movement down since the mouth was last closed, in nose-bridge-to-upper-lip heights;
        None when it cannot be followed."""
        if self.reference is None:
            return None
        before, points, height, _ = self.reference
        followed = list(RIGID_POINTS + CHIN_POINTS)
        start = points[followed].reshape(-1, 1, 2)
        # The head's movement (from FaceMesh's nose tip) as the first guess: the flow then only refines it.
        guess = (start + (mesh.points[NOSE_TIP, :2] - points[NOSE_TIP])).astype(np.float32)
        window = max(9, int(0.5 * height)) | 1
        found, status, _ = cv2.calcOpticalFlowPyrLK(before, grey, start, guess, winSize=(window, window), maxLevel=3,
                                                    flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        found, ok = found.reshape(-1, 2), status.ravel() == 1
        rigid = len(RIGID_POINTS)
        if ok[:rigid].sum() < 4 or ok[rigid:].sum() < 3:
            return None
        head, _ = cv2.estimateAffine2D(start[:rigid, 0][ok[:rigid]], found[:rigid][ok[:rigid]], method=cv2.LMEDS)
        if head is None:
            return None
        chin_before = start[rigid:, 0][ok[rigid:]]
        expected = chin_before @ head[:, :2].T + head[:, 2]
        return float(np.median(found[rigid:][ok[rigid:], 1] - expected[:, 1]) / max(height, 1e-6))

    def follows(self, grey: np.ndarray, mesh: Mesh) -> bool:
        """The chin has dropped with the lips since the mouth was last closed (False when it cannot be seen)."""
        if self.reference is None:
            return False
        parted = mesh.mouth_opening() - self.reference[3]
        if parted < 0.02:  # not opening: nothing to compare
            return False
        drop = self.drop(grey, mesh)
        if drop is None:
            return False
        if parted >= 0.1:
            self.lowest_ratio = min(self.lowest_ratio, drop / parted)
        return drop >= self.MIN_RATIO * parted


class MouthWatch:
    """The mouth opening from closed, against the person's own usual level (the lower part of their recent
    Mesh.mouth_opening(), taken only from frames where the face has its usual proportions).

    A picture cannot part its printed lips, but tilting or bending it changes how open a printed mouth looks:
    tilted forward an open printed mouth looks closed, tilted back it looks up to ~1.3x wider, and curled about
    the horizontal axis and tilted back up to 1.8x (perspective brings the mouth nearer than the eyes; measured on
    obama2.jpg, whose mouth is open, printed). So:
    - "closed" is also closed in absolute terms (CLOSED_MAX): a picture of an open mouth is never closed, and an
      opening must start from closed;
    - frames whose proportions are squashed by more than MAX_SQUASH (a tilt; a real mouth opening leaves them alone
      or lengthens the face) neither teach the usual level nor count as an opening;
    - an opening is seen on OPEN_FRAMES frames in a row (a real one lasts a third of a second or more; a flick of
      the sheet, or a landmark glitch, a frame or two), each with the chin dropping with it (JawMotion: see())."""

    CLOSED_MAX = 0.08
    MAX_SQUASH = 0.95
    OPEN_FRAMES = 3

    def __init__(self, delta: float):
        self.delta = delta
        self.history: list[float] = []
        self.widest = 0.0  # the largest opening above the usual level, for the record
        self.opening = 0.0  # the latest, above the usual level
        self.absolute = float("inf")  # the latest Mesh.mouth_opening(); unknown until there is a usual level
        self.usual_proportions = False  # the latest frame's face is not squashed
        self._open_frames = 0
        self._seen_closed = self._opened = False
        self.jaw = JawMotion()

    def see(self, mesh: Mesh, grey: np.ndarray, foreshortening: float) -> None:
        """One frame as the check reads it: the opening, the face's squash (BlinkCounter.foreshortening) and the
        chin's drop since the mouth was last closed, read from `grey`, the frame the mesh was found in."""
        self.update(mesh.mouth_opening(), foreshortening, self.jaw.follows(grey, mesh))
        if self.is_closed:
            self.jaw.closed(grey, mesh)

    def update(self, opening: float, foreshortening: float, jaw_drops: bool) -> None:
        """`foreshortening`: the face's most squashed proportion against its usual value, same frame
        (BlinkCounter.foreshortening); `jaw_drops`: the chin moved down with the lips (JawMotion.follows)."""
        usual_proportions = self.usual_proportions = foreshortening >= self.MAX_SQUASH
        if usual_proportions:
            self.history.append(opening)
            if len(self.history) > 90:
                self.history.pop(0)
        if len(self.history) < 4:
            return
        self.absolute = opening  # from here on; before it, nothing is known to be closed
        self.opening = opening - float(np.percentile(self.history, 20))
        if usual_proportions:
            self.widest = max(self.widest, self.opening)
        self._open_frames = self._open_frames + 1 if self.is_open and usual_proportions and jaw_drops else 0
        if self.is_closed:
            self._seen_closed = True
        elif self._open_frames >= self.OPEN_FRAMES and self._seen_closed:
            self._opened = True

    @property
    def is_open(self) -> bool:
        return self.opening >= self.delta

    @property
    def is_closed(self) -> bool:
        """Closed against the person's usual level and in absolute terms (a picture of an open mouth never is), on
        a face not squashed (tilted forward, a printed open mouth looks closed)."""
        return self.opening <= self.delta / 3 and self.absolute <= self.CLOSED_MAX and self.usual_proportions

    def arm(self) -> None:
        """A request starts: only an opening from a closed mouth seen from now on counts."""
        self._seen_closed = self.is_closed
        self._opened = False
        self._open_frames = 0

    @property
    def opened(self) -> bool:
        """Opened (from closed) since arm()."""
        return self._opened

