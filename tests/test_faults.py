"""Faults a kiosk meets when it runs unattended for months, each one a tested behaviour: a clear message, the
app keeps running, nothing the user saved is lost or corrupted.

Everything here is real: a child process killed with SIGKILL mid-enrollment, a real HTTP camera that hangs,
a real read-only file system and a real full one (tmpfs mounts: as root, chmod does not stop writes, so a
mode-0o500 folder would prove nothing; without the right to mount, the read-only case falls back to chmod when
not root and the disk-full case is skipped), a real KioskSession on a camera that is unplugged and plugged back,
and one that meets frames it cannot process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import CountingEngine, MjpegCamera

from facegate.capture import CaptureThread, Frame, SourceState, open_reader
from facegate.config import Settings
from facegate.errors import GalleryError
from facegate.gallery import EMBEDDING_SIZE, Gallery
from facegate.imageio import load_image
from facegate.kiosk import build_session
from facegate.liveness import LivenessSettings
from facegate.pipeline import Pipeline
from facegate.policy import Verdict
from facegate.session import SessionListener

PROJECT = Path(__file__).resolve().parent.parent
CLIP = "short_hamilton_clip.mp4"
ENROLLED_NAME = re.compile(r"^[0-9a-f]{16}\.[a-z]+$")  # what Gallery.enroll names a photo: its content hash


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def embed_first_face(engine, image):
    faces = engine.detect(image)
    assert faces, "the probe photo must show a face"
    return engine.embed(image, faces[:1])[0]


class StatusLog:
    def __init__(self):
        self.statuses = []
        self.changed = threading.Condition()

    def __call__(self, status):
        with self.changed:
            self.statuses.append((time.monotonic(), status))
            self.changed.notify_all()

    def wait_for(self, state, after: float = 0.0, timeout: float = 20.0):
        """The first status of `state` reported after monotonic time `after`, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for stamp, status in self.statuses:
                    if stamp >= after and status.state == state:
                        return stamp, status
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ================================================================================================ 1. SIGKILL

CHILD = r"""
import os, random, shutil, sys
from pathlib import Path
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from facegate.errors import GalleryError
from facegate.gallery import Gallery
from facegate.imageio import load_image

folder, pool, seed, tag = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
photos = sorted(pool.iterdir())
gallery = Gallery(folder)
warm = load_image(photos[0])  # load the models before the parent starts its clock
gallery.engine.embed(warm, gallery.engine.detect(warm)[:1])

def say(*fields):
    print("\t".join(map(str, fields)), flush=True)

say("WARM")
sys.stdin.readline()  # the parent says when: it may still be checking the gallery the previous child left
say("READY")
gallery.refresh()  # a cache update right at the start: the kill may land in it
mine = []
for i in range(1, 10_000):
    roll = rng.random()
    people = ([p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]
              if folder.is_dir() else [])
    if roll < 0.5 or not people:  # enroll a new person
        name = f"Visitor {tag}-{i}"
        source = rng.choice(photos)
        try:
            saved, _ = gallery.enroll(name, [source])
        except GalleryError:
            say("REJECTED", name, source.name)
            continue
        mine.append(name)
        for path in saved:
            say("ENROLLED", name, source.name, path)
    elif roll < 0.7:  # someone drops a photo into a person's folder (a plain copy), then the app refreshes
        target = rng.choice(people) / f"dropped-{tag}-{i}{rng.choice(photos).suffix}"
        shutil.copy(rng.choice(photos), target)
        gallery.refresh()
        say("DROPPED", target)
    elif roll < 0.85:  # someone deletes a dropped photo, then the app refreshes
        dropped = sorted(p for d in people for p in d.iterdir() if p.name.startswith("dropped-"))
        if dropped:
            victim = rng.choice(dropped)
            victim.unlink()
            gallery.refresh()
            say("DELETED", victim)
    else:  # erase a visitor (never the people the parent enrolled)
        visitors = [p.name for p in people if p.name.startswith("Visitor ")]
        if visitors:
            name = rng.choice(visitors)
            say("REMOVING", name)
            gallery.remove(name)
            say("REMOVED", name)
"""


