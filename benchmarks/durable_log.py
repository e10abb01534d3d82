"""What committing a grant before announcing it costs (issue 15, item 8): the wait on the pipeline's thread.

A granted or denied decision is written to the access log (its row, and its face snapshot, fsync'd) before it is
printed, spoken or shown. This times `AccessLog.record_durably` on a real log folder, with a face-sized snapshot,
against `record` (queue and return), and compares with the grant budget (300 ms from a face being findable).

    PYTHONPATH=. .venv/bin/python benchmarks/durable_log.py [--folder DIR] [--events N] [--json]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser  # noqa: E402

GRANT_BUDGET_MS = 300.0
QUEUED = "record (queued, the app before)"
DURABLE = "record_durably (on the disk)"


def time_records(folder: Path | None, events: int) -> dict[str, list[float]]:
    """Milliseconds each call kept the caller waiting, per way of recording, the two interleaved."""
    import numpy as np

    from facegate.access_log import AccessEvent, AccessLog

    rng = np.random.default_rng(0)
    snapshot = rng.integers(0, 255, (180, 180, 3), dtype=np.uint8)  # a face crop as the pipeline makes it
    with tempfile.TemporaryDirectory(dir=folder) as log_folder, AccessLog(Path(log_folder) / "log") as access_log:
        timings: dict[str, list[float]] = {QUEUED: [], DURABLE: []}
        for i in range(events):
            for label, call in ((QUEUED, access_log.record), (DURABLE, access_log.record_durably)):
                event = AccessEvent(time.time(), i, "Ada", 0.3, 0.2, "granted", "bench", {}, snapshot)
                started = time.perf_counter()
                assert call(event)
                timings[label].append(1000 * (time.perf_counter() - started))
                access_log.flush()
    return timings


def report_timings(report: Report, events: int, timings: dict[str, list[float]]) -> None:
    report.say(f"access log: {events} granted decisions with a 180x180 snapshot each, wait on the caller's thread",
               events=events)
    for label, values in timings.items():
        values = sorted(values)
        median, p95 = statistics.median(values), values[int(0.95 * len(values))]
        report.row("calls", f"  {label:<34} median {median:7.2f} ms   p95 {p95:7.2f} ms",
                   call=label, median_ms=median, p95_ms=p95)
    added = statistics.median(timings[DURABLE])
    report.say(f"added to a grant: {added:.1f} ms of the {GRANT_BUDGET_MS:.0f} ms budget "
               f"({100 * added / GRANT_BUDGET_MS:.0f} %)", added_ms=added, budget_ms=GRANT_BUDGET_MS)


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--folder", type=Path, help="log folder (default: a temp folder on the same disk as /tmp)")
    parser.add_argument("--events", type=int, default=60)
    args = parser.parse_args(argv)
    report = Report("durable_log", args.json)
    timings = time_records(args.folder, args.events)
    report_timings(report, args.events, timings)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
