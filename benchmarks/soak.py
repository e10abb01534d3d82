"""Soak: the real kiosk path for 100,000 frames, watching for anything that grows.

The kiosk session as build_session wires it: Pipeline + Gallery + AccessLog (SQLite and JPEG snapshots on disk),
liveness off, no speech, with `short_hamilton_clip.mp4` looped by the CaptureThread itself (loop=True, lockstep:
every frame, as fast as this machine goes). With --tile 2 (the default) each frame is the clip stacked over the same
clip half a loop later (640x720), so two or three faces are in view at once and tracks start and end on both halves.
The gallery is Lin-Manuel Miranda's photo plus people_small/train; every loop he is granted again on a new track,
the audience is called Unknown, and each decision is a row with a snapshot.

Printed at the start, every --every frames and at the end: frames, fps, RSS (VmRSS), Python threads and OS
threads, open file descriptors, access-log rows and snapshot files, the log's median record->commit latency,
tracks alive and track ids issued, per-track state held by the policy and the pipeline, and the policy's visits.
The verdict compares the end with the first checkpoint (the warm-up; TensorFlow's pools and caches are filled
by then): RSS growth < --max-rss-growth-mb, no more threads or descriptors, log latency not growing, per-track
state only for tracks still alive. Exits 1 when any check fails.

    .venv/bin/python benchmarks/soak.py                 # 100,000 frames (about 30-60 min on 2 cores)
    .venv/bin/python benchmarks/soak.py --quick         # 5,000 frames, checkpoints every 1,000
    .venv/bin/python benchmarks/soak.py --frames 20000 --tile 1
    .venv/bin/python benchmarks/soak.py --json          # one JSON object at the end, for machines

Exits 0 with a message when the clips are not on this machine.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

import numpy as np  # noqa: E402
from process_stats import count_fds, status_value  # noqa: E402

from facegate.capture import SourceKind, SourceSpec, _VideoReader  # noqa: E402
from facegate_dev.bench import Report, bench_parser, need_clips  # noqa: E402

CLIP = "short_hamilton_clip.mp4"
PERSON = "Lin-Manuel Miranda"


# ------------------------------------------------------------------------------------------ source
class StackedClipReader:
    """The clip over itself `offset` frames later: one 640x(2*360) frame per clip frame; ends with the top clip,
    so the CaptureThread's own loop (release, reopen) runs once per pass. Each pass opens two VideoCaptures."""

    def __init__(self, spec: SourceSpec, tiles: int):
        self.top = _VideoReader(spec)
        self.fps = self.top.fps
        self.tiles = tiles
        self.spec = spec
        self.others: list[_VideoReader] = []
        count = int(self.top.capture.get(7)) or 275  # cv2.CAP_PROP_FRAME_COUNT
        for tile in range(1, tiles):
            reader = _VideoReader(spec)
            for _ in range(tile * count // tiles):
                reader.capture.grab()
            self.others.append(reader)

    @property
    def index(self) -> int:
        return self.top.index

    def read(self) -> np.ndarray | None:
        image = self.top.read()
        if image is None:
            return None
        parts = [image]
        for i, reader in enumerate(self.others):
            other = reader.read()
            if other is None:  # that copy reached the end first: start it again
                reader.release()
                reader = self.others[i] = _VideoReader(self.spec)
                other = reader.read()
            parts.append(other if other is not None and other.shape == image.shape else np.zeros_like(image))
        return parts[0] if len(parts) == 1 else np.ascontiguousarray(np.vstack(parts))

    def release(self) -> None:
        self.top.release()
        for reader in self.others:
            reader.release()


# ------------------------------------------------------------------------------------------ measuring
@dataclass
class Sample:
    frames: int
    seconds: float
    fps: float  # since the previous sample
    rss_mb: float
    py_threads: int
    os_threads: int
    fds: int
    rows: int
    snapshots: int
    latency_ms: float | None
    log_dropped: int
    tracks_alive: int
    tracks_issued: int
    policy_tracks: int
    liveness_checks: int
    visits: int
    dropped: int
    encoded: int

    def line(self) -> str:
        latency = "--" if self.latency_ms is None else f"{self.latency_ms:.1f}"
        return (f"{self.frames:>7d} {self.seconds:>7.0f} {self.fps:>6.1f} {self.rss_mb:>8.1f} "
                f"{self.py_threads:>4d} {self.os_threads:>5d} {self.fds:>4d} {self.rows:>6d} {self.snapshots:>6d} "
                f"{latency:>7s} {self.log_dropped:>4d} {self.tracks_alive:>5d} {self.tracks_issued:>6d} "
                f"{self.policy_tracks:>6d} {self.liveness_checks:>5d} {self.visits:>6d} {self.encoded:>7d}")


HEADER = ("frames       s    fps   RSS MB  pyT  osT   fds   rows  snaps  lat ms drop alive issued "
          "policy  live visits encoded")


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
    finally:
        conn.close()


def sample(session, access_log, started: float, previous: Sample | None) -> Sample:
    # descriptors and threads first: counting rows opens (and closes) a connection of our own
    fds = count_fds()
    py_threads = threading.active_count()
    os_threads = status_value("Threads")
    rss_mb = status_value("VmRSS") / 1024.0
    pipeline = session.pipeline
    frames = session.stats.frames
    now = time.monotonic()
    fps = 0.0 if previous is None else (frames - previous.frames) / max(now - started - previous.seconds, 1e-9)
    snapshots = sum(1 for _ in (access_log.folder / "snapshots").rglob("*.jpg"))
    return Sample(frames, now - started, fps, rss_mb, py_threads, os_threads, fds, count_rows(access_log.db_path),
                  snapshots, access_log.median_latency_ms(), access_log.dropped, len(pipeline.tracker.tracks),
                  pipeline.tracker._next_id - 1, len(pipeline.policy._tracks), len(pipeline.checks),
                  len(pipeline.policy._visits), session.stats.dropped, session.stats.encoded)


def verdict(warm: Sample, end: Sample, session, enrolled: int, max_rss_growth_mb: float) -> list[tuple[bool, str]]:
    pipeline = session.pipeline
    alive = set(pipeline.tracker.tracks)
    checks = [
        (end.rss_mb - warm.rss_mb < max_rss_growth_mb,
         f"RSS growth after warm-up {end.rss_mb - warm.rss_mb:+.1f} MB (< {max_rss_growth_mb:.0f} MB)"),
        (end.py_threads <= warm.py_threads,
         f"Python threads {warm.py_threads} -> {end.py_threads} (no growth)"),
        (end.os_threads <= warm.os_threads,
         f"OS threads {warm.os_threads} -> {end.os_threads} (no growth)"),
        (end.fds <= warm.fds, f"open descriptors {warm.fds} -> {end.fds} (no growth)"),
        (warm.latency_ms is None or end.latency_ms is None
         or end.latency_ms <= max(2.0 * warm.latency_ms, warm.latency_ms + 50.0),
         f"log median latency {warm.latency_ms} -> {end.latency_ms} ms (not growing: <= max(2x, +50 ms))"),
        (set(pipeline.policy._tracks) <= alive and set(pipeline.checks) <= alive,
         f"per-track state only for live tracks: policy {len(pipeline.policy._tracks)}, liveness "
         f"{len(pipeline.checks)}, alive {len(alive)}, of {end.tracks_issued} tracks issued"),
        (end.visits <= enrolled, f"policy visits {end.visits} <= enrolled people {enrolled}"),
        (end.log_dropped == 0, f"access-log events dropped: {end.log_dropped}"),
        (end.rows > warm.rows, f"the log kept being written: {warm.rows} -> {end.rows} rows"),
        (session.error is None, f"pipeline error: {session.error!r}"),
    ]
    return checks


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--frames", type=int, default=100_000, help="frames to process (default 100000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5000 frames, checkpoints every 1000")
    parser.add_argument("--every", type=int, help="checkpoint interval in frames (default 10000; --quick 1000)")
    parser.add_argument("--tile", type=int, default=2, choices=[1, 2, 3], help="copies of the clip stacked per frame")
    parser.add_argument("--max-rss-growth-mb", type=float, default=50.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary gallery and log folder")
    args = parser.parse_args(argv)
    frames_wanted = 5000 if args.quick else args.frames
    every = args.every or (1000 if args.quick else 10_000)
    report = Report("soak", args.json)
    clips = need_clips(report)

    work = Path(tempfile.mkdtemp(prefix="facegate-soak-"))
    try:
        session, access_log, enrolled = build(report, clips, work, args.tile, frames_wanted)
        samples = run(report, session, access_log, frames_wanted, every)
        judge(report, samples, session, enrolled, frames_wanted, args.max_rss_growth_mb)
        report.say("SOAK PASSED" if report.passed else "SOAK FAILED")
    finally:
        if args.keep:
            report.say(f"kept {work}", kept=work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report.finish()
    return 0 if report.passed else 1


def build(report: Report, clips: Path, work: Path, tile: int, frames_wanted: int):
    """The kiosk session as the app builds it, on the stacked clip: (session, its access log, people enrolled)."""
    from facegate.access_log import AccessLog
    from facegate.config import Settings
    from facegate.gallery import Gallery
    from facegate.kiosk import build_session
    from facegate.liveness import LivenessSettings
    from facegate.vision.engine import FaceEngine

    gallery_dir = work / "gallery"
    shutil.copytree(clips / "people_small" / "train", gallery_dir)
    for path in [gallery_dir, *gallery_dir.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    shutil.copy(clips / "lin-manuel-miranda.png", gallery_dir / f"{PERSON}.png")
    engine = FaceEngine()
    gallery = Gallery(gallery_dir, engine)
    gallery.refresh()
    _ = engine.encoder  # load TensorFlow before the first frame
    access_log = AccessLog(work / "log")
    spec = SourceSpec(SourceKind.FILE, str(clips / CLIP))
    # Built as the app builds it; only the reader stacks the clip (same capture class, same loop path).
    session = build_session(Settings(), engine, gallery, source=spec, realtime=False, loop=True,
                            access_log=access_log, learn=False, liveness=LivenessSettings(mode="off"),
                            reader_factory=lambda s, _hold: StackedClipReader(s, tile))
    report.say(f"soak: {frames_wanted} frames of {CLIP} looped, {tile} stacked cop{'y' if tile == 1 else 'ies'} "
               f"per frame; gallery {len(gallery.people)} people ({', '.join(gallery.people)}); liveness off, "
               f"no speech; log in {access_log.folder}; pid {os.getpid()}, {os.cpu_count()} CPUs",
               frames_wanted=frames_wanted, tile=tile, people=gallery.people, cpu_cores=os.cpu_count())
    return session, access_log, len(gallery.people)


def run(report: Report, session, access_log, frames_wanted: int, every: int) -> list[Sample]:
    """Run the session for `frames_wanted` frames, sampling at the start, every `every` frames while it runs, and
    once stopped with the log flushed (that last one's fps over the whole run); closes the log."""
    report.say(HEADER)
    started = time.monotonic()
    first = sample(session, access_log, started, None)
    report.row("samples", first.line() + "   (start)", **asdict(first), when="start")
    session.start()
    samples = [first]
    next_mark = every
    while True:
        time.sleep(0.02)
        frames = session.stats.frames
        done = frames >= frames_wanted or not session.running
        if frames >= next_mark or done:
            current = sample(session, access_log, started, samples[-1])  # taken while it runs
            samples.append(current)
            report.row("samples", current.line(), **asdict(current), when="running")
            next_mark = (frames // every + 1) * every
            if done:
                break
    session.stop()
    access_log.flush(30.0)
    stopped = sample(session, access_log, started, None)
    stopped.fps = session.stats.frames / max(session.stats.finished - session.stats.started, 1e-9)
    report.row("samples", stopped.line() + "   (session stopped, log flushed; fps over the whole run)",
               **asdict(stopped), when="stopped")
    access_log.close()
    return samples


def judge(report: Report, samples: list[Sample], session, enrolled: int, frames_wanted: int,
          max_rss_growth_mb: float) -> None:
    """The end (the last sample while running) against the warm-up (the first checkpoint), and what closing the
    log gave back against the start."""
    first, end = samples[0], samples[-1]
    closed_fds, closed_threads = count_fds(), threading.active_count()
    report.say(f"after the log closed: {closed_threads} Python threads, {status_value('Threads')} OS threads, "
               f"{closed_fds} descriptors (at start: {first.py_threads}, {first.os_threads}, {first.fds})",
               closed_py_threads=closed_threads, closed_fds=closed_fds)
    report.say(f"capture: {session.capture.delivered} frames delivered, {session.capture.dropped} dropped "
               f"(lockstep: only the frame pending at stop); pipeline: {session.stats.encoded} faces encoded, "
               f"{1000 * session.stats.busy_seconds / max(session.stats.frames, 1):.1f} ms per frame busy",
               frames_delivered=session.capture.delivered, frames_dropped=session.capture.dropped,
               faces_encoded=session.stats.encoded,
               busy_ms_per_frame=1000 * session.stats.busy_seconds / max(session.stats.frames, 1))
    warm = samples[1] if len(samples) > 2 else first
    report.say(f"verdict (last checkpoint at {end.frames} frames, running, vs warm-up at {warm.frames} frames):")
    for ok, text in verdict(warm, end, session, enrolled, max_rss_growth_mb):
        report.check(ok, text)
    report.check(closed_threads <= first.py_threads and closed_fds <= first.fds,
                 "stop and close give back every thread and descriptor they took")
    if session.stats.frames < frames_wanted:
        report.check(False, f"only {session.stats.frames} of {frames_wanted} frames processed")


if __name__ == "__main__":
    sys.exit(main())
