"""A site with several doors under load (issue 18): simulated kiosks on one real PostgreSQL server.

Each simulated kiosk is what a real one runs besides its camera: a real local access log (SQLite, snapshots) and
a real SiteSync (LISTEN/NOTIFY, forwarding). `--replicas` of them (default 2) also keep a real replica gallery
folder of the whole site; the others only note when they hear of a change: all of them live in this one Python
process on this machine's cores, where twenty replicas of 10,000 people would measure this process's GIL, not a
kiosk (each real kiosk has its own computer). Each writes `--rate` decisions a second (a granted decision with a
face-sized snapshot, committed locally first, as the session does). Meanwhile an administrator enrolls a new
person every `--enroll-every` seconds; the benchmark measures

  - propagation: from the enrollment's commit to each kiosk hearing of it (NOTIFY), and to each replica kiosk's
    gallery holding the person, ready to recognise them (median, p99);
  - event write latency: from a decision's local record to its row committed on the server (median, p99);
  - server CPU: CPU seconds of every PostgreSQL process over the run, per wall-clock second;
  - the kiosk's own frame rate: the real pipeline on the clip, alone and with its SiteSync running in the load;
  - a removal under a flood (--flood, issue 30 item 3): after the load, with only the replica kiosks still
    running, a login sends that many notifications on the people channel (in batches of 2,000) and, amid them,
    the administrator removes a person: from the removal's commit to each replica erasing them (median, max).

    PYTHONPATH=. .venv/bin/python benchmarks/site.py                 # 20 kiosks, 1 event/s, 10 min, 10,000 people
    PYTHONPATH=. .venv/bin/python benchmarks/site.py --kiosks 20 --seconds 60 --people 1000   # a short run
    PYTHONPATH=. .venv/bin/python benchmarks/site.py --json      # one JSON object at the end, for machines

It starts its own server (initdb + pg_ctl in a temp folder; PostgreSQL must be installed) unless --database
names one that `facegate site init` has prepared (its people and events are added to, never removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate.access_log import AccessEvent, AccessLog  # noqa: E402
from facegate.gallery import CACHE_FORMAT, Gallery  # noqa: E402
from facegate.site.sync import ReplicaChange, SiteEvent, SiteSync  # noqa: E402
from facegate.vision.engine import DLIB_EMBEDDING_SIZE, EMBEDDING_SIZE, fuse  # noqa: E402
from facegate_dev.bench import Report, bench_parser  # noqa: E402


def plausible_embedding(rng) -> np.ndarray:
    """A random embedding shaped like the engine's (dlib's part about 1.4 long, SFace's a unit vector)."""
    dlib = rng.normal(size=DLIB_EMBEDDING_SIZE)
    dlib *= 1.4 / np.linalg.norm(dlib)
    sface = rng.normal(size=EMBEDDING_SIZE - DLIB_EMBEDDING_SIZE)
    sface /= np.linalg.norm(sface)
    return fuse(dlib[None], sface[None])[0].astype(np.float32)


def tiny_jpeg(rng) -> bytes:
    import cv2

    return cv2.imencode(".jpg", rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))[1].tobytes()


def add_person(conn, name: str, rng) -> None:
    data = tiny_jpeg(rng)
    digest = hashlib.sha256(data).hexdigest()
    with conn.transaction():
        person = conn.execute("INSERT INTO people(name) VALUES (%s) RETURNING id", (name,)).fetchone()[0]
        photo = conn.execute("INSERT INTO photos(person_id, file_name, sha256, data) VALUES (%s, %s, %s, %s) "
                             "RETURNING id", (person, f"{digest[:16]}.jpg", digest, data)).fetchone()[0]
        conn.execute("INSERT INTO embeddings(photo_id, model, embedding) VALUES (%s, %s, %s)",
                     (photo, CACHE_FORMAT, plausible_embedding(rng).astype("<f4").tobytes()))


