"""Failed checks per claimed identity: a cool-down, a longer challenge, a guard alert."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction

from facegate.liveness.challenge import replay_chance
from facegate.liveness.settings import LivenessSettings


@dataclass(frozen=True)
class AttemptSettings:
    """How failed checks slow down whoever tries again as the same person (a denied attacker steps out of view
    and comes back at once: without this, a 1-in-12 replay is a matter of a minute)."""

    # Failed checks of one identity are remembered this long (s).
    memory_s: float = 3600.0
    # Wait before the next check after the first failure (s); it doubles with each further failure, up to
    # `max_wait_s`. No fixed lock-out (issue 28 item 5): it kept a genuine person out for 15 minutes after three
    # failures and bought little, since the doubling alone leaves an attacker ~8 tries an hour (chance_per_hour:
    # 14.0 % for a replay against a 3-request challenge without the lock-out, 9.7 % with the old 15-minute one).
    cooldown_s: float = 10.0
    max_wait_s: float = 900.0
    # From this many remembered failures: a guard alert at each failure.
    alert_after: int = 3
    # Each remembered failure adds one request to the next challenge, up to this many.
    max_steps: int = 4


class AttemptLimiter:
    """Failed liveness checks per claimed identity: cool-down, a longer challenge, then a guard alert. The pipeline
    worker records; the window lists and lifts waits (an administrator), so every call takes the lock."""

    def __init__(self, settings: AttemptSettings | None = None):
        self.settings = settings or AttemptSettings()
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def failures(self, name: str, now: float) -> int:
        with self._lock:
            return self._count(name, now)

    def _count(self, name: str, now: float) -> int:
        kept = [t for t in self._failures.get(name, []) if now - t < self.settings.memory_s]
        if kept:
            self._failures[name] = kept
        else:
            self._failures.pop(name, None)
        return len(kept)

    def wait_left(self, name: str, now: float) -> float:
        """Seconds before `name` may be checked again (0: now)."""
        with self._lock:
            return self._wait_left(name, now)

    def _wait_left(self, name: str, now: float) -> float:
        count = self._count(name, now)
        if count == 0:
            return 0.0
        s = self.settings
        pause = min(s.max_wait_s, s.cooldown_s * 2 ** (count - 1))
        return max(0.0, self._failures[name][-1] + pause - now)

    def waiting(self, now: float) -> list[tuple[str, int, float]]:
        """(identity, failed checks, seconds left) for each identity waiting now, longest wait first."""
        with self._lock:
            waits = [(name, self._count(name, now), self._wait_left(name, now)) for name in list(self._failures)]
        return sorted((w for w in waits if w[2] > 0), key=lambda w: -w[2])

    def lift(self, name: str, now: float) -> bool:
        """Forget `name`'s failed checks (an administrator lets them try again now). True if they were waiting."""
        with self._lock:
            was_waiting = self._wait_left(name, now) > 0
            self._failures.pop(name, None)
        return was_waiting

    def steps_for(self, name: str, base_steps: int, now: float) -> int:
        return min(max(base_steps, self.settings.max_steps), base_steps + self.failures(name, now))

    def record_failure(self, name: str, now: float) -> tuple[int, bool]:
        """(failures remembered now, whether this one alerts the guard)."""
        with self._lock:
            self._failures.setdefault(name, []).append(now)
            count = self._count(name, now)
        return count, count >= self.settings.alert_after

    def record_pass(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


def chance_per_hour(settings: LivenessSettings, attempts: AttemptSettings | None = None) -> Fraction:
    """Chance that a recording made in advance passes within one hour of trying as one identity, retrying the
    moment each wait ends: every attempt draws a fresh challenge, one request longer after each failure."""
    attempts = attempts or AttemptSettings()
    limiter, now, fail_all = AttemptLimiter(attempts), 0.0, Fraction(1)
    while now < 3600.0:
        steps = limiter.steps_for("x", settings.steps, now)
        fail_all *= 1 - replay_chance(LivenessSettings(mode=settings.mode, steps=steps))
        limiter.record_failure("x", now)
        now += max(limiter.wait_left("x", now), 1.0)
    return 1 - fail_all
