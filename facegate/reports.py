"""Figures a site learns from its own access log (`facegate report ...`, the Access log dialog's Reports).

Attendance, doors and denials (issue 31): from the log's rows (a kiosk's `LogRow`, whose door is the kiosk's, or a
site's `SiteLogRow` with its `door`), in the local time of the access plan's zone (or the kiosk's): per person per
day the first and last grant (`attendance`, a CSV sheet); per door per hour the granted, refused and unknown faces
(`door_hours`); who was refused by which rule (`denials`). Each report is a list of rows and a `ReportTable` of
cells, shown as text (`format_table`) or saved as CSV (`table_csv`).

Presence (issue 31): who is still inside, from the grants: a person granted at a door that is not an "out" door
of the access plan, and not granted at an "out" door since (`who_is_inside`).

Liveness (issue 28 item 7): recordings of people answering a kiosk cannot be had in the lab, so a site measures its
own. During a trial (Settings.liveness_trial) every liveness check on a recognised face is kept with its outcome,
cues and timing, and nobody but genuine people is expected at the door: a refusal is then a bona fide presentation
classified as an attack (BPCER, ISO/IEC 30107-3), and the time to grant is what the check costs a person.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from facegate.access_log import AttemptRow, csv_cell
from facegate.access_plan import AccessPlan
from facegate.pipeline import AttemptOutcome
from facegate.policy import Verdict

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


def grants_of(rows: Iterable[DecisionRow], door: str) -> list[Passage]:
    """The grants among logged decisions, as passages (a kiosk's own rows: at `door`; a site's: at theirs)."""
    return [Passage(row.person, door_of(row, door), row.time) for row in rows
            if row.decision is Verdict.GRANTED and row.person is not None]


def inside_today(plan: AccessPlan, grants: Iterable[Passage], now: float) -> dict[str, Passage]:
    """Who is inside at `now` by the access plan: granted since the start of its local day, and not granted at one of
    its anti-passback "out" doors since (who_is_inside)."""
    return who_is_inside(grants, [pair.out_door for pair in plan.passbacks], plan.midnight(plan.local(now).date()))


class DecisionRow(Protocol):
    """What the reports read of a logged decision (facegate.access_log.LogRow, facegate.site.admin.SiteLogRow)."""

    @property
    def time(self) -> float: ...

    @property
    def person(self) -> str | None: ...

    @property
    def decision(self) -> Verdict: ...

    @property
    def details(self) -> dict: ...


# A refusal without an access rule is a failed liveness check (facegate.policy): the reports call it this.
LIVENESS_RULE = "liveness"


@dataclass(frozen=True)
class ReportTable:
    """A report's cells: its column names and one list of texts per row (the text table and the CSV alike)."""

    columns: tuple[str, ...]
    rows: list[list[str]]


def local_clock(timezone: str | None) -> Callable[[float], dt.datetime]:
    """Epoch seconds -> an aware local datetime in `timezone` (an IANA name, the access plan's), else this
    computer's zone. Aware: the hour repeated when the clocks go back is two hours, not one."""
    zone = ZoneInfo(timezone) if timezone else None

    def local(epoch: float) -> dt.datetime:
        if zone is not None:
            return dt.datetime.fromtimestamp(epoch, zone)
        return dt.datetime.fromtimestamp(epoch).astimezone()

    return local


def door_of(row: object, door: str) -> str:
    """A site row's door, or `door` (this kiosk's) for a row of a kiosk's own log."""
    return getattr(row, "door", None) or door


@dataclass(frozen=True)
class AttendanceDay:
    """One person's day: their first and last grant (local), how many grants, at which doors (first used first)."""

    person: str
    date: dt.date
    first: dt.datetime
    last: dt.datetime
    grants: int
    doors: tuple[str, ...]


def attendance(rows: Iterable[DecisionRow], door: str = "", timezone: str | None = None) -> list[AttendanceDay]:
    """Per person per local day, the first and last grant; by day, then person A to Z. A night across midnight is
    two days (the sheet is per day)."""
    local = local_clock(timezone)
    days: dict[tuple[str, dt.date], list[tuple[dt.datetime, str]]] = {}
    for row in rows:
        if row.decision is Verdict.GRANTED and row.person is not None:
            when = local(row.time)
            days.setdefault((row.person, when.date()), []).append((when, door_of(row, door)))
    found = []
    for (person, day), grants in days.items():
        grants.sort(key=lambda grant: grant[0])
        doors = tuple(dict.fromkeys(grant[1] for grant in grants))
        found.append(AttendanceDay(person, day, grants[0][0], grants[-1][0], len(grants), doors))
    return sorted(found, key=lambda entry: (entry.date, entry.person.casefold()))