def populate(conn, people: int, rng) -> None:
    """`people` synthetic people with one photo and its embedding each, in a few large transactions."""
    existing = conn.execute("SELECT count(*) FROM people WHERE name LIKE 'Bench %%'").fetchone()[0]
    for start in range(existing, people, 1000):
        with conn.transaction(), conn.cursor() as cur:
            for i in range(start, min(start + 1000, people)):
                data = tiny_jpeg(rng)
                digest = hashlib.sha256(data).hexdigest()
                cur.execute("WITH p AS (INSERT INTO people(name) VALUES (%s) RETURNING id), "
                            "ph AS (INSERT INTO photos(person_id, file_name, sha256, data) "
                            "SELECT id, %s, %s, %s FROM p RETURNING id) "
                            "INSERT INTO embeddings(photo_id, model, embedding) SELECT id, %s, %s FROM ph",
                            (f"Bench {i:06d}", f"{digest[:16]}.jpg", digest, data, CACHE_FORMAT,
                             plausible_embedding(rng).astype("<f4").tobytes()))


def server_cpu_seconds(postmaster_pid: int | None) -> float | None:
    """utime + stime of the postmaster and its children (Linux /proc); None when it cannot be read."""
    if postmaster_pid is None or not Path("/proc").is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster_pid or ppid == postmaster_pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class ListeningSync(SiteSync):
    """A kiosk's SiteSync that notes when it hears of a change instead of copying the person (see the top)."""

    def _reconcile_all(self, conn) -> None:
        pass

    def _reconcile(self, conn, name: str) -> None:
        self._tell(SiteEvent.REPLICA, {"name": name, "change": "heard"})


class SimulatedKiosk:
    def __init__(self, index: int, folder: Path, url: str, engine, enrolled: dict[str, float],
                 propagation: dict[str, list[float]], lock: threading.Lock, replica: bool):
        self.door = f"door-{index:02d}"
        self.access_log = AccessLog(folder / "log")
        self.gallery = Gallery(folder / "replica", engine)
        self.enrolled, self.propagation, self.lock = enrolled, propagation, lock
        self.arrivals: list[tuple[str, str, float]] = []
        self.removals: dict[str, tuple[float, float]] = {}  # name -> (began erasing, erased) at this kiosk
        self.sync = (SiteSync if replica else ListeningSync)(url, self.gallery, self.access_log, self.door,
                                                             on_change=self._changed)
        self.ready = threading.Event()

    def _changed(self, kind: SiteEvent, payload: dict) -> None:
        now = time.time()
        if kind is SiteEvent.CONNECTED:
            self.ready.set()
        if kind is SiteEvent.REPLICA and payload.get("change") == ReplicaChange.REMOVED.value:
            self.removals.setdefault(payload["name"], (now - payload.get("seconds", 0.0), now))
        if kind is SiteEvent.REPLICA and payload.get("change") in (ReplicaChange.UPDATED.value, "heard"):
            with self.lock:  # (name, when): compared with the commit's time after the run (a kiosk may hear of
                self.arrivals.append((payload["change"], payload["name"], now))  # it before the admin notes it)


def measure_fps(engine, clip: Path, seconds: float, listeners=()) -> float:
    from facegate.config import Settings
    from facegate.kiosk import build_session

    gallery = Gallery(Path(tempfile.mkdtemp()) / "empty", engine)
    session = build_session(Settings(liveness="off"), engine, gallery, source=clip, realtime=False, loop=True,
                            listeners=list(listeners), learn=False)
    session.start()
    time.sleep(seconds)
    session.stop()
    return session.stats.fps


@dataclass
class LoadResult:
    """What the load measured (see the module's docstring)."""

    kiosks: int
    replicas: int
    decisions_sent: int = 0
    decisions_on_server: int = 0
    still_waiting: int = 0
    enrollments: int = 0
    propagation: dict[str, list[float]] = field(default_factory=lambda: {"heard": [], "updated": []})  # seconds
    write_ms: list[float] = field(default_factory=list)
    server_cpu_s: float | None = None
    wall_s: float = 0.0
    fps_alone: float | None = None
    fps_loaded: float | None = None
    flood: int = 0  # notifications sent around the removal
    flood_removal_s: list[tuple[float, float]] = field(default_factory=list)  # removal commit -> each replica
    # began erasing them (it read the change log), and had erased them


