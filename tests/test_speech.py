"""Speech: real espeak-ng synthesis and playback (to ALSA's "null" device where a test must hear it finish:
CI machines have no sound card), real failures made by breaking espeak-ng's data path in a child process."""

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from facegate.errors import FaceGateError
from facegate.speech import SpeechWorker, render_greeting
from facegate_dev.speech_audio import synthesize_to_file

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

REPO = Path(__file__).resolve().parents[1]
NULL_DEVICE = "null"  # ALSA's built-in sink that discards the samples: the whole path runs, nothing is heard


def _read_wav(path: Path) -> tuple[int, float, float]:
    """(sample rate, duration in s, RMS of the int16 samples)."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        rate, frames = wav.getframerate(), wav.getnframes()
        samples = np.frombuffer(wav.readframes(frames), dtype="<i2").astype(np.float64)
    return rate, frames / rate, float(np.sqrt(np.mean(samples ** 2)))


def _speech_threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _unavailable_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "facegate.speech" and r.levelno == logging.WARNING and "speech unavailable" in r.getMessage()]


def test_render_greeting():
    assert render_greeting("Welcome {name}", "Lin-Manuel Miranda") == "Welcome Lin-Manuel Miranda"
    assert render_greeting("Good morning, {name}!", "Ann") == "Good morning, Ann!"
    assert render_greeting("Hello", "Ann") == "Hello"
    for bad in ("Hi {nom}", "Hi {", "Hi {0}", "Hi {name.__class__}", "Hi {name[0]}", "Hi {name:d}"):
        assert render_greeting(bad, "Ann") == "Welcome Ann", bad


def test_synthesize_greeting_to_wav(tmp_path):
    greeting = synthesize_to_file(render_greeting("Welcome {name}", "Lin-Manuel Miranda"), tmp_path / "g.wav")
    rate, duration, rms = _read_wav(greeting)
    assert 8000 <= rate <= 48000
    assert 0.8 <= duration <= 6.0, duration
    assert rms > 500, rms  # int16 full scale is 32767; silence or near-silence is below ~50
    assert greeting.stat().st_mode & 0o777 == 0o600  # it holds a person's name
    longer = synthesize_to_file("Welcome Lin-Manuel Miranda. Please come in and take a seat, we will be with "
                                "you in a moment.", tmp_path / "long.wav")
    assert _read_wav(longer)[1] > duration + 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.wav", "long.wav"]  # no temporary files left


def test_synthesize_errors_are_clear(tmp_path):
    with pytest.raises(FaceGateError, match="empty"):
        synthesize_to_file("  ", tmp_path / "x.wav")
    with pytest.raises(FaceGateError, match="no-such-voice"):
        synthesize_to_file("hello", tmp_path / "x.wav", voice="no-such-voice")
    time.sleep(0.2)  # nothing may still be writing into the folder
    assert list(tmp_path.iterdir()) == []
    # the engine still works afterwards
    assert _read_wav(synthesize_to_file("hello", tmp_path / "ok.wav"))[1] > 0.3


def test_worker_say_is_non_blocking_and_finishes(caplog):
    before = _speech_threads()
    finished = threading.Event()
    heard: list[str] = []
    worker = SpeechWorker(device=NULL_DEVICE, on_spoken=lambda text: (heard.append(text), finished.set()))
    assert worker.wait_ready(10) and worker.available
    started = time.perf_counter()
    assert worker.say("Welcome Lin-Manuel Miranda")
    assert time.perf_counter() - started < 0.05  # enqueue only: the caller never waits for speech
    assert finished.wait(15), "the utterance did not finish"
    assert heard == ["Welcome Lin-Manuel Miranda"] and worker.spoken == 1
    worker.close()
    assert _speech_threads() == before
    assert not worker.say("after close")
    assert _unavailable_warnings(caplog) == []


def test_worker_keeps_newest_greetings_and_drops_stale_ones():
    heard: list[str] = []
    all_done = threading.Event()

    def spoken(text):
        heard.append(text)
        if len(heard) == 3:
            all_done.set()

    worker = SpeechWorker(device=NULL_DEVICE, on_spoken=spoken)
    # queued while the worker is still starting espeak-ng (a process start: many milliseconds)
    assert all(worker.say(f"visitor {i}") for i in range(5))
    assert all_done.wait(15)
    assert heard == ["visitor 2", "visitor 3", "visitor 4"] and worker.dropped == 2
    worker.close()

    stale = SpeechWorker(device=NULL_DEVICE, max_wait_s=0.001)
    for i in range(3):
        stale.say(f"late {i}")  # each waits out the engine start, far more than 1 ms
    assert stale.wait_ready(10)
    deadline = time.monotonic() + 5
    while stale.dropped < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stale.dropped == 3 and stale.spoken == 0
    stale.close()


def test_voices_lists_usable_ids():
    voices = SpeechWorker.voices()
    assert voices and all(isinstance(i, str) and isinstance(n, str) for i, n in voices)
    english = [voice_id for voice_id, _ in voices if voice_id.endswith("/en-us") or voice_id.endswith("/en")]
    assert english
    finished = threading.Event()
    worker = SpeechWorker(voice=english[0], rate=160, device=NULL_DEVICE, on_spoken=lambda _: finished.set())
    assert worker.say("Welcome")
    assert finished.wait(15)
    worker.close()


def test_playback_failure_warns_once_and_goes_silent(caplog):
    """An audio device that does not exist: espeak-ng synthesises, then cannot play (it still exits 0)."""
    before = _speech_threads()
    worker = SpeechWorker(device="facegate-no-such-device")
    assert worker.wait_ready(10)
    assert worker.say("Welcome Ann")
    deadline = time.monotonic() + 10
    while worker.available and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not worker.available
    assert [worker.say(f"again {i}") for i in range(4)] == [False] * 4
    worker.close()
    assert len(_unavailable_warnings(caplog)) == 1
    assert _speech_threads() == before


def test_pyttsx3_backend_is_honest_about_playback(caplog):
    """pyttsx3's espeak driver plays through `aplay`; without it the worker says so instead of pretending."""
    finished = threading.Event()
    worker = SpeechWorker(backend="pyttsx3", on_spoken=lambda _: finished.set())
    if shutil.which("aplay") is None:
        assert not worker.wait_ready(30)
        assert not worker.say("hello") and len(_unavailable_warnings(caplog)) == 1
    else:
        assert worker.wait_ready(30) and worker.say("hello") and finished.wait(15)
    worker.close()


