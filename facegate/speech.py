"""Spoken greetings: a worker thread that speaks so the video path never waits.

Why the worker runs the `espeak-ng` program rather than pyttsx3 on Linux (checked with pyttsx3 2.99 and
espeak-ng 1.51 on Debian 12):

- pyttsx3's espeak driver starts libespeak-ng in AUDIO_OUTPUT_RETRIEVAL mode, which is asynchronous:
  `runAndWait()` returns about 10 ms after it is called, before the text is even synthesised (a
  `save_to_file` WAV does not exist yet), and the driver's callbacks run on espeak's own native thread.
  This is the same in the main thread and in a worker thread; the thread is not the problem,
  `runAndWait()` simply does not wait. A second `runAndWait()` can then cancel the utterance still in
  flight (`finished-utterance` with `completed=False`, seen in a worker thread).
- It plays the audio with `os.system("aplay ...")` and ignores the exit status: without aplay or a sound
  card the speech is lost silently, and every utterance prints "sh: 1: aplay: not found".
- After `save_to_file`, the driver keeps the file name: every later `say()` rewrites that file instead of
  speaking (the tests' WAV synthesis, facegate_dev/speech_audio.py, clears it).
- When espeak-ng's data cannot be loaded, libespeak-ng calls `exit(1)` inside `pyttsx3.init()`: the
  whole process ends, with no exception to catch. A speech problem must never take the kiosk down.

So where the `espeak-ng` program is installed, SpeechWorker runs one `espeak-ng` process per utterance:
still real speech from the same engine, but its exit status and its "error:" lines tell us when it
failed, `close()` can kill an utterance stuck on a blocked audio device, and a broken install only
breaks the child. Where there is no `espeak-ng` program (Windows SAPI5, macOS NSSpeechSynthesizer) the
worker uses pyttsx3, with the engine created inside the worker thread (unless `voices()` or the tests' WAV
synthesis already made the process's one engine) and every call waiting for the engine's own
`finished-utterance` notification, after checking in a child process (or with `espeak-ng -q`) that the engine
can start.
pyttsx3 shares one engine per process and espeak-ng one synthesis callback, so every in-process pyttsx3
use holds `_PYTTSX3_LOCK`.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from facegate.config import greeting_format_problem

log = logging.getLogger(__name__)

DEFAULT_GREETING = "Welcome {name}"
# A greeting later than this is worse than none: the person has walked on.
MAX_WAIT_S = 5.0
# Greetings waiting to be spoken; older ones make room for newer ones.
QUEUE_SIZE = 3
# An utterance (a greeting is a few seconds) that takes longer is stuck on the audio device.
UTTERANCE_TIMEOUT_S = 30.0
# Time for the engine to start: espeak-ng loads its data in ~30 ms; the pyttsx3 check imports Python.
START_TIMEOUT_S = 20.0

_PYTTSX3_LOCK = threading.RLock()
_engine_checked = False  # set once the engine is known to start in this process's environment
_engine = None  # the in-process pyttsx3 engine, created on first use
_engine_defaults: dict = {}  # its voice and rate as created: what "voice=None" means on a shared engine
_ERROR_LINE = re.compile(r"^\s*error\b", re.IGNORECASE)


class _SpeechFailure(Exception):
    """The speech engine cannot start or could not finish an utterance."""


def render_greeting(template: str, name: str) -> str:
    """`template` with `{name}` filled in; a template that cannot be filled safely (config.greeting_format_problem)
    falls back to the default (settings are checked when loaded and saved; this guards a template set from code)."""
    problem = greeting_format_problem(template)
    if problem is not None:
        log.warning("greeting template %r is not usable (%s); using %r", template, problem, DEFAULT_GREETING)
        template = DEFAULT_GREETING
    return template.format(name=name)


def _espeak_program() -> str | None:
    return shutil.which("espeak-ng")


def _uses_espeak_library() -> bool:
    """pyttsx3's default driver on this platform is espeak (loaded in-process)."""
    return sys.platform not in ("win32", "darwin")


