"""Live pipeline speed and time to grant: FaceGate against face_recognition's "webcam, faster" loop.

Both systems see the same frames of `short_hamilton_clip.mp4` (letterboxed to --size, 640x480 by default,
like a webcam frame), decoded from the file, as fast as they can go:

- FaceGate: the kiosk path of `facegate run --headless --fast` (KioskSession, lockstep CaptureThread, Pipeline,
  AccessPolicy; Settings() defaults, no speech, no access log). The gallery is a temporary folder with
  Lin-Manuel Miranda's photo and the people of clips/people_small/train.
- The peer: face_recognition's example `facerec_from_webcam_faster.py` re-done here without the window:
  quarter-size frame, BGR->RGB, on every other frame HOG `face_locations` + `face_encodings` of every face,
  `compare_faces` (tolerance 0.6) and the best `face_distance` match against the same enrolled photos.
  The peer runs once per --peer-scale (default 0.25 and 0.5): 0.25 is the example's own quarter size (the
  faithful peer), but it shrinks the clip's faces (80-130 px) below what dlib's HOG detector can find, so the
  peer is also run at 0.5, where it does find and name them. The >= 3x target is judged only against the
  scales that recognise Lin-Manuel Miranda.

"First findable frame" belongs to neither system: the first frame (scanning frames 70-130) in which dlib's
HOG detector (upsample 1) on the full frame finds a face whose dlib descriptor (face_recognition) is within
0.6 of the descriptor of Lin-Manuel Miranda's enrollment photo. Times to grant are counted from it, in video
time.

    PYTHONPATH=. .venv/bin/python benchmarks/pipeline.py [--size 640x480] [--repeat 3] [--peer-scale 0.25,0.5] [--json]

--access-plan: the decision path's added cost of the access rules (issue 31) instead of the peer: FaceGate alone,
without access rules (before) and with a plan of 50 groups and 10,000 people (after: PlanRule and AntiPassback as
the kiosk assembles them, the plan read from its file beside the gallery, on a clock set to a Monday 10:00), runs
interleaved; frames per second and the grant's latency (wall time from the capture of the first frame in which
FaceGate tracks his face to the grant decision), medians side by side; and AccessRules.check alone, per call.

Exits 0 with a message when the clips or the peer (face_recognition) are not on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from facegate_dev.bench import Report, bench_parser, need_clips, need_peer  # noqa: E402

CLIP = "short_hamilton_clip.mp4"
PERSON = "Lin-Manuel Miranda"
PERSON_PHOTO = "lin-manuel-miranda.png"
FINDABLE_SCAN = (70, 130)  # frames searched for the first findable frame (inclusive)
FINDABLE_DISTANCE = 0.6
PEER_TOLERANCE = 0.6
TARGET_FPS = 30.0
TARGET_RATIO = 3.0
TARGET_GRANT_S = 0.300
# Who is on screen where (frame ranges, inclusive): the shots of the clip's description in
# ../shared/data/README.md, with the cuts found exactly (the mean grey-level change between frames jumps at
# frames 20, 82 and 211). A grant or label of an enrolled person outside their frames is a false accept.
ON_SCREEN = {
    PERSON: [(0, 19), (82, 210)],  # far away on stage, then facing the camera
    "alex_lacamoire": [(20, 81)],  # in profile, in the foreground of the audience
    "obama": [(211, 274)],  # three-quarter view in the audience
}


# ------------------------------------------------------------------------------------------ frames
def parse_size(text: str) -> tuple[int, int] | None:
    """'640x480' -> (640, 480); 'native' -> None (frames as the file has them)."""
    if text.strip().lower() == "native":
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--size must be WIDTHxHEIGHT (e.g. 640x480) or 'native', got {text!r}") from None
    if width < 64 or height < 64:
        raise argparse.ArgumentTypeError("--size: both sides must be at least 64 pixels")
    return width, height


def parse_scales(text: str) -> list[float]:
    """'0.25,0.5' -> [0.25, 0.5] (order kept, repeats dropped); each between 0.05 and 1."""
    scales: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--peer-scale must be numbers separated by commas, got {text!r}") from None
        if not 0.05 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"--peer-scale: each scale must be between 0.05 and 1, got {value:g}")
        if value not in scales:
            scales.append(value)
    if not scales:
        raise argparse.ArgumentTypeError("--peer-scale: give at least one scale")
    return scales


def peer_name(scale: float) -> str:
    """Column label of the peer at `scale`: 'peer 0.25 (faithful)' for the example's own quarter size."""
    return f"peer {scale:g}" + (" (faithful)" if scale == 0.25 else "")


