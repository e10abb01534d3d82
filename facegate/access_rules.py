"""Access rules: what may still refuse a person the kiosk has recognised (and, with liveness on, checked).

Recognition says who it is; a rule says whether this door lets them in now. The policy asks the rules each time a
recognised face would be granted (before its liveness check, and again at the grant); the first rule that refuses
makes the decision Denied, with the rule's words (said and shown) and its name (in the log). A refusal is not a
failed liveness check and waits for nothing: the next time the face would be granted the rules are asked again (a
door back online grants the person still standing there).

The kiosk's assembly (facegate/kiosk.py) builds the rules from the settings, with one clock for all of them (a
test sets it). Today: `OfflineBound` (a door that cannot reach the site server trusts its copy of the people only
so long). A new rule (access groups, schedules, validity dates, visitors) is one more class with `name` and
`check(person, now)`, added to the list there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# The time every rule reads, in epoch seconds: time.time at a kiosk; a test passes its own.
Clock = Callable[[], float]


@dataclass(frozen=True)
class Refusal:
    """Why a rule refused a recognised person."""

    rule: str  # the rule's name, kept in the log ("offline_bound")
    reason: str  # in plain words, said and shown to the person at the door


class AccessRule(Protocol):
    name: str

    def check(self, person: str, now: float) -> Refusal | None:
        """None: this rule lets `person` in at `now`; else why not."""


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