@contextlib.contextmanager
def site_database(database: str | None):
    """(admin URL, the postmaster's pid or None): `database` as given, or a server of its own for the run."""
    if database:
        yield database, None
        return
    from facegate.site.schema import init_site
    from facegate_dev.pgserver import TempPostgres

    server = TempPostgres().start()
    try:
        urls = server.create_site("bench")
        init_site(urls["owner"])
        server.grant_roles("bench")
        yield urls["admin"], server.server_pid()
    finally:
        server.close()


def run_load(report: Report, args, url: str, postmaster: int | None, work: Path) -> LoadResult:
    """Populate the site, connect the kiosks, then decide and enroll for --seconds; the kiosk's frame rate alone
    before, and amid the load."""
    import psycopg

    from facegate.vision.engine import FaceEngine
    from facegate_dev.datasets import clips_dir

    rng = np.random.default_rng(18)
    engine = FaceEngine()
    with psycopg.connect(url, autocommit=True) as admin:
        started = time.perf_counter()
        populate(admin, args.people, rng)
        report.say(f"gallery: {args.people} people on the server ({time.perf_counter() - started:.1f} s to insert)",
                   people=args.people, insert_s=time.perf_counter() - started)

        clip = clips_dir()
        clip = clip / "short_hamilton_clip.mp4" if clip is not None and args.fps_seconds > 0 else None
        result = LoadResult(args.kiosks, min(args.replicas, args.kiosks))
        if clip is not None:
            engine.load_models()
            result.fps_alone = measure_fps(engine, clip, args.fps_seconds)

        enrolled: dict[str, float] = {}
        lock = threading.Lock()
        kiosks = [SimulatedKiosk(i, work / f"kiosk{i:02d}", url, engine, enrolled, result.propagation, lock,
                                 replica=i < args.replicas) for i in range(args.kiosks)]
        started = time.perf_counter()
        for kiosk in kiosks:
            kiosk.sync.start()
        for kiosk in kiosks:
            if not kiosk.ready.wait(3600):
                raise SystemExit(f"{kiosk.door} did not connect: {kiosk.sync.status()}")
        report.say(f"{args.kiosks} kiosks connected, {result.replicas} with a replica of {args.people} people "
                   f"({time.perf_counter() - started:.1f} s for the first copies)", kiosks=args.kiosks,
                   replicas=result.replicas, first_copies_s=time.perf_counter() - started)

        snapshot = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
        stop = threading.Event()
        sent = [0] * len(kiosks)
        cpu_before, wall_before = server_cpu_seconds(postmaster), time.perf_counter()
        deciders = [threading.Thread(target=decide, args=(kiosks, i, args, snapshot, sent, stop), daemon=True)
                    for i in range(len(kiosks))]
        for thread in deciders:
            thread.start()
        if clip is not None:
            # the kiosk under test: its own pipeline with its own SiteSync, amid the load
            own = SimulatedKiosk(99, work / "own", url, engine, {}, {"heard": [], "updated": []}, threading.Lock(),
                                 replica=True)
            own.sync.start()
            own.ready.wait(600)
            result.fps_loaded = measure_fps(engine, clip, args.fps_seconds, [own.sync])
            own.access_log.close()
        result.enrollments = enroll_until(admin, time.monotonic() + args.seconds, args.enroll_every, enrolled, lock,
                                          rng)
        stop.set()
        for thread in deciders:
            thread.join(10)
        time.sleep(3.0)  # the last enrollment's propagation, the last decisions' forwarding
        cpu_after, wall_after = server_cpu_seconds(postmaster), time.perf_counter()
        if args.flood and enrolled:
            result.flood = args.flood
            # Only the replica kiosks listen through the flood: in this one process, twenty kiosks' 20,000
            # notifications each would be parsed under one GIL, where each real kiosk has its own CPU.
            replicas = [kiosk for kiosk in kiosks if not isinstance(kiosk.sync, ListeningSync)]
            for kiosk in kiosks:
                if kiosk not in replicas:
                    kiosk.sync.stop(120)
            result.flood_removal_s = removal_under_flood(admin, url, replicas, min(enrolled), args.flood)
        for kiosk in kiosks:
            kiosk.sync.stop(120)
            kiosk.sync.drain()
        result.still_waiting = sum(kiosk.access_log.waiting() for kiosk in kiosks)
        for kiosk in kiosks:
            kiosk.access_log.close()

        rows = admin.execute("SELECT extract(epoch FROM received_at) - time FROM events WHERE source = 'bench'"
                             ).fetchall()
    result.write_ms = [1000.0 * float(r[0]) for r in rows]
    result.decisions_on_server, result.decisions_sent = len(rows), sum(sent)
    for kiosk in kiosks:
        for change, name, when in kiosk.arrivals:
            if name in enrolled:
                result.propagation[change].append(when - enrolled[name])
    if cpu_before is not None and cpu_after is not None:
        result.server_cpu_s = cpu_after - cpu_before
    result.wall_s = wall_after - wall_before
    return result


