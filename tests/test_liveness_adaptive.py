"""Passive first, requests only when in doubt (issue 28 item 5), through the real pipeline, the real models and the
kiosk's own cues (kiosk.liveness_cues): the real clip and a rendered print."""

from __future__ import annotations

import random
import shutil

import pytest

from facegate.capture import CaptureThread
from facegate.gallery import Gallery
from facegate.kiosk import liveness_cues
from facegate.liveness import LivenessMode, LivenessSettings
from facegate.liveness.cues import CueVerdict
from facegate.liveness.texture import TextureCue, TextureSettings
from facegate.pipeline import AttemptOutcome, Pipeline
from facegate.policy import AccessPolicy, Verdict
from facegate_dev.attacks import render_print_attack

NAME = "Lin-Manuel Miranda"
CLIP = "short_hamilton_clip.mp4"
FINDABLE_FRAME = 82  # his frontal shot's first findable frame (benchmarks/pipeline.py)


def play(engine, gallery, video, liveness: LivenessSettings, cue_factory, last_frame: int | None = None):
    pipeline = Pipeline(engine, gallery, AccessPolicy(), liveness=liveness, rng=random.Random(1),
                        cue_factory=cue_factory)
    capture = CaptureThread(video, realtime=False).start()
    decisions, attempts, prompts = [], [], []
    try:
        while (frame := capture.next_frame(5.0)) is not None:
            result = pipeline.process(frame)
            decisions += [(frame.index, d) for d in result.decisions if d.verdict is not Verdict.UNKNOWN]
            attempts += result.attempts
            prompts += result.prompts
            if last_frame is not None and frame.index >= last_frame:
                break
    finally:
        capture.stop()
    return decisions, attempts, prompts


def test_he_is_granted_within_a_second_of_being_findable_without_being_asked(engine, lmm_gallery, clips):
    decisions, attempts, prompts = play(engine, lmm_gallery, clips / CLIP, LivenessSettings(),
                                        liveness_cues(engine, lmm_gallery), last_frame=212)
    assert LivenessSettings().mode is LivenessMode.ADAPTIVE  # the default
    [(frame, grant)] = decisions
    assert grant.verdict is Verdict.GRANTED and grant.name == NAME
    assert frame - FINDABLE_FRAME <= 30, frame  # the clip runs at 30 fps
    cues = grant.details["liveness"]
    assert not cues["asked"] and cues["challenge"] == [] and prompts == []
    assert cues["passive"]["texture"]["verdict"] == CueVerdict.LIVE.value
    [attempt] = attempts
    assert attempt.outcome is AttemptOutcome.GRANTED and not attempt.asked and attempt.seconds_checking < 1.0


def test_an_unsure_cue_falls_back_to_the_requests(engine, lmm_gallery, clips):
    """A texture cue that can never be sure (its LIVE bar above 1): the check asks for requests after doubt_after_s,
    as the challenge does; he answers none in time here and is refused, never granted on the passive cue."""
    never_sure = TextureSettings(live_threshold=1.01)
    decisions, attempts, prompts = play(
        engine, lmm_gallery, clips / CLIP, LivenessSettings(step_time_s=2.0),
        lambda person: [TextureCue(engine.pad_model, never_sure)], last_frame=212)
    assert prompts, "no request was made"
    assert all(d.verdict is not Verdict.GRANTED or d.details["liveness"]["asked"] for _, d in decisions)
    assert attempts and all(a.asked for a in attempts if a.outcome is not AttemptOutcome.WALKED_AWAY)


@pytest.mark.parametrize("mode", ["adaptive", "challenge"])
def test_a_print_is_refused_by_its_texture_in_both_modes(engine, tmp_path, clips, mode):
    """A print of Lin-Manuel Miranda held in a hand: recognised as him, refused by the texture cue before (adaptive)
    or whatever (challenge) the requests say; never granted."""
    video = render_print_attack(clips / "lin-manuel-miranda.png", tmp_path / "print.mp4", kind="print_flat_hand",
                                seed=3, seconds=4.0)
    folder = tmp_path / "gallery"
    folder.mkdir()
    shutil.copy(clips / "lin-manuel-miranda.png", folder / f"{NAME}.png")
    gallery = Gallery(folder, engine)
    gallery.refresh()
    decisions, _, _ = play(engine, gallery, video, LivenessSettings(mode=mode), liveness_cues(engine, gallery))
    assert decisions, "the print was not even recognised: the test shows nothing"
    assert all(d.verdict is Verdict.DENIED for _, d in decisions), [d.reason for _, d in decisions]
    assert "texture" in decisions[0][1].reason


def test_the_window_lights_the_face_and_a_recording_does_not_answer_the_light(qtbot, home, clips):
    """liveness_screen_light on (issue 28 item 3): the window paints a colour band round the picture for each check
    and the screen-light cue joins the texture cue. The clip is a recording, blind to the band: he is not granted
    on the passive cues (the light is missing, or the cue is unsure and the requests start)."""
    from facegate.config import Settings
    from facegate.ui.main_window import MainWindow

    folder = home / "gallery"
    folder.mkdir()
    shutil.copy(clips / "lin-manuel-miranda.png", folder / f"{NAME}.png")
    settings = Settings(source=str(clips / CLIP), gallery=str(folder), log_dir=str(home / "log"), speech=False,
                        liveness="adaptive", liveness_screen_light=True)
    win = MainWindow(settings, settings_path=home / "config.json")
    win.show()
    qtbot.addWidget(win)
    colours, decisions = set(), []
    win.bridge.frame_ready.connect(lambda result: colours.add(getattr(win.video.light_colour, "name", lambda: None)()))
    win.bridge.decision.connect(lambda decision, result: decisions.append(decision))
    try:
        qtbot.waitUntil(lambda: any(d.verdict is not Verdict.UNKNOWN for d in decisions)
                        or any(t.instruction for t in win.video._tracks), timeout=90_000)
        assert colours - {None}, "no colour band was painted"
        decided = [d for d in decisions if d.verdict is not Verdict.UNKNOWN]
        assert all(d.verdict is Verdict.DENIED or d.details["liveness"]["asked"] for d in decided), decided
        if decided and decided[0].verdict is Verdict.DENIED:
            assert "screen_light" in decided[0].reason
    finally:
        win.shutdown()
