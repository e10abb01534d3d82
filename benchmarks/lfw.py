"""LFW View 2 verification benchmark: FaceGate's pipeline against face_recognition's, from the JPEGs.

Protocol: the 6,000 pairs of pairs.txt in 10 folds; for each fold the distance threshold is the one that
maximises accuracy on the other 9 folds, and accuracy is measured on the held-out fold. A pair where either
image yielded no face counts as wrong (at every threshold). Reported: mean +- std (ddof=1) of the 10 fold
accuracies, accuracy at the fixed threshold 0.6, images with no face, median ms per image and the mean
chosen threshold.

Systems (each image: the face whose box centre is nearest the image centre, the same rule for both):
  facegate  FaceEngine: YuNet detector, dlib 5-point landmarks, two chips (dlib's 150 px, SFace's 112 px),
            our TensorFlow port of dlib's ResNet (averaged with its mirror image's) and SFace in OpenCV's
            DNN, fused (facegate/vision/engine.py). The same pass gives each embedder alone as a row;
            `--single` adds dlib's plain chip without the mirror.
  peer      the face_recognition package (1.3.0): its image loader, HOG detector with 1 upsample,
            5-point landmarks, dlib's descriptor with num_jitters=0. If the package is not importable the
            same steps run on dlib directly (and the row says so).

Timing per image = detect + landmarks + align + encode (image decoding excluded), single process.

    PYTHONPATH=. .venv/bin/python benchmarks/lfw.py [--limit N] [--systems facegate,peer] [--single] [--fusion-sweep]
                                                    [--cache DIR] [--json]
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser, need_lfw, peer_available  # noqa: E402

TARGET_ACCURACY = 0.995  # issue 13: the fused engine, from the JPEG
# In the cache files' names: bump when the engine's embeddings change, so an old cache is never mixed in.
CACHE_VERSION = "v3-fused"
FIXED_THRESHOLD = 0.6
PROGRESS_EVERY = 500


@dataclass
class RowResult:
    """Per unique image: embedding (NaN row when no face was found) and pipeline time in ms."""

    label: str
    embeddings: np.ndarray
    ms: np.ndarray


def nearest_centre(boxes_centres, image_shape) -> int:
    h, w = image_shape[:2]
    return int(np.argmin([(cx - w / 2) ** 2 + (cy - h / 2) ** 2 for cx, cy in boxes_centres]))


class Progress:
    def __init__(self, name: str, total: int):
        self.name, self.total, self.done, self.start = name, total, 0, time.perf_counter()

    def step(self):
        self.done += 1
        if self.done % PROGRESS_EVERY == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.done * (self.total - self.done)
            print(f"[{self.name}] {self.done}/{self.total} images, {elapsed:.0f} s elapsed, ~{left:.0f} s left",
                  file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- systems

FACEGATE_ROWS = {"facegate": "facegate: dlib + SFace fused (app default)",
                 "dlib": "dlib ResNet alone, +mirror (app before)",
                 "sface": "SFace alone"}


class FacegateSystem:
    """The app's engine. One pass gives every row: the fused embedding the app uses and each embedder alone
    (as in the app: dlib's averaged with its mirror image's); `single` adds dlib's plain chip (no mirror)."""

    key = "facegate"

    def __init__(self, single: bool = False):
        from facegate.vision.engine import FaceEngine

        self.single = single
        self.engine = FaceEngine(detector="yunet")
        self.rows = dict(FACEGATE_ROWS)
        if single:
            self.rows["dlib_single"] = "dlib ResNet alone, no mirror (one chip)"

    def warm_up(self, image):
        faces = self.engine.detect(image)[:1]
        for _ in range(2):
            if faces:
                self.engine.embed(image, faces)

    @staticmethod
    def load(path):
        from facegate.imageio import load_image

        return load_image(path)

    def process(self, image) -> dict:
        """row key -> (embedding or None, ms). Times: detect + landmarks + both chips + both encoders."""
        from facegate.vision.engine import split

        t0 = time.perf_counter()
        faces = self.engine.detect(image)
        if not faces:
            elapsed = (time.perf_counter() - t0) * 1000
            return {row: (None, elapsed) for row in self.rows}
        face = faces[nearest_centre([f.centre for f in faces], image.shape)]
        fused = self.engine.embed(image, [face])[0]
        ms = (time.perf_counter() - t0) * 1000
        dlib, sface = split(fused)
        out = {"facegate": (fused, ms), "dlib": (dlib, ms), "sface": (sface, ms)}
        if self.single:
            out["dlib_single"] = (self.engine.encoder.infer(self.engine.chips(image, [face]))[0], ms)
        return out