class ChildRun:
    """The child process and the lines it printed (complete lines only). It loads its models at once (WARM), and
    touches the gallery only after `go()`: the next child warms up while the parent checks the last one's work."""

    def __init__(self, args):
        env = dict(os.environ, PYTHONPATH=str(PROJECT), TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)], cwd=PROJECT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: list[list[str]] = []
        self.warm, self.ready = threading.Event(), threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stdout:
            if not raw.endswith(b"\n"):
                break  # cut short by the kill: the child never finished saying it
            fields = raw.decode().rstrip("\n").split("\t")
            self.lines.append(fields)
            {"WARM": self.warm, "READY": self.ready}.get(fields[0], threading.Event()).set()

    def go(self):
        self.process.stdin.write(b"GO\n")
        self.process.stdin.flush()

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.reader.join(10)
        self.process.stdout.close()
        self.process.stdin.close()


def hidden_leftovers(folder: Path, cache_dir: Path) -> list[Path]:
    found = [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".facegate-gallery"]
    for person in folder.iterdir():
        if person.is_dir() and not person.name.startswith("."):
            found += [p for p in person.iterdir() if p.name.startswith(".")]
    found += [p for p in cache_dir.iterdir() if p.name.startswith("..gallery.embeddings.npz.")]  # cache temp files
    return found


def write_in_flight(folder: Path, cache_dir: Path) -> bool:
    """Whether a temp file (a photo or the cache being written) exists right now."""
    try:
        with os.scandir(cache_dir) as entries:
            if any(e.name.endswith(".tmp") for e in entries):
                return True
        with os.scandir(folder) as entries:
            people = [e.path for e in entries if e.is_dir()]
        for person in people:
            with os.scandir(person) as entries:
                if any(e.name.endswith(".tmp") for e in entries):
                    return True
    except OSError:  # a folder renamed or erased while we looked
        pass
    return False


ROUNDS = 14


