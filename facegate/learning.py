"""Learning from visits: the kiosk adds a person's own live face to their photos, so that their face at the kiosk
matches them surely (closer, with a wider margin over everyone else) in the kiosk's camera and light.

The guarantee (the matching rule, facegate/matching.py `distances_with_learned`, at the gallery's `threshold`, the
threshold in force): a learned photo counts for a face only where that person's *enrolled* photos already put the
face under the threshold. So for every face and every person, the distance the kiosk matches on is under the
threshold exactly when the distance to the person's enrolled photos is: whatever was learned, in any number of
steps, no face that the enrolled photos refuse (a stranger, a morph, anyone) comes under the threshold. Learning
makes accepted faces closer; it never accepts one more. The price: a person whom their enrolled photos leave at or
over the threshold in the kiosk's light is not helped by learning; enroll them from the kiosk's camera instead.
(A bound on the learned photos' distance to the enrolled ones alone would not do: by the triangle inequality a
learned photo L lets an outside face S get as close as d(S, enrolled) - d(L, enrolled), under the threshold. Before
this rule, morphs toward the closest of 120 LFW strangers, learned visit by visit, brought strangers from 0.567 to
0.358 at threshold 0.48 and to 0.178 at 0.52: benchmarks/learning_drift.py.)

What is learned (checked again on the captured face itself, off the video path); every limit is set under the
threshold in force (LearningSettings.from_settings; a learner without settings uses the gallery's threshold):
- a grant that passed the liveness check (a photo held up never gets here; with liveness off nothing is learned);
- the captured face alone is the granted person, well under the threshold (`max_distance`: threshold - 0.08), far
  ahead of anyone else (`min_margin`);
- and close to the person's own *enrolled* photos (`max_distance_to_enrolled`: the threshold), not just to what
  was learned before.
Bounded and reversible: at most `keep` learned photos per person (the newest), one per `min_interval_s`, stored
as photos in the person's folder (erased with them), listed in the People dialog with their distance to the
enrolled photos (flagged when beyond max_distance_to_enrolled at the threshold in force), and forgotten there with
one button.

Measured on LFW: benchmarks/learning_drift.py (6 people, morphs toward their closest refused stranger among 120):
the smallest distance a refused stranger reached after learning is his distance before it (0.567), at 0.48 and at
0.52. benchmarks/openset.py table G: no stranger's photo learned; with this rule, enrolled people's later LFW photos
are granted exactly as without learning (97.1 %; 97.8 % before the rule, all of the gain from faces the enrolled
photos refused). LFW cannot show the gain learning is for (a kiosk's own camera and light), nor can any photo set.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.config import DEFAULT_THRESHOLD, Settings
from facegate.errors import FaceGateError
from facegate.gallery import Gallery, learned_time
from facegate.matching import per_person_distances, stack_people

log = logging.getLogger(__name__)


# How far under the grant threshold a captured face must be to be learned: 0.40 at the default 0.48; on LFW no
# stranger's photo was ever that close to anyone with the margin below.
LEARN_UNDER_THRESHOLD = 0.08


@dataclass(frozen=True)
class LearningSettings:
    """The learner's limits. Both distance limits are set *under the threshold in force* (by how much), so they
    follow the threshold setting: a stricter door learns only what it would grant with room."""

    enabled: bool = True
    # The grant threshold in force (Settings.threshold; from_settings).
    threshold: float = DEFAULT_THRESHOLD
    # The captured face's distance to the person (as the kiosk matches) is at most threshold - this.
    under_threshold: float = LEARN_UNDER_THRESHOLD
    # Ahead of the second-best person by this much (the grant needs 0.05).
    min_margin: float = 0.15
    # And within threshold - this of one of the person's own enrolled photos (the anchor against drift).
    anchor_under_threshold: float = 0.0
    # Learned photos kept per person (the newest) and the least time between two of them.
    keep: int = 3
    min_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.under_threshold < 0 or self.anchor_under_threshold < 0:
            raise ValueError("the learning limits are under the threshold, never above it: it is what is granted")

    @property
    def max_distance(self) -> float:
        return round(self.threshold - self.under_threshold, 6)

    @property
    def max_distance_to_enrolled(self) -> float:
        return round(self.threshold - self.anchor_under_threshold, 6)

    @classmethod
    def from_settings(cls, settings: Settings) -> LearningSettings:
        """The limits for the settings' threshold."""
        return cls(enabled=settings.learn_from_visits, threshold=settings.threshold)