def removal_under_flood(admin, url: str, kiosks: list[SimulatedKiosk], name: str, count: int) -> list[float]:
    """Remove `name` amid `count` notifications sent on the people channel by another connection; seconds from
    the removal's commit to each kiosk hearing of it (a kiosk that never does within 30 s counts as inf)."""
    import psycopg

    from facegate.site.schema import NOTIFY_CHANNEL

    sent = [0]
    started = threading.Event()

    def flood() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            started.set()
            while sent[0] < count:
                batch = min(2000, count - sent[0])
                conn.execute("SELECT pg_notify(%s, 'Flood ' || (%s + g)) FROM generate_series(1, %s) g",
                             (NOTIFY_CHANNEL, sent[0], batch))
                sent[0] += batch

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    started.wait(30)
    deadline = time.monotonic() + 30
    while sent[0] < count // 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    for kiosk in kiosks:
        kiosk.removals.pop(name, None)
    admin.execute("DELETE FROM people WHERE name = %s", (name,))
    removed = time.time()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(name not in kiosk.removals for kiosk in kiosks):
        time.sleep(0.01)
    thread.join(120)
    never = (float("inf"), float("inf"))
    return [(began - removed, erased - removed) for began, erased in (kiosk.removals.get(name, never)
                                                                        for kiosk in kiosks)]


def decide(kiosks: list[SimulatedKiosk], index: int, args, snapshot: np.ndarray, sent: list[int],
           stop: threading.Event) -> None:
    """One kiosk's decisions, --rate a second until `stop`, each recorded durably and forwarded."""
    kiosk = kiosks[index]
    own_rng = np.random.default_rng(index)  # a Generator is not shared between threads
    period = 1.0 / args.rate
    next_at = time.monotonic() + period * index / len(kiosks)  # spread over the second
    track = 0
    while not stop.is_set():
        stop.wait(max(0.0, next_at - time.monotonic()))
        next_at += period
        track += 1
        event = AccessEvent(time.time(), track, f"Bench {int(own_rng.integers(args.people)):06d}", 0.3, 0.2,
                            "granted", "bench", {}, snapshot)
        kiosk.access_log.record_durably(event)
        kiosk.sync.on_decision(None, None)
        sent[index] += 1


def enroll_until(admin, deadline: float, every: float, enrolled: dict[str, float], lock: threading.Lock,
                 rng) -> int:
    """The administrator enrolls a new person every `every` seconds until `deadline`; returns how many."""
    number = 0
    while time.monotonic() < deadline:
        name = f"New {number:05d}"
        add_person(admin, name, rng)
        with lock:
            enrolled[name] = time.time()
        number += 1
        time.sleep(min(every, max(0.0, deadline - time.monotonic())))
    return number