def test_sigkill_during_enrollment_and_cache_updates_loses_nothing(tmp_path, clips, engine):
    """14 children, each killed with SIGKILL while it enrolls, drops and deletes photo files, refreshes (cache
    updates) and erases people: half at a seeded random moment, half at a seeded random moment too but then as
    soon as a photo or the cache is being written (a temp file exists). After each kill the gallery is opened
    and checked."""
    pool = tmp_path / "pool"  # real photos of several people; no photo of Obama (the parent's probe)
    pool.mkdir()
    for path in sorted((clips / "people_small" / "train").rglob("*")):
        if path.is_file() and path.parent.name != "obama":
            shutil.copy(path, pool / f"{path.parent.name}-{path.name}")
    for name in ["biden.jpg", "two_people.jpg", "alex-lacamoire.png"]:  # two_people: refused (2 faces)
        shutil.copy(clips / name, pool / name)
    source_sha = {p.name: sha256(p) for p in pool.iterdir()}

    folder = tmp_path / "gallery"
    Gallery(folder, engine).enroll("Barack Obama", [clips / "obama.jpg", clips / "obama2.jpg"])
    probe_obama = embed_first_face(engine, load_image(clips / "people_small" / "test" / "obama1.jpg"))

    enrolled: dict[str, list[tuple[Path, str]]] = {}  # person -> (photo path, source name) reported saved
    removing, removed = set(), set()
    rng = random.Random(20240611)
    temp_files_seen = erasures_seen = lines_seen = 0
    mid_write = 0
    following = ChildRun([folder, pool, 1000, "00"])
    for round_ in range(ROUNDS):
        child = following
        assert child.warm.wait(120), "the child did not start"
        child.go()
        assert child.ready.wait(30)
        time.sleep(rng.uniform(0.0, 1.5))
        if round_ % 2:  # then wait for a write to be in flight (at most 3 s), and kill it there
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and not write_in_flight(folder, tmp_path):
                time.sleep(0.0002)
        child.kill()
        if round_ + 1 < ROUNDS:
            following = ChildRun([folder, pool, 1001 + round_, f"{round_ + 1:02d}"])
        lines_seen += len(child.lines)
        for fields in child.lines:
            if fields[0] == "ENROLLED":
                enrolled.setdefault(fields[1], []).append((Path(fields[3]), fields[2]))
            elif fields[0] == "REMOVING":
                removing.add(fields[1])
            elif fields[0] == "REMOVED":
                removed.add(fields[1])

        # ---- open the gallery as the app would after the crash
        leftovers = hidden_leftovers(folder, tmp_path)
        temp_files_seen += sum(p.name.endswith(".tmp") for p in leftovers)
        mid_write += any(p.name.endswith(".tmp") for p in leftovers)
        erasures_seen += sum(p.name.endswith(".erasing") for p in leftovers)
        counting = CountingEngine(engine)
        gallery = Gallery(folder, counting)
        problems = gallery.refresh()  # must not raise, whatever the cache holds
        photos = gallery.photos()
        listed = [p for files in photos.values() for p in files]
        assert not any(p.name.startswith(".") or p.name.endswith(".tmp") for p in listed), listed
        assert not any(Path(p).name.startswith(".") for p in photos)  # no hidden folder taken for a person

        for name, saved in enrolled.items():
            if name in removed:
                assert name not in photos, f"{name} was erased but is back"
                continue
            present = [path.exists() for path, _ in saved]
            if name in removing and not any(present):
                assert name not in photos  # erased whole by the killed child: fine, never half
                continue
            assert all(present), f"{name}: a photo reported as enrolled is missing ({saved})"
            for path, source in saved:
                assert sha256(path) == source_sha[source], f"{path} differs from the photo enrolled"
                assert load_image(path).shape[2] == 3
            assert name in gallery.people, f"{name} is enrolled but not used for matching"

        # a file with an enrollment name was written whole: its name is its own content hash
        for path in listed:
            if ENROLLED_NAME.match(path.name):
                assert sha256(path).startswith(path.stem), f"{path} is half-written"
        # the only photo problems allowed are files someone copied in by hand (a killed plain copy)
        assert all(p.path.name.startswith("dropped-") for p in problems), problems

        # ---- the cache is valid now: a restart encodes nothing and finds the same people
        with np.load(gallery.cache_path) as cache:
            assert cache["embeddings"].shape[1] == EMBEDDING_SIZE
        restarted_engine = CountingEngine(engine)
        restarted = Gallery(folder, restarted_engine)
        restarted.refresh()
        assert restarted_engine.encoded == 0
        assert {n: restarted.photo_count(n) for n in restarted.people} == \
            {n: gallery.photo_count(n) for n in gallery.people}

        # ---- matching works
        match = gallery.match(probe_obama)
        assert match.name == "Barack Obama" and match.distance < 0.5
        alive = [(n, s) for n, s in enrolled.items() if n in gallery.people]
        if alive:
            name, saved = alive[-1]
            same_photo = embed_first_face(engine, load_image(saved[0][0]))
            assert gallery.match(same_photo).distance < 0.05

        # ---- leftovers of the killed writes go at the next refresh once they are old enough to be abandoned
        for path in hidden_leftovers(folder, tmp_path):
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        gallery.refresh()
        assert hidden_leftovers(folder, tmp_path) == []

    enrolled_count = sum(len(v) for v in enrolled.values())
    print(f"\n{ROUNDS} kills: {lines_seen} operations reported, {enrolled_count} photos enrolled, {len(removed)} "
          f"erasures; {mid_write} kills left a write half-done ({temp_files_seen} temp files), "
          f"{erasures_seen} an erasure half-done")
    assert enrolled_count >= 3  # the children did real work before they were killed
    assert mid_write >= 2  # and some really landed in the middle of writing a photo or the cache