class PeerSystem:
    key = "peer"

    def __init__(self):
        if peer_available():
            from importlib.metadata import version

            import face_recognition

            self.fr = face_recognition
            label = f"face_recognition {version('face_recognition')} (peer)"
        else:
            import dlib

            from facegate.vision.weights import DLIB_LANDMARKS_5, DLIB_RESNET, verified_path

            self.fr = None
            self.detector = dlib.get_frontal_face_detector()
            self.predictor = dlib.shape_predictor(str(verified_path(DLIB_LANDMARKS_5)))
            self.model = dlib.face_recognition_model_v1(str(verified_path(DLIB_RESNET)))
            label = "peer: dlib direct (no face_recognition)"
        self.rows = {"peer": label}

    def warm_up(self, image):
        self.process(image)

    def load(self, path):
        if self.fr is not None:
            return self.fr.load_image_file(str(path))
        from facegate.imageio import load_image

        return load_image(path)

    def process(self, image) -> dict:
        t0 = time.perf_counter()
        if self.fr is not None:
            locations = self.fr.face_locations(image, number_of_times_to_upsample=1, model="hog")
            if not locations:
                return {"peer": (None, (time.perf_counter() - t0) * 1000)}
            # css order: (top, right, bottom, left)
            centres = [((left + r) / 2, (t + b) / 2) for t, r, b, left in locations]
            chosen = locations[nearest_centre(centres, image.shape)]
            encodings = self.fr.face_encodings(image, known_face_locations=[chosen], num_jitters=0, model="small")
            embedding = np.asarray(encodings[0], np.float32)
        else:
            rects = self.detector(image, 1)
            if not rects:
                return {"peer": (None, (time.perf_counter() - t0) * 1000)}
            centres = [((r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2) for r in rects]
            rect = rects[nearest_centre(centres, image.shape)]
            shape = self.predictor(image, rect)
            embedding = np.asarray(self.model.compute_face_descriptor(image, shape, 0), np.float32)
        return {"peer": (embedding, (time.perf_counter() - t0) * 1000)}


# ----------------------------------------------------------------------------------------------- caching

def cache_file(cache_dir: Path, row: str) -> Path:
    return cache_dir / f"lfw_{row}_{CACHE_VERSION}.npz"


def load_cache(cache_dir: Path | None, row: str) -> dict:
    """name -> (embedding or None, ms)."""
    if cache_dir is None or not cache_file(cache_dir, row).is_file():
        return {}
    data = np.load(cache_file(cache_dir, row))
    out = {}
    for name, emb, ms in zip(data["names"], data["embeddings"], data["ms"], strict=False):
        out[str(name)] = (None if np.isnan(emb).any() else emb, float(ms))
    return out


def embedding_size(entries: dict) -> int:
    return next((len(e) for e, _ in entries.values() if e is not None), 128)


def save_cache(cache_dir: Path, row: str, entries: dict):
    cache_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(entries)
    emb = np.full((len(names), embedding_size(entries)), np.nan, np.float32)
    ms = np.zeros(len(names))
    for i, name in enumerate(names):
        e, t = entries[name]
        if e is not None:
            emb[i] = e
        ms[i] = t
    tmp = cache_file(cache_dir, row).with_suffix(".tmp.npz")
    np.savez(tmp, names=np.array(names), embeddings=emb, ms=ms)
    os.replace(tmp, cache_file(cache_dir, row))


def run_system(system, names: list[str], images_root: Path, cache_dir: Path | None) -> list[RowResult]:
    cached = {row: load_cache(cache_dir, row) for row in system.rows}
    todo = [n for n in names if any(n not in cached[row] for row in system.rows)]
    if cache_dir is not None:
        print(f"[{system.key}] cache: {len(names) - len(todo)} of {len(names)} images already encoded",
              file=sys.stderr, flush=True)
    if todo:
        system.warm_up(system.load(images_root / todo[0]))
        progress = Progress(system.key, len(todo))
        for name in todo:
            image = system.load(images_root / name)
            for row, value in system.process(image).items():
                cached[row][name] = value
            progress.step()
        if cache_dir is not None:
            for row in system.rows:
                save_cache(cache_dir, row, cached[row])
    results = []
    for row, label in system.rows.items():
        emb = np.full((len(names), embedding_size(cached[row])), np.nan, np.float32)
        ms = np.zeros(len(names))
        for i, name in enumerate(names):
            e, t = cached[row][name]
            if e is not None:
                emb[i] = e
            ms[i] = t
        results.append(RowResult(label, emb, ms))
    return results


# ----------------------------------------------------------------------------------------------- fusion sweep

SWEEP_RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)
SWEEP_FMRS = (1e-3, 1e-4, 1e-5)


