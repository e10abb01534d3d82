"""What an offline guess of the admin PIN costs on this machine (issue 15, item 10).

Someone who copies admin.json is not slowed down by the lock-out; only the cost of each scrypt hash and the number
of possible PINs protect the PIN. Prints the median time of one guess at today's cost and at the old one, and the
time to try every PIN of 4 and of 6 digits with all cores guessing in parallel.

    PYTHONPATH=. .venv/bin/python benchmarks/pin_cost.py [--json]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser  # noqa: E402

OLD_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # the cost before issue 15


def seconds_per_guess(params: dict, repeats: int = 5) -> float:
    from facegate.admin import _hash

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


def main(argv=None) -> int:
    args = bench_parser(__doc__).parse_args(argv)
    report = Report("pin_cost", args.json)
    from facegate.admin import MIN_PIN_LENGTH, SCRYPT

    cores = os.cpu_count() or 1
    costs = ((f"old: scrypt N=2^{OLD_SCRYPT['n'].bit_length() - 1}", OLD_SCRYPT),
             (f"now: scrypt N=2^{SCRYPT['n'].bit_length() - 1}", SCRYPT))
    guess_s = {label: seconds_per_guess(params) for label, params in costs}

    report.say(f"offline search of the admin PIN, {cores} cores guessing in parallel (median of 5 hashes each)",
               cores=cores)
    report.say(f"{'cost':<28}{'one guess':>12}{'all 4-digit PINs':>20}{'all 6-digit PINs':>20}")
    for label, each in guess_s.items():
        all4, all6 = each * 10 ** 4 / cores, each * 10 ** 6 / cores
        report.row("costs", f"{label:<28}{each * 1000:>9.0f} ms{duration(all4):>20}{duration(all6):>20}",
                   cost=label, guess_ms=each * 1000, all_4_digit_s=all4, all_6_digit_s=all6)
    report.say(f"new PINs need at least {MIN_PIN_LENGTH} digits; on average a search finds the PIN halfway through",
               min_pin_length=MIN_PIN_LENGTH)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
