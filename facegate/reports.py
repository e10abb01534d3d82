"""Figures a site learns from its own access log (`facegate report ...`).

Presence (issue 31): who is still inside, from the grants: a person granted at a door that is not an "out" door
of the access plan, and not granted at an "out" door since (`who_is_inside`).

Liveness (issue 28 item 7): recordings of people answering a kiosk cannot be had in the lab, so a site measures its
own. During a trial (Settings.liveness_trial) every liveness check on a recognised face is kept with its outcome,
cues and timing, and nobody but genuine people is expected at the door: a refusal is then a bona fide presentation
classified as an attack (BPCER, ISO/IEC 30107-3), and the time to grant is what the check costs a person.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from facegate.access_log import AttemptRow
from facegate.pipeline import AttemptOutcome

GRANTED, REFUSED, WALKED_AWAY = (outcome.value for outcome in AttemptOutcome)


@dataclass(frozen=True)
class Passage:
    """One grant: who, at which door, when (epoch seconds). From a kiosk's log (its own door) or a site's."""

    person: str
    door: str
    time: float


def who_is_inside(grants: Iterable[Passage], out_doors: Iterable[str], since: float) -> dict[str, Passage]:
    """Who was granted in since `since` (the start of today, at the visitor desk) and not granted out since: each
    person's latest grant, kept when its door is not one of `out_doors` (an anti-passback pair's "out"). Without
    any "out" door, everyone granted today counts as inside: the kiosk cannot know who left."""
    outs = {door.casefold() for door in out_doors}
    latest: dict[str, Passage] = {}
    for grant in grants:
        if grant.time >= since and (grant.person not in latest or grant.time > latest[grant.person].time):
            latest[grant.person] = grant
    return {person: grant for person, grant in sorted(latest.items(), key=lambda item: item[1].time)
            if grant.door.casefold() not in outs}


@dataclass(frozen=True)
class LivenessFigures:
    """One person's (or everyone's) liveness attempts in a trial."""

    who: str  # a person's name, or "everyone"
    attempts: int  # granted + refused: the checks that decided
    granted: int
    refused: int
    walked_away: int  # left before the check decided (not counted in BPCER: they may not have meant to enter)
    asked: int  # decided checks that showed requests (the passive cues were unsure)
    median_time_to_grant_s: float | None  # from the face first found to the grant
    median_checking_s: float | None  # the liveness check alone, on grants

    @property
    def bpcer(self) -> float | None:
        """Share of decided checks that refused a genuine person (None without any)."""
        return self.refused / self.attempts if self.attempts else None


def _figures(who: str, rows: Sequence[AttemptRow]) -> LivenessFigures:
    granted = [r for r in rows if r.outcome == GRANTED]
    refused = [r for r in rows if r.outcome == REFUSED]
    decided = granted + refused
    return LivenessFigures(
        who, len(decided), len(granted), len(refused), sum(r.outcome == WALKED_AWAY for r in rows),
        sum(r.asked for r in decided),
        statistics.median(r.seconds_to_outcome for r in granted) if granted else None,
        statistics.median(r.seconds_checking for r in granted) if granted else None)


def liveness_report(rows: Iterable[AttemptRow]) -> list[LivenessFigures]:
    """Figures per person (by name), then everyone's."""
    rows = list(rows)
    people = sorted({r.person for r in rows}, key=str.casefold)
    return [_figures(person, [r for r in rows if r.person == person]) for person in people] + [
        _figures("everyone", rows)]


def format_liveness_report(figures: Sequence[LivenessFigures]) -> str:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    def share(part: int, whole: int) -> str:
        return "-" if not whole else f"{100 * part / whole:.1f} %"

    lines = [f"{'person':<28} {'checks':>6} {'granted':>7} {'refused':>7} {'BPCER':>8} {'asked':>7} "
             f"{'walked away':>11} {'time to grant':>13} {'checking':>9}"]
    for f in figures:
        lines.append(f"{f.who[:28]:<28} {f.attempts:>6} {f.granted:>7} {f.refused:>7} "
                     f"{share(f.refused, f.attempts):>8} {share(f.asked, f.attempts):>7} {f.walked_away:>11} "
                     f"{seconds(f.median_time_to_grant_s):>13} {seconds(f.median_checking_s):>9}")
    return "\n".join(lines)
