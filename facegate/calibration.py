"""Per-site threshold calibration: which distance threshold keeps strangers out, for *this* gallery.

The question every deployment asks ("what threshold so that strangers are not let in?") has no universal
answer: the false-accept rate of a stranger's face grows with the number of people enrolled, and depends on
who they are and how they were photographed. So it is measured here, from the site's own photos:

- genuine scores: each enrolled photo of a person with at least 2 usable photos, matched the way the kiosk
  would match it against everyone else's photos and the person's OTHER photos (leave-one-out). It counts as
  accepted at threshold t when its own person is the best match and that distance is under t;
- impostor scores: each enrolled photo's distance to the closest OTHER enrolled person (would this person be
  let in as someone else?), plus each face from an optional folder of people who will never be enrolled,
  against every enrolled person. One impostor probe = one stranger walking up to the door.

The recommended threshold is the largest one whose false-accept rate is at most the target with 95 %
confidence (one-sided Clopper-Pearson bound on the observed false accepts). With few impostor probes even zero
observed false accepts cannot show a small rate (the "rule of three": about 3/target probes are needed); then
the report says so and keeps the safe default. It never recommends above 0.6, the fused distance's 1 %
false-match point on LFW (where dlib's own "same person" rule sits).

Pure functions and dataclasses first (scores -> rates -> recommendation); the photo reading, report files,
settings and the `calibrate` command come last and load the models lazily.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from facegate.storage import atomic_write_bytes, ensure_private_dir

DEFAULT_TARGET_FAR = 0.001
CONFIDENCE = 0.95
# The fused distance's 1 % false-match point on LFW (facegate/vision/engine.py scales it to where dlib's own
# "same person under 0.6" sits). Above it every gallery accepts strangers too often, whatever a sample shows.
MAX_THRESHOLD = 0.6
# Fewer people with >= 2 usable photos than this and there is nothing to learn genuine distances from.
MIN_PEOPLE_WITH_PAIRS = 2
# Above this leave-one-out false-reject rate the recommendation comes with advice to add photos.
HIGH_FRR = 0.2
# Thresholds are stored rounded down to this step: a reader can type them, and rounding down never adds FAR.
THRESHOLD_STEP = 0.001
# Rows of the FAR/FRR table in report.txt.
TABLE_THRESHOLDS = tuple(round(0.30 + 0.025 * i, 3) for i in range(15))

# CalibrationReport.status: what the data could support.
CALIBRATED = "calibrated"  # the threshold meets the target with the stated confidence
TOO_FEW_IMPOSTORS = "too_few_impostors"  # not even zero false accepts could show the target: conservative pick
TOO_SMALL = "too_small"  # not enough enrolled people with 2+ photos: the safe default is kept


# --------------------------------------------------------------------------------------- binomial bounds

def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n may be in the millions, p tiny)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    if k >= n:
        return 1.0
    i = np.arange(k + 1, dtype=np.float64)
    # log C(n, i) by the ratio C(n, i+1) / C(n, i) = (n - i) / (i + 1): one vectorised cumulative sum.
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - i[:-1]) - np.log(i[:-1] + 1))])
    log_terms = log_choose + i * math.log(p) + (n - i) * math.log1p(-p)
    top = log_terms.max()
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


def _bisect(f, lo: float = 0.0, hi: float = 1.0, iterations: int = 80) -> float:
    """The p in [lo, hi] where the decreasing function f crosses zero (f(lo) >= 0 >= f(hi))."""
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def upper_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate observed as k events in n trials.

    The p at which seeing k or fewer events has probability 1 - confidence. With k = 0 it is
    1 - (1 - confidence)^(1/n), about 3/n at 95 % (the rule of three)."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = 1.0 - confidence
    if k == 0:
        return 1.0 - alpha ** (1.0 / n)
    return _bisect(lambda p: _binomial_cdf(k, n, p) - alpha)


def lower_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound: the p at which seeing k or more events has probability
    1 - confidence."""
    if n <= 0 or k <= 0:
        return 0.0
    alpha = 1.0 - confidence
    if k >= n:
        return alpha ** (1.0 / n)
    # P(X >= k; p) = 1 - P(X <= k - 1; p) rises with p: find where it reaches alpha.
    return _bisect(lambda p: _binomial_cdf(k - 1, n, p) - (1.0 - alpha))


def interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval (each tail gets half of 1 - confidence)."""
    tail = (1.0 + confidence) / 2
    return lower_bound(k, n, tail), upper_bound(k, n, tail)


def impostors_needed(target_far: float, confidence: float = CONFIDENCE) -> int:
    """Fewest impostor probes with which zero false accepts bound the FAR at or under the target."""
    return math.ceil(math.log(1.0 - confidence) / math.log1p(-target_far))


def largest_supported_count(n: int, target_far: float, confidence: float = CONFIDENCE) -> int:
    """Largest number of false accepts k (out of n) whose upper bound is still <= target; -1 if not even 0."""
    if upper_bound(0, n, confidence) > target_far:
        return -1
    lo, hi = 0, min(n, math.ceil(target_far * n) + 1)  # the bound is above k/n, so k <= target * n
    while lo < hi:  # the bound rises with k: binary search for the last k that passes
        mid = (lo + hi + 1) // 2
        if upper_bound(mid, n, confidence) <= target_far:
            lo = mid
        else:
            hi = mid - 1
    return lo


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


def per_person_distances(probes: np.ndarray, embeddings: np.ndarray, starts: np.ndarray,
                         exclude_rows: np.ndarray | None = None) -> np.ndarray:
    """(probes, people) distance from each probe to each person's closest photo; a person's photos are the rows
    of `embeddings` from their `starts` entry to the next one. `exclude_rows[i]` is a row of `embeddings` that
    probe i may not match (itself: leave-one-out), or -1. Also used by the benchmarks."""
    squared = (probes ** 2).sum(1)[:, None] - 2.0 * probes @ embeddings.T + (embeddings ** 2).sum(1)[None, :]
    if exclude_rows is not None:
        keep = exclude_rows >= 0
        squared[np.flatnonzero(keep), exclude_rows[keep]] = np.inf
    return np.sqrt(np.maximum(np.minimum.reduceat(squared, starts, axis=1), 0.0))


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
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if names else np.zeros(0, np.int64)
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

    def joined(parts):
        return np.concatenate(parts) if parts else np.zeros(0)

    return Scores(joined(genuine), joined(rival), joined(impostor), from_gallery, len(names), len(embeddings),
                  int((counts >= 2).sum()), int(comparisons))


# --------------------------------------------------------------------------------------- rates

@dataclass(frozen=True)
class ErrorCurve:
    thresholds: np.ndarray
    far: np.ndarray  # share of impostor probes accepted as someone (distance < threshold)
    frr: np.ndarray  # share of genuine probes not accepted as their own person


def false_accepts(scores: Scores, threshold: float) -> int:
    return int((scores.impostor < threshold).sum())


def genuine_accepts(scores: Scores, threshold: float) -> int:
    """Genuine probes accepted as the right person: own distance under the threshold and no one closer."""
    return int(((scores.genuine < threshold) & (scores.genuine < scores.genuine_rival)).sum())


def error_curve(scores: Scores, thresholds: np.ndarray | None = None) -> ErrorCurve:
    thresholds = np.round(np.arange(0.0, 1.2005, 0.001), 3) if thresholds is None else np.asarray(thresholds)
    impostor = np.sort(scores.impostor)
    right = np.sort(scores.genuine[scores.genuine < scores.genuine_rival])
    far = np.searchsorted(impostor, thresholds, side="left") / max(len(impostor), 1)
    frr = 1.0 - np.searchsorted(right, thresholds, side="left") / max(len(scores.genuine), 1)
    return ErrorCurve(thresholds, far, frr)


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


def percent(rate: float) -> str:
    """0.001 -> '0.1 %', 0.0123 -> '1.23 %', 0.25 -> '25 %'."""
    if rate == 0:
        return "0 %"
    return f"{100 * rate:.3g} %"


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


# --------------------------------------------------------------------------------------- report files

def summary_lines(report: CalibrationReport) -> list[str]:
    """The key numbers in plain words (printed by the command, and the head of report.txt)."""
    s = report.scores
    conf = f"{100 * report.confidence:.0f} %"
    lines = [f"Gallery: {report.gallery or '(given embeddings)'}: {s.people} people, {s.photos} usable photos"
             + (f" ({len(report.problems)} photo(s) left out, listed in report.txt)" if report.problems else "")]
    lines.append(f"Genuine comparisons: {len(s.genuine):,} photos of {s.people_with_pairs} people with >= 2 photos, "
                 "each matched against everyone else's photos and the person's other photos (leave-one-out)")
    others = max(s.people - 1, 0)
    folder = f"{s.impostor_from_folder:,} faces from {report.impostor_folder} against all {s.people}" \
        if report.impostor_folder else "no --impostors folder"
    lines.append(f"Impostor comparisons: {len(s.impostor):,} impostor probes ({s.impostor_from_gallery:,} enrolled "
                 f"photos against the other {others} people; {folder}): {s.comparisons:,} face-to-person "
                 "distances")
    lines.append(f"Target false-accept rate: {percent(report.target_far)} per stranger's face, with {conf} "
                 f"confidence (needs >= {report.impostors_needed:,} impostor probes even with none accepted)")
    word = {CALIBRATED: "Recommended threshold", TOO_FEW_IMPOSTORS: "Recommended threshold (not confirmed)",
            TOO_SMALL: "Threshold kept at the safe default"}[report.status]
    lines.append(f"{word}: {report.threshold:.3f}")
    n, g = len(s.impostor), len(s.genuine)
    if n:
        lines.append(f"  false accepts at {report.threshold:.3f}: {report.false_accepts} of {n:,} "
                     f"({percent(report.far)}; at most {percent(report.far_upper)} with {conf} confidence)")
    if g:
        low, high = report.frr_interval
        lines.append(f"  false rejects at {report.threshold:.3f}: {g - report.genuine_accepted} of {g:,} "
                     f"({percent(report.frr)}; {conf} interval {percent(low)} - {percent(high)})")
    if report.point_threshold is not None and report.status != TOO_SMALL:
        lines.append(f"  for comparison, the observed FAR alone reaches {percent(report.target_far)} at "
                     f"{report.point_threshold:.3f} (no confidence margin: not a safe choice)")
    lines.extend(report.messages)
    return lines


def report_text(report: CalibrationReport) -> str:
    s = report.scores
    lines = ["FaceGate threshold calibration", ""] + summary_lines(report) + ["", "FAR / FRR by threshold "
             "(FAR: impostor probes accepted as anyone; FRR: genuine probes not accepted as their own person)",
             f"{'threshold':>10} {'false accepts':>16} {'FAR':>9} {'FAR upper':>10} {'false rejects':>15} {'FRR':>8}"]
    for t in sorted(set(TABLE_THRESHOLDS) | {report.threshold}):
        k = false_accepts(s, t)
        rejected = len(s.genuine) - genuine_accepts(s, t)
        n, g = max(len(s.impostor), 1), max(len(s.genuine), 1)
        mark = "  <- recommended" if t == report.threshold else ""
        lines.append(f"{t:>10.3f} {k:>7,}/{len(s.impostor):<8,} {percent(k / n):>9} "
                     f"{percent(upper_bound(k, len(s.impostor), report.confidence)):>10} "
                     f"{rejected:>6,}/{len(s.genuine):<8,} {percent(rejected / g):>8}{mark}")
    lines += ["", "Notes:",
              "- The FAR is per stranger's face against the whole gallery, so it grows with the number of people "
              "enrolled: calibrate again after enrolling many more people.",
              "- The confidence bound treats comparisons as independent; photos of one person are not quite, so "
              "read it as a best case. The kiosk's K-of-N vote and margin rule add safety not counted here.",
              "- Genuine scores are leave-one-out over the enrolled photos: a person's live face at the door may "
              "differ more from their photos than the photos differ from each other."]
    if report.problems:
        lines += ["", "Photos left out:"] + [f"- {p}" for p in report.problems]
    return "\n".join(lines) + "\n"


class _Canvas:
    """A white image with a plotting area mapped from data coordinates (the x axis may be log10)."""

    def __init__(self, x_range, y_range, log_x=False, size=(900, 540), margin=(80, 30, 40, 60)):
        self.image = np.full((size[1], size[0], 3), 255, np.uint8)
        self.left, self.right, self.top, self.bottom = margin[0], size[0] - margin[1], margin[2], size[1] - margin[3]
        self.log_x = log_x
        self.x0, self.x1 = (math.log10(v) for v in x_range) if log_x else x_range
        self.y0, self.y1 = y_range

    def px(self, x, y) -> tuple[int, int]:
        x = math.log10(x) if self.log_x else x
        u = self.left + (x - self.x0) / (self.x1 - self.x0) * (self.right - self.left)
        v = self.bottom - (y - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)
        return int(round(u)), int(round(v))

    def text(self, label, at, scale=0.45, colour=(40, 40, 40), thickness=1):
        import cv2

        cv2.putText(self.image, label, at, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)

    def axes(self, x_ticks, y_ticks, x_label, y_label, title, x_fmt, y_fmt):
        import cv2

        for x in x_ticks:
            u, _ = self.px(x, self.y0)
            cv2.line(self.image, (u, self.top), (u, self.bottom), (225, 225, 225), 1)
            self.text(x_fmt(x), (min(u - 14, self.right - 36), self.bottom + 18))
        for y in y_ticks:
            _, v = self.px(x_ticks[0], y)
            cv2.line(self.image, (self.left, v), (self.right, v), (225, 225, 225), 1)
            self.text(y_fmt(y), (self.left - 55, v + 5))
        cv2.rectangle(self.image, (self.left, self.top), (self.right, self.bottom), (60, 60, 60), 1)
        self.text(x_label, ((self.left + self.right) // 2 - 4 * len(x_label), self.bottom + 42), 0.5)
        self.text(y_label, (8, self.top - 14), 0.5)
        self.text(title, (self.left + 160, self.top - 14), 0.5, (0, 0, 0))

    def vline(self, x, colour, label, dashed=False):
        import cv2

        u, _ = self.px(x, self.y0)
        if dashed:
            for v in range(self.top, self.bottom, 12):
                cv2.line(self.image, (u, v), (u, min(v + 6, self.bottom)), colour, 2)
        else:
            cv2.line(self.image, (u, self.top), (u, self.bottom), colour, 2)
        self.text(label, (u + 5, self.top + 16 + (16 if dashed else 0)), 0.45, colour)

    def png(self) -> bytes:
        import cv2

        ok, data = cv2.imencode(".png", self.image)
        if not ok:
            raise RuntimeError("OpenCV could not encode the plot as PNG")
        return data.tobytes()


GENUINE_COLOUR = (60, 160, 40)  # BGR: green
IMPOSTOR_COLOUR = (40, 40, 210)  # red
CHOSEN_COLOUR = (200, 90, 0)  # blue
DEFAULT_COLOUR = (120, 120, 120)


def scores_plot(report: CalibrationReport) -> bytes:
    """Histograms (each normalised to its own total) of genuine and impostor distances, with the thresholds."""
    import cv2

    s = report.scores
    edges = np.round(np.arange(0.0, 1.2001, 0.02), 3)
    hist = {}
    for key, values in (("genuine", s.genuine[np.isfinite(s.genuine)]),
                        ("impostor", s.impostor[np.isfinite(s.impostor)])):
        counts, _ = np.histogram(np.clip(values, 0, 1.19), edges)
        hist[key] = counts / max(counts.sum(), 1)
    top = max(0.05, float(max(hist["genuine"].max(initial=0), hist["impostor"].max(initial=0))) * 1.1)
    canvas = _Canvas((0.0, 1.2), (0.0, top))
    y_step = 0.05 if top <= 0.3 else 0.1
    canvas.axes([round(0.1 * i, 1) for i in range(13)], list(np.arange(0, top, y_step)), "distance",
                "share of probes",
                f"genuine ({len(s.genuine):,}) vs impostor ({len(s.impostor):,}) distances",
                lambda x: f"{x:.1f}", lambda y: f"{100 * y:.0f} %")
    for key, colour in (("impostor", IMPOSTOR_COLOUR), ("genuine", GENUINE_COLOUR)):
        layer = canvas.image.copy()
        for i, share in enumerate(hist[key]):
            if share > 0:
                cv2.rectangle(layer, canvas.px(edges[i], share), canvas.px(edges[i + 1], 0), colour, -1)
        canvas.image[:] = cv2.addWeighted(layer, 0.45, canvas.image, 0.55, 0)
    canvas.vline(report.default_threshold, DEFAULT_COLOUR, f"default {report.default_threshold:.2f}", dashed=True)
    canvas.vline(report.threshold, CHOSEN_COLOUR, f"recommended {report.threshold:.3f}")
    canvas.text("genuine", (canvas.right - 120, canvas.top + 60), 0.55, GENUINE_COLOUR, 2)
    canvas.text("impostor", (canvas.right - 120, canvas.top + 84), 0.55, IMPOSTOR_COLOUR, 2)
    return canvas.png()


def det_plot(report: CalibrationReport) -> bytes:
    """FRR against FAR (log scale) across thresholds, with the target and the recommended operating point."""
    import cv2

    s = report.scores
    curve = error_curve(s)
    n = max(len(s.impostor), 1)
    floor = 10.0 ** math.floor(math.log10(min(1.0 / n, report.target_far) / 2))
    # Zoom the FRR axis on the part that matters: from the best FRR reachable with no false accept, upwards.
    no_accept = curve.frr[curve.far == 0]
    worst = float(no_accept.min()) if len(no_accept) else 1.0
    top = min(1.0, math.ceil(10 * max(0.2, 1.5 * report.frr, 1.2 * worst)) / 10)
    canvas = _Canvas((floor, 1.0), (0.0, top), log_x=True)
    decades = [10.0 ** e for e in range(int(round(math.log10(floor))), 1)]
    step = 0.1 if top > 0.5 else 0.05
    canvas.axes(decades, list(np.arange(0.0, top + 1e-9, step)),
                "false-accept rate (log scale; 0 drawn at the left edge)", "false-reject rate",
                "DET: each point is one threshold", lambda x: percent(x).replace(" ", ""),
                lambda y: f"{100 * y:.0f} %")
    points = [canvas.px(max(far, floor), min(frr, top)) for far, frr in zip(curve.far, curve.frr)]
    cv2.polylines(canvas.image, [np.array(points, np.int32)], False, (0, 0, 0), 2, cv2.LINE_AA)
    canvas.vline(report.target_far, IMPOSTOR_COLOUR, f"target {percent(report.target_far)}", dashed=True)
    at = canvas.px(max(report.far, floor), report.frr)
    cv2.circle(canvas.image, at, 7, CHOSEN_COLOUR, 2, cv2.LINE_AA)
    canvas.text(f"threshold {report.threshold:.3f}: FAR {percent(report.far)} (<= {percent(report.far_upper)}), "
                f"FRR {percent(report.frr)}", (at[0] + 10, at[1] - 10), 0.45, CHOSEN_COLOUR)
    return canvas.png()


def write_report(report: CalibrationReport, folder: str | Path) -> dict[str, Path]:
    """Write report.txt, scores.png and det.png (owner-only) into `folder`; returns name -> path."""
    folder = ensure_private_dir(Path(folder).expanduser())
    files = {"report.txt": report_text(report).encode("utf-8"), "scores.png": scores_plot(report),
             "det.png": det_plot(report)}
    written = {}
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
        written[name] = folder / name
    return written


# --------------------------------------------------------------------------------------- settings and CLI

def apply_threshold(report: CalibrationReport, path: Path | None = None) -> tuple[float, float]:
    """Save the recommended threshold in the settings; returns (old, new). A gallery too small to calibrate
    changes nothing (old == new)."""
    from facegate.config import load_settings, save_settings

    settings = load_settings(path)
    old = settings.threshold
    if not report.can_apply:
        return old, old
    settings.threshold = float(report.threshold)
    save_settings(settings, path)
    return old, settings.threshold


def cmd_calibrate(args, engine=None) -> int:
    """The `facegate calibrate` command: measure, recommend, write the report, optionally apply."""
    from facegate.config import Settings, config_path, default_data_dir, load_settings

    settings = load_settings()
    gallery = Path(args.gallery).expanduser() if args.gallery else settings.gallery_path()
    report_dir = Path(args.report).expanduser() if args.report else default_data_dir() / "calibration"
    if engine is None:
        from facegate.vision.engine import FaceEngine

        engine = FaceEngine(detector=settings.detector)
    report = calibrate_folders(gallery, Path(args.impostors).expanduser() if args.impostors else None,
                               args.target_far, engine=engine,
                               impostor_cache=default_data_dir() / ".impostors.embeddings.npz",
                               default_threshold=Settings().threshold)
    for line in summary_lines(report):
        print(line)
    written = write_report(report, report_dir)
    print(f"Report: {written['report.txt']} (plots: scores.png, det.png)")
    if not args.apply:
        print(f"Not applied: the settings keep threshold {settings.threshold:.3f} (add --apply to save "
              f"{report.threshold:.3f}).")
    elif not report.can_apply:
        print(f"Nothing applied: the gallery is too small to calibrate; the settings keep threshold "
              f"{settings.threshold:.3f}.")
    else:
        old, new = apply_threshold(report)
        print(f"Applied: threshold {old:.3f} -> {new:.3f} in {config_path()}")
    return 0


def _target_far(text: str) -> float:
    import argparse

    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate: use for example 0.001 or 0.1%")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (0.001 means 0.1 %)")
    return value


def register_cli(subparsers) -> None:
    """Add the `calibrate` sub-command to facegate's argument parser (`subparsers` from add_subparsers)."""
    p = subparsers.add_parser(
        "calibrate", help="measure false accepts/rejects on the gallery and recommend a threshold",
        description="Estimate the false-accept and false-reject rates of this gallery across thresholds, "
                    "recommend the threshold for the target false-accept rate, and write a report.")
    p.add_argument("--gallery", metavar="DIR", help="enrolled-faces folder (default: from settings)")
    p.add_argument("--impostors", metavar="DIR",
                   help="folder of photos of people who will never be enrolled (more of them: a firmer estimate)")
    p.add_argument("--target-far", type=_target_far, default=DEFAULT_TARGET_FAR, metavar="RATE",
                   help="false-accept rate to stay under, per stranger's face (default 0.001 = 0.1 %%)")
    p.add_argument("--report", metavar="DIR",
                   help="folder for report.txt, scores.png, det.png (default: <data dir>/calibration)")
    p.add_argument("--apply", action="store_true", help="save the recommended threshold in the settings")
    p.set_defaults(func=cmd_calibrate)