@dataclass(frozen=True)
class LearnOutcome:
    name: str
    learned: bool
    reason: str  # why not, or what was learned
    distance: float | None = None


def _learning_verdict(gallery, name: str, face_rgb: np.ndarray, settings: LearningSettings
                      ) -> tuple[np.ndarray | None, str, float | None]:
    """(embedding, "", distance) when `face_rgb` may be learned as `name`, else (None, why not, distance)."""
    embedding, problem = gallery.analyse_photo(face_rgb)
    if embedding is None:
        return None, f"the captured face is not usable ({problem})", None
    match = gallery.match(embedding)
    if match.name != name:
        return None, f"the captured face matches {match.name!r} best, not {name!r}", match.distance
    if match.distance > settings.max_distance:
        return None, f"not close enough ({match.distance:.2f} > {settings.max_distance:.2f})", match.distance
    if match.margin < settings.min_margin:
        return None, (f"too close to {match.second_name!r} as well (margin {match.margin:.2f} < "
                      f"{settings.min_margin:.2f})"), match.distance
    anchor = gallery.distance_to_enrolled(name, embedding)
    if anchor > settings.max_distance_to_enrolled:
        return None, (f"too far from {name}'s enrolled photos ({anchor:.2f} > "
                      f"{settings.max_distance_to_enrolled:.2f})"), match.distance
    return embedding, "", match.distance


class TemplateLearner:
    """Takes granted faces from the session (`offer`, never blocks) and learns them on its own thread."""

    def __init__(self, gallery: Callable[[], Gallery | None] | Gallery, settings: LearningSettings | None = None,
                 on_learned: Callable[[LearnOutcome], None] | None = None, clock: Callable[[], float] = time.time):
        # A callable returns the gallery in use now (the window swaps it when the folder setting changes).
        self._gallery = gallery if callable(gallery) else (lambda: gallery)
        # None: the defaults at the threshold of the gallery in use (the kiosk passes from_settings)
        self._settings = settings
        self.on_learned = on_learned
        self.clock = clock
        self.outcomes: list[LearnOutcome] = []  # the latest few, for the log and tests
        self._queue: queue.Queue = queue.Queue(maxsize=2)  # a busy learner skips visits rather than queue them
        self._last_offer: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def settings(self) -> LearningSettings:
        if self._settings is not None:
            return self._settings
        gallery = self._gallery()
        return LearningSettings(threshold=gallery.threshold if gallery is not None else DEFAULT_THRESHOLD)

    def offer(self, name: str, face_rgb: np.ndarray | None, details: dict) -> bool:
        """A granted track's face crop. Taken only for a liveness-passed grant, when the person is due a learned
        photo; returns whether it was queued."""
        s = self.settings
        if not s.enabled or face_rgb is None or not face_rgb.size or "liveness" not in details:
            return False
        now = self.clock()
        if now - self._last_offer.get(name, float("-inf")) < s.min_interval_s:
            return False
        try:
            self._queue.put_nowait((name, face_rgb, now))
        except queue.Full:
            return False
        self._last_offer[name] = now
        self._start()
        return True

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="template learner", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """For tests and the benchmark: True once everything offered has been decided."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                name, face, captured = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                try:
                    outcome = self.learn(name, face, captured)
                except Exception as exc:  # never stops the kiosk; never silent
                    log.exception("Learning a photo of %r failed", name)
                    outcome = LearnOutcome(name, False, f"failed: {type(exc).__name__}: {exc}")
                self.outcomes = (self.outcomes + [outcome])[-20:]
                if self.on_learned is not None:
                    self.on_learned(outcome)
            finally:  # idle (wait_idle) only once the outcome is told
                self._queue.task_done()

    def learn(self, name: str, face_rgb: np.ndarray, captured: float) -> LearnOutcome:
        """Decide and, when safe, save. Runs the face through the engine again (~0.1 s): call off the video path."""
        gallery, s = self._gallery(), self.settings
        if gallery is None:
            return LearnOutcome(name, False, "no gallery")
        learned = gallery.learned_photos(name)
        newest = learned_time(learned[-1]) if learned else None
        if newest is not None and captured - newest < s.min_interval_s:
            return LearnOutcome(name, False, "learned a photo of them recently")
        embedding, why_not, distance = _learning_verdict(gallery, name, face_rgb, s)
        if embedding is None:
            log.info("Not learned for %s: %s.", name, why_not)
            return LearnOutcome(name, False, why_not, distance)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(face_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            return LearnOutcome(name, False, "the captured face could not be encoded as JPEG", distance)
        try:
            path = gallery.add_learned_photo(name, encoded.tobytes(), captured, s.keep)
        except FaceGateError as exc:
            log.warning("Not learned for %s: %s", name, exc)
            return LearnOutcome(name, False, str(exc), distance)
        log.info("Learned a new photo of %s at the kiosk (%s, distance %.2f).", name, path.name, distance)
        return LearnOutcome(name, True, path.name, distance)


@dataclass(frozen=True)
class LearnedSummary:
    """What the People dialog shows of a person's learned photos, and whether they look like drift."""

    count: int
    newest: float | None  # epoch seconds
    farthest_from_enrolled: float | None  # the largest distance of a learned photo to the enrolled ones
    closer_to_someone_else: str | None  # a learned photo is nearer another person than their own enrolled photos
    # The learner's max_distance_to_enrolled at the gallery's threshold: a learned photo beyond it is drift.
    drift_limit: float = LearningSettings().max_distance_to_enrolled

    def warning(self) -> str:
        """What a guard should check, in a few words; "" when nothing looks wrong."""
        if self.closer_to_someone_else:
            return f"CHECK: a learned photo looks more like {self.closer_to_someone_else}; forget them"
        if self.farthest_from_enrolled is not None and self.farthest_from_enrolled > self.drift_limit:
            return "CHECK: learned photos drift from the enrolled ones; forget them"
        return ""

    def describe(self) -> list[str]:
        """The People list's lines for these learned photos (none when there are none)."""
        if not self.count:
            return []
        line = f"{self.count} learned at the kiosk"
        if self.farthest_from_enrolled is not None:
            line += f" ({self.farthest_from_enrolled:.2f} from the enrolled photos)"
        warning = self.warning()
        return [line, warning] if warning else [line]


