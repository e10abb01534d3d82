"""What committing a grant before announcing it costs (issue 15, item 8): the wait on the pipeline's thread.

A granted or denied decision is written to the access log (its row, and its face snapshot, fsync'd) before it is
printed, spoken or shown. This times `AccessLog.record_durably` on a real log folder, with a face-sized snapshot,
against `record` (queue and return), and compares with the grant budget (300 ms from a face being findable).

    PYTHONPATH=. .venv/bin/python benchmarks/durable_log.py [--folder DIR] [--events N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from facegate.access_log import AccessEvent, AccessLog

GRANT_BUDGET_MS = 300.0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="log folder (default: a temp folder on the same disk as /tmp)")
    parser.add_argument("--events", type=int, default=60)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    snapshot = rng.integers(0, 255, (180, 180, 3), dtype=np.uint8)  # a face crop as the pipeline makes it
    with tempfile.TemporaryDirectory(dir=args.folder) as folder, AccessLog(Path(folder) / "log") as access_log:
        timings = {"record (queued, the app before)": [], "record_durably (on the disk)": []}
        for i in range(args.events):
            for label, call in (("record (queued, the app before)", access_log.record),
                                ("record_durably (on the disk)", access_log.record_durably)):
                event = AccessEvent(time.time(), i, "Ada", 0.3, 0.2, "granted", "bench", {}, snapshot)
                started = time.perf_counter()
                assert call(event)
                timings[label].append(1000 * (time.perf_counter() - started))
                access_log.flush()
    print(f"access log: {args.events} granted decisions with a 180x180 snapshot each, wait on the caller's thread")
    for label, values in timings.items():
        values.sort()
        print(f"  {label:<34} median {statistics.median(values):7.2f} ms   p95 {values[int(0.95 * len(values))]:7.2f} ms")
    added = statistics.median(timings["record_durably (on the disk)"])
    print(f"added to a grant: {added:.1f} ms of the {GRANT_BUDGET_MS:.0f} ms budget ({100 * added / GRANT_BUDGET_MS:.0f} %)")


if __name__ == "__main__":
    main()