def _check_engine_starts() -> None:
    """Raise _SpeechFailure if starting pyttsx3 here would fail, without risking espeak's exit(1)."""
    global _engine_checked
    if _engine_checked or not _uses_espeak_library():
        return
    program = _espeak_program()
    if program:  # same library and data as the in-process engine, ~30 ms
        command = [program, "-q", "ok"]
    elif getattr(sys, "frozen", False):  # a frozen app cannot run `python -c`; take the risk
        _engine_checked = True
        return
    else:
        command = [sys.executable, "-c", "import pyttsx3; pyttsx3.init()"]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _SpeechFailure(f"the speech engine check failed to run ({exc})") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _SpeechFailure(f"espeak-ng cannot start ({message[-1] if message else f'exit {done.returncode}'})")
    _engine_checked = True


def _pyttsx3_engine() -> Any:
    """The process's one pyttsx3 engine; call with _PYTTSX3_LOCK held.

    Kept for the life of the process: dropping it lets pyttsx3 clear espeak's synthesis callback while
    espeak's thread may still be returning from it, and espeak can be initialised only once anyway.
    """
    global _engine
    if _engine is None:
        _check_engine_starts()
        try:
            import pyttsx3  # imported late: it loads the native speech library

            engine = pyttsx3.init()
            _engine_defaults.update(voice=engine.getProperty("voice"), rate=engine.getProperty("rate"))
        except Exception as exc:  # noqa: BLE001 - ImportError, RuntimeError, OSError from the driver
            raise _SpeechFailure(f"pyttsx3 cannot start ({type(exc).__name__}: {exc})") from exc
        _engine = engine
    return _engine


def _run_pyttsx3(engine, queue_utterance: Callable[[], None], timeout: float) -> None:
    """Queue one utterance on `engine` and return once the engine reports it finished.
    `queue_utterance` runs after the listeners are connected: an idle engine runs commands at once."""
    done = threading.Event()
    finished_seen = threading.Event()
    outcome: dict = {}

    def finished(**kwargs) -> None:
        outcome.setdefault("completed", kwargs.get("completed", True))
        finished_seen.set()
        done.set()

    def failed(**kwargs) -> None:
        outcome["error"] = kwargs.get("exception")
        done.set()

    tokens = [engine.connect("finished-utterance", finished), engine.connect("error", failed)]
    try:
        queue_utterance()
        engine.runAndWait()  # returns early with the espeak driver, hence the wait below
        if not done.wait(timeout):
            raise _SpeechFailure(f"the speech engine did not finish within {timeout:.0f} s")
        if "error" in outcome:
            # a failed command (say, a bad voice) may not stop the utterance queued after it: let that
            # end too, or it would write into a file we are about to remove, or cut the next one short
            finished_seen.wait(2.0)
    finally:
        for token in tokens:
            engine.disconnect(token)
    if "error" in outcome:
        raise _SpeechFailure(f"the speech engine failed ({outcome['error']})")
    if not outcome.get("completed", True):
        raise _SpeechFailure("the speech engine stopped before the end of the utterance")


def _set_voice_and_rate(engine, voice: str | None, rate: int | None) -> None:
    """Every use sets both: the engine is shared, and None means the engine's default, not the last caller's."""
    voice = voice or _engine_defaults.get("voice")
    rate = rate or _engine_defaults.get("rate")
    if voice:
        engine.setProperty("voice", voice)
    if rate:
        engine.setProperty("rate", int(rate))


