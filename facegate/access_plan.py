"""Who may enter where and when: access groups, weekly hours, holidays, validity dates, visitors, anti-passback.

One `AccessPlan` holds a site's (or a single kiosk's) rules; its meaning is the same wherever it comes from: a single
kiosk keeps it as a text file beside its gallery (`<gallery>.access.txt`, `AccessPlanFile`), a site keeps it in
tables on the server (facegate/site/) and each kiosk writes its copy as the same text file, honoured offline.

    # FaceGate access rules (README "Who may enter where and when")
    timezone Europe/London
    erase-expired-after 30 days
    erase-visitors-after 2 hours
    group "Everyone" doors * hours always
    group "Staff" doors "Front door" "Side door" hours Mon-Fri 07:00-19:00
    group "Cleaning" doors "Side door" hours Mon-Fri 18:00-22:00 Sat 08:00-12:00
    group "Visitors" doors "Front door" hours Mon-Fri 08:00-18:00
    holiday 2026-12-25 "Christmas Day"
    person "Ada Lovelace" groups "Staff"
    person "Bob Builder" groups "Cleaning" from 2026-03-01 until 2026-03-12
    visitor "Jane Doe" host "Ada Lovelace" from 2026-12-06T09:12 until 2026-12-06
    passback in "Front door" out "Front exit" reset 12 hours

Meaning, in one place (`AccessPlan.refusal`):
- A person with no `person` or `visitor` line is in "Everyone"; the default plan (no file, an existing gallery or
  site) has only "Everyone" at every door at any hour: exactly the behaviour before access rules.
- Access is valid from the start of `from` to the end of `until` (a date: through 23:59:59 that day; a date and time:
  up to that moment), in the plan's time zone (`timezone`, else the kiosk's own), so daylight-saving changes move
  nothing: hours are wall-clock hours.
- A person may pass a door when one of their groups lists the door (or `*`) and that group's hours are open now;
  a holiday closes every window that starts on that date. `hours always`: any time, holidays included.
- Past `until` plus the retention (`erase-expired-after`, `erase-visitors-after`), the person's photos and embeddings
  are erased (`due_for_erasure`); their access log rows stay, as the README's Privacy section says.
- Anti-passback (`passback`): at an "in" door a person granted in there is refused until seen at the "out" door,
  or until `reset` has passed (`facegate.access_rules.AntiPassback`).

Parsing never guesses: `parse_plan` raises AccessRulesError naming the line and what is wrong, and a caller that
cannot read the rules refuses everyone rather than grant more than before (`AccessPlanFile`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facegate.errors import FaceGateError
from facegate.storage import atomic_write_bytes, describe_os_error

log = logging.getLogger(__name__)

EVERYONE = "Everyone"
VISITORS = "Visitors"
ALL_DOORS = "*"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY = 86400.0
# Defaults of the retentions (README "Who may enter where and when"): a contractor's face is kept a month past the
# end of their access (a renewal needs no new enrollment); a visitor's an hour past their visit.
DEFAULT_ERASE_EXPIRED_S = 30 * DAY
DEFAULT_ERASE_VISITORS_S = 3600.0
DEFAULT_PASSBACK_RESET_S = 12 * 3600.0
# How far ahead "closed to you until ..." looks for the next opening.
LOOKAHEAD_DAYS = 14

# The rules' names, in the log and the reports ("who was Denied by which rule").
RULE_DOORS = "doors"
RULE_SCHEDULE = "schedule"
RULE_HOLIDAY = "holiday"
RULE_VALIDITY = "validity"
RULE_VISIT_ENDED = "visit_ended"
RULE_INVALID = "rules_invalid"
RULE_PASSBACK = "anti_passback"

UNREADABLE_REASON = "This door's access rules cannot be read; please see reception"


class AccessRulesError(FaceGateError):
    """The access rules cannot be used: the message names the file and line, and what to change."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