# ============================================================================ 2a. frames of odd sizes and content

@pytest.fixture(scope="module")
def obama_biden_gallery(tmp_path_factory, clips, engine):
    folder = tmp_path_factory.mktemp("faults-gallery") / "gallery"
    gallery = Gallery(folder, engine)
    gallery.enroll("Obama", [clips / "obama.jpg"])
    gallery.enroll("Biden", [clips / "biden.jpg"])
    return gallery


def test_folder_source_with_odd_frames_runs_through_the_pipeline(tmp_path, clips, engine, obama_biden_gallery):
    """Images of different sizes, an all-black one, a greyscale one, a 16-bit one, a 1x1 one and a transparent PNG,
    read by the real folder source: processed without error, tracks start afresh on each change of size."""
    source = tmp_path / "source"
    source.mkdir()
    obama = cv2.imread(str(clips / "obama.jpg"))
    cv2.imwrite(str(source / "1-obama.jpg"), obama)
    cv2.imwrite(str(source / "2-black.png"), np.zeros((480, 640, 3), np.uint8))
    grey = cv2.cvtColor(cv2.resize(obama, None, fx=0.8, fy=0.8), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(source / "3-obama-grey.png"), grey)  # a one-channel file
    biden = cv2.imread(str(clips / "biden.jpg"))
    cv2.imwrite(str(source / "4-biden-16bit.png"), biden.astype(np.uint16) * 257)
    cv2.imwrite(str(source / "5-tiny.png"), np.full((1, 1, 3), 200, np.uint8))
    rgba = cv2.cvtColor(cv2.resize(biden, None, fx=0.6, fy=0.6), cv2.COLOR_BGR2BGRA)
    rgba[:, :, 3] = 128
    cv2.imwrite(str(source / "6-biden-alpha.png"), rgba)
    (source / "7-broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")  # shown as a black frame

    pipeline = Pipeline(engine, obama_biden_gallery)
    capture = CaptureThread(source, realtime=False, folder_hold_seconds=0.3).start()
    per_image: dict[tuple, dict] = {}
    position = 0
    previous_shape = None
    while (frame := capture.next_frame(10.0)) is not None:
        result = pipeline.process(frame)
        if frame.image.shape != previous_shape:
            position += 1
            previous_shape = frame.image.shape
        seen = per_image.setdefault(position, {"shape": frame.image.shape, "ids": set(), "granted": set()})
        seen["ids"] |= {t.id for t in result.tracks}
        seen["granted"] |= {t.name for t in result.tracks if t.verdict is Verdict.GRANTED}
    capture.stop()
    assert capture.state == SourceState.ENDED

    shapes = [v["shape"] for v in per_image.values()]
    assert len(shapes) >= 6 and all(len(s) == 3 and s[2] == 3 for s in shapes)
    granted = [v["granted"] for v in per_image.values()]
    assert granted[0] == {"Obama"} and granted[1] == set() and granted[2] == {"Obama"}  # colour, black, grey
    assert {"Biden"} in granted[3:]  # the 16-bit or the transparent photo of Biden
    ids = [v["ids"] for v in per_image.values()]
    for earlier, later in zip(ids, ids[1:], strict=False):
        assert not earlier & later  # a new frame size starts new tracks: no vote carries over


