"""What an offline guess of the admin PIN costs on this machine (issue 15, item 10).

Someone who copies admin.json is not slowed down by the lock-out; only the cost of each scrypt hash and the number
of possible PINs protect the PIN. Prints the median time of one guess at today's cost and at the old one, and the
time to try every PIN of 4 and of 6 digits with all cores guessing in parallel.

    PYTHONPATH=. .venv/bin/python benchmarks/pin_cost.py
"""

from __future__ import annotations

import os
import statistics
import time

from facegate.admin import MIN_PIN_LENGTH, SCRYPT, _hash

OLD_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # the cost before issue 15


def seconds_per_guess(params: dict, repeats: int = 5) -> float:
    salt = os.urandom(16)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        _hash(f"{i:06d}", salt, params)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"offline search of the admin PIN, {cores} cores guessing in parallel (median of 5 hashes each)")
    print(f"{'cost':<28}{'one guess':>12}{'all 4-digit PINs':>20}{'all 6-digit PINs':>20}")
    for label, params in ((f"old: scrypt N=2^{OLD_SCRYPT['n'].bit_length() - 1}", OLD_SCRYPT),
                          (f"now: scrypt N=2^{SCRYPT['n'].bit_length() - 1}", SCRYPT)):
        each = seconds_per_guess(params)
        print(f"{label:<28}{each * 1000:>9.0f} ms{duration(each * 10 ** 4 / cores):>20}"
              f"{duration(each * 10 ** 6 / cores):>20}")
    print(f"new PINs need at least {MIN_PIN_LENGTH} digits; on average a search finds the PIN halfway through")


if __name__ == "__main__":
    main()
