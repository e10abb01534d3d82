"""Access rules: what may still refuse a person the kiosk has recognised (and, with liveness on, checked).

Recognition says who it is; a rule says whether this door lets them in now. The policy asks the rules each time a
recognised face would be granted (before its liveness check, and again at the grant); the first rule that refuses
makes the decision Denied, with the rule's words (said and shown) and its name (in the log). A refusal is not a
failed liveness check and waits for nothing: the next time the face would be granted the rules are asked again (a
door back online grants the person still standing there).

The kiosk's assembly (facegate/kiosk.py) builds the rules from the settings, with one clock for all of them (a
test sets it), in this order: at a site `OfflineBound` (a door that cannot reach the site server trusts its copy of
the people only so long), `PlanRule` (the access plan, facegate/access_plan.py: groups and their doors, weekly hours
and holidays, validity dates, visitors), `AntiPassback` (an "in" door refuses a person already in). A new rule is
one more class with `name` and `check(person, now)`, added to the list there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from facegate.access_plan import RULE_PASSBACK, AccessPlan, Refusal, first_name

# The time every rule reads, in epoch seconds: time.time at a kiosk; a test passes its own.
Clock = Callable[[], float]


class AccessRule(Protocol):
    name: str

    def check(self, person: str, now: float) -> Refusal | None:
        """None: this rule lets `person` in at `now`; else why not (Refusal: the rule's name, kept in the log, and
        the reason in plain words, said and shown to the person at the door)."""


@dataclass
class AccessRules:
    """The door's rules, asked in order; the first refusal wins."""

    rules: Sequence[AccessRule] = ()
    clock: Clock = field(default=time.time)

    def check(self, person: str) -> Refusal | None:
        now = self.clock()
        for rule in self.rules:
            refusal = rule.check(person, now)
            if refusal is not None:
                return refusal
        return None

    def details(self, person: str) -> dict:
        """What a grant of `person` adds to its decision (a visitor and their host), from the rules that say."""
        found: dict = {}
        for rule in self.rules:
            describe = getattr(rule, "details", None)
            if describe is not None:
                found.update(describe(person))
        return found


# The access plan as it is now (AccessPlanFile.plan at a kiosk: read again when the file changes).
PlanSource = Callable[[], AccessPlan]


@dataclass
class PlanRule:
    """The access plan at this door: groups and their doors, hours and holidays, validity dates, visitors
    (facegate/access_plan.py says what each means). greeter: a kiosk that greets and opens no door; its doors and
    hours do not apply (validity does)."""

    plan: PlanSource
    door: str
    greeter: bool = False
    name: str = "access_plan"

    def check(self, person: str, now: float) -> Refusal | None:
        return self.plan().refusal(person, self.door, now, self.greeter)

    def details(self, person: str) -> dict:
        return self.plan().details(person)


class Passages:
    """The last grant of each person at each door: this kiosk's own grants (from its access log at start, then as
    they happen) and, at a site, the other doors' (from the server). Thread-safe: the pipeline reads, the log
    listener and the site link write."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def record(self, person: str, door: str, when: float) -> None:
        key = (person, door.casefold())
        with self._lock:
            if when > self._last.get(key, float("-inf")):
                self._last[key] = when

    def merge(self, rows: Iterable[tuple[str, str, float]]) -> None:
        for person, door, when in rows:
            self.record(person, door, when)

    def last(self, person: str, door: str) -> float | None:
        with self._lock:
            return self._last.get((person, door.casefold()))

    def forget(self, person: str) -> None:
        with self._lock:
            for key in [key for key in self._last if key[0] == person]:
                del self._last[key]


@dataclass
class AntiPassback:
    """At a plan's "in" door (`passback in ... out ...`), a person granted in there is refused until a grant at the
    pair's "out" door, or until the pair's reset time has passed: one face cannot let a second person in on its way
    back."""

    plan: PlanSource
    door: str
    passages: Passages
    name: str = RULE_PASSBACK

    def check(self, person: str, now: float) -> Refusal | None:
        plan = self.plan()
        for pair in plan.passbacks:
            if pair.in_door.casefold() != self.door.casefold():
                continue
            went_in = self.passages.last(person, pair.in_door)
            if went_in is None or now - went_in >= pair.reset_s:
                continue
            went_out = self.passages.last(person, pair.out_door)
            if went_out is not None and went_out >= went_in:
                continue
            return Refusal(self.name, f"Sorry {first_name(person)}, you went in at {plan.local(went_in):%H:%M} "
                                      "and have not been seen going out")
        return None


OFFLINE_REASON = "This door cannot reach the site server; please see reception"


@dataclass
class OfflineBound:
    """A door that cannot reach the site server grants from its copy of the people for `bound_s`, then refuses
    everyone until the server is back: a person removed at the server while this door's cable was cut gets in for
    at most that long. `offline_since`: the site link's (SiteSync.offline_since: None while connected; a kiosk
    that has not connected since it started counts from its start)."""

    offline_since: Callable[[], float | None]
    bound_s: float
    name: str = "offline_bound"

    def check(self, person: str, now: float) -> Refusal | None:
        since = self.offline_since()
        if since is None or now - since < self.bound_s:
            return None
        return Refusal(self.name, OFFLINE_REASON)
