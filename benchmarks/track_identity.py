"""A box is not an identity (issue 29 item 1): how far one face's encodings wander along its track, how far the face
is that a box lands on at a cut, and whether a running kiosk logs any decision with another person's face.

    PYTHONPATH=. .venv/bin/python benchmarks/track_identity.py [--seconds 75] [--liveness MODE] [--no-kiosk]
                                                                [--json]

1. The clip (../shared/data/clips/short_hamilton_clip.mp4), every frame: faces detected and followed by the
   kiosk's tracker, every face encoded on every frame. For each encoding, its distance to the nearest of the
   track's previous RECENT_EMBEDDINGS encodings: the largest of these within one face (profiles, 45 px faces),
   and at the frames where the tracker kept a box across a cut onto another face. The pipeline splits a track
   above PipelineSettings.same_face_distance: it must lie between the two. The same for the bona fide clips of
   real people (benchmarks/bona_fide): none may reach it.
2. `facegate run --headless --loop` on the clip in real time for --seconds with the default settings (liveness
   adaptive; --liveness challenge fails his checks, as the issue's walk-through did), Lin-Manuel Miranda and
   Barack Obama (in the audience after the cut) enrolled from their photos, a fresh access log. Each logged
   decision's snapshot is encoded again: a decision naming a person whose snapshot is a face nearer another
   enrolled person than them, or one the policy would call a stranger to them (0.6 or more), is counted as wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

import numpy as np  # noqa: E402

from facegate_dev.bench import Report, bench_parser, need_clips  # noqa: E402

CLIP = "short_hamilton_clip.mp4"
PEOPLE = {"Lin-Manuel Miranda": "lin-manuel-miranda.png", "Barack Obama": "obama.jpg"}
CUT_FRAMES = (82, 211)  # the clip's cuts where the tracker keeps a box on another face (first frame after each)
BONA_FIDE = Path(__file__).resolve().parent / "bona_fide"  # real people's clips (benchmarks/liveness_bona_fide.py)


def track_self_distances(engine, video: Path, cut_frames: tuple[int, ...] = ()) -> tuple[list[float], list[float],
                                                                                        int]:
    """(one face's distances, distances at `cut_frames` where the box jumped, frames) of a video: every face the
    kiosk would encode (min_face_width) on every frame, against its track's last RECENT_EMBEDDINGS encodings."""
    import cv2

    from facegate.pipeline import PipelineSettings
    from facegate.tracking import Tracker

    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    tracker = Tracker()
    same_face: list[float] = []
    at_cut: list[float] = []
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        tracks, _ = tracker.update(engine.detect(image, max_side=320, landmarks=False), index / fps)
        seen = [t for t in tracks if t.seen_in_frame and t.face.width >= PipelineSettings().min_face_width]
        if seen:
            engine.locate_landmarks(image, [t.face for t in seen])
            for track, embedding in zip(seen, engine.embed(image, [t.face for t in seen]), strict=True):
                if track.recent_embeddings:  # the distance the pipeline splits on (never split here: measured)
                    distance = track.distance_to_recent(embedding)
                    (at_cut if index in cut_frames and track.jumped else same_face).append(distance)
                track.recent_embeddings.append(embedding)
                track.jumped = False
        index += 1
    capture.release()
    return same_face, at_cut, index


def self_distances(engine, clip: Path, report: Report) -> None:
    from facegate.pipeline import PipelineSettings
    from facegate.tracking import RECENT_EMBEDDINGS

    same_face, at_cut, frames = track_self_distances(engine, clip, CUT_FRAMES)
    bound = PipelineSettings().same_face_distance
    report.say(f"1. The clip: {frames} frames, {len(same_face)} encodings compared with their track's last "
               f"{RECENT_EMBEDDINGS}:", frames=frames, compared=len(same_face))
    report.say(f"   one face:     median {np.median(same_face):.3f}, 99th percentile "
               f"{np.percentile(same_face, 99):.3f}, largest {max(same_face):.3f}",
               same_face_median=float(np.median(same_face)), same_face_p99=float(np.percentile(same_face, 99)),
               same_face_max=max(same_face))
    report.say(f"   at the cuts:  {', '.join(f'{d:.3f}' for d in at_cut) or 'none kept'}", at_cut=at_cut)
    report.say(f"   split above:  {bound}", same_face_distance=bound)
    report.check(bool(at_cut) and max(same_face) < bound < min(at_cut),
                 "the split bound lies between one face's encodings and the faces at the cuts")
    bona_fide = sorted(p for p in BONA_FIDE.glob("*.mp4"))
    if not bona_fide:
        return
    report.say(f"   The bona fide clips ({BONA_FIDE.relative_to(BONA_FIDE.parent.parent)}: 19 real people talking, "
               "turning, walking), the largest distance per clip:")
    largest = []
    for path in bona_fide:
        own, _, frames = track_self_distances(engine, path)
        largest.append(max(own, default=0.0))
        report.row("bona_fide", f"     {path.stem:<32} {frames:4d} frames, {len(own):4d} compared, largest "
                   f"{largest[-1]:.3f}", clip=path.stem, frames=frames, compared=len(own), largest=largest[-1])
    report.check(max(largest) < bound, f"no real person's track would be split (largest {max(largest):.3f})")


def kiosk_run(engine, clips: Path, seconds: float, liveness: str, report: Report) -> None:
    from facegate.access_log import AccessLog
    from facegate.gallery import Gallery
    from facegate.imageio import load_image
    from facegate.policy import PolicySettings

    home = Path(tempfile.mkdtemp(prefix="facegate-track-identity-"))
    try:
        gallery_dir = home / "gallery"
        gallery_dir.mkdir()
        for name, photo in PEOPLE.items():
            shutil.copy(clips / photo, gallery_dir / f"{name}{Path(photo).suffix}")
        command = [sys.executable, "-m", "facegate", "run", "--headless", "--loop", "--no-speech", "--no-learning",
                   "--source", str(clips / CLIP), "--gallery", str(gallery_dir), "--log-dir", str(home / "log"),
                   "--liveness", liveness]
        env = {**os.environ, "FACEGATE_HOME": str(home / "home")}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, env=env)
            report.check(False, f"the kiosk ended by itself (exit {done.returncode}): {done.stderr[-500:]}")
        except subprocess.TimeoutExpired:
            pass  # ran its time: the log is durable at each decision
        gallery = Gallery(gallery_dir, engine)
        gallery.refresh()
        stranger = PolicySettings().unknown_distance  # the policy's "confidently nobody"
        with AccessLog(home / "log") as log:
            rows = log.recent(limit=None)
        wrong, checked = [], 0
        for row in rows:
            if row.person is None or row.snapshot is None or not row.snapshot.is_file():
                continue
            snapshot = load_image(row.snapshot)
            faces = sorted(engine.detect(snapshot), key=lambda f: -f.width)[:1]
            if not faces:
                continue
            checked += 1
            names, distances = gallery.distances_to_people(engine.embed(snapshot, faces))
            by_name = dict(zip(names, distances[0].tolist(), strict=True))
            own = by_name.get(row.person, float("inf"))
            closest = min(by_name, key=by_name.__getitem__)
            # Another face: nearer another enrolled person than the one named, or a stranger to the one named.
            if closest != row.person or own >= stranger:
                wrong.append((row.person, row.decision.value, closest, round(by_name[closest], 3), round(own, 3)))
        decisions = {d: sum(1 for r in rows if r.decision.value == d) for d in ("granted", "denied", "unknown")}
        report.say(f"2. `facegate run --headless --loop --liveness {liveness}` for {seconds:.0f} s: {len(rows)} "
                   f"decisions {decisions}; {checked} naming a person with a face in their snapshot",
                   kiosk_seconds=seconds, liveness=liveness, decisions=decisions, named_with_face=checked)
        report.say(f"   whose snapshot is another enrolled person's face: {len(wrong)} {wrong or ''}",
                   wrong_face=wrong)
        report.check(checked > 0 and not wrong, "no decision is logged with another enrolled person's face")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = bench_parser(__doc__, whole_doc=True)
    parser.add_argument("--seconds", type=float, default=75.0, help="how long the kiosk runs (default 75)")
    parser.add_argument("--liveness", default="adaptive", help="the kiosk's liveness mode (default: the default)")
    parser.add_argument("--no-kiosk", action="store_true", help="only the distances (part 1)")
    args = parser.parse_args()
    report = Report("track_identity", args.json)
    clips = need_clips(report, CLIP, *PEOPLE.values())
    from facegate.vision.engine import FaceEngine

    engine = FaceEngine()
    self_distances(engine, clips / CLIP, report)
    if not args.no_kiosk:
        kiosk_run(engine, clips, args.seconds, args.liveness, report)
    report.finish()
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