# ------------------------------------------------------------------------------------------------ the values
@dataclass(frozen=True)
class Window:
    """Open on `days` (0 = Monday) from `start` to `end`, minutes after midnight; an `end` not after `start` runs
    past midnight into the next day (22:00-06:00)."""

    days: frozenset[int]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def text(self) -> str:
        return f"{_days_text(self.days)} {_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class Group:
    name: str
    doors: tuple[str, ...] = (ALL_DOORS,)
    hours: tuple[Window, ...] | None = None  # None: always

    def has_door(self, door: str) -> bool:
        return ALL_DOORS in self.doors or any(_same(door, listed) for listed in self.doors)


@dataclass(frozen=True)
class PersonAccess:
    """One person's line: their groups and validity; a visitor has a host."""

    name: str
    groups: tuple[str, ...] = (EVERYONE,)
    valid_from: dt.date | dt.datetime | None = None
    valid_until: dt.date | dt.datetime | None = None
    host: str | None = None  # set for a visitor
    erased: bool = False  # a visitor whose face data is gone (the line stays for the day's list)

    @property
    def visitor(self) -> bool:
        return self.host is not None


@dataclass(frozen=True)
class Passback:
    in_door: str
    out_door: str
    reset_s: float = DEFAULT_PASSBACK_RESET_S


@dataclass(frozen=True)
class Refusal:
    """Why the plan refused a recognised person: the rule's name (the log, reports) and the words said and shown."""

    rule: str
    reason: str


def default_groups() -> dict[str, Group]:
    return {EVERYONE: Group(EVERYONE), VISITORS: Group(VISITORS)}