def learned_summaries(gallery, listing: dict | None = None) -> dict[str, LearnedSummary]:
    """Each person's learned photos, as of the gallery's last refresh: one folder listing (`listing`, a
    `gallery.photos()` result, when the caller has one) and one distance matrix for everybody (the People
    dialog shows them all at once). Drift is judged at the gallery's threshold (the one in force)."""
    listing = gallery.photos() if listing is None else listing
    drift_limit = LearningSettings(threshold=gallery.threshold).max_distance_to_enrolled
    enrolled = {name: rows for name, rows in gallery.embeddings("enrolled").items() if len(rows)}
    learned = {name: rows for name, rows in gallery.embeddings("learned").items() if len(rows) and name in enrolled}
    names, rows, starts = stack_people(enrolled)
    column = {name: i for i, name in enumerate(names)}
    distances = {}  # person -> (their learned photos, every enrolled person): distance to that person's closest photo
    if learned:
        probes = np.concatenate(list(learned.values())).astype(np.float64)
        matrix = per_person_distances(probes, rows, starts)
        offsets = np.cumsum([0] + [len(r) for r in learned.values()])
        distances = {n: matrix[a:b] for n, a, b in zip(learned, offsets[:-1], offsets[1:], strict=False)}
    summaries = {}
    for name in listing:
        files = gallery.learned_photos(name, listing)
        times = [t for t in (learned_time(p) for p in files) if t is not None]
        farthest, rival = None, None
        if name in distances:
            to_people = distances[name]
            to_own = to_people[:, column[name]]
            farthest = float(to_own.max())
            closer = [other for i, other in enumerate(names) if other != name and (to_people[:, i] < to_own).any()]
            rival = closer[0] if closer else None
        summaries[name] = LearnedSummary(len(files), max(times) if times else None, farthest, rival, drift_limit)
    return summaries


def learned_summary(gallery, name: str) -> LearnedSummary:
    """One person's learned photos (see learned_summaries)."""
    found = learned_summaries(gallery)
    return found[name] if name in found else LearnedSummary(0, None, None, None)