def upper_triangle(pair_values, count: int, block: int = 256) -> np.ndarray:
    """`pair_values(rows, all)` (a block of rows against every row) for each pair i < j, in the order of
    np.triu_indices, computed a block of rows at a time (no 30 M-long index arrays)."""
    parts = []
    for start in range(0, count, block):
        rows = np.arange(start, min(start + block, count))
        parts.append(pair_values(rows)[np.arange(count)[None, :] > rows[:, None]])
    return np.concatenate(parts)


def all_pair_distances(embeddings: np.ndarray) -> np.ndarray:
    """Distances between every two rows, i < j (float32: 30 M pairs fit in ~120 MB)."""
    from facegate.matching import per_person_distances

    e = embeddings.astype(np.float64)
    every_row = np.arange(len(e))  # each row its own "person"
    return upper_triangle(lambda rows: per_person_distances(e[rows], e, every_row).astype(np.float32), len(e))


def fusion_sweep(report: Report, dlib: np.ndarray, sface: np.ndarray, names: list[str]) -> None:
    """How facegate/vision/engine.py's fusion weights were chosen: every two images of LFW (same person or
    not), the share of same-person pairs accepted at very low false-match rates for each SFace/dlib weight
    ratio, and the scale that puts the fused 1 % false-match point where dlib's own is."""
    found = np.isfinite(dlib).all(1) & np.isfinite(sface).all(1)
    _, person = np.unique([n.split("/")[0] for n in names], return_inverse=True)
    person = person[found]
    same = upper_triangle(lambda rows: person[rows][:, None] == person[None, :], len(person))
    rates = (0.01, *SWEEP_FMRS)

    def points(distances):
        """Distance at each false-match rate, and the same-person pairs accepted under it."""
        impostor = distances[~same]
        ranks = [int(fmr * len(impostor)) for fmr in rates]
        cut = dict(zip(rates, np.partition(impostor, ranks)[ranks], strict=False))
        return cut, {fmr: float((distances[same] < cut[fmr]).mean()) for fmr in SWEEP_FMRS}

    report.say()
    report.say(f"Fusion sweep: {int(found.sum()):,} images, {int(same.sum()):,} same-person and "
               f"{int((~same).sum()):,} different-person pairs; same-person pairs accepted (%) at a false-match rate",
               sweep_images=int(found.sum()), sweep_same_pairs=int(same.sum()),
               sweep_different_pairs=int((~same).sum()))
    report.say(f"{'embedding':<28}" + "".join(f"{'FMR ' + f'{f:g}':>12}" for f in SWEEP_FMRS) + f"{'1 % point':>12}")
    dlib_cut = None
    for label, emb in [("dlib alone", dlib[found]), ("SFace alone", sface[found])] + [
            (f"fused, SFace x {r}", np.hstack([dlib[found], r * sface[found]])) for r in SWEEP_RATIOS]:
        cut, accepted = points(all_pair_distances(emb))
        dlib_cut = cut[0.01] if dlib_cut is None else dlib_cut  # the first row is dlib alone
        fused = label.startswith("fused")
        report.row("fusion_sweep", f"{label:<28}" + "".join(f"{100 * accepted[f]:>12.2f}" for f in SWEEP_FMRS)
                   + f"{cut[0.01]:>12.4f}"
                   + (f"   weight for dlib's scale: {dlib_cut / cut[0.01]:.4f}" if fused else ""),
                   embedding=label, accepted_at_fmr={f"{f:g}": accepted[f] for f in SWEEP_FMRS},
                   distance_at_fmr_1_percent=cut[0.01], weight_for_dlib_scale=dlib_cut / cut[0.01] if fused else None)


