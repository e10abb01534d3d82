"""The passive presentation-attack model (MiniFASNet, facegate/vision/antispoof.py) and its cue, per data set.

    PYTHONPATH=. .venv/bin/python benchmarks/pad_model.py [--calibration] [--suite DIR] [--external DIR]
                                                          [--lfw N] [--json]

For each data set: the live probability per frame (median, 5th/25th/75th/95th percentiles), and at the texture
cue's thresholds (facegate/liveness/texture.py, TextureSettings):
- per frame, as if the frame were held: the share at or above the LIVE threshold (for attacks: APCER per frame)
  and at or below the ATTACK threshold (for bona fide: BPCER per frame);
- per presentation, for videos: each 1-second stretch (30 frames) is fed to a fresh TextureCue, and its verdict at
  the end is counted: APCER = attack stretches called LIVE, BPCER = bona fide stretches called ATTACK; the share
  left UNSURE is given too (the check then asks for more, which is not an error).
- the model's time per face (both networks, crop included), median over every frame.

Faces are found with FaceGate's YuNet (the largest face of the frame), as the kiosk finds them.

Report sets (what the figures in the docs are): bona fide: the real clip's Lin-Manuel Miranda frontal shot (frames
83-210); the enrollment photos of ../shared/data/clips (camera photos, some re-compressed web images); the second
half of an LFW sample (news photos, re-compressed web JPEGs). Attacks: the rendered suite of facegate_dev/attacks.py
drawn with seed 2 (quick, 4 s each: flat and bent prints in a hand, a print on a stand, two phone replays of the
clip), per kind; a PromptFollowingPrint answering requests (seed 2). Real presentation-attack samples (--external,
default /tmp/facegate_pad_data; skipped when absent, never committed):
- `silent_face/`: minivision-ai/Silent-Face-Anti-Spoofing images/sample/ at b6d5f04 (Apache-2.0): image_T1 (live),
  image_F1 (print), image_F2 (tablet screen). The model's own demo images: it was surely tuned with them in view.
- `vietmoney/`: vietmoney/face-anti-spoofing data/test/ at 82b8ce8 (repository Apache-2.0; the images' own source
  is not stated: true_001/002 look like CASIA-FASD frames, a research-only set): true_001-003 (live), fake_001-003
  (prints). That project runs the same MiniFASNet weights, so it may have picked images they classify well.
- `doubango/`: DoubangoTelecom/FaceLivenessDetection-SDK assets/images/ (a commercial SDK's demo; no licence for
  the images: local use only): genuine.jpg (live), spoof.jpg (a face on a screen).
Each set folder holds live/ and attack/ with the images; benchmarks/pad_model.py --external DIR reads any such
folders.

Calibration sets (--calibration; the thresholds were read from these, never from the report sets): bona fide: the
clip's audience shots (frames 15-82 and 215-274) and the first half of the LFW sample; attacks: the rendered suite
with seed 1.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser, need_clips  # noqa: E402

STRETCH = 30  # frames per presentation when a video is cut into 1-second stretches
DEFAULT_EXTERNAL = Path("/tmp/facegate_pad_data")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class DataSet:
    name: str
    attack: bool
    note: str
    live: list[float] = field(default_factory=list)  # one live probability per frame with a face
    stretches: list[list[float]] = field(default_factory=list)  # videos: per-stretch probabilities
    missed: int = 0  # frames or images without a face


def largest_face(engine, image_rgb):
    faces = engine.detect(image_rgb, landmarks=False)
    return max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None


class Measure:
    def __init__(self):
        from facegate.vision.engine import FaceEngine

        self.engine = FaceEngine()
        self.model = self.engine.pad_model
        self.times: list[float] = []

    def frame(self, image_rgb) -> float | None:
        face = largest_face(self.engine, image_rgb)
        if face is None:
            return None
        start = time.perf_counter()
        live = self.model.infer(image_rgb, face.box)
        self.times.append(time.perf_counter() - start)
        return live

    def images(self, data: DataSet, paths: list[Path]) -> DataSet:
        from facegate.imageio import load_image

        for path in paths:
            live = self.frame(load_image(path))
            if live is None:
                data.missed += 1
            else:
                data.live.append(live)
        return data

    def frames(self, data: DataSet, frames_rgb) -> DataSet:
        """A video (an iterable of RGB frames): every frame measured, cut into 1-second stretches."""
        stretch: list[float] = []
        for image_rgb in frames_rgb:
            live = self.frame(image_rgb)
            if live is None:
                data.missed += 1
                continue
            data.live.append(live)
            stretch.append(live)
            if len(stretch) == STRETCH:
                data.stretches.append(stretch)
                stretch = []
        if len(stretch) >= STRETCH // 2:
            data.stretches.append(stretch)
        return data


def video_frames(path: Path, first: int = 0, last: int | None = None):
    import cv2

    capture = cv2.VideoCapture(str(path))
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or (last is not None and index > last):
                return
            if index >= first:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def suite_sets(measure: Measure, suite: Path, seed: int, tag: str) -> list[DataSet]:
    from facegate_dev.attacks import build_suite, load_manifest

    if not (suite / "manifest.json").is_file():
        build_suite(suite, seed=seed, quick=True)
    by_kind: dict[str, DataSet] = {}
    for attack in load_manifest(suite):
        data = by_kind.setdefault(attack.kind, DataSet(f"{tag}{attack.kind}", True,
                                                       f"rendered suite seed {seed}, {attack.kind}"))
        measure.frames(data, video_frames(attack.path))
    return list(by_kind.values())


def prompt_following_print(measure: Measure, clips: Path, seed: int) -> DataSet:
    import cv2

    from facegate.liveness import INSTRUCTIONS, Action
    from facegate_dev.attacks import PromptFollowingPrint

    data = DataSet("prompt_following_print", True, f"PromptFollowingPrint, bent print answering requests (seed {seed})")
    for photo, curl in (("lin-manuel-miranda.png", 0.3), ("obama2.jpg", 0.0)):
        attacker = PromptFollowingPrint(clips / photo, seed=seed, curl=curl)
        requests = ["", INSTRUCTIONS[Action.TURN_LEFT], INSTRUCTIONS[Action.OPEN_MOUTH], INSTRUCTIONS[Action.NOD]]
        frames = (cv2.cvtColor(attacker.frame(requests[(i // 30) % len(requests)]), cv2.COLOR_BGR2RGB)
                  for i in range(120))
        measure.frames(data, frames)
    return data


def external_sets(measure: Measure, root: Path) -> list[DataSet]:
    sets = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for label, attack in (("live", False), ("attack", True)):
            paths = sorted(p for p in (folder / label).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if paths:
                sets.append(measure.images(DataSet(f"{folder.name}_{label}", attack, f"{root / folder.name}/{label}"),
                                           paths))
    return sets


def summarise(report: Report, data: DataSet, settings, model) -> None:
    import numpy as np

    from facegate.liveness.cues import CueVerdict
    from facegate.liveness.texture import TextureCue

    if not data.live:
        report.row("sets", f"  {data.name}: no face found ({data.missed} frames)", set=data.name, frames=0)
        return
    live = np.array(data.live)
    p5, p25, p50, p75, p95 = np.percentile(live, [5, 25, 50, 75, 95])
    above = float((live >= settings.live_threshold).mean())
    below = float((live <= settings.attack_threshold).mean())
    verdicts: list[CueVerdict] = []
    for stretch in data.stretches:
        cue = TextureCue(model, settings)  # fed the measured probabilities with add(): the model is not run again
        for value in stretch:
            cue.add(value)
        verdicts.append(cue.result().verdict)
    n = len(verdicts)
    wrong = CueVerdict.LIVE if data.attack else CueVerdict.ATTACK
    right = CueVerdict.ATTACK if data.attack else CueVerdict.LIVE
    error_name = "APCER" if data.attack else "BPCER"
    per_stretch = ""
    columns: dict = {}
    if n:
        error = sum(v is wrong for v in verdicts) / n
        correct = sum(v is right for v in verdicts) / n
        unsure = sum(v is CueVerdict.UNSURE for v in verdicts) / n
        per_stretch = (f"; cue on {n} 1-s stretches: {error_name} {error:.0%}, correct {correct:.0%}, "
                       f"unsure {unsure:.0%}")
        columns = {"stretches": n, "cue_error": error, "cue_correct": correct, "cue_unsure": unsure}
    frame_error = above if data.attack else below
    frames = f"{len(live)} frame{'s' if len(live) != 1 else ''}"
    report.row("sets", f"  {data.name} ({'attack' if data.attack else 'bona fide'}, {frames}"
               f"{f', {data.missed} without a face' if data.missed else ''}): live p5 {p5:.3f} p25 {p25:.3f} "
               f"median {p50:.3f} p75 {p75:.3f} p95 {p95:.3f}; per frame >= LIVE {above:.0%}, <= ATTACK {below:.0%} "
               f"({error_name} per frame {frame_error:.0%}){per_stretch}",
               set=data.name, attack=data.attack, note=data.note, frames=len(live), missed=data.missed,
               p5=p5, p25=p25, median=p50, p75=p75, p95=p95, share_at_or_above_live=above,
               share_at_or_below_attack=below, frame_error=frame_error, **columns)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--calibration", action="store_true",
                        help="measure the calibration sets (the thresholds were chosen on these) instead")
    parser.add_argument("--suite", type=Path, help="the rendered suite's folder (rendered there when absent; "
                        "default: a temporary folder)")
    parser.add_argument("--external", type=Path, default=DEFAULT_EXTERNAL,
                        help=f"real presentation-attack samples: SET/live, SET/attack (default {DEFAULT_EXTERNAL})")
    parser.add_argument("--lfw", type=int, default=200, help="LFW images in the sample (half calibration, half report)")
    args = parser.parse_args(argv)
    report = Report("pad_model", args.json)
    clips = need_clips(report, "short_hamilton_clip.mp4", "lin-manuel-miranda.png")

    from facegate.liveness.texture import TextureSettings
    from facegate_dev.datasets import lfw_dir, lfw_sample

    settings = TextureSettings()
    measure = Measure()
    sets: list[DataSet] = []
    lfw_paths = lfw_sample(args.lfw // 2, 7)[: args.lfw] if lfw_dir() is not None else []
    half = len(lfw_paths) // 2
    seed = 1 if args.calibration else 2
    with tempfile.TemporaryDirectory() as scratch:
        suite = args.suite or Path(scratch) / f"suite{seed}"
        clip = clips / "short_hamilton_clip.mp4"
        if args.calibration:
            audience = DataSet("clip_audience", False, "real clip, audience shots (frames 15-82, 215-274)")
            measure.frames(audience, video_frames(clip, 15, 82))
            measure.frames(audience, video_frames(clip, 215, 274))
            sets.append(audience)
            if lfw_paths:
                sets.append(measure.images(DataSet("lfw_a", False, f"LFW sample, first {half} images"),
                                           lfw_paths[:half]))
            sets += suite_sets(measure, suite, seed, "")
        else:
            sets.append(measure.frames(DataSet("clip_lin_manuel", False, "real clip, Lin-Manuel frontal (83-210)"),
                                       video_frames(clip, 83, 210)))
            photos = sorted(p for p in clips.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            sets.append(measure.images(DataSet("enrollment_photos", False, f"{len(photos)} photos in {clips}"),
                                       photos))
            if lfw_paths:
                sets.append(measure.images(DataSet("lfw_b", False, f"LFW sample, last {len(lfw_paths) - half}"),
                                           lfw_paths[half:]))
            sets += suite_sets(measure, suite, seed, "")
            sets.append(prompt_following_print(measure, clips, seed))
            if args.external.is_dir():
                sets += external_sets(measure, args.external)
            else:
                report.say(f"real presentation-attack samples: none at {args.external} (see the docstring)")
    report.say(f"thresholds: LIVE at median >= {settings.live_threshold}, ATTACK at <= {settings.attack_threshold}, "
               f"over the last {settings.window} frames, from {settings.min_frames} frames",
               live_threshold=settings.live_threshold, attack_threshold=settings.attack_threshold)
    report.say("calibration sets" if args.calibration else "report sets")
    for data in sets:
        summarise(report, data, settings, measure.model)
    ms = statistics.median(measure.times) * 1000 if measure.times else float("nan")
    report.say(f"time per face (both networks, crop included): median {ms:.2f} ms over {len(measure.times)} faces",
               ms_per_face=ms)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
