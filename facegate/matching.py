"""How a face is matched to enrolled people: NumPy in, NumPy out, nothing else imported.

One rule, used by the kiosk (gallery), the access decision (policy), learning from visits and calibration: a
probe's distance to a person is its distance to that person's closest photo, and the best match must beat the
second-best *person* (not photo) by a margin; a photo learned from visits counts only for a face that the
person's enrolled photos already put under the threshold (`distances_with_learned`). The gallery, the policy,
learning and calibration all call the functions here, so a change of the rule changes all of them at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Match:
    """Best enrolled person for a probe embedding. `name` is None when nobody is enrolled."""

    name: str | None
    distance: float
    margin: float  # distance to the second-best *person* minus `distance` (inf when only one person)
    second_name: str | None = None


@dataclass(frozen=True)
class Resemblance:
    """How a photo meant for `name` compares with their own enrolled photos and with the closest other person."""

    name: str
    own: float  # distance to the person's closest enrolled photo; inf when they have none
    other: str | None  # the other person the photo looks most like; None when nobody else is enrolled
    other_distance: float  # inf when nobody else is enrolled

    def looks_like_someone_else(self, threshold: float) -> bool:
        """The kiosk would take this face for `other`, and it is more like them than like `name`."""
        return self.other is not None and self.other_distance < threshold and self.other_distance < self.own

    def unlike_own(self, stranger: float) -> bool:
        """The kiosk would take this face for a stranger, not `name` (only when `name` has photos to compare)."""
        return stranger <= self.own < float("inf")

    def mixes_identities(self, threshold: float, stranger: float) -> bool:
        """Adding the photo to `name` would mix two people: ask first."""
        return self.looks_like_someone_else(threshold) or self.unlike_own(stranger)


def group_starts(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """The first row of each group (person) in rows stored group after group, `counts[i]` rows for group i."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(counts) else np.zeros(0, np.int64)


def stack_people(people: Mapping[str, np.ndarray], dtype: type = np.float64
                 ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, rows, starts) of person -> (k, d) embeddings, people without rows left out: the layout that
    `per_person_distances` reads."""
    names = [name for name, rows in people.items() if len(rows)]
    if not names:
        return [], np.zeros((0, 0), dtype), np.zeros(0, np.int64)
    rows = np.concatenate([np.asarray(people[name], dtype) for name in names])
    return names, rows, group_starts([len(people[name]) for name in names])


def per_person_distances(probes: np.ndarray, embeddings: np.ndarray, starts: np.ndarray,
                         exclude_rows: np.ndarray | None = None,
                         squared_norms: np.ndarray | None = None) -> np.ndarray:
    """(probes, people) distance from each probe to each person's closest photo; a person's photos are the rows
    of `embeddings` from their `starts` entry to the next one. `exclude_rows[i]` is a row of `embeddings` that
    probe i may not match (itself: leave-one-out), or -1. `squared_norms`: each row's squared length, when the
    caller keeps them (the gallery does). Computed in the dtype of the inputs."""
    squared = _partial_squared(probes, embeddings, squared_norms)
    if exclude_rows is not None:
        keep = exclude_rows >= 0
        squared[np.flatnonzero(keep), exclude_rows[keep]] = np.inf
    return _closest_per_person(squared, starts, probes)


def distances_with_learned(probes: np.ndarray, embeddings: np.ndarray, starts: np.ndarray, learned: np.ndarray,
                           threshold: float, squared_norms: np.ndarray | None = None) -> np.ndarray:
    """per_person_distances where the rows flagged in `learned` (photos learned from visits, facegate/learning.py)
    count only for a probe that the person's other (enrolled) photos already put under `threshold`.

    So a probe's distance to a person is under `threshold` exactly when its distance to their enrolled photos is:
    learned photos make a face that the enrolled photos accept closer (a surer match, a wider margin), and can
    never bring a face they refuse under the threshold, however far learning drifted. One matrix product; a second
    per-person minimum only when something was learned."""
    squared = _partial_squared(probes, embeddings, squared_norms)
    every = _closest_per_person(squared, starts, probes)
    if not learned.any():
        return every
    squared[:, learned] = np.inf
    return learned_only_under(_closest_per_person(squared, starts, probes), every, threshold)


def learned_only_under(enrolled: np.ndarray, every: np.ndarray, threshold: float) -> np.ndarray:
    """The rule of distances_with_learned on distances already computed: `every` (learned photos included) where
    `enrolled` (without them) is under `threshold`, else `enrolled`."""
    return np.where(enrolled < threshold, every, enrolled)


def _partial_squared(probes: np.ndarray, embeddings: np.ndarray, squared_norms: np.ndarray | None) -> np.ndarray:
    """(probes, rows) squared distances less each probe's own squared length (added per person, after the minimum)."""
    # |p - e|^2 = |e|^2 - 2 p.e + |p|^2, in place: at 100k embeddings the cost is memory traffic. |p|^2 is the
    # same for every photo, so it is added after the per-person minimum (fewer columns).
    squared = probes @ embeddings.T
    squared *= -2.0
    squared += ((embeddings ** 2).sum(1) if squared_norms is None else squared_norms)[None, :]
    return squared


def _closest_per_person(squared: np.ndarray, starts: np.ndarray, probes: np.ndarray) -> np.ndarray:
    per_person = np.minimum.reduceat(squared, starts, axis=1)
    per_person += (probes ** 2).sum(1)[:, None]
    return np.sqrt(np.maximum(per_person, 0.0))


def best_two(names: Sequence[str], per_person: np.ndarray) -> list[Match]:
    """Each probe's best person, its distance, and the margin to the second-best person, from a (probes,
    people) distance array whose columns are `names`."""
    if not len(names):
        return [Match(None, float("inf"), float("inf")) for _ in per_person]
    results = []
    for row in per_person:
        if len(row) == 1:
            results.append(Match(names[0], float(row[0]), float("inf")))
            continue
        first, second = np.argpartition(row, 1)[:2]
        if row[second] < row[first]:
            first, second = second, first
        results.append(Match(names[first], float(row[first]), float(row[second] - row[first]), names[second]))
    return results


def resemblance(name: str, names: Sequence[str], to_people: np.ndarray, own: float) -> Resemblance:
    """A face meant for `name`: `own` is its distance to `name`'s enrolled photos, `to_people` its distance to
    each of `names` (as the kiosk matches)."""
    others = {other: float(distance) for other, distance in zip(names, to_people, strict=True) if other != name}
    closest = min(others, key=others.__getitem__, default=None)
    return Resemblance(name, own, closest, others[closest] if closest is not None else float("inf"))
