"""Genuine and impostor distances of one gallery, the error rates they give across thresholds, and the
recommended threshold (see the package's docstring for the rules); also reads them from photo folders.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facegate.calibration.stats import (
    CONFIDENCE,
    impostors_needed,
    interval,
    largest_supported_count,
    percent,
    upper_bound,
)
from facegate.config import RANGES
from facegate.matching import group_starts, per_person_distances
from facegate.storage import ensure_private_dir

DEFAULT_TARGET_FAR = 0.001
# The threshold setting's declared upper bound (facegate/config.py): the fused distance's 1 % false-match point on
# LFW. Above it every gallery accepts strangers too often, whatever a sample shows.
MAX_THRESHOLD = RANGES["threshold"][1]
# Fewer people with >= 2 usable photos than this and there is nothing to learn genuine distances from.
MIN_PEOPLE_WITH_PAIRS = 2
# Above this leave-one-out false-reject rate the recommendation comes with advice to add photos.
HIGH_FRR = 0.2
# Thresholds are stored rounded down to this step: a reader can type them, and rounding down never adds FAR.
THRESHOLD_STEP = 0.001

# CalibrationReport.status: what the data could support.
CALIBRATED = "calibrated"  # the threshold meets the target with the stated confidence
TOO_FEW_IMPOSTORS = "too_few_impostors"  # not even zero false accepts could show the target: conservative pick
TOO_SMALL = "too_small"  # not enough enrolled people with 2+ photos: the safe default is kept


# --------------------------------------------------------------------------------------- scores

@dataclass(frozen=True)
class Scores:
    """Distances from one gallery (and its impostor folder); the inputs of every rate below."""

    genuine: np.ndarray  # per photo of a person with >= 2 photos: distance to their nearest other photo
    genuine_rival: np.ndarray  # the same probes: distance to the closest other person (inf if nobody else)
    impostor: np.ndarray  # per impostor probe: distance to the closest enrolled person who is not them
    impostor_from_gallery: int  # the first this-many impostor scores are enrolled photos, the rest strangers
    people: int
    photos: int
    people_with_pairs: int  # people with >= 2 usable photos (the source of genuine scores)
    comparisons: int  # impostor face-to-person distances behind `impostor`

    @property
    def impostor_from_folder(self) -> int:
        return len(self.impostor) - self.impostor_from_gallery


def compute_scores(people: Mapping[str, np.ndarray], strangers: np.ndarray | None = None,
                   chunk: int = 512) -> Scores:
    """Genuine (leave-one-out) and impostor distances for a gallery of person -> (k, 128) embeddings, and for
    faces of people who will never be enrolled (`strangers`, (m, 128)), matched as the kiosk matches: each
    probe's distance to a person is its distance to that person's closest photo."""
    names = [name for name, rows in people.items() if len(rows)]
    counts = np.array([len(people[name]) for name in names], np.int64)
    dim = next((np.asarray(people[n]).shape[1] for n in names), 128)
    embeddings = (np.concatenate([np.asarray(people[n], np.float64) for n in names]) if names
                  else np.zeros((0, dim)))
    owner = np.repeat(np.arange(len(names)), counts)
    starts = group_starts(counts)
    genuine, rival, impostor = [], [], []
    for begin in range(0, len(embeddings), chunk):
        rows = np.arange(begin, min(begin + chunk, len(embeddings)))
        per_person = per_person_distances(embeddings[rows], embeddings, starts, rows)
        own = per_person[np.arange(len(rows)), owner[rows]].copy()
        per_person[np.arange(len(rows)), owner[rows]] = np.inf
        others = per_person.min(axis=1) if len(names) > 1 else np.full(len(rows), np.inf)
        has_pair = counts[owner[rows]] >= 2
        genuine.append(own[has_pair])
        rival.append(others[has_pair])
        if len(names) > 1:
            impostor.append(others)
    from_gallery = sum(len(v) for v in impostor)
    strangers = np.zeros((0, dim)) if strangers is None else np.asarray(strangers, np.float64).reshape(-1, dim)
    if len(names):
        for begin in range(0, len(strangers), chunk):
            impostor.append(per_person_distances(strangers[begin:begin + chunk], embeddings, starts, None).min(1))
    comparisons = from_gallery * (len(names) - 1) + (len(strangers) * len(names) if len(names) else 0)

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    return Scores(joined(genuine), joined(rival), joined(impostor), from_gallery, len(names), len(embeddings),
                  int((counts >= 2).sum()), int(comparisons))


# --------------------------------------------------------------------------------------- rates

@dataclass(frozen=True)
class ErrorCurve:
    thresholds: np.ndarray
    far: np.ndarray  # share of impostor probes accepted as someone (distance < threshold)
    frr: np.ndarray  # share of genuine probes not accepted as their own person
    false_accepts: np.ndarray  # the impostor probes behind `far`, counted
    genuine_accepted: np.ndarray  # genuine probes accepted as their own person (`frr` is the rest)


def false_accepts(scores: Scores, threshold: float) -> int:
    return int((scores.impostor < threshold).sum())


def genuine_accepts(scores: Scores, threshold: float) -> int:
    """Genuine probes accepted as the right person: own distance under the threshold and no one closer."""
    return int(((scores.genuine < threshold) & (scores.genuine < scores.genuine_rival)).sum())


def error_curve(scores: Scores, thresholds: np.ndarray | None = None) -> ErrorCurve:
    thresholds = np.round(np.arange(0.0, 1.2005, 0.001), 3) if thresholds is None else np.asarray(thresholds)
    impostor = np.sort(scores.impostor)
    right = np.sort(scores.genuine[scores.genuine < scores.genuine_rival])
    accepted = np.searchsorted(impostor, thresholds, side="left")
    genuine_accepted = np.searchsorted(right, thresholds, side="left")
    far = accepted / max(len(impostor), 1)
    frr = 1.0 - genuine_accepted / max(len(scores.genuine), 1)
    return ErrorCurve(thresholds, far, frr, accepted, genuine_accepted)


# --------------------------------------------------------------------------------------- recommendation

@dataclass
class CalibrationReport:
    """Everything `facegate calibrate` found: the recommendation, the numbers behind it, and in plain words."""

    status: str  # CALIBRATED, TOO_FEW_IMPOSTORS or TOO_SMALL
    threshold: float  # the recommended threshold (the default when the data cannot support another)
    target_far: float
    confidence: float
    default_threshold: float
    scores: Scores
    false_accepts: int  # impostor probes accepted at `threshold`
    far_upper: float  # one-sided upper confidence bound on the FAR at `threshold`
    genuine_accepted: int
    frr_interval: tuple[float, float]  # two-sided interval on the false-reject rate at `threshold`
    impostors_needed: int  # impostor probes needed to confirm the target with zero false accepts
    point_threshold: float | None = None  # where the observed FAR reaches the target (no confidence margin)
    clamped_from: float | None = None  # what the data allowed, when above MAX_THRESHOLD
    messages: list[str] = field(default_factory=list)  # plain-language findings and advice, most important first
    gallery: str = ""
    impostor_folder: str = ""
    problems: list[str] = field(default_factory=list)  # photos left out, with the reason

    @property
    def far(self) -> float:
        return self.false_accepts / max(len(self.scores.impostor), 1)

    @property
    def frr(self) -> float:
        return 1.0 - self.genuine_accepted / max(len(self.scores.genuine), 1)

    @property
    def can_apply(self) -> bool:
        return self.status != TOO_SMALL


def _round_down(value: float) -> float:
    return math.floor(value / THRESHOLD_STEP + 1e-9) * THRESHOLD_STEP


def recommend(scores: Scores, target_far: float = DEFAULT_TARGET_FAR, confidence: float = CONFIDENCE,
              default_threshold: float | None = None, max_threshold: float = MAX_THRESHOLD) -> CalibrationReport:
    """The largest threshold whose FAR is at most `target_far` with `confidence`, and why, from `scores`."""
    if not 0.0 < target_far < 1.0:
        raise ValueError("target_far must be between 0 and 1 (for example 0.001 for 0.1 %)")
    if default_threshold is None:
        from facegate.config import Settings

        default_threshold = Settings().threshold
    n = len(scores.impostor)
    needed = impostors_needed(target_far, confidence)
    messages: list[str] = []
    point = clamped_from = None
    conf = f"{100 * confidence:.0f} %"

    if scores.people_with_pairs < MIN_PEOPLE_WITH_PAIRS:
        status, threshold = TOO_SMALL, default_threshold
        messages.append(
            f"The gallery is too small to calibrate: {scores.people_with_pairs} people with at least 2 usable "
            f"photos, at least {MIN_PEOPLE_WITH_PAIRS} are needed (2-5 photos each of many people is better). "
            f"Keeping the safe default threshold {default_threshold:.2f}.")
    else:
        impostor = np.sort(scores.impostor)
        supported = largest_supported_count(n, target_far, confidence)
        # Where the observed rate alone reaches the target: shown for comparison, never recommended.
        at_target = math.floor(target_far * n)
        point = float(impostor[at_target]) if at_target < n else None
        if supported < 0:
            status = TOO_FEW_IMPOSTORS
            zero_accepts = _round_down(float(impostor[0])) if n else default_threshold
            threshold = min(default_threshold, zero_accepts)
            messages.append(
                f"Too few impostor comparisons to confirm {percent(target_far)}: {n:,} impostor probes, need >= "
                f"{needed:,} (even with none accepted, {n:,} cannot show a rate under {percent(target_far)} with "
                f"{conf} confidence; rule of three: about 3/target). Add photos of people who will never be "
                f"enrolled with --impostors.")
            messages.append(
                f"Recommending the more conservative of the safe default ({default_threshold:.2f}) and the highest "
                f"threshold at which no impostor was accepted ({zero_accepts:.3f}): {threshold:.3f}.")
        else:
            status = CALIBRATED
            threshold = _round_down(float(impostor[supported])) if supported < n else max_threshold
            if threshold > max_threshold:
                clamped_from, threshold = threshold, max_threshold
                messages.append(
                    f"The data would allow {clamped_from:.3f}, but FaceGate never recommends a threshold above "
                    f"{max_threshold:.2f} (1 % of different-person photos match there on LFW): clamped to "
                    f"{max_threshold:.2f}.")

    threshold = round(threshold, 3)
    accepted = false_accepts(scores, threshold)
    genuine_ok = genuine_accepts(scores, threshold)
    report = CalibrationReport(
        status=status, threshold=threshold, target_far=target_far, confidence=confidence,
        default_threshold=default_threshold, scores=scores, false_accepts=accepted,
        far_upper=upper_bound(accepted, n, confidence), genuine_accepted=genuine_ok,
        frr_interval=interval(len(scores.genuine) - genuine_ok, len(scores.genuine), confidence),
        impostors_needed=needed, point_threshold=point, clamped_from=clamped_from, messages=messages)
    if status != TOO_SMALL and len(scores.genuine) and report.frr > HIGH_FRR:
        messages.append(
            f"At {report.threshold:.3f}, {percent(report.frr)} of the enrolled people's own photos would be refused "
            f"(leave-one-out). Add 3-5 clear, frontal photos per person, or accept a higher false-accept target.")
    if status == CALIBRATED and n < 10 * needed:
        messages.append(
            f"With {n:,} impostor probes the bound is loose; about {10 * needed:,} (photos of people who will never "
            f"be enrolled, via --impostors) would let the threshold come closer to the target.")
    return report


# --------------------------------------------------------------------------------------- reading photos

def gallery_embeddings(gallery) -> dict[str, np.ndarray]:
    """Person -> (k, EMBEDDING_SIZE) embeddings of their usable enrolled photos, after `gallery.refresh()`. Photos the
    kiosk learned are left out: they were chosen for being close to the enrolled ones, and would flatter the
    genuine distances."""
    return gallery.embeddings("enrolled")


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


def calibrate_folders(gallery_folder: Path, impostor_folder: Path | None = None,
                      target_far: float = DEFAULT_TARGET_FAR, confidence: float = CONFIDENCE,
                      engine=None, impostor_cache: Path | None = None,
                      default_threshold: float | None = None) -> CalibrationReport:
    """Read (and cache) the embeddings of a gallery folder and an optional impostor folder, and recommend.

    The impostor folder follows the gallery's rules (one clear face per photo; sub-folders or loose photos).
    Its embeddings are cached in the file `impostor_cache` (the command keeps it in the data folder, so that a
    second run with another target or report folder encodes nothing); None: beside the folder, as a gallery's."""
    from facegate.errors import FaceGateError
    from facegate.gallery import Gallery

    if not Path(gallery_folder).is_dir():
        raise FaceGateError(f"{gallery_folder}: the gallery folder does not exist; enroll people first or give "
                            "--gallery")
    if engine is None:
        from facegate.vision.engine import FaceEngine

        engine = FaceEngine()
    gallery = Gallery(gallery_folder, engine)
    problems = [str(p) for p in gallery.refresh()]
    people = gallery_embeddings(gallery)
    strangers, overlap = None, []
    if impostor_folder is not None:
        if not Path(impostor_folder).is_dir():
            raise FaceGateError(f"{impostor_folder}: the impostor folder does not exist")
        if impostor_cache is not None:
            ensure_private_dir(Path(impostor_cache).parent)
        others = Gallery(impostor_folder, engine, cache_path=impostor_cache)
        # Strangers' group photos and blurred shots are expected by the hundred: they are listed in the
        # report, not logged one warning each.
        quiet = _DropWarnings()
        logging.getLogger("facegate.gallery").addFilter(quiet)
        try:
            problems += [str(p) for p in others.refresh()]
        finally:
            logging.getLogger("facegate.gallery").removeFilter(quiet)
        rows = list(gallery_embeddings(others).values())
        strangers = np.concatenate(rows) if rows else None
        enrolled = {name.casefold() for name in people}
        overlap = [name for name in others.people if name.casefold() in enrolled]
    report = recommend(compute_scores(people, strangers), target_far, confidence, default_threshold)
    report.gallery, report.impostor_folder = str(gallery_folder), str(impostor_folder or "")
    report.problems = problems
    if overlap:
        report.messages.append(
            f"{len(overlap)} name(s) appear both in the gallery and in the impostor folder ({', '.join(overlap[:5])}"
            f"{', ...' if len(overlap) > 5 else ''}): impostors must be people who will never be enrolled.")
    return report