class _EspeakProcessVoice:
    """One `espeak-ng` process per utterance; it plays on the default (or named) audio device."""

    def __init__(self, program: str, voice: str | None, rate: int | None, device: str | None):
        self.program = program
        self.voice = voice
        self.rate = rate
        self.device = device
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._stopped = False

    def _options(self) -> list[str]:
        options = []
        if self.voice:
            options += ["-v", self.voice]
        if self.rate:
            options += ["-s", str(int(self.rate))]
        return options

    def start(self) -> None:
        """Load the voice data once without sound, so a broken install shows before the first greeting."""
        try:
            self._run([self.program, "-q", *self._options(), "--stdin"], "ok")
        except _SpeechFailure as exc:
            if not self.voice:
                raise
            self.voice = None  # a wrong voice setting should not silence the kiosk
            self._run([self.program, "-q", "--stdin"], "ok")
            log.warning("speech voice not usable (%s); using the default voice", exc)

    def speak(self, text: str) -> None:
        device = ["-d", self.device] if self.device else []
        self._run([self.program, *self._options(), *device, "-b", "1", "--stdin"], text)

    def _run(self, command: list[str], text: str) -> None:
        with self._lock:
            if self._stopped:
                return
            try:
                # stdin, not argv: a text starting with "-" is not an option, and it stays out of `ps`
                self._process = process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            except OSError as exc:
                raise _SpeechFailure(f"cannot run {self.program} ({exc})") from exc
        try:
            _, err = process.communicate(text.encode("utf-8"), timeout=UTTERANCE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise _SpeechFailure(f"espeak-ng did not finish within {UTTERANCE_TIMEOUT_S:.0f} s") from None
        finally:
            with self._lock:
                self._process = None
        if self._stopped:
            return  # killed by stop(): not a failure
        lines = err.decode("utf-8", "replace").splitlines()
        # espeak-ng exits 0 when the audio device fails, so its "error: ..." lines are the signal.
        # Lines from ALSA alone ("ALSA lib ...") are common on working desktops and are not.
        errors = [line.strip() for line in lines if _ERROR_LINE.match(line)]
        if process.returncode != 0 or errors:
            detail = errors[0] if errors else (lines[-1].strip() if lines else f"exit {process.returncode}")
            raise _SpeechFailure(f"espeak-ng failed ({detail})")

    def stop(self) -> None:
        """Callable from any thread: ends the utterance in progress and refuses new ones."""
        with self._lock:
            self._stopped = True
            if self._process is not None and self._process.poll() is None:
                self._process.kill()

    def close(self) -> None:
        pass


class _Pyttsx3Voice:
    """pyttsx3 in-process (SAPI5, NSSpeechSynthesizer or espeak); must be used from one thread only."""

    def __init__(self, voice: str | None, rate: int | None):
        self.voice = voice
        self.rate = rate
        self._engine: Any = None  # the pyttsx3 engine (untyped), set by start()

    def start(self) -> None:
        with _PYTTSX3_LOCK:
            self._engine = _pyttsx3_engine()  # created in this thread unless the process already has one
        if _uses_espeak_library() and not shutil.which("aplay"):
            # the driver would "speak" into `os.system("aplay ...")` and never hear that it failed
            raise _SpeechFailure("pyttsx3's espeak driver plays through aplay (alsa-utils), which is not installed")

    def speak(self, text: str) -> None:
        with _PYTTSX3_LOCK:  # the engine is shared with voices() (and the tests' WAV synthesis)
            engine = self._engine

            def queue_utterance() -> None:
                _set_voice_and_rate(engine, self.voice, self.rate)
                engine.say(text)

            try:
                _run_pyttsx3(engine, queue_utterance, UTTERANCE_TIMEOUT_S)
            except _SpeechFailure:
                raise
            except Exception as exc:  # noqa: BLE001
                raise _SpeechFailure(f"pyttsx3 failed ({type(exc).__name__}: {exc})") from exc

    def stop(self) -> None:
        pass  # pyttsx3 engines are not thread-safe: close() waits for the utterance instead

    def close(self) -> None:
        self._engine = None


class SpeechWorker:
    """Speaks greetings on its own daemon thread; `say()` never blocks and never raises.

    If the engine cannot start, or fails during an utterance, one warning is logged, `available` turns
    False, `failure` says why, a `when_failed` callback is told, and later `say()` calls return False: the
    kiosk carries on without sound (the window says so: a receptionist cannot hear that greetings stopped).
    """

    def __init__(self, enabled: bool = True, voice: str | None = None, rate: int | None = None, *,
                 device: str | None = None, on_spoken: Callable[[str], None] | None = None,
                 backend: str = "auto", max_wait_s: float = MAX_WAIT_S, queue_size: int = QUEUE_SIZE):
        """`voice`: an id from `voices()`; `rate`: words per minute (espeak-ng's default is 175);
        `device`: audio output for espeak-ng (`-d`, e.g. an ALSA name; "null" discards the sound);
        `on_spoken(text)`: called on the worker thread after each utterance finished;
        `backend`: "auto", "espeak-ng" (the program) or "pyttsx3"."""
        self.enabled = enabled
        self.on_spoken = on_spoken
        self.max_wait_s = max_wait_s
        self.dropped = 0  # greetings dropped because newer ones came or they waited too long
        self._spoken = 0
        self._pending: deque[tuple[str, float]] = deque(maxlen=queue_size)
        self._wake = threading.Condition()
        self._closing = False
        self._failed = False
        self.failure: str | None = None  # why speech stopped, in words for the screen; None while it works
        self._on_failed: Callable[[str], None] | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._voice: _EspeakProcessVoice | _Pyttsx3Voice | None = None
        self.backend: str | None = None
        if not enabled:
            self._ready.set()
            return
        program = _espeak_program()
        if backend == "auto":
            backend = "espeak-ng" if program else "pyttsx3"
        if backend == "espeak-ng" and program:
            self._voice = _EspeakProcessVoice(program, voice, rate, device)
        elif backend == "espeak-ng":
            self._fail("the espeak-ng program is not installed")
            self._ready.set()
            return
        elif backend == "pyttsx3":
            self._voice = _Pyttsx3Voice(voice, rate)
        else:
            raise ValueError(f"unknown speech backend {backend!r}; use 'auto', 'espeak-ng' or 'pyttsx3'")
        self.backend = backend
        self._thread = threading.Thread(target=self._run, name="facegate-speech", daemon=True)
        self._thread.start()

    @property
    def available(self) -> bool:
        """False when disabled, closed, or once the engine failed."""
        return self.enabled and not self._failed and not self._closing

    @property
    def spoken(self) -> int:
        """Utterances finished so far."""
        return self._spoken

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Wait until the engine started (True) or failed (False)."""
        self._ready.wait(timeout)
        return self.available

    def say(self, text: str) -> bool:
        """Queue `text` and return at once. True if queued; when the queue is full the oldest waiting
        greeting is dropped to make room (the newest person at the door matters most)."""
        if not self.available or not text or not text.strip():
            return False
        with self._wake:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
                log.debug("speech queue full: dropped the oldest waiting greeting")
            self._pending.append((text, time.monotonic()))
            self._wake.notify()
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Stop speaking (an utterance in progress is cut short) and end the worker thread."""
        with self._wake:
            self._closing = True
            self._pending.clear()
            self._wake.notify()
        if self._thread is None:
            return
        if self._voice is not None:
            self._voice.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("speech worker still busy %.1f s after close; leaving it to end with the app", timeout)

    def __enter__(self) -> SpeechWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @staticmethod
    def voices() -> list[tuple[str, str]]:
        """(id, name) of every installed voice, for a settings screen; empty if the engine cannot start."""
        try:
            with _PYTTSX3_LOCK:
                engine = _pyttsx3_engine()
                return [(voice.id, voice.name) for voice in engine.getProperty("voices")]
        except Exception as exc:  # noqa: BLE001 - _SpeechFailure or any driver error
            log.warning("cannot list the speech voices: %s", exc)
            return []

    def when_failed(self, callback: Callable[[str], None]) -> None:
        """Call `callback(reason)` once when speech stops working (on the speech thread), or now if it already
        has (the engine may fail before anyone asks)."""
        with self._wake:
            self._on_failed = callback
            reason = self.failure
        if reason is not None:
            callback(reason)

    def _fail(self, reason: object) -> None:
        with self._wake:  # one lock with when_failed: the callback is called exactly once, by one of the two
            first = not self._failed and not self._closing
            self._failed = True
            self._pending.clear()
            if first:
                self.failure = str(reason)
            callback = self._on_failed if first else None
        if first:
            log.warning("speech unavailable: %s; carrying on silently", reason)
        if callback is not None:
            try:
                callback(str(reason))
            except Exception:  # noqa: BLE001 - a faulty hook must not take the speech thread down
                log.exception("speech when_failed hook failed")

    def _next(self) -> str | None:
        """The next greeting still worth speaking, or None when closing."""
        with self._wake:
            while True:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return None
                text, queued = self._pending.popleft()
                waited = time.monotonic() - queued
                if waited <= self.max_wait_s:
                    return text
                self.dropped += 1
                log.info("dropped a greeting that waited %.1f s to be spoken", waited)

    def _run(self) -> None:
        assert self._voice is not None  # __init__ starts this thread only once it has chosen a voice
        try:
            self._voice.start()  # inside this thread: pyttsx3 engines are bound to the thread using them
        except Exception as exc:  # noqa: BLE001 - anything from the engine means no speech, not a crash
            self._fail(exc)
        finally:
            self._ready.set()
        while not self._failed:
            text = self._next()
            if text is None:
                break
            try:
                self._voice.speak(text)
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
                break
            if self._closing:
                break  # cut short by close(): not a finished utterance
            self._spoken += 1
            if self.on_spoken is not None:
                try:
                    self.on_spoken(text)
                except Exception:  # noqa: BLE001 - a faulty hook must not stop the speech
                    log.exception("speech on_spoken hook failed")
        self._voice.close()
