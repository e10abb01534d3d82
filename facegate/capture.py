"""Frame sources and the capture thread.

A source is a camera index ("0"), a video file, an RTSP/HTTP URL, or a folder of images (shown in name
order, each held for a while like a photo held up to a camera). The capture thread reads continuously and
always hands on the newest frame: when the pipeline is slower than the camera, older frames are dropped (and
counted), so the pipeline never falls behind real time. For benchmarks and tests a file can instead be played
in lockstep ("as fast as possible"): no frame is dropped and results do not depend on machine speed.

A source that stops delivering is reported (LOST), retried with back-off, and resumes by itself (LIVE).
A network source that hangs (connection open, no data) cannot block for long: FFmpeg is opened with open and
read timeouts, so a stuck read returns and the source is retried. For any other backend a watchdog reports LOST
when one read has taken longer than `stall_timeout_s`. `stop()` never waits longer than asked: a thread still
inside a read then ends by itself when that read returns (it is a daemon, and the delay is logged).
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facegate.errors import FaceGateError
from facegate.imageio import is_image_name, load_image

log = logging.getLogger(__name__)

# Network sources (FFmpeg): how long connecting, and then waiting for the next frame, may take before the
# source counts as lost and is reconnected. A camera that sends nothing for this long is not live.
URL_OPEN_TIMEOUT_S = 10.0
URL_READ_TIMEOUT_S = 5.0


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """Any decoded frame (grey, grey+alpha, BGR, BGRA; 8- or 16-bit or float) as contiguous RGB uint8.
    `image` is in OpenCV's BGR order when it has colour."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):  # 0..1 or 0..255
            image = np.nan_to_num(image.astype(np.float32))
            scale = 255.0 if image.max(initial=0.0) <= 1.0 else 1.0
            image = np.clip(image * scale, 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (2, 3, 4):
        raise ValueError(f"unsupported frame shape {image.shape}")
    if image.shape[2] == 2:  # grey + alpha
        return cv2.cvtColor(np.ascontiguousarray(image[:, :, 0]), cv2.COLOR_GRAY2RGB)
    code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(np.ascontiguousarray(image), code)


class SourceState(str, enum.Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    LOST = "lost"  # was delivering, stopped; retrying
    ENDED = "ended"  # a file or folder reached its end
    FAILED = "failed"  # a file or folder that can never deliver (empty, damaged, no images): not retried
    STOPPED = "stopped"


@dataclass(frozen=True)
class SourceStatus:
    state: SourceState
    source: str
    message: str = ""
    retry_in: float | None = None


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # RGB uint8
    index: int  # frame number within the source (files: position in the file)
    time: float  # seconds, monotonic: capture time, or in lockstep playback the frame's time in the file
    dropped_before: int = 0  # frames dropped since the previous frame handed on


class SourceKind(str, enum.Enum):
    CAMERA = "camera"  # a camera number (OpenCV's index)
    FILE = "file"  # a video file
    URL = "url"  # rtsp://, http://...
    FOLDER = "folder"  # a folder of images, each held for a moment


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    target: str | int

    @property
    def finite(self) -> bool:
        return self.kind in (SourceKind.FILE, SourceKind.FOLDER)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.target}"


def parse_source(text: str | int | os.PathLike) -> SourceSpec:
    """'0' -> camera 0; 'rtsp://...' -> URL; an existing folder -> images; an existing file -> video."""
    value = str(text).strip()
    if value.isdigit():
        return SourceSpec(SourceKind.CAMERA, int(value))
    if "://" in value:
        return SourceSpec(SourceKind.URL, value)
    path = Path(value).expanduser()
    if path.is_dir():
        return SourceSpec(SourceKind.FOLDER, str(path))
    if path.is_file():
        return SourceSpec(SourceKind.FILE, str(path))
    raise FaceGateError(f"Video source {value!r} is not a camera number, a URL, a video file or a folder of "
                        "images. Check the path, or use 0 for the first camera.")


def _ffmpeg_available() -> bool:
    try:
        return cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    except Exception:  # noqa: BLE001 - an OpenCV without the registry API
        return False


def why_not_open(spec: SourceSpec) -> str:
    """Why OpenCV could not open a source, as far as can be told from outside it (its backends print their own
    reason to the console, not to the program)."""
    if spec.kind is SourceKind.CAMERA:
        device = Path(f"/dev/video{spec.target}")
        if sys.platform.startswith("linux"):
            if not device.exists():
                return f"camera {spec.target} is not connected ({device} does not exist)"
            if not os.access(device, os.R_OK | os.W_OK):
                return (f"no permission to use camera {spec.target} ({device}); add this user to the 'video' "
                        "group and log in again")
        return (f"camera {spec.target} did not open: it may be in use by another program, or not connected")
    if spec.kind is SourceKind.FILE:
        path = Path(str(spec.target))
        try:
            size = path.stat().st_size
        except OSError as exc:
            return f"cannot read {path} ({exc.strerror or exc})"
        if size == 0:
            return f"{path} is empty (0 bytes), not a video"
        if not os.access(path, os.R_OK):
            return f"no permission to read {path}"
        return f"{path} is not a video OpenCV can read (damaged, cut short, or in an unsupported format)"
    return (f"{spec} did not answer or refused the connection (wrong address or password, or the camera is "
            "offline)")


class FrameReader(Protocol):
    """What a capture thread reads frames from: a camera, URL or file (_VideoReader), an image folder
    (_FolderReader), or a wrapper of either (benchmarks letterbox frames; tests spoil them)."""

    fps: float
    index: int

    def read(self) -> np.ndarray | None: ...

    def release(self) -> None: ...


# (source, how long a folder's image is held, in seconds) -> an open reader; OSError when it cannot be opened.
ReaderFactory = Callable[[SourceSpec, float], FrameReader]


class _VideoReader:
    """cv2.VideoCapture for cameras, URLs and files. URLs go through FFmpeg with open and read timeouts."""

    def __init__(self, spec: SourceSpec, open_timeout_s: float = URL_OPEN_TIMEOUT_S,
                 read_timeout_s: float = URL_READ_TIMEOUT_S):
        self.spec = spec
        if spec.kind is SourceKind.URL and _ffmpeg_available():
            self.capture = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)])
        else:
            self.capture = cv2.VideoCapture(spec.target)
        if not self.capture.isOpened():
            self.capture.release()
            raise OSError(why_not_open(spec))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self.index = -1

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        if not ok or frame is None:
            return None
        if frame.size == 0:
            return None
        self.index += 1
        return as_rgb8(frame)

    def release(self) -> None:
        self.capture.release()


