"""Frame sources and the capture thread, on real files and a real HTTP camera stream."""

import shutil
import threading
import time

import cv2
import numpy as np
import pytest
from helpers import MjpegCamera

from facegate.capture import CaptureThread, SourceState, parse_source
from facegate.errors import FaceGateError

CLIP = "short_hamilton_clip.mp4"


class StatusLog:
    def __init__(self):
        self.states, self.messages = [], []
        self.changed = threading.Event()

    def __call__(self, status):
        self.states.append(status.state)
        self.messages.append(status.message)
        self.changed.set()

    def wait_for(self, state, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state in self.states:
                return True
            self.changed.wait(0.1)
            self.changed.clear()
        return False


def drain(capture, timeout=5.0):
    frames = []
    while (frame := capture.next_frame(timeout)) is not None:
        frames.append(frame)
    return frames


def test_parse_source():
    assert parse_source("0").kind == "camera" and parse_source(2).target == 2
    assert parse_source("rtsp://cam.local/stream").kind == "url"
    with pytest.raises(FaceGateError, match="not a camera number"):
        parse_source("/no/such/file.mp4")


def test_lockstep_file_playback_hands_on_every_frame(clips):
    statuses = StatusLog()
    capture = CaptureThread(clips / CLIP, realtime=False, on_status=statuses).start()
    frames = drain(capture)
    assert [f.index for f in frames] == list(range(275)) and capture.dropped == 0
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.dtype == np.uint8
    assert frames[-1].time - frames[0].time == pytest.approx(274 / 29.97, abs=0.05)  # the file's own timeline
    assert statuses.states == [SourceState.LIVE, SourceState.ENDED]
    capture.stop()


def test_realtime_playback_drops_old_frames_for_a_slow_consumer(clips):
    capture = CaptureThread(clips / CLIP, realtime=True).start()
    started = time.monotonic()
    frames = []
    while (frame := capture.next_frame(5.0)) is not None:
        frames.append(frame)
        time.sleep(0.1)  # a pipeline 3x slower than the camera
    elapsed = time.monotonic() - started
    assert 8.0 < elapsed < 12.0  # played at its own rate (~9.2 s), not held back by the consumer
    assert capture.dropped > 150 and len(frames) + capture.dropped == 275
    assert sum(f.dropped_before for f in frames) == capture.dropped
    assert all(b.index > a.index for a, b in zip(frames, frames[1:], strict=False))  # always the newest, in order
    capture.stop()


def test_folder_of_images_holds_each_photo(tmp_path, clips):
    for i, name in enumerate(["obama.jpg", "biden.jpg", "obama2.jpg"]):
        shutil.copy(clips / name, tmp_path / f"{i}.jpg")
    (tmp_path / "readme.txt").write_text("ignored")
    capture = CaptureThread(tmp_path, realtime=False, folder_hold_seconds=0.5).start()
    frames = drain(capture)
    assert len(frames) == 3 * 15
    assert frames[0].image.shape != frames[15].image.shape  # obama.jpg then biden.jpg


def test_missing_file_is_retried_and_picked_up_when_it_appears(tmp_path, clips):
    target = tmp_path / "later.mp4"
    shutil.copy(clips / CLIP, target)
    spec = parse_source(target)
    target.unlink()
    statuses = StatusLog()
    capture = CaptureThread(spec, realtime=False, on_status=statuses, retry_delays=(0.2, 0.4)).start()
    assert statuses.wait_for(SourceState.LOST)
    assert "missing" in statuses.messages[0]
    time.sleep(0.5)
    shutil.copy(clips / CLIP, target)
    assert len(drain(capture, timeout=10.0)) == 275
    assert statuses.states[-2:] == [SourceState.LIVE, SourceState.ENDED]
    capture.stop()


def test_network_camera_lost_and_back(clips):
    video = cv2.VideoCapture(str(clips / CLIP))
    frames = [video.read()[1] for _ in range(30)]
    camera = MjpegCamera(frames)
    statuses = StatusLog()
    before = set(threading.enumerate())
    capture = CaptureThread(f"http://127.0.0.1:{camera.port}/stream.mjpg", on_status=statuses,
                            retry_delays=(0.3, 0.6, 1.0)).start()
    assert capture.next_frame(15.0) is not None
    assert statuses.states[-1] == SourceState.LIVE

    camera.unplug()
    assert statuses.wait_for(SourceState.LOST, timeout=60.0)
    while capture.next_frame(0.1) is not None:  # frames already in flight
        pass
    time.sleep(1.0)
    assert capture.next_frame(0.5) is None  # nothing while the camera is gone; nothing crashed

    camera = MjpegCamera(frames, port=camera.port)  # plugged back in
    statuses.states.clear()
    assert statuses.wait_for(SourceState.LIVE, timeout=30.0)
    assert capture.next_frame(5.0) is not None  # resumed by itself
    capture.stop()
    camera.unplug()
    time.sleep(0.5)
    leaked = [t for t in set(threading.enumerate()) - before if t.is_alive() and t.name.startswith("capture")]
    assert leaked == []


def test_looped_lockstep_playback_keeps_its_clock_moving_forward(clips):
    """A looped file (benchmarks, the soak) must not send the pipeline's clock back at each restart."""
    capture = CaptureThread(clips / CLIP, realtime=False, loop=True).start()
    frames = [capture.next_frame(5.0) for _ in range(300)]  # across the end of the 275-frame clip
    capture.stop()
    times = [f.time for f in frames]
    assert [f.index for f in frames][274:277] == [274, 0, 1]
    assert all(b - a == pytest.approx(1 / 29.97, abs=1e-3) for a, b in zip(times, times[1:], strict=False))