def test_pipeline_copes_with_frames_no_camera_should_send(clips, engine, obama_biden_gallery):
    """Frames handed straight to the pipeline: greyscale (2-D and one channel), RGBA, 16-bit, float, empty, 1x1."""
    obama = load_image(clips / "obama.jpg")
    grey = cv2.cvtColor(obama, cv2.COLOR_RGB2GRAY)
    frames = [obama, grey, grey[:, :, None], np.dstack([obama, np.full(obama.shape[:2], 255, np.uint8)]),
              obama.astype(np.uint16) * 257, obama.astype(np.float32) / 255.0, np.zeros((0, 0, 3), np.uint8),
              np.zeros((1, 1, 3), np.uint8), np.zeros((720, 1280, 3), np.uint8), obama]
    pipeline = Pipeline(engine, obama_biden_gallery)  # one pipeline through all of them, in a row
    seen = []
    for index, image in enumerate(frames):
        result = pipeline.process(Frame(image, index, index * 0.04))
        seen.append(len(result.tracks))
        assert all(len(t.box) == 4 and all(np.isfinite(t.box)) for t in result.tracks)
    assert seen[6:9] == [0, 0, 0] and seen[9] == 1  # empty, 1x1, black: no face; then Obama again
    for index in (0, 1, 2, 3, 4, 5):  # each format on its own (a fresh pipeline): Obama is recognised
        result = Pipeline(engine, obama_biden_gallery).process(Frame(frames[index], 0, 0.0))
        assert len(result.tracks) == 1 and result.tracks[0].distance < 0.45, (index, result.tracks)


class SpoiledFolderSource:
    """The real folder source, with the frames whose index `spoiled(index)` picks replaced by a raw, undecoded
    buffer (1-D): processing it raises, as a driver gone wrong would make it."""

    def __init__(self, spec, hold_seconds, spoiled):
        self.source = open_reader(spec, hold_seconds)
        self.fps, self.spoiled = self.source.fps, spoiled

    @property
    def index(self):
        return self.source.index

    def read(self):
        image = self.source.read()
        if image is not None and self.spoiled(self.source.index):
            return np.zeros(image.size, np.uint8)
        return image

    def release(self):
        self.source.release()


class Grants(SessionListener):
    def __init__(self):
        self.granted = []

    def on_decision(self, decision, result):
        self.granted.append((result.frame.index, decision.name))


def _session_on(folder, engine, gallery, spoiled, caplog):
    grants = Grants()
    session = build_session(Settings(), engine, gallery, source=folder, realtime=False, listeners=[grants],
                            learn=False, liveness=LivenessSettings(mode="off"),
                            reader_factory=lambda spec, hold: SpoiledFolderSource(spec, 1.0, spoiled))
    granted = grants.granted
    with caplog.at_level(logging.ERROR, logger="facegate.session"):
        session.start()
        assert session.wait(60)
    return session, granted


def test_session_skips_frames_it_cannot_process_and_stops_only_when_all_fail(tmp_path, clips, engine,
                                                                             obama_biden_gallery, caplog):
    shutil.copy(clips / "obama.jpg", tmp_path / "1.jpg")  # held 1 s: 30 frames
    session, granted = _session_on(tmp_path, engine, obama_biden_gallery, lambda i: 1 <= i < 6, caplog)
    assert session.error is None and session.stats.failed == 5 and session.stats.frames == 25
    assert caplog.text.count("could not be processed") == 1  # logged once, not once a frame
    assert [name for _, name in granted] == ["Obama"] and granted[0][0] >= 6  # decided after the bad frames (reset)

    caplog.clear()
    session, granted = _session_on(tmp_path, engine, obama_biden_gallery, lambda i: True, caplog)
    assert isinstance(session.error, ValueError) and "frame shape" in str(session.error)
    assert session.stats.failed == 25 and session.stats.frames == 0 and granted == []
    assert "pipeline stopped" in caplog.text  # the error is reported, never silent


# ======================================================================================= 2b. a camera that hangs