class _FolderReader:
    """Images in name order, each repeated for `hold_seconds` worth of frames at `fps`."""

    def __init__(self, spec: SourceSpec, fps: float = 30.0, hold_seconds: float = 1.0):
        self.paths = sorted(p for p in Path(str(spec.target)).iterdir() if p.is_file() and is_image_name(p))
        if not self.paths:
            raise OSError(f"the folder {spec.target} holds no images (.jpg, .png, ...)")
        self.fps = fps
        self.repeat = max(1, round(fps * hold_seconds))
        self.index = -1
        self._current: tuple[int, np.ndarray] | None = None

    def read(self) -> np.ndarray | None:
        self.index += 1
        position = self.index // self.repeat
        if position >= len(self.paths):
            return None
        if self._current is None or self._current[0] != position:
            try:
                image = load_image(self.paths[position], max_side=1280)
            except FaceGateError as exc:
                log.warning("Skipping unreadable image in the source folder: %s", exc)
                image = np.zeros((480, 640, 3), np.uint8)
            self._current = (position, image)
        return self._current[1]

    def release(self) -> None:
        self._current = None


def open_reader(spec: SourceSpec, folder_hold_seconds: float = 1.0, open_timeout_s: float = URL_OPEN_TIMEOUT_S,
                read_timeout_s: float = URL_READ_TIMEOUT_S) -> FrameReader:
    if spec.kind is SourceKind.FOLDER:
        return _FolderReader(spec, hold_seconds=folder_hold_seconds)
    return _VideoReader(spec, open_timeout_s, read_timeout_s)


