"""The liveness cues on real people other than the one clip (issue 14, item 5): benchmarks/bona_fide, 22 clips of
19 people from public repositories (see its README.md for sources and licences; the data is in the repository, so
nothing here skips). The full measurement is benchmarks/liveness_bona_fide.py.

The blinks below were confirmed by eye on enlarged crops of every frame (annotations.json). FaceMesh's eye
landmarks do not follow the eyelids when they close (measured on these clips: the eye ratio stays at 0.95-0.97 of
its open level through every one of the 11 blinks seen), so BlinkCounter counts none of them: the blink test is an
expected failure until the eye reading is fixed, and strict, so that it is noticed when it starts passing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.liveness import BlinkCounter, JawMotion, LivenessSettings, MouthWatch

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "bona_fide"
VIDEO_SUFFIXES = (".mp4", ".mpg", ".avi")
LICENCES = ("CC BY 4.0", "CC BY 2.0", "MIT")


def clips() -> list[Path]:
    return sorted(p for p in DATA.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def notes() -> dict[str, dict]:
    return json.loads((DATA / "annotations.json").read_text(encoding="utf-8"))["clips"]


def test_the_readme_gives_every_clip_a_source_and_a_licence():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines()
            if line.startswith("| p") and line.count("|") >= 8}  # the file table: file, person, ..., changes
    assert clips()
    for clip in clips():
        row = rows.get(clip.name)
        assert row is not None, f"{clip.name} is not in the file table of benchmarks/bona_fide/README.md"
        assert any(licence in row for licence in LICENCES), f"{clip.name}: no licence in its row"
        assert re.search(r"\([0-9a-f]{12}\)", row), f"{clip.name}: no source blob in its row"
    assert set(rows) == {clip.name for clip in clips()}, "the file table lists a clip that is not in the folder"
    for commit in ("bec592aa1e66378bc7ab33f6110f1c8a431b3b9a", "57978890822836f2b4743852f04f62fc511757e4",
                   "1f9b0dde560a6b284fb71e7cfb441b355ca9e404", "5d235ef64f950ea2dc3b0cc3f8804347f6fda575"):
        assert commit in readme
    assert "not seen at the source" in readme  # the GRID licence, said plainly


def test_at_least_ten_people_and_every_clip_annotated():
    annotated = notes()
    assert set(annotated) == {clip.name for clip in clips()}
    people = {note["person"] for note in annotated.values()}
    assert len(people) >= 10
    assert all(clip.name.startswith(annotated[clip.name]["person"] + "_") for clip in clips())
    total = sum(clip.stat().st_size for clip in clips())
    assert total < 6 * 1024 * 1024, f"the bona fide clips take {total / 2**20:.1f} MiB"


def read(engine, name: str):
    """(frame index, seconds, mesh, grey frame) for every frame with a face, the largest one, in the clip's own
    time."""
    capture = cv2.VideoCapture(str(DATA / name))
    fps = capture.get(cv2.CAP_PROP_FPS)
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        faces = engine.detect(image)
        if faces:
            yield index, index / fps, engine.facemesh.infer(image, faces[0]), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        index += 1
    capture.release()


@pytest.mark.xfail(strict=True, reason="FaceMesh's eye landmarks do not follow closing eyelids (lowest eye ratio "
                                       "0.95-0.97 of the open level through real blinks; google-ai-edge/mediapipe "
                                       "#965, #1538; patlevin/face-detection-tflite #16)")
@pytest.mark.parametrize("name", ["p03_grid_id2_vcd_swwp2s.mp4", "p02_grid_brbk7n.mp4"])
def test_blinks_seen_by_eye_are_counted_where_they_happen(engine, name):
    """Fed as LivenessCheck.update feeds it, BlinkCounter counts each blink seen by eye, within a few frames of the
    eyes reopening (a blink is counted when they do), and nothing else."""
    seen = notes()[name]["blinks_by_eye"]
    complete = [(a, b) for a, b in seen if b < 72]  # the clip ends (frame 74) before a late blink has reopened
    counter = BlinkCounter(LivenessSettings().blink_ratio)
    counted = [index for index, now, mesh, _ in read(engine, name)
               if counter.update(mesh.eye_aspect_ratio(), now, (mesh.face_aspect(), mesh.eye_region_aspect()))]
    assert len(counted) == len(complete), (counted, complete)
    for (first, last), at in zip(complete, counted, strict=True):
        assert first <= at <= last + 6, (counted, complete)


@pytest.mark.parametrize("name", ["p03_grid_pwij3p.mp4", "p09_grid_sbwe5n.mp4"])
def test_talking_still_is_not_taken_for_a_requested_action(engine, name):
    """A person reading a sentence aloud, facing the camera: their head does not read as a turn or a nod against
    their first frames, and their talking does not read as an opened mouth (MouthWatch armed at the first frame,
    as a request arms it), though the mouth is seen closed (a requested opening could count)."""
    settings = LivenessSettings()
    counter, mouth = BlinkCounter(settings.blink_ratio), MouthWatch(settings.mouth_open_delta)
    poses, closed, opened = [], False, False
    for count, (_, now, mesh, grey) in enumerate(read(engine, name)):
        counter.update(mesh.eye_aspect_ratio(), now, (mesh.face_aspect(), mesh.eye_region_aspect()))
        mouth.see(mesh, grey, counter.foreshortening)
        if count == 0:
            mouth.arm()
        closed |= mouth.is_closed
        opened |= mouth.opened
        poses.append(mesh.yaw_pitch())
    assert len(poses) == 75  # a face in every frame
    relative = np.array(poses) - np.median(np.array(poses[:3]), axis=0)
    assert np.abs(relative[:, 0]).max() < settings.turn_delta / 2
    assert relative[:, 1].max() < settings.nod_delta / 2
    assert closed and not opened


@pytest.mark.parametrize("name", ["p04_grid_lbax4n.mp4", "p06_grid_lrwp9a.mp4", "p08_grid_sbia1a.mp4",
                                  "p10_grid_swiz3n.mp4"])
def test_a_real_jaw_drops_as_the_lips_part(engine, name):
    """Talking, a real person parts the lips by dropping the jaw: JawMotion sees the chin move down against the
    upper face, by more than its bar as a share of the parting (median over the frames parted 0.08 or more from
    the last closed frame; a print with the mouth cut out stays near 0: tests/test_liveness.py). Not every talking
    opening does: benchmarks/liveness_bona_fide.py lists them all (one clip of ten is under the bar)."""
    settings = LivenessSettings()
    counter, mouth = BlinkCounter(settings.blink_ratio), MouthWatch(settings.mouth_open_delta)
    jaw, ratios = mouth.jaw, []
    for _, now, mesh, grey in read(engine, name):
        counter.update(mesh.eye_aspect_ratio(), now, (mesh.face_aspect(), mesh.eye_region_aspect()))
        if jaw.reference is not None and (parted := mesh.mouth_opening() - jaw.reference[3]) >= 0.08:
            drop = jaw.drop(grey, mesh)
            assert drop is not None
            ratios.append(drop / parted)
        mouth.see(mesh, grey, counter.foreshortening)
    assert len(ratios) >= 2 and float(np.median(ratios)) > JawMotion.MIN_RATIO, ratios
