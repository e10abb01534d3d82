"""1:N matching speed: one probe against a gallery of 100,000 embeddings (25,000 people x 4 photos).

Target (issue #2): under 5 ms per match. Prints the median and p90 of 200 matches, and a batched figure.
Embeddings are real-shaped (dlib scale, ~0.4 apart) but synthetic: matching cost does not depend on content.
"""

import argparse
import time

import numpy as np

from facegate.gallery import EMBEDDING_SIZE, Gallery, _Index


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embeddings", type=int, default=100_000)
    parser.add_argument("--per-person", type=int, default=4)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    embeddings = (rng.normal(0, 0.035, (args.embeddings, EMBEDDING_SIZE))).astype(np.float32)
    people = args.embeddings // args.per_person
    names = [f"person {i}" for i in range(people)]
    gallery = Gallery("/nonexistent-benchmark-gallery", engine=object())
    gallery._index = _Index(names, embeddings, (embeddings ** 2).sum(1),
                            np.arange(0, args.embeddings, args.per_person, dtype=np.int64),
                            {n: args.per_person for n in names})
    probes = embeddings[rng.integers(0, args.embeddings, 200)] + rng.normal(0, 0.01, (200, EMBEDDING_SIZE))
    for probe in probes[:5]:
        gallery.match(probe)
    times = []
    for probe in probes:
        start = time.perf_counter()
        gallery.match(probe)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    gallery.match_many(probes[:8])
    batch = (time.perf_counter() - start) / 8
    ms = np.array(times) * 1e3
    print(f"gallery: {args.embeddings:,} embeddings, {people:,} people")
    print(f"single probe: median {np.median(ms):.2f} ms, p90 {np.percentile(ms, 90):.2f} ms  (target < 5 ms)")
    print(f"batch of 8 probes: {batch * 1e3:.2f} ms per probe")
    print("PASS" if np.median(ms) < 5 else "FAIL")


if __name__ == "__main__":
    main()
