"""Window soak: the real kiosk window on the real clip (looped), for minutes or hours, watching what runs out.

The app's `MainWindow` with its default liveness (challenge), offscreen unless QT_QPA_PLATFORM says otherwise,
`short_hamilton_clip.mp4` looped in real time as the camera, Lin-Manuel Miranda enrolled (so grants, banners and
liveness prompts are drawn), no speech. Every --dialog-every seconds the enrollment dialog opens over the live view
for --dialog-open seconds (its preview doubles the widget calls), then closes.

Sampled on the UI thread every --sample-every seconds: the reference counts of None, True and False, RSS, Python
and OS threads, open file descriptors, frames drawn. Why the reference counts: PySide6-Essentials 6.12.0 on
Python 3.10/3.11 takes one reference from None (or True/False) on every Qt call that returns one without giving it
back; the window makes several hundred such calls a second, so None's count (about 200,000 at start) reaches zero
within minutes and the interpreter aborts ("none_dealloc"). On Python 3.12+ these objects are immortal (their
count is fixed), so the same binding cannot exhaust them there.

Verdict (exit 1 when a check fails; a crash ends the process with the signal's status):
  - the refcounts of None, True and False after warm-up neither fall nor rise by more than --max-refcount-drift,
    and their least-squares trend is within +-2 per second (a leaking binding: several hundred per second);
  - frames kept being drawn; RSS grew less than --max-rss-growth-mb; no more threads or descriptors than at the
    end of warm-up.

    .venv/bin/python benchmarks/window_soak.py                    # one hour
    .venv/bin/python benchmarks/window_soak.py --seconds 400      # what the CI test runs (tests/test_window_soak.py)
    .venv/bin/python benchmarks/window_soak.py --json             # one JSON object at the end, for machines

Exits 0 with a message when the clips are not on this machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from process_stats import count_fds, status_value  # noqa: E402

from facegate_dev.bench import Report, bench_parser, need_clips  # noqa: E402

CLIP = "short_hamilton_clip.mp4"
PERSON = "Lin-Manuel Miranda"


@dataclass
class Sample:
    seconds: float
    frames_drawn: int
    refs_none: int
    refs_true: int
    refs_false: int
    rss_mb: float
    py_threads: int
    os_threads: int
    fds: int
    dialogs_opened: int

    def line(self) -> str:
        return (f"{self.seconds:>7.0f} {self.frames_drawn:>7d} {self.refs_none:>9d} {self.refs_true:>8d} "
                f"{self.refs_false:>8d} {self.rss_mb:>8.1f} {self.py_threads:>4d} {self.os_threads:>5d} "
                f"{self.fds:>4d} {self.dialogs_opened:>7d}")


HEADER = "      s  frames  refs None  r. True  r.False   RSS MB  pyT   osT  fds dialogs"


def trend_per_second(samples: list[Sample], field: str) -> float:
    """Least-squares slope of a field against time (per second)."""
    if len(samples) < 2:
        return 0.0
    xs = [s.seconds for s in samples]
    ys = [getattr(s, field) for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / var


def verdict(warm: Sample, after: list[Sample], args) -> list[tuple[bool, str]]:
    end = after[-1]
    checks = []
    for field, label in (("refs_none", "None"), ("refs_true", "True"), ("refs_false", "False")):
        values = [getattr(s, field) for s in after]
        drift = max(abs(v - getattr(warm, field)) for v in values)
        slope = trend_per_second(after, field)
        checks.append((drift <= args.max_refcount_drift and abs(slope) <= 2.0,
                       f"refcount of {label}: {getattr(warm, field)} -> {getattr(end, field)}, largest drift "
                       f"{drift} (<= {args.max_refcount_drift}), trend {slope:+.2f}/s (within +-2/s)"))
    checks += [
        (end.frames_drawn > warm.frames_drawn, f"frames drawn {warm.frames_drawn} -> {end.frames_drawn} (growing)"),
        (end.rss_mb - warm.rss_mb < args.max_rss_growth_mb,
         f"RSS {warm.rss_mb:.0f} -> {end.rss_mb:.0f} MB (growth < {args.max_rss_growth_mb:.0f} MB)"),
        (end.py_threads <= warm.py_threads, f"Python threads {warm.py_threads} -> {end.py_threads} (no growth)"),
        (end.os_threads <= warm.os_threads + 2, f"OS threads {warm.os_threads} -> {end.os_threads} (no growth)"),
        (end.fds <= warm.fds + 2, f"open descriptors {warm.fds} -> {end.fds} (no growth)"),
        (end.dialogs_opened >= 1 or args.dialog_every <= 0, f"enrollment dialog opened {end.dialogs_opened} times"),
    ]
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long the window runs (default 3600)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline sample (default 60)")
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--dialog-every", type=float, default=30.0, help="open the enrollment dialog this often")
    parser.add_argument("--dialog-open", type=float, default=15.0, help="and keep it open this long")
    parser.add_argument("--max-refcount-drift", type=int, default=3000)
    parser.add_argument("--max-rss-growth-mb", type=float, default=150.0)
    args = parser.parse_args(argv)
    report = Report("window_soak", args.json)
    clips = need_clips(report, CLIP)

    work = Path(tempfile.mkdtemp(prefix="facegate-window-soak-"))
    os.environ["FACEGATE_HOME"] = str(work / "home")  # never the user's own settings, PIN or log
    try:
        samples = run_window(report, args, clips, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    warm = next((s for s in samples if s.seconds >= args.warmup), samples[-1])
    after = [s for s in samples if s.seconds >= warm.seconds]
    report.say(f"verdict (end vs the sample at {warm.seconds:.0f} s, after warm-up):")
    for ok, text in verdict(warm, after, args):
        report.check(ok, text)
    report.say("WINDOW SOAK PASSED" if report.passed else "WINDOW SOAK FAILED")
    report.finish()
    return 0 if report.passed else 1


def run_window(report: Report, args, clips: Path, work: Path) -> list[Sample]:
    """The window on the looped clip for --seconds, the enrollment dialog opened and closed; the samples taken."""
    import PySide6
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from facegate.config import Settings
    from facegate.ui.main_window import MainWindow

    gallery = work / "gallery"
    gallery.mkdir(mode=0o700)
    shutil.copy(clips / "lin-manuel-miranda.png", gallery / f"{PERSON}.png")
    settings = Settings(source=str(clips / CLIP), gallery=str(gallery), log_dir=str(work / "log"), speech=False)
    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings, settings_path=work / "config.json")
    window.show()

    frames = {"drawn": 0}
    window.bridge.frame_ready.connect(lambda _result: frames.__setitem__("drawn", frames["drawn"] + 1))
    dialog_state = {"dialog": None, "opened": 0, "since": 0.0}
    samples: list[Sample] = []
    started = time.monotonic()
    report.say(f"window soak: {args.seconds:.0f} s of {CLIP} looped in MainWindow ({os.environ['QT_QPA_PLATFORM']}), "
               f"liveness {settings.liveness}, enrollment dialog every {args.dialog_every:.0f} s for "
               f"{args.dialog_open:.0f} s; Python {platform.python_version()}, PySide6 {PySide6.__version__}; "
               f"pid {os.getpid()}", python=platform.python_version(), pyside6=PySide6.__version__,
               seconds=args.seconds, liveness=settings.liveness)
    report.say(HEADER)

    def sample() -> None:
        current = Sample(time.monotonic() - started, frames["drawn"], sys.getrefcount(None), sys.getrefcount(True),
                         sys.getrefcount(False), status_value("VmRSS") / 1024.0, threading.active_count(),
                         status_value("Threads"), count_fds(), dialog_state["opened"])
        samples.append(current)
        report.row("samples", current.line(), **asdict(current))

    def toggle_dialog() -> None:
        from facegate.ui.enroll_dialog import EnrollDialog

        now = time.monotonic()
        dialog = dialog_state["dialog"]
        if dialog is None and window.engine is not None and now - dialog_state["since"] >= args.dialog_every:
            dialog = EnrollDialog(window)
            dialog.show()
            dialog_state.update(dialog=dialog, opened=dialog_state["opened"] + 1, since=now)
        elif dialog is not None and now - dialog_state["since"] >= args.dialog_open:
            dialog.reject()
            dialog.deleteLater()
            dialog_state.update(dialog=None, since=now)

    sampler = QTimer()
    sampler.timeout.connect(sample)
    sampler.start(int(args.sample_every * 1000))
    dialogs = QTimer()
    if args.dialog_every > 0:
        dialogs.timeout.connect(toggle_dialog)
        dialogs.start(500)

    def finish() -> None:
        sample()  # the last verdict sample: the window still running
        sampler.stop()
        dialogs.stop()
        if dialog_state["dialog"] is not None:
            dialog_state["dialog"].reject()
        app.quit()

    QTimer.singleShot(int(args.seconds * 1000), finish)
    sample()
    app.exec()
    window.shutdown()
    window.close()
    return samples


if __name__ == "__main__":
    sys.exit(main())