def attendance_table(days: Sequence[AttendanceDay]) -> ReportTable:
    return ReportTable(("person", "date", "first", "last", "grants", "doors"),
                       [[day.person, day.date.isoformat(), f"{day.first:%H:%M:%S}", f"{day.last:%H:%M:%S}",
                         str(day.grants), "; ".join(day.doors)] for day in days])


@dataclass(frozen=True)
class DoorHour:
    """One door's decisions in one local hour (`start`, aware: an hour the clocks repeat appears twice)."""

    door: str
    start: dt.datetime
    granted: int
    denied: int
    unknown: int


def door_hours(rows: Iterable[DecisionRow], door: str = "", timezone: str | None = None) -> list[DoorHour]:
    """Per door per local hour with any decision, the granted, refused and unknown faces; door A to Z, then time."""
    local = local_clock(timezone)
    # keyed by the hour's epoch: two datetimes in one zone compare by their wall clock, so the repeated 01:00 would
    # fall into one hour
    counts: dict[tuple[str, float], tuple[dt.datetime, dict[Verdict, int]]] = {}
    for row in rows:
        start = local(row.time).replace(minute=0, second=0, microsecond=0)
        _, tally = counts.setdefault((door_of(row, door), start.timestamp()), (start, {}))
        tally[row.decision] = tally.get(row.decision, 0) + 1
    return [DoorHour(name, start, tally.get(Verdict.GRANTED, 0), tally.get(Verdict.DENIED, 0),
                     tally.get(Verdict.UNKNOWN, 0))
            for (name, _), (start, tally) in sorted(counts.items(), key=lambda item: (item[0][0].casefold(),
                                                                                       item[0][1]))]


def door_hours_table(hours: Sequence[DoorHour]) -> ReportTable:
    return ReportTable(("door", "date", "hour", "granted", "denied", "unknown"),
                       [[hour.door, hour.start.date().isoformat(), f"{hour.start:%H:00} {hour.start.tzname() or ''}"
                         .strip(), str(hour.granted), str(hour.denied), str(hour.unknown)] for hour in hours])


@dataclass(frozen=True)
class DenialCount:
    """How often one rule refused one person, and when last (local)."""

    rule: str  # an access rule's name (facegate.access_plan RULE_*, "offline_bound"), or LIVENESS_RULE
    person: str  # "Unknown" for a refusal without a name
    count: int
    last: dt.datetime
    last_reason: str  # the words said at the door the last time (empty when the log has none)


def denials(rows: Iterable[DecisionRow], timezone: str | None = None) -> list[DenialCount]:
    """Who was refused by which rule: per rule (A to Z) and person (most refused first)."""
    local = local_clock(timezone)
    found: dict[tuple[str, str], tuple[int, DecisionRow]] = {}
    for row in rows:
        if row.decision is not Verdict.DENIED:
            continue
        key = (str(row.details.get("rule") or LIVENESS_RULE), row.person or "Unknown")
        count, last = found.get(key, (0, row))
        found[key] = (count + 1, row if row.time >= last.time else last)
    entries = [DenialCount(rule, person, count, local(last.time), str(last.details.get("reason") or ""))
               for (rule, person), (count, last) in found.items()]
    return sorted(entries, key=lambda entry: (entry.rule, -entry.count, entry.person.casefold()))


def denials_table(entries: Sequence[DenialCount]) -> ReportTable:
    return ReportTable(("rule", "person", "refused", "last", "reason"),
                       [[entry.rule, entry.person, str(entry.count), f"{entry.last:%Y-%m-%d %H:%M:%S}",
                         entry.last_reason] for entry in entries])


def format_table(table: ReportTable) -> str:
    """The table as aligned text columns (a terminal, the Access log dialog)."""
    widths = [max([len(column)] + [len(row[index]) for row in table.rows]) for index, column in
              enumerate(table.columns)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
             for cells in [list(table.columns), *table.rows]]
    return "\n".join(lines)


def table_csv(table: ReportTable) -> str:
    """The table as CSV text (a spreadsheet would run no cell as a formula)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(table.columns)
    writer.writerows([[csv_cell(cell) for cell in row] for row in table.rows])
    return text.getvalue()


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
