"""The access decision and the greeting rule, in one place.

Each encoding of a track is one vote:
- for a person, when its best match is under `threshold` with at least `min_margin` to the second-best person;
- for nobody, when its best match is at least `unknown_distance` away (or nobody is enrolled);
- unsure, in between (a grey zone: not enough to open the door, not enough to call a stranger).
A track is GRANTED(name) when at least K of its last N votes are for that person and none for anyone else; UNKNOWN
when at least `unknown_votes` of them are for nobody; PENDING otherwise. A vote that contradicts a decision (a
granted track whose face no longer matches; an unknown track that now matches someone) sends the track back to
PENDING with fresh evidence, so a face swap between tracks or a person turning to the camera is re-decided within a
few frames. Nothing is greeted while Pending or Unknown. With `liveness_required`, a passed identity vote waits
(Pending) for the liveness check and a fresh vote for the same person after it; a failed check is DENIED.

Access rules (facegate.access_rules, `rules`): a face that would be granted is first put to the door's rules, when
its identity vote passes (before any liveness check) and again at the grant. A refusal is DENIED with the rule's
reason, for as long as the rule refuses: the next vote that would grant asks again, and a door back online grants
the person still in view. It is not a failed liveness check.

Greeting: once per visit. A person granted again is greeted only after `greeting_cooldown_s`, or when they had
left the view for at least `absence_reset_s` (a new visit).
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from dataclasses import dataclass, field

from facegate.access_rules import AccessRules, Refusal
from facegate.config import DEFAULT_THRESHOLD, Settings
from facegate.matching import Match


class Verdict(str, enum.Enum):
    PENDING = "pending"
    GRANTED = "granted"
    UNKNOWN = "unknown"
    DENIED = "denied"


@dataclass(frozen=True)
class PolicySettings:
    # Distance under which an encoding counts as a vote for its best person (fused distance; safe 0.40-0.60).
    threshold: float = DEFAULT_THRESHOLD
    # Best person must beat the second-best by this much, else the vote counts as "can't tell" (0.0-0.2).
    min_margin: float = 0.05
    # K of the last N encodings must agree before access is granted (K <= N; K >= 2 is the safe range).
    votes_needed: int = 3
    window: int = 5
    # Distance from which a vote counts as "nobody enrolled" (>= threshold; between the two: unsure).
    unknown_distance: float = 0.6
    # This many of the last N votes for nobody -> Unknown (red box).
    unknown_votes: int = 3
    # Seconds before the same person is greeted again while they stay or come back (60-3600).
    greeting_cooldown_s: float = 300.0
    # Seconds out of view after which a returning person starts a new visit and is greeted again (10-600).
    absence_reset_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicySettings:
        return cls(threshold=settings.threshold, min_margin=settings.min_margin,
                   unknown_distance=max(settings.unknown_distance, settings.threshold),
                   votes_needed=settings.votes_needed, window=settings.vote_window,
                   unknown_votes=settings.unknown_votes, greeting_cooldown_s=settings.greeting_cooldown_s,
                   absence_reset_s=settings.absence_reset_s)

    def __post_init__(self) -> None:
        if not 1 <= self.votes_needed <= self.window:
            raise ValueError("votes_needed must be between 1 and window")
        if not 1 <= self.unknown_votes <= self.window:
            raise ValueError("unknown_votes must be between 1 and window")
        if self.unknown_distance < self.threshold:
            raise ValueError("unknown_distance must not be below threshold")


@dataclass(frozen=True)
class Vote:
    name: str | None  # the person voted for; None when the vote is for nobody or unsure
    nobody: bool  # confidently not anyone enrolled
    distance: float
    margin: float


@dataclass(frozen=True)
class Decision:
    """A change of a track's verdict. `greet` is set on the grant that starts a visit."""

    track_id: int
    verdict: Verdict
    name: str | None
    distance: float | None
    margin: float | None
    time: float
    greet: bool = False
    reason: str = ""
    details: dict = field(default_factory=dict)  # e.g. the liveness cues measured


@dataclass
class _TrackVotes:
    votes: deque
    verdict: Verdict = Verdict.PENDING
    name: str | None = None
    announced: set = field(default_factory=set)  # (verdict, name) already reported for this track
    identified: str | None = None  # identity vote passed; waiting for the liveness check
    live_checked: bool = False  # liveness passed on this track (kept while the track lives)
    confirm_after: float | None = None  # liveness passed at this time: grant on the next vote for the same person
    liveness: dict = field(default_factory=dict)
    refusal: Refusal | None = None  # DENIED by an access rule (asked again on the next vote that would grant)