def print_load(report: Report, args, r: LoadResult) -> None:
    report.say(f"load: {r.kiosks} kiosks x {args.rate:g} decision/s for {args.seconds:.0f} s: {r.decisions_sent} "
               f"decisions, {r.decisions_on_server} on the server, {r.still_waiting} still waiting at the kiosks",
               rate=args.rate, seconds=args.seconds, decisions_sent=r.decisions_sent,
               decisions_on_server=r.decisions_on_server, still_waiting=r.still_waiting, enrollments=r.enrollments)
    heard_by = r.enrollments * (r.kiosks - r.replicas)
    for change, what, expected in (("heard", "each kiosk hears of it (NOTIFY)", heard_by),
                                   ("updated", "each replica kiosk can recognise them", r.enrollments * r.replicas)):
        found = r.propagation[change]
        if not found:
            report.row("propagation", f"propagation ({what}): nothing measured", change=change, measured=0,
                       expected=expected)
            continue
        median, p99, most = 1000 * statistics.median(found), 1000 * percentile(found, 99), 1000 * max(found)
        report.row("propagation", f"propagation (enrollment commit -> {what}): {len(found)} of {expected}; median "
                   f"{median:.0f} ms, p99 {p99:.0f} ms, max {most:.0f} ms", change=change, measured=len(found),
                   expected=expected, median_ms=median, p99_ms=p99, max_ms=most)
    if r.write_ms:
        median, p99 = statistics.median(r.write_ms), percentile(r.write_ms, 99)
        report.say(f"event write latency (local record -> server commit): median {median:.0f} ms, p99 {p99:.0f} ms",
                   write_median_ms=median, write_p99_ms=p99)
    else:
        report.say("event write latency: nothing measured")
    if r.server_cpu_s is not None:
        share = 100 * r.server_cpu_s / r.wall_s
        report.say(f"server CPU: {r.server_cpu_s:.1f} CPU s over {r.wall_s:.0f} s = {share:.1f} % of one core",
                   server_cpu_s=r.server_cpu_s, server_wall_s=r.wall_s, server_cpu_percent_of_a_core=share)
    if r.flood_removal_s:
        began, erased = (1000 * max(times) for times in zip(*r.flood_removal_s, strict=True))
        report.say(f"removal under a flood of {r.flood:,} notifications, at the {len(r.flood_removal_s)} replica "
                   f"kiosks (the others stopped first): read from the change log by {began:.0f} ms after its "
                   f"commit, erased (the replica re-listed) by {erased:.0f} ms", flood=r.flood,
                   flood_removal_read_ms=began, flood_removal_erased_ms=erased)
    if r.fps_alone is not None:
        report.say(f"kiosk frame rate (clip, every frame): alone {r.fps_alone:.1f} fps; with its SiteSync amid the "
                   f"load {r.fps_loaded:.1f} fps (the simulated kiosks share this machine's cores)",
                   fps_alone=r.fps_alone, fps_loaded=r.fps_loaded)


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=2, help="kiosks that keep a full replica gallery")
    parser.add_argument("--rate", type=float, default=1.0, help="decisions per second per kiosk")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the load (default 10 minutes)")
    parser.add_argument("--people", type=int, default=10_000, help="people enrolled before the load")
    parser.add_argument("--enroll-every", type=float, default=5.0, help="seconds between enrollments during the load")
    parser.add_argument("--fps-seconds", type=float, default=20.0, help="length of each frame-rate run (0: skip)")
    parser.add_argument("--flood", type=int, default=20_000,
                        help="notifications sent around a removal after the load (0: skip)")
    parser.add_argument("--database", help="an initialised site's admin URL (default: a server of its own)")
    args = parser.parse_args(argv)
    report = Report("site", args.json)
    work = Path(tempfile.mkdtemp(prefix="facegate-site-bench-"))
    try:
        with site_database(args.database) as (url, postmaster):
            result = run_load(report, args, url, postmaster, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_load(report, args, result)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
