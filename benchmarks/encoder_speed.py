"""Encoder speed: our TensorFlow port of dlib's ResNet-29 against dlib's own `compute_face_descriptor`.

Both networks get the same real aligned chips (LFW photo -> dlib HOG -> dlib 5-point -> dlib.get_face_chip),
are warmed up, and are then timed in one process, single calls interleaved so that background load hits
both alike. Also reports batched calls of ours and the largest component difference between the two.

    PYTHONPATH=. .venv/bin/python benchmarks/encoder_speed.py [--chips 24] [--calls 40]

Exits 0 with a message when the LFW data is not on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the table

TARGET_RATIO = 5.0
BATCH_SIZES = (1, 2, 4, 8)


def stats_ms(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000.0
    return float(np.median(ms)), float(np.percentile(ms, 90))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chips", type=int, default=24, help="number of real aligned chips (default 24)")
    parser.add_argument("--calls", type=int, default=40, help="timed single-face calls per encoder (default 40)")
    parser.add_argument("--batch-calls", type=int, default=10, help="timed calls per batch size (default 10)")
    args = parser.parse_args(argv)

    from facegate_dev.datasets import lfw_dir

    if lfw_dir() is None:
        print("encoder_speed: SKIPPED - LFW data not found (set FACEGATE_DATA or place it in ../shared/data/lfw)")
        return 0

    import dlib

    from facegate.vision.encoder import FaceEncoder
    from facegate.vision.weights import DLIB_RESNET, verified_path

    started = time.perf_counter()
    from facegate_dev.datasets import dlib_reference_faces, lfw_sample

    chips = np.stack([face.chip for face in dlib_reference_faces(lfw_sample(args.chips, 37), args.chips)])
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
    for i in range(args.calls):
        chip = chips[i % n]
        t0 = time.perf_counter()
        ours.infer(chip)
        ours_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        oracle.compute_face_descriptor(chip)
        dlib_times.append(time.perf_counter() - t0)

    batch_rows = []
    for size in BATCH_SIZES:
        times = []
        for i in range(args.batch_calls):
            start = (i * size) % max(1, n - size + 1)
            batch = chips[start:start + size]
            t0 = time.perf_counter()
            ours.infer(batch)
            times.append(time.perf_counter() - t0)
        med, p90 = stats_ms(times)
        batch_rows.append((size, med, p90, med / size))

    ours_med, ours_p90 = stats_ms(ours_times)
    dlib_med, dlib_p90 = stats_ms(dlib_times)
    ratio = dlib_med / ours_med

    import tensorflow as tf

    print("FaceGate encoder speed: TensorFlow port vs dlib compute_face_descriptor")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.2f} at end; TF {tf.__version__}, dlib {dlib.__version__}")
    print(f"chips: {n} real LFW faces (dlib HOG upsample 1 + 5-point + get_face_chip 150/0.25), "
          f"built in {prep_s:.1f} s")
    print(f"model load: ours {ours_load_s:.2f} s, dlib {dlib_load_s:.2f} s")
    print()
    print(f"single face, {args.calls} calls each, interleaved")
    print(f"  {'encoder':<32}{'median ms':>10}{'p90 ms':>10}")
    print(f"  {'ours  FaceEncoder.infer(chip)':<32}{ours_med:>10.2f}{ours_p90:>10.2f}")
    print(f"  {'dlib  compute_face_descriptor':<32}{dlib_med:>10.2f}{dlib_p90:>10.2f}")
    verdict = "MET" if ratio >= TARGET_RATIO else "NOT MET"
    print(f"  speed-up dlib/ours (medians): {ratio:.2f}x   target >= {TARGET_RATIO:.0f}x: {verdict}")
    print()
    print(f"ours, batched ({args.batch_calls} calls per size)")
    print(f"  {'batch':>5}{'median ms/call':>16}{'p90 ms/call':>14}{'median ms/face':>16}")
    for size, med, p90, per_face in batch_rows:
        print(f"  {size:>5}{med:>16.2f}{p90:>14.2f}{per_face:>16.2f}")
    print()
    print(f"agreement on the {n} chips: max |ours - dlib| component = {max_abs:.2e}, "
          f"max Euclidean distance = {max_l2:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
