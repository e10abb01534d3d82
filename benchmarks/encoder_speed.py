"""Encoder speed: our TensorFlow port of dlib's ResNet-29 against dlib's own `compute_face_descriptor`.

Both networks get the same real aligned chips (LFW photo -> dlib HOG -> dlib 5-point -> dlib.get_face_chip),
are warmed up, and are then timed in one process, single calls interleaved so that background load hits
both alike. Also reports batched calls of ours and the largest component difference between the two.

    PYTHONPATH=. .venv/bin/python benchmarks/encoder_speed.py [--chips 24] [--calls 40] [--json]

Exits 0 with a message when the LFW data is not on this machine.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser, need_lfw  # noqa: E402

TARGET_RATIO = 5.0
BATCH_SIZES = (1, 2, 4, 8)


@dataclass
class Timings:
    chips: int
    prep_s: float
    ours_load_s: float
    dlib_load_s: float
    max_abs: float  # largest component difference, ours against dlib, over the chips
    max_l2: float  # largest Euclidean distance between the two embeddings of a chip
    ours_single: list[float]  # seconds per call
    dlib_single: list[float]
    batches: list[tuple[int, list[float]]]  # (batch size, seconds per call)


def stats_ms(seconds: list[float]) -> tuple[float, float]:
    import numpy as np

    ms = np.asarray(seconds) * 1000.0
    return float(np.median(ms)), float(np.percentile(ms, 90))


def measure(chip_count: int, calls: int, batch_calls: int) -> Timings:
    import dlib
    import numpy as np

    from facegate.vision.encoder import FaceEncoder
    from facegate.vision.weights import DLIB_RESNET, verified_path
    from facegate_dev.datasets import dlib_reference_faces, lfw_sample

    started = time.perf_counter()
    chips = np.stack([face.chip for face in dlib_reference_faces(lfw_sample(chip_count, 37), chip_count)])
    n = len(chips)
    prep_s = time.perf_counter() - started

    t0 = time.perf_counter()
    ours = FaceEncoder()
    ours_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    oracle = dlib.face_recognition_model_v1(str(verified_path(DLIB_RESNET)))
    dlib_load_s = time.perf_counter() - t0

    # Warm-up: traces the tf.function for the single and batched shapes, and touches dlib's code paths.
    for size in BATCH_SIZES:
        ours.infer(chips[:size])
        ours.infer(chips[:size])
    for i in range(3):
        oracle.compute_face_descriptor(chips[i])

    # Exactness on these chips (one batched call of ours against dlib one by one).
    ours_all = ours.infer(chips)
    dlib_all = np.array([np.asarray(oracle.compute_face_descriptor(c)) for c in chips], np.float32)
    max_abs = float(np.abs(ours_all - dlib_all).max())
    max_l2 = float(np.linalg.norm(ours_all - dlib_all, axis=1).max())

    # Single-face latency, interleaved: ours on chip i, then dlib on chip i.
    ours_times, dlib_times = [], []
    for i in range(calls):
        chip = chips[i % n]
        t0 = time.perf_counter()
        ours.infer(chip)
        ours_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        oracle.compute_face_descriptor(chip)
        dlib_times.append(time.perf_counter() - t0)

    batches = []
    for size in BATCH_SIZES:
        times = []
        for i in range(batch_calls):
            start = (i * size) % max(1, n - size + 1)
            batch = chips[start:start + size]
            t0 = time.perf_counter()
            ours.infer(batch)
            times.append(time.perf_counter() - t0)
        batches.append((size, times))
    return Timings(n, prep_s, ours_load_s, dlib_load_s, max_abs, max_l2, ours_times, dlib_times, batches)


def print_report(report: Report, t: Timings, calls: int, batch_calls: int) -> None:
    import dlib
    import tensorflow as tf

    ours_med, ours_p90 = stats_ms(t.ours_single)
    dlib_med, dlib_p90 = stats_ms(t.dlib_single)
    ratio = dlib_med / ours_med  # judged on the medians
    met = ratio >= TARGET_RATIO

    report.say("FaceGate encoder speed: TensorFlow port vs dlib compute_face_descriptor")
    report.say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
               f"load average {os.getloadavg()[0]:.2f} at end; TF {tf.__version__}, dlib {dlib.__version__}",
               cpu_cores=os.cpu_count(), load_average=os.getloadavg()[0], tensorflow=tf.__version__,
               dlib=dlib.__version__)
    report.say(f"chips: {t.chips} real LFW faces (dlib HOG upsample 1 + 5-point + get_face_chip 150/0.25), "
               f"built in {t.prep_s:.1f} s", chips=t.chips, chips_built_s=t.prep_s)
    report.say(f"model load: ours {t.ours_load_s:.2f} s, dlib {t.dlib_load_s:.2f} s",
               ours_load_s=t.ours_load_s, dlib_load_s=t.dlib_load_s)
    report.say()
    report.say(f"single face, {calls} calls each, interleaved", calls=calls)
    report.say(f"  {'encoder':<32}{'median ms':>10}{'p90 ms':>10}")
    for label, median, p90 in (("ours  FaceEncoder.infer(chip)", ours_med, ours_p90),
                               ("dlib  compute_face_descriptor", dlib_med, dlib_p90)):
        report.row("single", f"  {label:<32}{median:>10.2f}{p90:>10.2f}", encoder=label, median_ms=median,
                   p90_ms=p90)
    report.say(f"  speed-up dlib/ours (medians): {ratio:.2f}x   target >= {TARGET_RATIO:.0f}x: "
               f"{'MET' if met else 'NOT MET'}", speedup=ratio, target_speedup=TARGET_RATIO, target_met=met)
    report.say()
    report.say(f"ours, batched ({batch_calls} calls per size)", batch_calls=batch_calls)
    report.say(f"  {'batch':>5}{'median ms/call':>16}{'p90 ms/call':>14}{'median ms/face':>16}")
    for size, times in t.batches:
        median, p90 = stats_ms(times)
        report.row("batched", f"  {size:>5}{median:>16.2f}{p90:>14.2f}{median / size:>16.2f}", batch=size,
                   median_ms_per_call=median, p90_ms_per_call=p90, median_ms_per_face=median / size)
    report.say()
    report.say(f"agreement on the {t.chips} chips: max |ours - dlib| component = {t.max_abs:.2e}, "
               f"max Euclidean distance = {t.max_l2:.2e}", max_abs_difference=t.max_abs, max_distance=t.max_l2)


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--chips", type=int, default=24, help="number of real aligned chips (default 24)")
    parser.add_argument("--calls", type=int, default=40, help="timed single-face calls per encoder (default 40)")
    parser.add_argument("--batch-calls", type=int, default=10, help="timed calls per batch size (default 10)")
    args = parser.parse_args(argv)
    report = Report("encoder_speed", args.json)
    need_lfw(report)
    timings = measure(args.chips, args.calls, args.batch_calls)
    print_report(report, timings, args.calls, args.batch_calls)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