_CHILD = textwrap.dedent("""
    import logging, sys, time
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    from facegate.speech import SpeechWorker
    worker = SpeechWorker()
    ready = worker.wait_ready(30)
    results = [worker.say(f"Welcome visitor {i}") for i in range(5)]
    time.sleep(0.3)
    results.append(worker.say("one more"))
    worker.close()
    print("ready", ready, "backend", worker.backend, "results", results, flush=True)
""")


@pytest.mark.parametrize("break_path", [False, True], ids=["no-espeak-data", "no-espeak-data-and-empty-PATH"])
def test_engine_missing_warns_once_and_exits_cleanly(tmp_path, break_path):
    """espeak-ng really cannot start: its data folder is empty (and, second case, no program on PATH,
    so the worker falls back to pyttsx3, whose in-process start would otherwise exit(1) the process)."""
    empty = tmp_path / "no-espeak-data"
    empty.mkdir()
    env = dict(os.environ, ESPEAK_DATA_PATH=str(empty), PYTHONPATH=str(REPO))
    if break_path:
        env["PATH"] = ""
    child = subprocess.run([sys.executable, "-c", _CHILD], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stderr.count("speech unavailable") == 1, child.stderr
    assert "ready False" in child.stdout and "[False, False, False, False, False, False]" in child.stdout
    assert ("backend pyttsx3" if break_path else "backend espeak-ng") in child.stdout