class HangingCamera:
    """A real HTTP camera whose stream can be made to hang: `mode` "stream" sends MJPEG frames; "hang" keeps
    every connection open and sends nothing more (a new connection gets no answer at all)."""

    def __init__(self, frames):
        self.frames = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
        self.mode = "stream"
        self.closing = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.threads = [threading.Thread(target=self._accept, name="hanging camera", daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), name="hanging camera client",
                                      daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, connection):
        with connection:
            connection.settimeout(0.2)
            answered = False
            i = 0
            while not self.closing.is_set():
                if self.mode != "stream":
                    time.sleep(0.05)  # hang: connection open, not a byte sent
                    continue
                try:
                    if not answered:
                        connection.recv(65536)
                        connection.sendall(b"HTTP/1.0 200 OK\r\n"
                                           b"Content-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
                        answered = True
                    data = self.frames[i % len(self.frames)]
                    connection.sendall(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                       % len(data) + data + b"\r\n")
                except OSError:
                    return
                i += 1
                time.sleep(1 / 30)

    def close(self):
        self.closing.set()
        self.server.close()
        for thread in self.threads:
            thread.join(5)


@pytest.fixture()
def clip_frames(clips):
    video = cv2.VideoCapture(str(clips / CLIP))
    frames = [video.read()[1] for _ in range(10)]
    video.release()
    return frames


def test_camera_that_hangs_is_reported_lost_and_recovers(clip_frames):
    before = set(threading.enumerate())
    camera = HangingCamera(clip_frames)
    statuses = StatusLog()
    capture = CaptureThread(camera.url, on_status=statuses, retry_delays=(0.2, 0.5),
                            open_timeout_s=1.5, read_timeout_s=1.5).start()
    try:
        assert capture.next_frame(15.0) is not None

        # mid-stream the camera stops sending, without closing the connection
        camera.mode = "hang"
        hung = time.monotonic()
        lost = statuses.wait_for(SourceState.LOST, after=hung, timeout=10.0)
        assert lost is not None and lost[0] - hung < 4.0, "a hung stream must be reported within the read timeout"
        while capture.next_frame(0.05) is not None:  # frames already in flight
            pass
        time.sleep(2.0)  # reconnecting to a camera that accepts and never answers: still lost, no frame
        assert capture.next_frame(0.2) is None and capture.state == SourceState.LOST and capture.alive

        camera.mode = "stream"  # it answers again
        back = time.monotonic()
        assert statuses.wait_for(SourceState.LIVE, after=back, timeout=10.0) is not None
        assert capture.next_frame(5.0) is not None
    finally:
        stopped_at = time.monotonic()
        capture.stop(timeout=5.0)
        assert time.monotonic() - stopped_at < 2.5
        camera.close()
    assert wait_until(lambda: set(threading.enumerate()) <= before, 5.0), set(threading.enumerate()) - before


def test_stop_returns_at_once_while_a_read_is_stuck_and_the_watchdog_reports_it(clip_frames, caplog):
    """A read timeout longer than the watchdog's: the watchdog reports LOST first; stop() does not wait for the
    stuck read; the daemon reader ends by itself when the read times out; nothing is left running."""
    before = set(threading.enumerate())
    camera = HangingCamera(clip_frames)
    statuses = StatusLog()
    capture = CaptureThread(camera.url, on_status=statuses, open_timeout_s=4.0, read_timeout_s=4.0,
                            stall_timeout_s=1.0).start()
    try:
        assert capture.next_frame(15.0) is not None
        camera.mode = "hang"
        hung = time.monotonic()
        while capture.next_frame(0.3) is not None:  # the consumer keeps asking, as the pipeline worker does
            pass
        reported = None
        while reported is None and time.monotonic() - hung < 3.5:
            capture.next_frame(0.3)
            reported = statuses.wait_for(SourceState.LOST, after=hung, timeout=0.0)
        assert reported is not None and "not answering" in reported[1].message
        assert capture.stalled_for() > 0.5  # the reader really is inside the stuck read

        with caplog.at_level(logging.WARNING, logger="facegate.capture"):
            started = time.monotonic()
            assert capture.stop(timeout=0.3) is False
            assert time.monotonic() - started < 1.0
        assert "still inside a read" in caplog.text and camera.url in caplog.text
        assert capture._thread.daemon  # it never holds the program open
        assert wait_until(lambda: not capture.alive, 6.0), "the stuck read must end by itself (read timeout)"
        assert capture.state == SourceState.STOPPED
    finally:
        capture.stop(timeout=5.0)
        camera.close()
    assert wait_until(lambda: set(threading.enumerate()) <= before, 5.0), set(threading.enumerate()) - before


# ================================================================================= 3. read-only and full disks

def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


def _unmount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)
    if os.path.ismount(where):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def read_only(where: Path):
    """Make `where` (a tmpfs mount, or a plain folder when not root) refuse writes for real."""
    if os.path.ismount(where):
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)
        try:
            yield "read-only"
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(where)], capture_output=True)
    else:
        modes = {p: p.stat().st_mode & 0o777 for p in [where, *where.rglob("*")] if p.is_dir()}
        for path in modes:
            path.chmod(0o500)
        try:
            yield "permission denied"
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