# ----------------------------------------------------------------------------------------------- protocol

def select_pairs(pairs, limit: int | None):
    """All pairs, or the first `limit` same-person and first `limit` different-person pairs of each fold."""
    if limit is None:
        return list(pairs)
    taken: dict = {}
    chosen = []
    for pair in pairs:
        key = (pair.fold, pair.same)
        if taken.get(key, 0) < limit:
            taken[key] = taken.get(key, 0) + 1
            chosen.append(pair)
    return chosen


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """Threshold (same person iff distance <= t) maximising accuracy over pairs with a finite distance.
    Candidates are midpoints between consecutive distinct distances; ties take the middle best candidate."""
    ok = np.isfinite(distances)
    d, s = distances[ok], same[ok]
    if d.size == 0:  # no pair with both faces found: every pair is wrong whatever the threshold
        return FIXED_THRESHOLD
    values = np.unique(d)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    same_sorted, diff_sorted = np.sort(d[s]), np.sort(d[~s])
    correct = (np.searchsorted(same_sorted, candidates, side="right")
               + len(diff_sorted) - np.searchsorted(diff_sorted, candidates, side="right"))
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[len(best) // 2]])


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Missing faces (non-finite distance) are always wrong."""
    with np.errstate(invalid="ignore"):
        predicted_same = distances <= threshold
        correct = np.isfinite(distances) & (predicted_same == same)
    return float(correct.mean())


def evaluate(result: RowResult, index: dict, pairs) -> dict:
    first = np.array([index[p.first] for p in pairs])
    second = np.array([index[p.second] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    distances = np.linalg.norm(result.embeddings[first] - result.embeddings[second], axis=1)
    distances[~np.isfinite(distances)] = np.inf
    fold_acc, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        t = best_threshold(distances[train], same[train])
        thresholds.append(t)
        fold_acc.append(accuracy(distances[test], same[test], t))
    found = np.isfinite(result.embeddings).all(axis=1)
    return {
        "mean": float(np.mean(fold_acc)),
        "std": float(np.std(fold_acc, ddof=1)) if len(fold_acc) > 1 else 0.0,
        "fixed": accuracy(distances, same, FIXED_THRESHOLD),
        "no_face": int((~found).sum()),
        "pairs_missing": int((~np.isfinite(distances)).sum()),
        "ms": float(np.median(result.ms)),
        "threshold": float(np.mean(thresholds)),
        "folds": fold_acc,
    }


def protocol_images(root: Path, limit: int | None):
    """The pairs (all, or --limit's), the unique images they name (relative to images/), each image's row."""
    from facegate_dev.datasets import lfw_pairs

    images_root = root / "images"
    pairs = select_pairs(lfw_pairs(root), limit)
    names = sorted({str(p.first.relative_to(images_root)) for p in pairs}
                   | {str(p.second.relative_to(images_root)) for p in pairs})
    index = {images_root / n: i for i, n in enumerate(names)}
    return pairs, names, index


def print_accuracy(report: Report, results: list[RowResult], index: dict, pairs, names: list[str],
                   limit: int | None) -> None:
    scope = "all pairs" if limit is None else f"--limit {limit}: first {limit} same + " \
                                               f"{limit} different pairs per fold"
    report.say(f"LFW View 2, 10 folds, {len(pairs)} pairs ({scope}), {len(names)} unique images", pairs=len(pairs),
               limit=limit, images=len(names))
    report.say("accuracy: threshold chosen on the 9 other folds, applied to the held-out fold; mean +- std (ddof=1) "
               "over folds; a pair with a missing face counts as wrong")
    report.say(f"{'system':<42}{'accuracy %':>16}  {'target':<14}{'@0.6 %':>8}{'no face':>9}"
               f"{'ms/img':>8}{'mean thr':>10}", target_accuracy=TARGET_ACCURACY, fixed_threshold=FIXED_THRESHOLD)
    for result in results:
        r = evaluate(result, index, pairs)
        met = r["mean"] >= TARGET_ACCURACY
        verdict = f">={100 * TARGET_ACCURACY:.1f} {'MET' if met else 'NOT MET'}"
        acc = f"{100 * r['mean']:.2f} +- {100 * r['std']:.2f}"
        report.row("systems",
                   f"{result.label:<42}{acc:>16}  {verdict:<14}{100 * r['fixed']:>8.2f}{r['no_face']:>9d}"
                   f"{r['ms']:>8.1f}{r['threshold']:>10.3f}\n"
                   f"{'':<42}folds: " + " ".join(f"{100 * a:.2f}" for a in r["folds"])
                   + f"; pairs lost to a missing face: {r['pairs_missing']}",
                   system=result.label, accuracy=r["mean"], accuracy_std=r["std"], target_met=met,
                   accuracy_at_fixed_threshold=r["fixed"], no_face=r["no_face"], ms_per_image=r["ms"],
                   mean_threshold=r["threshold"], fold_accuracies=r["folds"], pairs_missing=r["pairs_missing"])
    report.say("ms/img = median per image of detect + landmarks + align + encode (decoding excluded), one process; "
               "facegate's rows share one pass (dlib: chip and mirror in one batch of 2), so they all show its time")


def main(argv=None) -> int:
    parser = bench_parser("LFW 10-fold verification: facegate vs face_recognition")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N same and first N different pairs of each fold (quick run)")
    parser.add_argument("--systems", default="facegate,peer", help="comma list of: facegate, peer")
    parser.add_argument("--single", action="store_true", help="extra row: dlib's plain chip without its mirror")
    parser.add_argument("--fusion-sweep", action="store_true",
                        help="also: the weight sweep behind the fusion (every two images; ~20 s)")
    parser.add_argument("--cache", type=Path, default=None, help="folder for per-system embedding .npz files")
    args = parser.parse_args(argv)
    report = Report("lfw", args.json)
    root = need_lfw(report)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(wanted) - {"facegate", "peer"}
    if unknown or not wanted:
        parser.error(f"--systems takes facegate and/or peer, got {args.systems!r}")

    pairs, names, index = protocol_images(root, args.limit)
    started = time.perf_counter()
    results = []
    for key in wanted:
        system = FacegateSystem(args.single) if key == "facegate" else PeerSystem()
        results.extend(run_system(system, names, root / "images", args.cache))
    total_s = time.perf_counter() - started

    print_accuracy(report, results, index, pairs, names, args.limit)
    if args.fusion_sweep and "facegate" in wanted:
        rows = {result.label: result.embeddings for result in results}
        fusion_sweep(report, rows[FACEGATE_ROWS["dlib"]], rows[FACEGATE_ROWS["sface"]], names)
    if args.cache is not None:
        report.say(f"embeddings and times cached in {args.cache} (times of cached images are from the run that "
                   "made them)", cache=args.cache)
    report.say(f"cpu: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at end; wall time {total_s:.0f} s",
               cpu_cores=os.cpu_count(), load_average=os.getloadavg()[0], wall_s=total_s)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