def letterbox(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Fit the frame inside `size` keeping its aspect ratio and pad the rest with black (640x360 -> 640x480
    adds 60 rows above and below). Works on RGB and BGR alike."""
    if size is None:
        return image
    width, height = size
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    if scale != 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        h, w = image.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    return cv2.copyMakeBorder(image, top, height - h - top, left, width - w - left, cv2.BORDER_CONSTANT,
                              value=(0, 0, 0))


def clip_info(path: Path) -> tuple[int, float, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    try:
        return (int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), float(capture.get(cv2.CAP_PROP_FPS)),
                (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))))
    finally:
        capture.release()


def rgb_frames(path: Path, size, first: int, last: int):
    """(index, RGB frame) for frames first..last of the file, letterboxed to `size`."""
    capture = cv2.VideoCapture(str(path))
    try:
        index = -1
        while index < last:
            ok, bgr = capture.read()
            if not ok:
                return
            index += 1
            if index >= first:
                yield index, cv2.cvtColor(letterbox(bgr, size), cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


class TimedLetterboxReader:
    """Wraps FaceGate's own file reader: letterboxes each frame and notes when it was captured (wall clock,
    the moment the decoded frame exists), so the decision latency can be measured from capture."""

    def __init__(self, reader, size, captured: dict[int, float]):
        self._reader = reader
        self._size = size
        self._captured = captured
        self.fps = reader.fps

    @property
    def index(self) -> int:
        return self._reader.index

    def read(self):
        image = self._reader.read()
        if image is None:
            return None
        image = letterbox(image, self._size)
        self._captured[self._reader.index] = time.perf_counter()
        return image

    def release(self) -> None:
        self._reader.release()


# ------------------------------------------------------------------------------------------ results
@dataclass
class RunResult:
    frames: int
    wall_s: float
    cpu_s: float
    processed_ms: list[float]  # per processed frame (FaceGate: every frame; peer: every other frame)
    processed: int
    encoded_faces: int
    encoded_frames: int
    first_frame: int | None  # FaceGate: frame of the grant for PERSON; peer: first frame labelled PERSON
    first_latency_ms: float | None  # capture -> decision/label of that frame
    first_processing_ms: float | None  # processing time of that frame alone
    events: list = field(default_factory=list)  # FaceGate: decisions; peer: (frame, [names])
    labels: dict = field(default_factory=dict)  # peer: name -> (processed frames, frames shown)
    label_frames: dict = field(default_factory=dict)  # name -> list of frames (processed)
    dropped: int = 0
    face_frame: int | None = None  # FaceGate: the first frame of PERSON's shot in which a face is tracked
    face_to_grant_ms: float | None = None  # capture of face_frame -> the grant decision, wall ms

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000.0 * self.cpu_s / self.frames


def on_screen(name: str, frame: int) -> bool:
    return any(a <= frame <= b for a, b in ON_SCREEN.get(name, []))


# ------------------------------------------------------------------------------------------ FaceGate
def build_gallery(clips: Path, workdir: Path, engine):
    from facegate.gallery import Gallery

    folder = workdir / "gallery"
    shutil.copytree(clips / "people_small" / "train", folder)
    shutil.copy(clips / PERSON_PHOTO, folder / f"{PERSON}.png")
    gallery = Gallery(folder, engine)
    problems = gallery.refresh()
    return gallery, problems


def warm_up(engine, gallery, settings, clip: Path, size) -> None:
    """Load every model and trace the encoder for each batch size the pipeline may use, then run a throwaway
    pipeline over a few real frames, so no timed frame pays a first-use cost."""
    from facegate.capture import Frame
    from facegate.pipeline import Pipeline, PipelineSettings
    from facegate.policy import AccessPolicy, PolicySettings
    from facegate.vision.align import CHIP_SIZE
    from facegate.vision.sface import SFACE_CHIP_SIZE

    pipeline_settings = PipelineSettings.from_settings(settings)
    rng = np.random.default_rng(0)
    for batch in range(1, pipeline_settings.max_batch + 1):
        for _ in range(2):
            engine.embed_chips(rng.integers(0, 255, (batch, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8),
                               rng.integers(0, 255, (batch, SFACE_CHIP_SIZE, SFACE_CHIP_SIZE, 3), dtype=np.uint8))
    pipeline = Pipeline(engine, gallery, AccessPolicy(PolicySettings.from_settings(settings)), pipeline_settings)
    for index, image in rgb_frames(clip, size, 100, 109):
        pipeline.process(Frame(image, index, index / 30.0))


def run_facegate(clip: Path, size, engine, gallery, settings, rules=None) -> RunResult:
    """One pass of the clip through the kiosk session built as `facegate run --headless --fast` builds it
    (build_session; no speech, no access log, liveness off: the recognition path is what is measured and compared
    with face_recognition); only the reader is wrapped, to letterbox and time-stamp frames. rules: the door's
    access rules (kiosk.access_rules), None: none (as before issue 31)."""
    from facegate.capture import open_reader
    from facegate.kiosk import build_session
    from facegate.liveness import LivenessSettings
    from facegate.policy import Verdict
    from facegate.session import SessionListener

    captured: dict[int, float] = {}
    processing_ms: dict[int, float] = {}
    decided: list[tuple] = []  # (decision, frame index, wall time)
    encoded_frames = 0
    face_frames: list[int] = []  # frames of PERSON's frontal shot in which a face is tracked
    shot = ON_SCREEN[PERSON][-1]

    class Measure(SessionListener):
        def on_result(self, result):
            nonlocal encoded_frames
            processing_ms[result.frame.index] = 1000.0 * result.seconds
            encoded_frames += result.encoded > 0
            if result.tracks and shot[0] <= result.frame.index <= shot[1]:
                face_frames.append(result.frame.index)

        def on_decision(self, decision, result):
            decided.append((decision, result.frame.index, time.perf_counter()))

    def reader_factory(spec, hold_seconds):
        return TimedLetterboxReader(open_reader(spec, hold_seconds), size, captured)

    session = build_session(settings, engine, gallery, source=str(clip), realtime=False, listeners=[Measure()],
                            learn=False, liveness=LivenessSettings(mode="off"), reader_factory=reader_factory,
                            rules=rules)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    session.start()
    session.wait()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    session.stop()
    if session.error is not None:
        raise RuntimeError(f"the pipeline failed: {session.error!r}")

    grant = next(((d, i, t) for d, i, t in decided if d.verdict is Verdict.GRANTED and d.name == PERSON), None)
    label_frames: dict[str, list[int]] = {}
    for d, i, _ in decided:
        if d.verdict is Verdict.GRANTED:
            label_frames.setdefault(d.name, []).append(i)
    return RunResult(
        frames=session.stats.frames, wall_s=wall, cpu_s=cpu,
        processed_ms=[processing_ms[i] for i in sorted(processing_ms)], processed=len(processing_ms),
        encoded_faces=session.stats.encoded, encoded_frames=encoded_frames,
        first_frame=grant[1] if grant else None,
        first_latency_ms=1000.0 * (grant[2] - captured[grant[1]]) if grant else None,
        first_processing_ms=processing_ms[grant[1]] if grant else None,
        events=[(i, d) for d, i, _ in decided], label_frames=label_frames, dropped=session.stats.dropped,
        face_frame=face_frames[0] if face_frames else None,
        face_to_grant_ms=1000.0 * (grant[2] - captured[face_frames[0]]) if grant and face_frames else None)


# ------------------------------------------------------------------------------------------ the peer
def peer_gallery(clips: Path):
    """Known encodings and names, one per enrolled photo, the way the example builds its two lists."""
    import face_recognition

    encodings, names, skipped = [], [], []
    photos = [(PERSON, clips / PERSON_PHOTO)]
    for person in sorted((clips / "people_small" / "train").iterdir()):
        photos += [(person.name, p) for p in sorted(person.iterdir()) if p.is_file()]
    for name, path in photos:
        found = face_recognition.face_encodings(face_recognition.load_image_file(str(path)))
        if found:
            encodings.append(found[0])
            names.append(name)
        else:
            skipped.append(path)
    return encodings, names, skipped


def run_peer(clip: Path, size, known_encodings, known_names, scale: float = 0.25) -> RunResult:
    """facerec_from_webcam_faster.py without the window: every frame is read; every other one is shrunk to a
    quarter (`scale`), turned RGB, searched with HOG, and each face found is encoded and named by its best match."""
    import face_recognition

    capture = cv2.VideoCapture(str(clip))
    process_this_frame = True
    face_names: list[str] = []
    processed_ms: list[float] = []
    events, shown, counted = [], {}, {}
    label_frames: dict[str, list[int]] = {}
    first = None
    encoded_faces = encoded_frames = 0
    index = -1
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frame = letterbox(frame, size)
        captured = time.perf_counter()
        index += 1
        if process_this_frame:
            small_frame = cv2.resize(frame, (0, 0), fx=scale, fy=scale)
            rgb_small_frame = cv2.cvtColor(small_frame, cv2.COLOR_BGR2RGB)
            face_locations = face_recognition.face_locations(rgb_small_frame)
            face_encodings = face_recognition.face_encodings(rgb_small_frame, face_locations)
            face_names = []
            for face_encoding in face_encodings:
                matches = face_recognition.compare_faces(known_encodings, face_encoding, PEER_TOLERANCE)
                distances = face_recognition.face_distance(known_encodings, face_encoding)
                best = int(np.argmin(distances))
                face_names.append(known_names[best] if matches[best] else "Unknown")
            done = time.perf_counter()
            processed_ms.append(1000.0 * (done - captured))
            encoded_faces += len(face_encodings)
            encoded_frames += bool(face_encodings)
            events.append((index, list(face_names)))
            for name in set(face_names):
                counted[name] = counted.get(name, 0) + 1
                label_frames.setdefault(name, []).append(index)
            if first is None and PERSON in face_names:
                first = (index, 1000.0 * (done - captured))
        process_this_frame = not process_this_frame
        for name in set(face_names):  # what the window would show on this frame (labels persist one frame)
            shown[name] = shown.get(name, 0) + 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    capture.release()
    return RunResult(
        frames=index + 1, wall_s=wall, cpu_s=cpu, processed_ms=processed_ms, processed=len(processed_ms),
        encoded_faces=encoded_faces, encoded_frames=encoded_frames,
        first_frame=first[0] if first else None, first_latency_ms=first[1] if first else None,
        first_processing_ms=first[1] if first else None, events=events,
        labels={n: (counted.get(n, 0), shown.get(n, 0)) for n in set(counted) | set(shown)},
        label_frames=label_frames)


# ------------------------------------------------------------------------------------------ reference
def first_findable_frame(clip: Path, size, photo_encoding):
    """First frame in FINDABLE_SCAN where full-frame HOG (upsample 1) + dlib descriptor is within 0.6 of the
    enrollment photo. Returns (frame, distance, face width in px) or None."""
    import face_recognition

    first, last = FINDABLE_SCAN
    for index, rgb in rgb_frames(clip, size, first, last):
        locations = face_recognition.face_locations(rgb, number_of_times_to_upsample=1, model="hog")
        if not locations:
            continue
        encodings = face_recognition.face_encodings(rgb, locations)
        distances = face_recognition.face_distance(encodings, photo_encoding)
        best = int(np.argmin(distances))
        if distances[best] < FINDABLE_DISTANCE:
            top, right, bottom, left = locations[best]
            return index, float(distances[best]), right - left
    return None


# ------------------------------------------------------------------------------------------ report
def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def frames_text(frames: list[int], limit: int = 8) -> str:
    if not frames:
        return "-"
    ranges, start, prev = [], frames[0], frames[0]
    for f in frames[1:]:
        if f - prev > 2:  # the peer looks at every other frame: a gap of 2 is still one run
            ranges.append((start, prev))
            start = f
        prev = f
    ranges.append((start, prev))
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges]
    return ", ".join(parts[:limit]) + (f", ... ({len(parts)} runs)" if len(parts) > limit else "")


@dataclass
class Measured:
    """Everything the runs measured, and what they ran on."""

    frames_total: int
    video_fps: float
    native: tuple[int, int]
    size_used: tuple[int, int]
    settings: object  # facegate.config.Settings
    findable: tuple[int, float, int] | None  # (frame, distance, face width) of the first findable frame
    findable_s: float
    ours_setup_s: float
    peer_setup_s: float
    problems: list  # photos the gallery left out
    enrolled: dict[str, int]  # person -> photos
    known_names: list[str]  # the peer's gallery, one name per encoded photo
    peer_skipped: list[Path]  # photos the peer found no face in
    ours_runs: list[RunResult]
    peer_runs: dict[float, list[RunResult]]  # scale -> runs

    @property
    def findable_frame(self) -> int | None:
        return self.findable[0] if self.findable else None

    def since_findable(self, frame) -> float | None:
        """Video seconds from the first findable frame to `frame`."""
        if frame is None or self.findable_frame is None:
            return None
        return (frame - self.findable_frame) / self.video_fps


def measure(clips: Path, size, repeat: int, scales: list[float]) -> Measured:
    """The reference (first findable frame), then `repeat` runs of FaceGate and of the peer at each scale,
    interleaved."""
    import face_recognition

    from facegate.config import Settings
    from facegate.vision.engine import FaceEngine

    clip = clips / CLIP
    total, video_fps, native = clip_info(clip)
    settings = Settings()

    # Reference: the first findable frame, with the peer's own library (dlib HOG + dlib descriptor).
    started = time.perf_counter()
    photo = face_recognition.load_image_file(str(clips / PERSON_PHOTO))
    photo_encoding = face_recognition.face_encodings(photo, face_recognition.face_locations(photo, 1))[0]
    findable = first_findable_frame(clip, size, photo_encoding)
    findable_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        started = time.perf_counter()
        engine = FaceEngine(detector=settings.detector)
        gallery, problems = build_gallery(clips, Path(tmp), engine)
        warm_up(engine, gallery, settings, clip, size)
        ours_setup_s = time.perf_counter() - started
        started = time.perf_counter()
        known_encodings, known_names, peer_skipped = peer_gallery(clips)
        peer_setup_s = time.perf_counter() - started

        ours_runs: list[RunResult] = []
        peer_runs: dict[float, list[RunResult]] = {s: [] for s in scales}
        for _ in range(repeat):  # interleaved, so that background load hits every system alike
            ours_runs.append(run_facegate(clip, size, engine, gallery, settings))
            for s in scales:
                peer_runs[s].append(run_peer(clip, size, known_encodings, known_names, s))
        enrolled = {name: gallery.photo_count(name) for name in gallery.people}
    return Measured(total, video_fps, native, size or native, settings, findable, findable_s, ours_setup_s,
                    peer_setup_s, problems, enrolled, known_names, peer_skipped, ours_runs, peer_runs)


@dataclass
class Medians:
    """The medians over the runs that the side-by-side table and the targets compare (peer ones per scale)."""

    ours_fps: float
    peer_fps: dict[float, float]
    ours_grant: float | None  # frame of FaceGate's grant for PERSON
    peer_label: dict[float, float | None]  # frame of the peer's first label PERSON
    ours_latency_ms: float | None  # capture -> decision of that frame
    peer_latency_ms: dict[float, float | None]
    ours_to_grant: float | None  # video seconds from the first findable frame
    peer_to_label: dict[float, float | None]


def medians(m: Measured) -> Medians:
    peer_label = {s: med([r.first_frame for r in runs]) for s, runs in m.peer_runs.items()}
    ours_grant = med([r.first_frame for r in m.ours_runs])
    return Medians(
        med([r.fps for r in m.ours_runs]), {s: med([r.fps for r in runs]) for s, runs in m.peer_runs.items()},
        ours_grant, peer_label, med([r.first_latency_ms for r in m.ours_runs]),
        {s: med([r.first_latency_ms for r in runs]) for s, runs in m.peer_runs.items()},
        m.since_findable(ours_grant), {s: m.since_findable(f) for s, f in peer_label.items()})


@dataclass
class Judgement:
    """The targets, judged: FaceGate against the camera, the peer and the grant budget, and its grants."""

    ratios: dict[float, float]  # scale -> FaceGate fps / peer fps
    working: list[float]  # the peer scales that recognise PERSON in every run: the only fair comparison
    keeps_up: bool
    ratio_met: bool | None  # None: no peer scale recognises PERSON
    grant_met: bool  # within TARGET_GRANT_S of the first findable frame
    grants: list  # (frame, decision) of run 1
    false_accepts: list  # (frame, name) of run 1's grants of someone not on screen
    one_grant: bool  # exactly one grant, for PERSON, and no false accept

    def judged_scale(self) -> float | None:
        """Against the fastest peer that does the job (the smallest ratio), so that MET holds for them all."""
        return min(self.working, key=lambda s: self.ratios[s]) if self.working else None


def judge(m: Measured, md: Medians) -> Judgement:
    ratios = {s: md.ours_fps / md.peer_fps[s] for s in m.peer_runs}
    # A peer scale counts for the ratio target only if it recognises PERSON (labels them in every run); a
    # peer that finds no face, or never names them, does none of the work being compared.
    working = [s for s in m.peer_runs if all(r.first_frame is not None for r in m.peer_runs[s])]
    ratio_met = min(ratios[s] for s in working) >= TARGET_RATIO if working else None
    grants = [(i, d) for i, d in m.ours_runs[0].events if d.verdict.value == "granted"]
    false_accepts = [(i, d.name) for i, d in grants if not on_screen(d.name, i)]
    return Judgement(ratios, working, md.ours_fps >= TARGET_FPS and m.size_used == (640, 480), ratio_met,
                     md.ours_to_grant is not None and md.ours_to_grant <= TARGET_GRANT_S + 1e-9, grants,
                     false_accepts, len(grants) == 1 and grants[0][1].name == PERSON and not false_accepts)


def print_header(report: Report, m: Measured, repeat: int, scales: list[float]) -> None:
    from importlib.metadata import version

    import dlib
    import tensorflow as tf

    settings = m.settings
    report.say("FaceGate live pipeline vs face_recognition 'webcam, faster' loop, same clip, as fast as possible")
    report.say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
               f"load average {os.getloadavg()[0]:.2f} at end (shared machine: medians of {repeat} runs each, "
               f"interleaved; peer scales {', '.join(f'{s:g}' for s in scales)})", cpu_cores=os.cpu_count(),
               load_average=os.getloadavg()[0], repeat=repeat, peer_scales=scales)
    report.say(f"versions: TF {tf.__version__}, OpenCV {cv2.__version__}, dlib {dlib.__version__}, "
               f"face_recognition {version('face_recognition')}",
               versions={"tensorflow": tf.__version__, "opencv": cv2.__version__, "dlib": dlib.__version__,
                         "face_recognition": version("face_recognition")})
    report.say(f"clip: {CLIP}, {m.frames_total} frames, {m.video_fps:.2f} fps, {m.native[0]}x{m.native[1]}; frame "
               f"size used: {m.size_used[0]}x{m.size_used[1]}"
               + (" (letterboxed, black bars)" if m.size_used != m.native else ""), clip=CLIP,
               clip_frames=m.frames_total, clip_fps=m.video_fps, frame_size=m.size_used)
    report.say(f"gallery: {len(m.enrolled)} people, {sum(m.enrolled.values())} photos "
               f"({', '.join(f'{n} {c}' for n, c in m.enrolled.items())})"
               + (f"; left out: {'; '.join(str(p) for p in m.problems)}" if m.problems else ""), gallery=m.enrolled)
    report.say(f"peer gallery: {len(m.known_names)} photo encodings"
               + (f"; no face found in: {', '.join(p.name for p in m.peer_skipped)}" if m.peer_skipped else ""),
               peer_gallery_encodings=len(m.known_names))
    report.say(f"FaceGate: Settings() defaults: detector {settings.detector} at max side {settings.detect_max_side}, "
               f"threshold {settings.threshold}, margin {settings.min_margin}, {settings.votes_needed} of "
               f"{settings.vote_window} votes; set-up + warm-up {m.ours_setup_s:.1f} s (not timed); "
               f"peer set-up {m.peer_setup_s:.1f} s (not timed)")
    report.say(f"liveness: off in this benchmark (the recognition path, as the peer has none); the app's default is "
               f"'{settings.liveness}': its cost per frame and time to grant are in benchmarks/liveness.py")
    if m.findable:
        frame, distance, width = m.findable
        report.say(f"first findable frame: {frame} (scan of frames {FINDABLE_SCAN[0]}-{FINDABLE_SCAN[1]}: first "
                   f"frame where dlib HOG, upsample 1, full frame finds a face whose dlib descriptor is "
                   f"< {FINDABLE_DISTANCE} from {PERSON}'s photo: distance {distance:.3f}, face {width} px wide; "
                   f"scan took {m.findable_s:.1f} s)", findable_frame=frame, findable_distance=distance,
                   findable_face_px=width)
    else:
        report.say(f"first findable frame: NONE in frames {FINDABLE_SCAN[0]}-{FINDABLE_SCAN[1]} - times to grant "
                   "cannot be computed", findable_frame=None)


def print_per_run(report: Report, m: Measured, scales: list[float]) -> None:
    report.say()
    report.say("per run (wall-clock frames/s over the whole clip, decoding included; 'ratio' = FaceGate fps / peer "
               f"fps; grant / 1st label = frame of FaceGate's grant / the peer's first label '{PERSON}')")
    group = 34
    report.say(f"  {'':>3}{'FaceGate':>24}" + "".join(f"{peer_name(s):>{group}}" for s in scales))
    report.say(f"  {'run':>3}{'fps':>10}{'grant':>14}" + f"{'fps':>10}{'ratio':>10}{'1st label':>14}" * len(scales))
    for i, o in enumerate(m.ours_runs):
        line = f"  {i + 1:>3}{o.fps:>10.1f}{fmt(o.first_frame, 'd', 'never'):>14}"
        peers = []
        for s in scales:
            p = m.peer_runs[s][i]
            line += f"{p.fps:>10.1f}{o.fps / p.fps:>10.2f}{fmt(p.first_frame, 'd', 'never'):>14}"
            peers.append({"scale": s, "fps": p.fps, "ratio": o.fps / p.fps, "first_label": p.first_frame})
        report.row("runs", line, run=i + 1, fps=o.fps, grant=o.first_frame, peers=peers)


def print_side_by_side(report: Report, m: Measured, md: Medians, repeat: int, scales: list[float]) -> None:
    column = 24
    last_o = m.ours_runs[-1]
    last_p = {s: runs[-1] for s, runs in m.peer_runs.items()}

    def row(label, key, ours, *peers, values=None):
        """A row of the table; `values` (FaceGate's, then each peer's) are its JSON figures, else the texts."""
        ours_value, *peer_values = values if values is not None else (ours, *peers)
        report.row("side_by_side", f"  {label:<52}{ours:>14}" + "".join(f"{p:>{column}}" for p in peers),
                   measure=key, facegate=ours_value, peers=dict(zip(scales, peer_values, strict=True)))

    def per_peer(value):
        return [value(s, m.peer_runs[s]) for s in scales]

    def medians_of(value):
        """FaceGate's median of `value` over the runs, then each peer's."""
        return [med([value(r) for r in m.ours_runs])] + per_peer(lambda s, runs: med([value(r) for r in runs]))

    def video_ms(seconds):
        return None if seconds is None else 1000 * seconds

    def to_decision(seconds, latency):
        return None if seconds is None or latency is None else 1000 * seconds + latency

    report.say()
    report.say(f"side by side (medians of {repeat} runs)")
    report.say(f"  {'':<52}{'FaceGate':>14}" + "".join(f"{peer_name(s):>{column}}" for s in scales))
    row("frames in (all frames of the clip)", "frames", f"{last_o.frames}",
        *per_peer(lambda s, _: f"{last_p[s].frames}"), values=[last_o.frames, *(last_p[s].frames for s in scales)])
    row("frames dropped", "dropped", f"{last_o.dropped}", *["0"] * len(scales),
        values=[last_o.dropped, *[0] * len(scales)])
    row("frames processed (detector ran)", "processed", f"{last_o.processed}",
        *per_peer(lambda s, _: f"{last_p[s].processed}"),
        values=[last_o.processed, *(last_p[s].processed for s in scales)])
    row("throughput, frames/s (wall clock, end to end)", "fps", f"{md.ours_fps:.1f}",
        *per_peer(lambda s, _: f"{md.peer_fps[s]:.1f}"), values=[md.ours_fps, *(md.peer_fps[s] for s in scales)])
    cpu = medians_of(lambda r: r.cpu_ms_per_frame)
    row("CPU ms per frame (process_time, all threads)", "cpu_ms_per_frame", *(f"{v:.1f}" for v in cpu), values=cpu)
    median_ms = medians_of(lambda r: float(np.median(r.processed_ms)))
    row("processing ms per processed frame, median", "processing_ms_median", *(f"{v:.1f}" for v in median_ms),
        values=median_ms)
    p90_ms = medians_of(lambda r: float(np.percentile(r.processed_ms, 90)))
    row("processing ms per processed frame, p90", "processing_ms_p90", *(f"{v:.1f}" for v in p90_ms), values=p90_ms)
    row("faces encoded (frames with an encoding)", "faces_encoded", f"{last_o.encoded_faces} ({last_o.encoded_frames})",
        *per_peer(lambda s, _: f"{last_p[s].encoded_faces} ({last_p[s].encoded_frames})"),
        values=[{"faces": r.encoded_faces, "frames": r.encoded_frames} for r in [last_o, *last_p.values()]])
    row("first findable frame", "findable_frame", fmt(m.findable_frame, "d"),
        *[fmt(m.findable_frame, "d")] * len(scales), values=[m.findable_frame] * (1 + len(scales)))
    row(f"frame of the grant / first label '{PERSON}'", "grant_frame", fmt(md.ours_grant, ".0f", "never"),
        *per_peer(lambda s, _: fmt(md.peer_label[s], ".0f", "never")),
        values=[md.ours_grant, *(md.peer_label[s] for s in scales)])
    to_grant = [video_ms(md.ours_to_grant), *(video_ms(md.peer_to_label[s]) for s in scales)]
    row("  time from findable frame, video ms", "from_findable_video_ms", *(fmt(v, ".0f") for v in to_grant),
        values=to_grant)
    latency = [md.ours_latency_ms, *(md.peer_latency_ms[s] for s in scales)]
    row("  latency of that frame: capture -> decision, ms", "latency_ms", *(fmt(v, ".1f") for v in latency),
        values=latency)
    processing = medians_of(lambda r: r.first_processing_ms)
    row("    of which processing that frame, ms", "latency_processing_ms", *(fmt(v, ".1f") for v in processing),
        values=processing)
    total = [to_decision(md.ours_to_grant, md.ours_latency_ms),
             *(to_decision(md.peer_to_label[s], md.peer_latency_ms[s]) for s in scales)]
    row("  findable -> decision, video ms + latency", "findable_to_decision_ms", *(fmt(v, ".0f") for v in total),
        values=total)
    report.say("  FaceGate's capture -> decision includes the wait in the lockstep hand-off while the previous frame "
               "is processed.")
    for s in scales:
        report.say(f"  {peer_name(s)}: every other frame shrunk by {s:g} "
                   f"({round(m.size_used[0] * s)}x{round(m.size_used[1] * s)}), HOG upsample 1, "
                   f"tolerance {PEER_TOLERANCE}" + (" (the example's quarter size)" if s == 0.25 else
                                                    " (NOT the example's quarter size)"))
        if last_p[s].encoded_faces == 0:
            report.say(f"    NOTE: at {s:g} the peer found no face in any frame: dlib's HOG window is 80 px, ~40 px "
                       f"with upsample 1, and at {s:g} scale the clip's faces (Lin-Manuel Miranda 80-130 px) are "
                       f"{round(80 * s)}-{round(130 * s)} px. Its throughput is that of a detector finding nothing, "
                       "with no encoding work.")


def print_decisions(report: Report, m: Measured, j: Judgement) -> None:
    ours_runs = m.ours_runs
    same = all(_same_events(r, ours_runs[0]) for r in ours_runs)
    report.say()
    report.say(f"FaceGate decisions (run 1; {'identical in every run' if same else 'DIFFER between runs, see below'})",
               decisions_identical_in_every_run=same)
    report.say(f"  {'frame':>5}  {'track':>5}  {'decision':<9}{'name':<22}{'distance':>9}  {'greeted':<8}{'check'}")
    for index, d in ours_runs[0].events:
        check = ""
        if d.verdict.value == "granted":
            check = "correct" if on_screen(d.name, index) else "FALSE ACCEPT"
        report.row("decisions", f"  {index:>5}  {d.track_id:>5}  {d.verdict.value:<9}{d.name or '-':<22}"
                   f"{fmt(d.distance, '.3f'):>9}  {str(d.greet):<8}{check}", frame=index, track=d.track_id,
                   decision=d.verdict.value, name=d.name, distance=d.distance, greeted=d.greet, check=check)
    for i, r in enumerate(ours_runs[1:], 2):
        if not _same_events(r, ours_runs[0]):
            report.say(f"  run {i}: " + "; ".join(f"{idx} {d.verdict.value} {d.name or '-'}" for idx, d in r.events))
    report.say(f"  grants: {len(j.grants)} ({', '.join(f'{d.name} at frame {i}' for i, d in j.grants) or 'none'}); "
               f"false accepts: {len(j.false_accepts)}", grants=len(j.grants), false_accepts=len(j.false_accepts))


def print_peer_labels(report: Report, m: Measured, scales: list[float]) -> None:
    for s in scales:
        first_run = m.peer_runs[s][0]
        report.say()
        report.say(f"{peer_name(s)}: labels per enrolled person (run 1; the peer names faces per frame, with no vote)")
        report.say(f"  {'name':<22}{'processed frames':>17}{'frames shown':>14}{'false':>7}  frames (processed)")
        peer_false_total = 0
        for name in sorted(set(m.known_names) | set(first_run.labels), key=lambda n: (n == "Unknown", n)):
            counted, shown = first_run.labels.get(name, (0, 0))
            frames = first_run.label_frames.get(name, [])
            false = 0 if name == "Unknown" else sum(1 for f in frames if not on_screen(name, f))
            peer_false_total += false
            report.row("peer_labels", f"  {name:<22}{counted:>17}{shown:>14}{('' if name == 'Unknown' else false):>7}"
                       f"  {frames_text(frames)}", scale=s, name=name, processed_frames=counted, frames_shown=shown,
                       false=None if name == "Unknown" else false, frames=frames)
        report.row("peer_false_accepts", f"  false accepts (processed frames naming an enrolled person who is not on "
                   f"screen then): {peer_false_total}" + ("; the peer found no face at this scale"
                                                          if first_run.encoded_faces == 0 else ""),
                   scale=s, false_accepts=peer_false_total)
    report.say("  'frames shown' also counts the skipped frame after each processed one, which keeps its labels")
    report.say("  on-screen frames used for 'false' (the clip's shots): "
               + "; ".join(f"{n} {', '.join(f'{a}-{b}' for a, b in r)}" for n, r in ON_SCREEN.items())
               + "; everyone else: none")


def print_targets(report: Report, m: Measured, md: Medians, j: Judgement, scales: list[float]) -> None:
    last_p = {s: runs[-1] for s, runs in m.peer_runs.items()}
    report.say()
    report.say("throughput ratio FaceGate / peer (medians)")
    for s in scales:
        if last_p[s].encoded_faces == 0:
            why = "peer finds NO face at this scale: not a valid comparison, not used for the target"
        elif s not in j.working:
            why = f"peer never names {PERSON} in every run: not a valid comparison, not used for the target"
        else:
            why = f"peer recognises {PERSON} (first label at frame {md.peer_label[s]:.0f})"
        report.row("ratios", f"  {peer_name(s):<22}{j.ratios[s]:>7.2f}x  ({md.ours_fps:.1f} / {md.peer_fps[s]:.1f} "
                   f"fps; {why})", scale=s, ratio=j.ratios[s], used_for_the_target=s in j.working)
    report.say("targets")
    report.say(f"  keep up with a 30 fps camera at 640x480 (>= {TARGET_FPS:.0f} fps): {md.ours_fps:.1f} fps at "
               f"{m.size_used[0]}x{m.size_used[1]}: {'MET' if j.keeps_up else 'NOT MET'}"
               + ("" if m.size_used == (640, 480) else " (not measured at 640x480)"), target_fps_met=j.keeps_up)
    judged = j.judged_scale()
    if judged is not None:
        report.say(f"  >= {TARGET_RATIO:.0f}x the peer's throughput (against the peer scales that recognise {PERSON}: "
                   f"{', '.join(f'{s:g}' for s in j.working)}; the fastest of them, {peer_name(judged)}): "
                   f"{j.ratios[judged]:.2f}x: {'MET' if j.ratio_met else 'NOT MET'}", target_ratio_met=j.ratio_met,
                   judged_ratio=j.ratios[judged])
    else:
        report.say(f"  >= {TARGET_RATIO:.0f}x the peer's throughput: no peer scale "
                   f"({', '.join(f'{s:g}' for s in scales)}) recognises {PERSON}: NOT MEASURABLE",
                   target_ratio_met=None)
    if md.ours_to_grant is None:
        report.say(f"  grant within {TARGET_GRANT_S * 1000:.0f} ms of the face becoming findable: no grant "
                   "or no findable frame: NOT MET", target_grant_met=False)
    else:
        report.say(f"  grant within {TARGET_GRANT_S * 1000:.0f} ms of the face becoming findable (video time): "
                   f"{1000 * md.ours_to_grant:.0f} ms ({md.ours_grant - m.findable_frame:.0f} frames): "
                   f"{'MET' if j.grant_met else 'NOT MET'}", target_grant_met=j.grant_met,
                   grant_ms=1000 * md.ours_to_grant)
    report.say(f"  exactly one grant, for {PERSON}, no false accept: {'yes' if j.one_grant else 'NO'}",
               one_grant_no_false_accept=j.one_grant)


# ------------------------------------------------------------------------------------------ --access-plan
PLAN_GROUPS = 50
PLAN_PEOPLE = 10_000
PLAN_DOOR = "Front door"


def big_plan_text(groups: int = PLAN_GROUPS, people: int = PLAN_PEOPLE) -> str:
    """A site's worth of rules: `groups` groups with doors and weekly hours, holidays, a passback pair at this door,
    `people` synthetic people in one to three groups each (a third with validity dates), and PERSON in a group open
    on weekdays 07:00-19:00 at this door."""
    rng = np.random.default_rng(31)
    doors = [PLAN_DOOR, "Front exit", "Side door", "Loading bay", "Lab", "Server room", "Roof", "Car park"]
    lines = ["timezone Europe/London", "erase-expired-after 30 days", "erase-visitors-after 2 hours"]
    names = [f"Group {g:02d}" for g in range(groups)]
    for g, name in enumerate(names):
        listed = " ".join(f'"{d}"' for d in rng.choice(doors, size=1 + g % 3, replace=False))
        start = 6 + g % 4
        lines.append(f'group "{name}" doors {listed} hours Mon-Fri {start:02d}:00-{start + 11:02d}:00 Sat 09:00-13:00')
    lines += [f"holiday 2026-{m:02d}-{d:02d} \"Holiday {m}-{d}\"" for m, d in ((1, 1), (4, 3), (5, 4), (12, 25))]
    lines.append(f'passback in "{PLAN_DOOR}" out "Front exit" reset 12 hours')
    for p in range(people):
        member = " ".join(f'"{names[int(g)]}"' for g in rng.choice(groups, size=1 + p % 3, replace=False))
        dates = f" from 2026-01-{1 + p % 28:02d} until 2027-{1 + p % 12:02d}-{1 + p % 28:02d}" if p % 3 == 0 else ""
        lines.append(f'person "Person {p:05d} Synthetic" groups {member}{dates}')
    lines.append(f'group "Office" doors "{PLAN_DOOR}" hours Mon-Fri 07:00-19:00')
    lines.append(f'person "{PERSON}" groups "Office"')
    return "\n".join(lines) + "\n"


def per_call_us(call, count: int = 2000) -> float:
    """Median wall microseconds of one call, over `count` calls."""
    times = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1000.0


def access_plan_benchmark(report: Report, clips: Path, size, repeat: int) -> None:
    """FaceGate without access rules and with the big plan, interleaved; then AccessRules.check alone."""
    import datetime as dt
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from facegate.access_plan import AccessPlanFile, plan_path_for
    from facegate.access_rules import Passages
    from facegate.config import Settings
    from facegate.kiosk import access_rules
    from facegate.vision.engine import FaceEngine

    clip = clips / CLIP
    settings = replace(Settings(), door_name=PLAN_DOOR)
    monday = dt.datetime(2026, 12, 7, 10, tzinfo=ZoneInfo("Europe/London")).timestamp()
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        engine = FaceEngine(detector=settings.detector)
        gallery, _ = build_gallery(clips, Path(tmp), engine)
        warm_up(engine, gallery, settings, clip, size)
        path = plan_path_for(gallery.folder)
        path.write_text(big_plan_text(), encoding="utf-8")
        started = time.perf_counter()
        plan_file = AccessPlanFile(path)
        plan = plan_file.plan()
        parse_ms = 1000 * (time.perf_counter() - started)
        plan_kib = path.stat().st_size / 1024
        assert plan_file.problem is None, plan_file.problem

        def rules():  # a fresh door each run: no passage from the previous run
            return access_rules(settings, None, lambda: monday, plan_file.plan, Passages())

        before: list[RunResult] = []
        after: list[RunResult] = []
        for _ in range(repeat):
            before.append(run_facegate(clip, size, engine, gallery, settings))
            after.append(run_facegate(clip, size, engine, gallery, settings, rules()))
        door = rules()
        evening = access_rules(settings, None, lambda: monday + 11 * 3600, plan_file.plan, Passages())
        other = next(name for name in plan.people
                     if name != PERSON and door.rules[0].check(name, monday) is not None)
        cases = {"granted": (door, PERSON), "refused, another door": (door, other),
                 "refused, hours (21:00)": (evening, PERSON), "no line (Everyone)": (door, "Nobody Listed")}
        check_us = {what: per_call_us(lambda on=on, name=name: on.check(name))
                    for what, (on, name) in cases.items()}
        said = {what: on.check(name) for what, (on, name) in cases.items()}
        enrolled = gallery.people

    report.say("FaceGate's decision path without access rules (before issue 31) and with a big access plan (after), "
               f"same clip, as fast as possible, {repeat} runs each, interleaved")
    report.say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, load average "
               f"{os.getloadavg()[0]:.2f}", cpu_cores=os.cpu_count(), load_average=os.getloadavg()[0])
    report.say(f"plan: {len(plan.groups)} groups ({PLAN_GROUPS} synthetic + Everyone, Visitors, Office), "
               f"{len(plan.people)} people ({PLAN_PEOPLE} synthetic + {PERSON}), {len(plan.holidays)} holidays, "
               f"{len(plan.passbacks)} passback pair at this door; file {plan_kib:.0f} KiB, read "
               f"and checked in {parse_ms:.0f} ms; clock set to Monday 2026-12-07 10:00 Europe/London",
               groups=len(plan.groups), people=len(plan.people), plan_kib=plan_kib,
               parse_ms=parse_ms)
    report.say(f"gallery: {', '.join(enrolled)} (the real small gallery and the clip's person: what is measured "
               "is the decision path's added cost)")
    column = 22
    report.say()
    report.say(f"  {'':<58}{'before: no rules':>{column}}{'after: big plan':>{column}}")

    def row(label, key, value, spec):
        ours = [med([value(r) for r in runs]) for runs in (before, after)]
        report.row("access_plan", f"  {label:<58}" + "".join(f"{fmt(v, spec):>{column}}" for v in ours),
                   measure=key, before=ours[0], after=ours[1])

    row("throughput, frames/s (wall clock, end to end), median", "fps", lambda r: r.fps, ".1f")
    row("processing ms per frame, median of the runs' medians", "processing_ms_median",
        lambda r: float(np.median(r.processed_ms)), ".2f")
    row(f"first frame of {PERSON}'s face (tracked), median", "face_frame", lambda r: r.face_frame, ".0f")
    row("frame of the grant, median", "grant_frame", lambda r: r.first_frame, ".0f")
    row("grant latency: capture of that first face frame -> grant, ms", "face_to_grant_ms",
        lambda r: r.face_to_grant_ms, ".1f")
    row("  of which the grant frame's capture -> decision, ms", "latency_ms", lambda r: r.first_latency_ms, ".1f")
    grants = [[(i, d.name) for i, d in r.events if d.verdict.value == "granted"] for r in before + after]
    report.say(f"  grants per run: {'; '.join(', '.join(f'{n} at {i}' for i, n in g) or 'none' for g in grants)}",
               grants=grants)
    report.say()
    report.say("AccessRules.check alone, the big plan (PlanRule then AntiPassback, the plan file's reload check "
               "included), median of 2000 calls:")
    for what, us in check_us.items():
        refusal = said[what]
        report.row("check_us", f"  {what:<24}{us:>8.1f} us" + (f"   ({refusal.rule}: {refusal.reason})"
                                                               if refusal is not None else ""), case=what, us=us)
    report.finish()


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--size", type=parse_size, default=parse_size("640x480"),
                        help="frame size both systems see: the clip is letterboxed (padded) to it; "
                             "'native' keeps 640x360 (default 640x480, a webcam frame)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each system, interleaved; medians are reported (default 3)")
    parser.add_argument("--peer-scale", type=parse_scales, default=parse_scales("0.25,0.5"),
                        help="how much the peer shrinks each frame before detecting, a comma-separated list; the "
                             "peer runs once per scale (default 0.25,0.5: 0.25 is the example's quarter size, the "
                             "faithful peer, which finds no face in this clip; 0.5 does)")
    parser.add_argument("--access-plan", action="store_true",
                        help=f"measure the access rules' added cost instead of the peer: FaceGate without rules and "
                             f"with a plan of {PLAN_GROUPS} groups and {PLAN_PEOPLE:,} people, side by side")
    args = parser.parse_args(argv)
    scales: list[float] = args.peer_scale
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    report = Report("pipeline", args.json)
    clips = need_clips(report, CLIP)
    if args.access_plan:
        access_plan_benchmark(report, clips, args.size, args.repeat)
        return 0
    need_peer(report)

    measured = measure(clips, args.size, args.repeat, scales)
    md = medians(measured)
    judgement = judge(measured, md)

    print_header(report, measured, args.repeat, scales)
    print_per_run(report, measured, scales)
    print_side_by_side(report, measured, md, args.repeat, scales)
    print_decisions(report, measured, judgement)
    print_peer_labels(report, measured, scales)
    print_targets(report, measured, md, judgement, scales)
    report.finish()
    return 0


def _same_events(a: RunResult, b: RunResult) -> bool:
    key = lambda r: [(i, d.track_id, d.verdict, d.name) for i, d in r.events]  # noqa: E731
    return key(a) == key(b)


if __name__ == "__main__":
    sys.exit(main())