@pytest.fixture()
def small_disk(tmp_path):
    """A real small file system (tmpfs, 4 MiB) when this process may mount; else a plain folder if not root."""
    mount = tmp_path / "disk"
    if _mount_tmpfs(mount, "4m"):
        yield mount
        _unmount(mount)
    elif os.geteuid() != 0:
        mount.mkdir()
        yield mount
    else:
        pytest.skip("running as root without the right to mount: chmod cannot make a folder read-only for root, "
                    "and no read-only file system is available")


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder`, hidden ones included, with file contents."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def test_read_only_gallery_refuses_edits_clearly_and_keeps_recognising(small_disk, clips, engine):
    folder = small_disk / "gallery"
    gallery = Gallery(folder, engine)
    gallery.enroll("Obama", [clips / "obama.jpg"])
    gallery.enroll("Biden", [clips / "biden.jpg"])
    probe = embed_first_face(engine, load_image(clips / "people_small" / "test" / "obama1.jpg"))
    before = snapshot(small_disk)

    with read_only(small_disk) as cause:
        with pytest.raises(GalleryError) as refused:
            gallery.enroll("Kit Harington", [clips / "people_small" / "train" / "kit_harington" / "john1.jpeg"])
        message = str(refused.value)
        assert str(folder) in message and cause in message and "Nothing was enrolled" in message
        with pytest.raises(GalleryError, match="read-only|permission denied"):
            gallery.enroll("Obama", [clips / "obama2.jpg"])  # adding a photo to someone enrolled
        with pytest.raises(GalleryError, match=re.escape(str(folder))):
            gallery.remove("Biden")
        with pytest.raises(GalleryError, match=re.escape(str(folder))):
            gallery.rename("Biden", "Joe Biden")
        assert snapshot(small_disk) == before  # nothing written, nothing lost

        gallery.refresh()  # recognition goes on with the gallery as it was
        assert gallery.people == ["Biden", "Obama"] and gallery.match(probe).name == "Obama"
        restarted = Gallery(folder, engine)  # a restart on the read-only folder, from the cache
        restarted.refresh()
        assert restarted.match(probe).name == "Obama"

    gallery.enroll("Kit Harington", [clips / "people_small" / "train" / "kit_harington" / "john1.jpeg"])
    assert "Kit Harington" in gallery.people  # writable again: works at once


def test_cache_that_cannot_be_written_is_only_a_warning(tmp_path, small_disk, clips, engine, caplog):
    folder = tmp_path / "gallery"
    shutil.copytree(clips / "people_small" / "train", folder)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    counting = CountingEngine(engine)
    gallery = Gallery(folder, counting, cache_path=small_disk / "cache" / "gallery.embeddings.npz")
    (small_disk / "cache").mkdir()
    probe = embed_first_face(engine, load_image(clips / "people_small" / "test" / "obama1.jpg"))
    with read_only(small_disk), caplog.at_level(logging.WARNING, logger="facegate.gallery"):
        assert gallery.refresh() == []
        assert "Could not save the embedding cache" in caplog.text and str(gallery.cache_path) in caplog.text
        assert gallery.match(probe).name == "obama"
        encoded = counting.encoded
        shutil.copy(clips / "obama-240p.jpg", folder / "obama" / "small.jpg")
        gallery.refresh()
        assert counting.encoded == encoded + 1  # only the new photo: the rest is remembered in memory
        assert not gallery.cache_path.exists()
    assert gallery.match(probe).name == "obama"


def _fill(disk: Path, leave: int) -> Path:
    """Fill the file system with a real file until a write fails, then give back `leave` bytes."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        chunk = b"\0" * 65536
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def test_full_disk_enrolls_nothing_half_way_and_keeps_recognising(small_disk, clips, engine):
    if not os.path.ismount(small_disk):
        pytest.skip("no small file system to fill (mounting a tmpfs needs root)")
    folder = small_disk / "gallery"
    gallery = Gallery(folder, engine)
    gallery.enroll("Obama", [clips / "obama.jpg"])
    probe = embed_first_face(engine, load_image(clips / "people_small" / "test" / "obama1.jpg"))
    small, large = clips / "people_small" / "train" / "rose_leslie" / "img1.jpg", clips / "biden.jpg"  # 52 KB, 354 KB
    # room for the first photo but not the second: the first is written, then taken back
    filler = _fill(small_disk, leave=small.stat().st_size + 64 * 1024)
    before = snapshot(small_disk)
    before.pop("filler")

    with pytest.raises(GalleryError) as refused:
        gallery.enroll("Rose Leslie", [small, clips / "people_small" / "train" / "rose_leslie" / "img2.jpg", large])
    message = str(refused.value)
    assert str(folder) in message and "disk is full" in message
    after = snapshot(small_disk)
    after.pop("filler")
    assert after == before  # no photo, no temp file, no empty person folder

    gallery.refresh()  # still full: recognition goes on with the gallery as it was
    assert gallery.people == ["Obama"] and gallery.match(probe).name == "Obama"

    filler.unlink()  # space again: the same enrollment succeeds
    saved, _ = gallery.enroll("Rose Leslie", [small, large])
    assert len(saved) == 2 and "Rose Leslie" in gallery.people


# ============================================================ 4. a kiosk session on a camera unplugged and back

def test_kiosk_session_survives_the_camera_unplugged_and_plugged_back(clips, engine, obama_biden_gallery):
    video = cv2.VideoCapture(str(clips / CLIP))
    frames = [video.read()[1] for _ in range(20)]
    video.release()
    before = set(threading.enumerate())
    camera = MjpegCamera(frames)
    statuses = StatusLog()
    processed = []
    class Watch(SessionListener):
        def on_source_status(self, status):
            statuses(status)

        def on_result(self, result):
            processed.append(result.frame.index)

    session = build_session(Settings(), engine, obama_biden_gallery, listeners=[Watch()], learn=False,
                            source=f"http://127.0.0.1:{camera.port}/stream.mjpg", liveness=LivenessSettings(mode="off"))
    session.start()
    try:
        assert wait_until(lambda: len(processed) >= 5, 20.0)

        camera.unplug()
        unplugged = time.monotonic()
        assert statuses.wait_for(SourceState.LOST, after=unplugged, timeout=15.0) is not None
        time.sleep(1.0)
        count = len(processed)
        time.sleep(1.0)
        assert len(processed) == count and session.running  # nothing to process, nothing crashed

        camera = MjpegCamera(frames, port=camera.port)  # plugged back in
        back = time.monotonic()
        assert statuses.wait_for(SourceState.LIVE, after=back, timeout=20.0) is not None
        assert wait_until(lambda: len(processed) >= count + 5, 10.0), "frames did not resume"
        assert session.running and session._worker.is_alive() and session.error is None
    finally:
        session.stop()
        camera.unplug()
    assert not session.running and not session.capture.alive
    assert wait_until(lambda: set(threading.enumerate()) <= before, 5.0), set(threading.enumerate()) - before
