"""1:N matching speed: one probe against a gallery of 100,000 embeddings (25,000 people x 4 photos).

Target (issue #2): under 5 ms per match. Prints the median and p90 of 200 matches, and a batched figure.
Embeddings are real-shaped (dlib scale, ~0.4 apart) but synthetic: matching cost does not depend on content.

    PYTHONPATH=. .venv/bin/python benchmarks/gallery_match.py [--embeddings N] [--per-person K] [--json]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser  # noqa: E402

TARGET_MS = 5.0
PROBES = 200
BATCH = 8


def synthetic_gallery(embeddings: int, per_person: int, rng):
    """A Gallery whose index holds `embeddings` synthetic embeddings, `per_person` each (no photos on disk)."""
    import numpy as np

    from facegate.gallery import EMBEDDING_SIZE, Gallery, _Index

    rows = (rng.normal(0, 0.035, (embeddings, EMBEDDING_SIZE))).astype(np.float32)
    names = [f"person {i}" for i in range(embeddings // per_person)]
    gallery = Gallery("/nonexistent-benchmark-gallery", engine=object())
    gallery._index = _Index(names, rows, (rows ** 2).sum(1), np.arange(0, embeddings, per_person, dtype=np.int64),
                            {n: per_person for n in names})
    return gallery, rows


def time_matches(gallery, probes) -> tuple[list[float], float]:
    """Seconds of each single match (after a warm-up), and per probe of one batched call."""
    for probe in probes[:5]:
        gallery.match(probe)
    times = []
    for probe in probes:
        start = time.perf_counter()
        gallery.match(probe)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    gallery.match_many(probes[:BATCH])
    return times, (time.perf_counter() - start) / BATCH


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--embeddings", type=int, default=100_000)
    parser.add_argument("--per-person", type=int, default=4)
    args = parser.parse_args(argv)
    report = Report("gallery_match", args.json)
    import numpy as np

    from facegate.gallery import EMBEDDING_SIZE

    rng = np.random.default_rng(0)
    gallery, rows = synthetic_gallery(args.embeddings, args.per_person, rng)
    probes = rows[rng.integers(0, args.embeddings, PROBES)] + rng.normal(0, 0.01, (PROBES, EMBEDDING_SIZE))
    times, batch = time_matches(gallery, probes)

    ms = np.array(times) * 1e3
    median, p90 = float(np.median(ms)), float(np.percentile(ms, 90))
    people = args.embeddings // args.per_person
    report.say(f"gallery: {args.embeddings:,} embeddings, {people:,} people", embeddings=args.embeddings,
               people=people)
    report.say(f"single probe: median {median:.2f} ms, p90 {p90:.2f} ms  (target < {TARGET_MS:.0f} ms)",
               median_ms=median, p90_ms=p90, target_ms=TARGET_MS)
    report.say(f"batch of {BATCH} probes: {batch * 1e3:.2f} ms per probe", batch_ms_per_probe=batch * 1e3)
    report.say("PASS" if median < TARGET_MS else "FAIL", passed=bool(median < TARGET_MS))
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