@dataclass
class _Visit:
    last_seen: float
    last_greeted: float | None = None


@dataclass
class AccessPolicy:
    settings: PolicySettings = field(default_factory=PolicySettings)
    # When True a passed identity vote is not a grant yet: the track waits (Pending) for `liveness_passed`
    # and a fresh encoding of the same person after it, or is refused by `deny`.
    liveness_required: bool = False
    # The door's access rules, asked when a recognised face would be granted (None: no rules).
    rules: AccessRules | None = None

    def __post_init__(self) -> None:
        self._tracks: dict[int, _TrackVotes] = {}
        self._visits: dict[str, _Visit] = {}

    def to_vote(self, match: Match) -> Vote:
        s = self.settings
        confident = match.name is not None and match.distance < s.threshold and match.margin >= s.min_margin
        nobody = match.name is None or match.distance >= s.unknown_distance
        return Vote(match.name if confident else None, nobody, match.distance, match.margin)

    def verdict(self, track_id: int) -> tuple[Verdict, str | None]:
        state = self._tracks.get(track_id)
        return (state.verdict, state.name) if state else (Verdict.PENDING, None)

    def add_vote(self, track_id: int, match: Match, now: float) -> Decision | None:
        """Record one encoding's match for a track. Returns a Decision when the track reaches a verdict it had
        not reported before (a track that drops back to Pending and regains the same verdict is not re-reported)."""
        s = self.settings
        state = self._tracks.setdefault(track_id, _TrackVotes(deque(maxlen=s.window)))
        vote = self.to_vote(match)
        if state.identified is not None:
            return self._vote_during_liveness(state, track_id, vote, now)
        contradicts = ((state.verdict is Verdict.GRANTED and vote.name != state.name)
                       or (state.verdict is Verdict.UNKNOWN and vote.name is not None))
        if contradicts:
            state.votes.clear()
        if state.verdict is Verdict.DENIED and state.refusal is None:
            return None  # a failed liveness check: refused for as long as the track lives
        state.votes.append(vote)
        named = Counter(v.name for v in state.votes if v.name is not None)
        nobody = sum(1 for v in state.votes if v.nobody)
        verdict, name = Verdict.PENDING, None
        # Confident votes for two different people in one window mean a confused track: never a grant.
        if len(named) == 1 and named.most_common(1)[0][1] >= s.votes_needed:
            verdict, name = Verdict.GRANTED, named.most_common(1)[0][0]
        elif nobody >= s.unknown_votes:
            verdict = Verdict.UNKNOWN
        if state.refusal is not None and verdict is Verdict.PENDING:
            return None  # refused by a rule: shown so until a vote grants (asking the rules again) or finds nobody
        if verdict is Verdict.GRANTED and self.liveness_required and not state.live_checked:
            assert name is not None
            refusal = self._refusal(name)
            if refusal is not None:  # refused before the liveness check: nobody is asked for requests in vain
                return self._refuse(state, track_id, name, refusal, vote, now)
            state.verdict, state.name, state.identified, state.refusal = Verdict.PENDING, None, name, None
            return None
        return self._settle(state, track_id, verdict, name, vote, now)

    def _settle(self, state: _TrackVotes, track_id: int, verdict: Verdict, name: str | None, vote: Vote,
                now: float, details: dict | None = None) -> Decision | None:
        """Set a track's verdict. A Decision the first time the track reaches it (Pending is never reported);
        a grant that starts a visit greets; a grant an access rule refuses is DENIED instead."""
        if verdict is Verdict.GRANTED:
            assert name is not None  # add_vote and _vote_during_liveness grant a named person only
            # the door opened for this track: the rules are not asked again, also when its votes dipped to Pending
            # and came back (asked again, anti-passback would refuse the very grant it just recorded)
            granted_already = ((state.verdict is Verdict.GRANTED and state.name == name)
                               or (Verdict.GRANTED, name) in state.announced)
            refusal = None if granted_already else self._refusal(name)
            if refusal is not None:
                return self._refuse(state, track_id, name, refusal, vote, now, details)
            if not granted_already and self.rules is not None:
                details = {**(details or {}), **self.rules.details(name)}  # a visitor and their host
            self._visits.setdefault(name, _Visit(last_seen=now))
        state.refusal = None
        state.verdict, state.name = verdict, name
        if verdict is Verdict.PENDING or (verdict, name) in state.announced:
            return None
        state.announced.add((verdict, name))
        greet = verdict is Verdict.GRANTED and name is not None and self._starts_visit(name, now)
        return Decision(track_id, verdict, name, vote.distance, vote.margin, now, greet, details=details or {})

    def _refusal(self, name: str) -> Refusal | None:
        return self.rules.check(name) if self.rules is not None else None

    def _refuse(self, state: _TrackVotes, track_id: int, name: str, refusal: Refusal, vote: Vote, now: float,
                details: dict | None = None) -> Decision | None:
        """An access rule refused `name`: DENIED with its reason; reported once per track and rule."""
        state.verdict, state.name, state.refusal = Verdict.DENIED, name, refusal
        state.identified, state.confirm_after = None, None
        key = (Verdict.DENIED, name, refusal.rule)
        if key in state.announced:
            return None
        state.announced.add(key)
        state.announced.discard((Verdict.GRANTED, name))  # granted again once the rule lets them in: reported
        return Decision(track_id, Verdict.DENIED, name, vote.distance, vote.margin, now, False, refusal.reason,
                        {**(details or {}), "rule": refusal.rule})

    def refusal(self, track_id: int) -> Refusal | None:
        """The access rule's refusal a track is showing, if any."""
        state = self._tracks.get(track_id)
        return state.refusal if state else None

    def _vote_during_liveness(self, state: _TrackVotes, track_id: int, vote: Vote, now: float) -> Decision | None:
        """While a liveness check runs, the face may turn away (unsure votes are expected); only a confident vote
        for someone else, or for nobody, cancels the identification. After the check passed, the next confident
        vote for the same person grants: the identity is the same before and after the challenge."""
        state.votes.append(vote)
        if vote.name is not None and vote.name != state.identified:
            state.identified, state.confirm_after = None, None
            state.votes.clear()
            state.votes.append(vote)
            return None
        if sum(1 for v in state.votes if v.nobody) >= self.settings.unknown_votes:
            state.identified, state.confirm_after = None, None
            return self._settle(state, track_id, Verdict.UNKNOWN, None, vote, now)
        if state.confirm_after is not None and vote.name == state.identified and now >= state.confirm_after:
            name = state.identified
            state.identified, state.confirm_after, state.live_checked = None, None, True
            return self._settle(state, track_id, Verdict.GRANTED, name, vote, now, {"liveness": state.liveness})
        return None

    def awaiting_liveness(self, track_id: int) -> str | None:
        """The person a track was identified as, while its liveness check has not passed yet."""
        state = self._tracks.get(track_id)
        return state.identified if state and state.confirm_after is None else None

    def confirming(self, track_id: int) -> bool:
        """Liveness passed; the next encoding must show the same person."""
        state = self._tracks.get(track_id)
        return bool(state and state.identified and state.confirm_after is not None)

    def liveness_passed(self, track_id: int, now: float, cues: dict) -> None:
        state = self._tracks.get(track_id)
        if state and state.identified:
            state.confirm_after = now
            state.liveness = cues

    def person_seen(self, track_id: int, now: float) -> None:
        """Called for every frame in which a granted track is in view: keeps the visit going."""
        state = self._tracks.get(track_id)
        if state and state.verdict is Verdict.GRANTED and state.name in self._visits:
            self._visits[state.name].last_seen = now

    def _starts_visit(self, name: str, now: float) -> bool:
        visit = self._visits[name]
        first = visit.last_greeted is None
        new_visit = now - visit.last_seen >= self.settings.absence_reset_s
        cooled_down = visit.last_greeted is not None and now - visit.last_greeted >= self.settings.greeting_cooldown_s
        visit.last_seen = now
        if first or new_visit or cooled_down:
            visit.last_greeted = now
            return True
        return False

    def deny(self, track_id: int, now: float, reason: str, details: dict | None = None) -> Decision:
        """A later check (liveness) refused this track: no grant, no greeting, for as long as the track lives."""
        state = self._tracks.setdefault(track_id, _TrackVotes(deque(maxlen=self.settings.window)))
        claimed = state.identified
        state.verdict, state.name, state.identified, state.confirm_after = Verdict.DENIED, None, None, None
        last = state.votes[-1] if state.votes else None
        return Decision(track_id, Verdict.DENIED, claimed, last.distance if last else None,
                        last.margin if last else None, now, False, reason, details or {})

    def forget_track(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)