@dataclass(frozen=True)
class AccessPlan:
    groups: dict[str, Group] = field(default_factory=default_groups)
    holidays: dict[dt.date, str] = field(default_factory=dict)
    people: dict[str, PersonAccess] = field(default_factory=dict)
    passbacks: tuple[Passback, ...] = ()
    timezone: str | None = None  # an IANA name; None: the kiosk's local zone
    erase_expired_after_s: float = DEFAULT_ERASE_EXPIRED_S
    erase_visitors_after_s: float = DEFAULT_ERASE_VISITORS_S
    unreadable: str | None = None  # set on the plan that stands in for rules that cannot be read: refuses everyone

    # ---------------------------------------------------------------------------------------- time
    def local(self, epoch: float) -> dt.datetime:
        """`epoch` as wall-clock time (naive) in the plan's zone."""
        if self.timezone:
            return dt.datetime.fromtimestamp(epoch, _zone(self.timezone)).replace(tzinfo=None)
        return dt.datetime.fromtimestamp(epoch)

    def epoch(self, local: dt.datetime) -> float:
        """A wall-clock time in the plan's zone as epoch seconds (a time skipped by a DST change: as if before it)."""
        if self.timezone:
            return local.replace(tzinfo=_zone(self.timezone)).timestamp()
        return local.timestamp()

    def midnight(self, day: dt.date) -> float:
        """The start of `day` (local) in epoch seconds."""
        return self.epoch(dt.datetime.combine(day, dt.time()))

    def starts(self, access: PersonAccess) -> float | None:
        value = access.valid_from
        if value is None:
            return None
        return self.epoch(value) if isinstance(value, dt.datetime) else self.midnight(value)

    def ends(self, access: PersonAccess) -> float | None:
        """The first moment the person's access no longer holds (a date: the next midnight)."""
        value = access.valid_until
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return self.epoch(value)
        return self.midnight(value + dt.timedelta(days=1))

    @property
    def longest_passback_reset_s(self) -> float:
        """How far back a door's grants matter for anti-passback (0 without a pair)."""
        return max((pair.reset_s for pair in self.passbacks), default=0.0)

    # ---------------------------------------------------------------------------------------- the decision
    def access_of(self, person: str) -> PersonAccess:
        return self.people.get(person) or PersonAccess(person)

    def refusal(self, person: str, door: str, now: float, greeter: bool = False) -> Refusal | None:
        """None when `person` may pass `door` at `now`; else which rule refuses and why, in words for the person.
        greeter: a kiosk that greets without a door: the doors and hours do not apply, validity does."""
        if self.unreadable is not None:
            return Refusal(RULE_INVALID, UNREADABLE_REASON)
        access = self.access_of(person)
        first = first_name(person)
        starts, ends = self.starts(access), self.ends(access)
        if access.erased or (ends is not None and now >= ends):
            ended = ends if ends is not None else now
            last_day = date_words(self.local(ended - 1))
            if access.visitor:
                same_day = self.local(ended).date() == self.local(now).date()
                at_time = isinstance(access.valid_until, dt.datetime) and same_day
                when = f"at {self.local(ended):%H:%M}" if at_time else f"on {last_day}"
                return Refusal(RULE_VISIT_ENDED, f"Sorry {first}, your visit ended {when}")
            return Refusal(RULE_VALIDITY, f"Sorry {first}, your access expired on {last_day}")
        if starts is not None and now < starts:
            when = (self._when(starts, now) if isinstance(access.valid_from, dt.datetime)
                    else f"on {date_words(self.local(starts))}")
            return Refusal(RULE_VALIDITY, f"Sorry {first}, your access starts {when}")
        if greeter:
            return None
        groups = [self.groups[name] for name in access.groups if name in self.groups]
        at_door = [group for group in groups if group.has_door(door)]
        if not at_door:
            return Refusal(RULE_DOORS, f"Sorry {first}, this door is not one of yours")
        local = self.local(now)
        if any(self._open(group, local) for group in at_door):
            return None
        opening = self._next_opening(at_door, local)
        until = f" until {self._when(self.epoch(opening), now, clock_only=True)}" if opening is not None else ""
        holiday = self.holidays.get(local.date())
        if holiday is not None:
            return Refusal(RULE_HOLIDAY, f"Sorry {first}, this door is closed today ({holiday}){until}")
        return Refusal(RULE_SCHEDULE, f"Sorry {first}, this door is closed to you{until}")

    def details(self, person: str) -> dict:
        """What a grant adds to its decision: a visitor and their host (the actions' payloads, the window)."""
        access = self.people.get(person)
        if access is None or not access.visitor:
            return {}
        return {"visitor": True, "host": access.host}

    def _open(self, group: Group, local: dt.datetime) -> bool:
        if group.hours is None:
            return True
        second = local.hour * 3600 + local.minute * 60 + local.second
        today, yesterday = local.date(), local.date() - dt.timedelta(days=1)
        for window in group.hours:
            start, end = window.start * 60, window.end * 60
            if (today.weekday() in window.days and today not in self.holidays and second >= start
                    and (window.overnight or second < end)):
                return True
            if (window.overnight and yesterday.weekday() in window.days and yesterday not in self.holidays
                    and second < end):
                return True
        return False

    def _next_opening(self, groups: Iterable[Group], local: dt.datetime) -> dt.datetime | None:
        best: dt.datetime | None = None
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            for group in groups:
                for window in group.hours or ():
                    if day.weekday() not in window.days:
                        continue
                    start = dt.datetime.combine(day, dt.time(window.start // 60, window.start % 60))
                    if start > local and (best is None or start < best):
                        best = start
            if best is not None:
                return best
        return None

    def _when(self, epoch: float, now: float, clock_only: bool = False) -> str:
        """'at 17:00' / '07:00' today, 'tomorrow at 07:00', 'on Monday at 07:00', 'on 12 March'."""
        when, today = self.local(epoch), self.local(now).date()
        days = (when.date() - today).days
        clock = f"{when:%H:%M}"
        if days == 0:
            return clock if clock_only else f"at {clock}"
        if days == 1:
            return f"tomorrow at {clock}" if not clock_only else f"tomorrow {clock}"
        if 1 < days < 7:
            return f"{when:%A} {clock}" if clock_only else f"on {when:%A} at {clock}"
        return f"{date_words(when)} {clock}" if clock_only else f"on {date_words(when)}"

    # ---------------------------------------------------------------------------------------- housekeeping
    def erase_after(self, access: PersonAccess) -> float | None:
        """When this person's face data is to be erased (None: never; their access does not end)."""
        ends = self.ends(access)
        if ends is None:
            return None
        return ends + (self.erase_visitors_after_s if access.visitor else self.erase_expired_after_s)

    def due_for_erasure(self, now: float) -> list[str]:
        """The people whose access ended longer ago than the retention, face data not yet erased."""
        due = []
        for access in self.people.values():
            erase_at = self.erase_after(access)
            if erase_at is not None and now >= erase_at and not access.erased:
                due.append(access.name)
        return due

    def after_erasure(self, name: str) -> AccessPlan:
        """The plan once `name`'s face data is gone: a visitor's line stays (today's list; marked erased), anyone
        else's goes (their log rows keep their name)."""
        access = self.people.get(name)
        if access is None:
            return self
        people = dict(self.people)
        if access.visitor:
            people[name] = replace(access, erased=True)
        else:
            del people[name]
        return replace(self, people=people)

    def visitors_on(self, day: dt.date) -> list[PersonAccess]:
        """Visitors whose visit covers `day` (local), in the order registered."""
        found = []
        day_start, day_end = self.midnight(day), self.midnight(day + dt.timedelta(days=1))
        for access in self.people.values():
            if not access.visitor:
                continue
            starts, ends = self.starts(access), self.ends(access)
            if (starts is None or starts < day_end) and (ends is None or ends > day_start):
                found.append(access)
        return found

    # ---------------------------------------------------------------------------------------- edits
    def with_person(self, access: PersonAccess) -> AccessPlan:
        unknown = [group for group in access.groups if group not in self.groups]
        if unknown:
            raise AccessRulesError(f"There is no group {unknown[0]!r}; add it first (groups: "
                                   f"{', '.join(self.groups)}).")
        return replace(self, people={**self.people, access.name: access})

    def without_person(self, name: str) -> AccessPlan:
        return replace(self, people={key: value for key, value in self.people.items() if key != name})

    def renamed(self, old: str, new: str) -> AccessPlan:
        people = {(new if key == old else key): (replace(value, name=new) if key == old else value)
                  for key, value in self.people.items()}
        people = {key: (replace(value, host=new) if value.host == old else value) for key, value in people.items()}
        return replace(self, people=people)

    def with_group(self, group: Group) -> AccessPlan:
        return replace(self, groups={**self.groups, group.name: group})

    def without_group(self, name: str) -> AccessPlan:
        if name == EVERYONE:
            raise AccessRulesError("The group 'Everyone' holds everyone without a group of their own; give it no "
                                   "doors instead (doors -) to let in only people with a group.")
        members = [access.name for access in self.people.values() if name in access.groups]
        if members:
            raise AccessRulesError(f"The group {name!r} still has members ({', '.join(members[:5])}); move them "
                                   "to another group first.")
        return replace(self, groups={key: value for key, value in self.groups.items() if key != name})


# ------------------------------------------------------------------------------------------------ the text form
HEADER = ("# FaceGate access rules: who may enter where and when (README \"Who may enter where and when\").\n"
          "# Edited by the People dialog's Access tab and by `facegate access ...`; checked on load: a line that\n"
          "# cannot be read refuses everyone at this door until it is fixed.\n")

_TOKEN = re.compile(r'\s*(?:"([^"]*)"|(#.*)|(\S+))')
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DURATION_UNITS = {"second": 1.0, "seconds": 1.0, "minute": 60.0, "minutes": 60.0, "hour": 3600.0, "hours": 3600.0,
                   "day": DAY, "days": DAY}


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool

    def keyword(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words


def _tokens(line: str, number: int) -> list[_Token]:
    found, position = [], 0
    line = line.rstrip("\n")
    while position < len(line):
        match = _TOKEN.match(line, position)
        if match is None or match.end() == position:
            if line[position:].strip():
                raise AccessRulesError(f"line {number}: a quote is not closed", number)
            break
        position = match.end()
        quoted, comment, bare = match.groups()
        if comment is not None:
            break
        if quoted is not None:
            found.append(_Token(quoted, True))
        elif bare is not None:
            if '"' in bare:
                raise AccessRulesError(f"line {number}: a quote is not closed or a name touches a quote: {bare}",
                                       number)
            found.append(_Token(bare, False))
    return found


def _quote(name: str) -> str:
    return f'"{name}"'


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(7)):
        return "daily"
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{WEEKDAYS[ordered[0]]}-{WEEKDAYS[ordered[-1]]}"
    return ",".join(WEEKDAYS[day] for day in ordered)


def date_words(when: dt.date | dt.datetime) -> str:
    """'12 March'."""
    return f"{when.day} {when:%B}"


def first_name(person: str) -> str:
    """How a refusal addresses a person: 'Sorry Ada, ...'."""
    words = person.split()
    return words[0] if words else person


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _day(text: str, number: int) -> int:
    for index, name in enumerate(WEEKDAYS):
        if text.lower() == name.lower():
            return index
    raise AccessRulesError(f"line {number}: {text!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", number)


def _parse_days(text: str, number: int) -> frozenset[int]:
    if text.lower() in ("daily", "every-day"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, last = (_day(piece, number) for piece in part.split("-", 1))
            day = first
            while True:  # Fri-Mon wraps over the weekend
                days.add(day)
                if day == last:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day(part, number))
    return frozenset(days)


def _parse_clock(text: str, number: int, allow_24: bool) -> int:
    match = _CLOCK.match(text)
    if match is None:
        raise AccessRulesError(f"line {number}: {text!r} is not a time of day (HH:MM, e.g. 07:00)", number)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise AccessRulesError(f"line {number}: {text!r} is not a time of day (00:00 to 24:00)", number)
    return hours * 60 + minutes


def _parse_span(text: str, number: int) -> tuple[int, int]:
    if text.count("-") != 1:
        raise AccessRulesError(f"line {number}: {text!r} is not a span of hours (e.g. 07:00-19:00)", number)
    start_text, end_text = text.split("-")
    start, end = _parse_clock(start_text, number, False), _parse_clock(end_text, number, True)
    if start == end:
        raise AccessRulesError(f"line {number}: {text!r} starts and ends at the same time", number)
    return start, end


def _parse_when(text: str, number: int, what: str) -> dt.date | dt.datetime:
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AccessRulesError(f"line {number}: {what} {text!r} is not a date (2026-03-12) or a date and time "
                               "(2026-03-12T17:00)", number) from None


def when_text(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    return value.isoformat()


def _duration(tokens: list[_Token], number: int, what: str) -> float:
    if len(tokens) != 2 or not _number_like(tokens[0].text) or tokens[1].text.lower() not in _DURATION_UNITS:
        raise AccessRulesError(f"line {number}: {what} takes a number and a unit (e.g. 30 days, 2 hours)", number)
    value = float(tokens[0].text) * _DURATION_UNITS[tokens[1].text.lower()]
    if value < 0:
        raise AccessRulesError(f"line {number}: {what} cannot be negative", number)
    return value


def duration_text(seconds: float) -> str:
    for unit, size in (("day", DAY), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds:g} seconds"


def _number_like(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split_clauses(tokens: list[_Token], keywords: tuple[str, ...], number: int) -> dict[str, list[_Token]]:
    """`name ... keyword values keyword values` -> {keyword: values}; each keyword at most once."""
    clauses: dict[str, list[_Token]] = {}
    current: str | None = None
    for token in tokens:
        if token.keyword(*keywords):
            current = token.text.lower()
            if current in clauses:
                raise AccessRulesError(f"line {number}: '{current}' is given twice", number)
            clauses[current] = []
        elif current is None:
            raise AccessRulesError(f"line {number}: {token.text!r} is not one of {', '.join(keywords)}", number)
        else:
            clauses[current].append(token)
    return clauses


def _name(tokens: list[_Token], number: int, what: str) -> tuple[str, list[_Token]]:
    if not tokens:
        raise AccessRulesError(f"line {number}: the {what}'s name is missing (in double quotes)", number)
    name = tokens[0].text.strip()
    if not name or any(ord(ch) < 32 for ch in name):
        raise AccessRulesError(f"line {number}: the {what}'s name is empty or has control characters", number)
    return name, tokens[1:]


def _parse_hours(tokens: list[_Token], number: int) -> tuple[Window, ...] | None:
    if len(tokens) == 1 and tokens[0].keyword("always"):
        return None
    if len(tokens) == 1 and tokens[0].keyword("never"):
        return ()
    if not tokens or len(tokens) % 2:
        raise AccessRulesError(f"line {number}: hours are 'always', 'never', or days and a span, e.g. "
                               "Mon-Fri 07:00-19:00 Sat 08:00-12:00", number)
    windows = []
    for days_token, span_token in zip(tokens[::2], tokens[1::2], strict=True):
        start, end = _parse_span(span_token.text, number)
        windows.append(Window(_parse_days(days_token.text, number), start, end))
    return tuple(windows)


def _group_line(tokens: list[_Token], number: int) -> Group:
    name, rest = _name(tokens, number, "group")
    clauses = _split_clauses(rest, ("doors", "hours"), number)
    doors = tuple(token.text for token in clauses.get("doors", [_Token(ALL_DOORS, False)]))
    if doors == ("-",):
        doors = ()
    return Group(name, doors, _parse_hours(clauses["hours"], number) if "hours" in clauses else None)


def _person_line(tokens: list[_Token], number: int, visitor: bool) -> PersonAccess:
    name, rest = _name(tokens, number, "visitor" if visitor else "person")
    keywords = ("groups", "from", "until", "host", "erased") if visitor else ("groups", "from", "until")
    clauses = _split_clauses(rest, keywords, number)
    for key in ("from", "until", "host"):
        if key in clauses and len(clauses[key]) != 1:
            raise AccessRulesError(f"line {number}: '{key}' takes one value", number)
    groups = tuple(token.text for token in clauses.get("groups", []))
    if not groups:
        groups = (VISITORS,) if visitor else (EVERYONE,)
    valid_from = _parse_when(clauses["from"][0].text, number, "from") if "from" in clauses else None
    valid_until = _parse_when(clauses["until"][0].text, number, "until") if "until" in clauses else None
    if visitor and ("host" not in clauses or valid_until is None):
        raise AccessRulesError(f"line {number}: a visitor needs a host and an 'until' (host \"Ada Lovelace\" "
                               "until 2026-12-06)", number)
    return PersonAccess(name, groups, valid_from, valid_until, clauses["host"][0].text if visitor else None,
                        erased=visitor and "erased" in clauses)


def _passback_line(tokens: list[_Token], number: int) -> Passback:
    clauses = _split_clauses(tokens, ("in", "out", "reset"), number)
    if any(len(clauses.get(key, [])) != 1 for key in ("in", "out")):
        raise AccessRulesError(f"line {number}: passback needs one 'in' door and one 'out' door "
                               "(passback in \"Front door\" out \"Front exit\" reset 12 hours)", number)
    reset = _duration(clauses["reset"], number, "reset") if "reset" in clauses else DEFAULT_PASSBACK_RESET_S
    return Passback(clauses["in"][0].text, clauses["out"][0].text, reset)


def parse_plan(text: str, where: str = "the access rules") -> AccessPlan:
    """The plan a rules text describes. AccessRulesError naming `where`, the line and the fix on anything unclear:
    an unknown word, a bad time or date, a person in a group that does not exist, a name given twice."""
    groups: dict[str, Group] = {}
    holidays: dict[dt.date, str] = {}
    people: dict[str, PersonAccess] = {}
    person_lines: dict[str, int] = {}
    passbacks: list[Passback] = []
    settings: dict[str, object] = {}
    try:
        for number, line in enumerate(text.splitlines(), 1):
            tokens = _tokens(line, number)
            if not tokens:
                continue
            head, rest = tokens[0], tokens[1:]
            if head.keyword("group"):
                group = _group_line(rest, number)
                if group.name in groups:
                    raise AccessRulesError(f"line {number}: the group {group.name!r} is given twice", number)
                groups[group.name] = group
            elif head.keyword("person", "visitor"):
                access = _person_line(rest, number, head.keyword("visitor"))
                if access.name in people:
                    raise AccessRulesError(f"line {number}: {access.name!r} is given twice (also line "
                                           f"{person_lines[access.name]})", number)
                people[access.name], person_lines[access.name] = access, number
            elif head.keyword("holiday"):
                if not rest or len(rest) > 2:
                    raise AccessRulesError(f"line {number}: holiday takes a date and a name (holiday 2026-12-25 "
                                           "\"Christmas Day\")", number)
                day = _parse_when(rest[0].text, number, "holiday")
                if isinstance(day, dt.datetime):
                    raise AccessRulesError(f"line {number}: a holiday is a whole date, without a time", number)
                holidays[day] = rest[1].text if len(rest) == 2 else "a holiday"
            elif head.keyword("passback"):
                passbacks.append(_passback_line(rest, number))
            elif head.keyword("timezone"):
                if len(rest) != 1:
                    raise AccessRulesError(f"line {number}: timezone takes one name (e.g. Europe/London)", number)
                try:
                    _zone(rest[0].text)
                except (ZoneInfoNotFoundError, ValueError):
                    raise AccessRulesError(f"line {number}: {rest[0].text!r} is not a time zone this computer "
                                           "knows (e.g. Europe/London, America/New_York)", number) from None
                settings["timezone"] = rest[0].text
            elif head.keyword("erase-expired-after"):
                settings["erase_expired_after_s"] = _duration(rest, number, "erase-expired-after")
            elif head.keyword("erase-visitors-after"):
                settings["erase_visitors_after_s"] = _duration(rest, number, "erase-visitors-after")
            else:
                raise AccessRulesError(f"line {number}: {head.text!r} is not a rule (group, person, visitor, "
                                       "holiday, passback, timezone, erase-expired-after, erase-visitors-after)",
                                       number)
        groups = {**{name: groups.get(name, default) for name, default in default_groups().items()}, **groups}
        for access in people.values():
            number = person_lines[access.name]
            for member_of in access.groups:
                if member_of not in groups:
                    raise AccessRulesError(f"line {number}: {access.name!r} is in the group {member_of!r}, which no "
                                           "'group' line defines", number)
    except AccessRulesError as exc:
        raise AccessRulesError(f"{where}, {exc}", exc.line) from None
    return AccessPlan(groups, holidays, people, tuple(passbacks), **settings)  # type: ignore[arg-type]


def format_plan(plan: AccessPlan) -> str:
    """The text `parse_plan` reads back as the same plan."""
    lines = [HEADER.rstrip("\n")]
    if plan.timezone:
        lines.append(f"timezone {plan.timezone}")
    lines.append(f"erase-expired-after {duration_text(plan.erase_expired_after_s)}")
    lines.append(f"erase-visitors-after {duration_text(plan.erase_visitors_after_s)}")
    for group in plan.groups.values():
        doors = " ".join(door if door == ALL_DOORS else _quote(door) for door in group.doors) or "-"
        hours = ("always" if group.hours is None else "never" if not group.hours
                 else " ".join(window.text() for window in group.hours))
        lines.append(f"group {_quote(group.name)} doors {doors} hours {hours}")
    for day, name in sorted(plan.holidays.items()):
        lines.append(f"holiday {day.isoformat()} {_quote(name)}")
    for access in plan.people.values():
        words = ["visitor" if access.visitor else "person", _quote(access.name)]
        if access.visitor:
            words += ["host", _quote(access.host or "")]
        default = (VISITORS,) if access.visitor else (EVERYONE,)
        if access.groups != default:
            words += ["groups", *(_quote(group) for group in access.groups)]
        if access.valid_from is not None:
            words += ["from", when_text(access.valid_from)]
        if access.valid_until is not None:
            words += ["until", when_text(access.valid_until)]
        if access.erased:
            words.append("erased")
        lines.append(" ".join(words))
    for passback in plan.passbacks:
        lines.append(f"passback in {_quote(passback.in_door)} out {_quote(passback.out_door)} "
                     f"reset {duration_text(passback.reset_s)}")
    return "\n".join(lines) + "\n"


def local_zone_name() -> str | None:
    """This computer's time zone as an IANA name (TZ, /etc/timezone, or where /etc/localtime points), or None when
    it cannot be told (Windows without tzdata: the hours then follow each kiosk's own clock)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if name and not name.startswith("/"):
            try:
                _zone(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return None


# ------------------------------------------------------------------------------------------------ the file
class AccessPlanStore(Protocol):
    """Where the People dialog, the visitor desk and `facegate access ...` read and change the plan: a single
    kiosk's file (AccessPlanFile) or a site's tables (facegate.site.access.SiteAccessPlan)."""

    def plan(self) -> AccessPlan:
        """The plan as it is now."""

    def edit(self, change: Callable[[AccessPlan], AccessPlan]) -> AccessPlan:
        """Apply `change` to the plan as it is now and keep the result (AccessRulesError: nothing changed)."""


def plan_path_for(gallery_folder: Path) -> Path:
    """Where a gallery's access rules live: beside it, `<gallery>.access.txt`."""
    folder = Path(gallery_folder)
    return folder.parent / f"{folder.name}.access.txt"


class AccessPlanFile:
    """A kiosk's access rules file, read again when it changes (checked at most every `check_every_s`).

    No file: the default plan (everyone, every door, any hour: an existing gallery keeps working). A file that cannot
    be read or parsed keeps the last plan read from it, or, when there is none, a plan that refuses everyone
    (`problem` says why, naming the line): broken rules never grant more than before."""

    def __init__(self, path: Path, check_every_s: float = 1.0, on_problem: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.check_every_s = check_every_s
        self.on_problem = on_problem
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._plan: AccessPlan | None = None
        self._signature: tuple | None = None
        self._checked = float("-inf")

    def plan(self) -> AccessPlan:
        with self._lock:
            if self._plan is None or time.monotonic() - self._checked >= self.check_every_s:
                self._reload()
            assert self._plan is not None
            return self._plan

    def _reload(self) -> None:
        self._checked = time.monotonic()
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._signature, self._plan, self.problem = None, AccessPlan(), None
            return
        except OSError as exc:
            self._failed(f"{self.path}: {describe_os_error(exc)}")
            return
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature == self._signature and self._plan is not None:
            return
        self._signature = signature
        try:
            self._plan = parse_plan(self.path.read_text(encoding="utf-8"), str(self.path))
            self.problem = None
        except (AccessRulesError, UnicodeDecodeError) as exc:
            self._failed(str(exc))
        except OSError as exc:
            self._failed(f"{self.path}: {describe_os_error(exc)}")

    def _failed(self, problem: str) -> None:
        kept = self._plan if self._plan is not None and self._plan.unreadable is None else None
        self.problem = (f"{problem}. Until it is fixed this door uses "
                        + ("the rules it read before." if kept is not None else "no rules and refuses everyone."))
        self._plan = kept or AccessPlan(unreadable=problem)
        log.error("%s", self.problem)
        if self.on_problem is not None:
            self.on_problem(self.problem)

    def save(self, plan: AccessPlan) -> None:
        """Write `plan` (atomic, owner-only); AccessRulesError saying why when it cannot be written."""
        text = format_plan(plan)
        parse_plan(text, str(self.path))  # what is written reads back
        try:
            atomic_write_bytes(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise AccessRulesError(f"The access rules cannot be saved to {self.path}: {describe_os_error(exc)}") \
                from None
        with self._lock:
            self._plan, self.problem, self._checked = plan, None, time.monotonic()
            stat = self.path.stat()
            self._signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def edit(self, change: Callable[[AccessPlan], AccessPlan]) -> AccessPlan:
        """Read the file as it is now, apply `change`, save; a file that cannot be read is not overwritten."""
        with self._lock:
            self._checked = float("-inf")
        current = self.plan()
        if self.problem is not None:
            raise AccessRulesError(f"{self.problem} Fix the file before changing the rules.")
        changed = change(current)
        self.save(changed)
        return changed
