"""Speech to a WAV file, for the tests: they listen to what FaceGate would say (real espeak-ng audio, not a mock).

Not part of the app. It drives the app's own pyttsx3 engine (facegate.speech shares one engine per process and
guards it with _PYTTSX3_LOCK), so it uses that module's private helpers on purpose.
"""

from __future__ import annotations

import logging
import time
import uuid
import wave
from pathlib import Path

from facegate.errors import FaceGateError
from facegate.speech import (
    _PYTTSX3_LOCK,
    START_TIMEOUT_S,
    UTTERANCE_TIMEOUT_S,
    _pyttsx3_engine,
    _run_pyttsx3,
    _set_voice_and_rate,
    _SpeechFailure,
)
from facegate.storage import atomic_write_bytes

log = logging.getLogger(__name__)


def _forget_save_file(engine) -> None:
    """pyttsx3 2.99's espeak driver never clears its save-file name: every later `say()` on the engine
    would rewrite that file instead of speaking. Clear it (guarded: other drivers have no such field)."""
    driver = getattr(getattr(engine, "proxy", None), "_driver", None)
    if getattr(driver, "_save_file", None) is not None:
        driver._save_file = None


def _wav_frames_once_written(path: Path, timeout: float) -> int:
    """Frames in the WAV at `path` once it has stopped growing (0 if none appeared in time). The espeak driver
    writes the file on its own thread, and a finish notice left over from a failed command (a bad voice) can
    arrive before this utterance is written: the file itself is the reliable signal."""
    deadline = time.monotonic() + timeout
    last_size = -1
    while True:
        size = path.stat().st_size if path.is_file() else -1
        if size > 44 and size == last_size:  # more than a bare header, and stable for one poll
            try:
                with wave.open(str(path), "rb") as wav:
                    return wav.getnframes()
            except (wave.Error, EOFError):
                pass  # header not complete yet
        if time.monotonic() >= deadline:
            return 0
        last_size = size
        time.sleep(0.05)


def synthesize_to_file(text: str, path: str | Path, voice: str | None = None, rate: int | None = None) -> Path:
    """Write `text` spoken as a WAV file at `path` (owner-only, written atomically) and return the path."""
    path = Path(path)
    if not text or not text.strip():
        raise FaceGateError("nothing to synthesize: the text is empty")
    # pyttsx3 writes the file itself and not atomically: let it write a temporary file next to `path`
    scratch = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp.wav")
    try:
        with _PYTTSX3_LOCK:
            engine = _pyttsx3_engine()

            def queue_utterance() -> None:
                _set_voice_and_rate(engine, voice, rate)  # after _run_pyttsx3 listens: a bad voice is reported
                engine.save_to_file(text, str(scratch))

            try:
                _run_pyttsx3(engine, queue_utterance, UTTERANCE_TIMEOUT_S)
            finally:
                _forget_save_file(engine)
        if _wav_frames_once_written(scratch, START_TIMEOUT_S) == 0:
            raise FaceGateError(f"{path}: the speech engine wrote no audio for {text!r}; check that espeak-ng "
                                "(Linux) or the system voices (Windows, macOS) are installed")
        atomic_write_bytes(path, scratch.read_bytes())
    except _SpeechFailure as exc:
        raise FaceGateError(f"{path}: cannot synthesize speech: {exc}") from exc
    except (OSError, wave.Error, RuntimeError) as exc:
        raise FaceGateError(f"{path}: cannot write the speech audio ({exc})") from exc
    finally:
        try:
            scratch.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove the temporary file %s: %s", scratch, exc)
    return path