class CaptureThread:
    """Reads a source on its own thread; `next_frame()` returns the newest frame not yet handed on."""

    def __init__(self, source: str | int | SourceSpec, realtime: bool = True,
                 on_status: Callable[[SourceStatus], None] | None = None,
                 retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
                 loop: bool = False, folder_hold_seconds: float = 1.0, reader_factory: ReaderFactory | None = None,
                 open_timeout_s: float = URL_OPEN_TIMEOUT_S, read_timeout_s: float = URL_READ_TIMEOUT_S,
                 stall_timeout_s: float | None = None):
        self.spec = source if isinstance(source, SourceSpec) else parse_source(source)
        if reader_factory is None:
            reader_factory = functools.partial(open_reader, open_timeout_s=open_timeout_s,
                                               read_timeout_s=read_timeout_s)
        # One read taking longer than this is reported LOST even when the backend has no timeout of its own.
        self.stall_timeout_s = stall_timeout_s if stall_timeout_s is not None else read_timeout_s + 2.0
        self._read_since: float | None = None  # when the read in progress began (None: not inside a read)
        self.realtime = realtime
        self.loop = loop
        self.retry_delays = retry_delays
        self.folder_hold_seconds = folder_hold_seconds
        self._reader_factory = reader_factory
        self._on_status = on_status
        self._state = SourceState.CONNECTING
        self._condition = threading.Condition()
        self._frame: Frame | None = None
        self._pending_drops = 0
        self.dropped = 0
        self.delivered = 0
        self.failure: str | None = None  # why a file or folder can never be read (state FAILED)
        self.fps = 0.0
        self._stop = threading.Event()
        self._last_media_time: float | None = None  # lockstep: the timeline of a looped or reopened file
        self._thread = threading.Thread(target=self._run, name=f"capture {self.spec}", daemon=True)

    # ---------------------------------------------------------------------------------- consumer side
    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    @property
    def state(self) -> SourceState:
        return self._state

    def next_frame(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not handed on yet; None on timeout, or when the source ended or was stopped."""
        with self._condition:
            deadline = time.monotonic() + timeout
            while self._frame is None:
                if self._state in (SourceState.ENDED, SourceState.FAILED, SourceState.STOPPED):
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(min(remaining, 0.5))
                if self._frame is None and self.stalled_for() > self.stall_timeout_s:
                    break
            else:
                frame, self._frame = self._frame, None
                self._pending_drops = 0
                self._condition.notify_all()  # lockstep mode: the reader may go on
                return frame
        self._check_stall()
        return None

    def stalled_for(self) -> float:
        """Seconds the read in progress has taken so far (0 when not inside a read)."""
        since = self._read_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)

    def _check_stall(self) -> None:
        """Watchdog (runs on the consumer's thread): a read stuck longer than `stall_timeout_s` means the source is
        lost, even if the backend never returns from it. The reader goes LIVE again by itself on its next frame."""
        stalled = self.stalled_for()
        if stalled > self.stall_timeout_s and self._state == SourceState.LIVE and not self._stop.is_set():
            self._set_state(SourceState.LOST, f"{self.spec} sent no frame for {stalled:.0f} s (not answering)")

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading and wait up to `timeout` seconds for the thread. Returns True when it has ended. A thread
        still stuck inside a read after that is left to end by itself when the read returns (bounded by the read
        timeout); it is a daemon, so it never holds the program open, and the delay is logged."""
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            log.warning("Capture of %s is still inside a read or connect of the video backend (%.1f s in the read); "
                        "it will end by itself when that returns.", self.spec, self.stalled_for())
            return False
        return True

    @property
    def alive(self) -> bool:
        """Whether the reader thread is still running."""
        return self._thread.is_alive()

    @property
    def finished(self) -> bool:
        return self._state in (SourceState.ENDED, SourceState.FAILED, SourceState.STOPPED) and self._frame is None

    # ---------------------------------------------------------------------------------- reader side
    def _set_state(self, state: SourceState, message: str = "", retry_in: float | None = None) -> None:
        with self._condition:
            changed = state != self._state or state == SourceState.LOST
            self._state = state
            self._condition.notify_all()
        if changed and self._on_status is not None:
            try:
                self._on_status(SourceStatus(state, str(self.spec), message, retry_in))
            except Exception:  # a broken listener must not kill capture
                log.exception("source status listener failed")

    def _publish(self, image: np.ndarray, index: int, media_time: float | None = None) -> None:
        with self._condition:
            if not self.realtime:
                while self._frame is not None and not self._stop.is_set():
                    self._condition.wait(0.5)
            if self._frame is not None:  # the consumer has not taken the previous frame: replace it
                self._pending_drops += 1
                self.dropped += 1
            stamp = time.monotonic() if media_time is None else media_time
            self._frame = Frame(image, index, stamp, self._pending_drops)
            self.delivered += 1
            self._condition.notify_all()

    def _run(self) -> None:
        failures = 0  # consecutive failed attempts: sets the back-off
        try:
            while not self._stop.is_set():
                try:
                    reader = self._reader_factory(self.spec, self.folder_hold_seconds)
                except Exception as exc:  # noqa: BLE001 - whatever stops a source opening is its state
                    missing = self.spec.kind is SourceKind.FILE and not Path(str(self.spec.target)).exists()
                    message = f"video file {self.spec.target} is missing" if missing else str(exc)
                    if self.spec.finite and not missing:  # an empty, damaged or image-less source stays so
                        self._fail(message)
                        return
                    delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                    failures += 1
                    self._set_state(SourceState.LOST, message, delay)
                    self._stop.wait(delay)
                    continue
                delivered_before = self.delivered
                failure = ""
                try:
                    ended = self._read_until_failure(reader)
                except Exception as exc:  # a frame the backend or the conversion chokes on: reconnect, never die
                    log.exception("Reading %s failed", self.spec)
                    ended, failure = False, f"{self.spec} failed: {type(exc).__name__}: {exc}"
                finally:
                    self._read_since = None
                    try:
                        reader.release()
                    except Exception:  # noqa: BLE001
                        log.exception("Releasing %s failed", self.spec)
                if self._stop.is_set():
                    break
                if ended and self.delivered == delivered_before:  # opened, but not one frame in it
                    self._fail(f"{self.spec.target}: not one frame could be read (an empty or damaged video)")
                    return
                if ended and not self.loop:
                    self._set_state(SourceState.ENDED, "end of file")
                    return
                if ended:  # looping a file: start again at once
                    continue
                failures = 0 if self.delivered > delivered_before else failures + 1
                delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                self._set_state(SourceState.LOST, failure or f"{self.spec} stopped delivering frames", delay)
                self._stop.wait(delay)
        finally:
            if self._state not in (SourceState.ENDED, SourceState.FAILED):
                self._set_state(SourceState.STOPPED)

    def _fail(self, message: str) -> None:
        self.failure = message
        self._set_state(SourceState.FAILED, message)

    def _read_until_failure(self, reader) -> bool:
        """Read frames until the source fails or ends. Returns True when a finite source reached its end."""
        started = time.monotonic()
        first_index = None
        period = 1.0 / reader.fps
        if not self.realtime and self._last_media_time is not None:
            started = self._last_media_time + period  # a looped file's timeline goes on, never back in time
        recent = []
        while not self._stop.is_set():
            self._read_since = time.monotonic()
            image = reader.read()
            self._read_since = None
            if image is None:
                return self.spec.finite
            if self._state != SourceState.LIVE:
                self._set_state(SourceState.LIVE, f"{reader.fps:.0f} fps")
            if first_index is None:
                first_index = reader.index
            if self.realtime and self.spec.finite:  # play files at their own rate, like a camera
                due = started + (reader.index - first_index) * period
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return False
            now = time.monotonic()
            recent.append(now)
            if len(recent) > 30:
                recent.pop(0)
            if len(recent) > 1:
                self.fps = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)
            # In lockstep the pipeline's clock is the file's own timeline, so results do not depend on
            # how fast this machine is.
            media_time = None if self.realtime else started + (reader.index - first_index) * period
            if media_time is not None:
                self._last_media_time = media_time
            self._publish(image, reader.index, media_time)
        return False
