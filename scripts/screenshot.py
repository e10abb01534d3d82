"""Take the README's screenshots: the real window under Xvfb, on the test clip.

    .venv/bin/python scripts/screenshot.py                      # docs/screenshot.png: a grant (liveness off)
    .venv/bin/python scripts/screenshot.py --challenge          # docs/liveness.png: a liveness request on screen
    .venv/bin/python scripts/screenshot.py --crowd              # docs/crowd.png: a request in a crowd scene
    .venv/bin/python scripts/screenshot.py --lockout            # docs/lockout.png: a wait after three failed
                                                                #   checks, a guard alert, the audience in view

--crowd and --lockout play facegate_dev/crowd.py's scene (Lin-Manuel Miranda beside the clip's audience), with
Barack Obama enrolled too. --lockout lets the clip fail the challenge three times (it cannot follow requests), which
takes about a minute.

Needs Xvfb (scripts/install.sh installs it) and the shared test data (../shared/data or FACEGATE_DATA).
Uses a throw-away FaceGate home, so it never touches the real gallery or settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_xvfb(display: str = ":97") -> subprocess.Popen:
    process = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    if process.poll() is not None:
        raise SystemExit("Xvfb did not start; install it with scripts/install.sh")
    os.environ["DISPLAY"] = display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--challenge", action="store_true", help="show a liveness challenge instead of a grant")
    parser.add_argument("--crowd", action="store_true", help="a liveness request in a crowd scene")
    parser.add_argument("--lockout", action="store_true", help="a wait after failed checks, others in view")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    name = ("lockout" if args.lockout else "crowd" if args.crowd else "liveness" if args.challenge else "screenshot")
    args.out = args.out or ROOT / "docs" / f"{name}.png"
    asking = args.challenge or args.crowd or args.lockout

    from facegate.policy import Verdict
    from facegate_dev.datasets import clips_dir

    clips = clips_dir()
    if clips is None:
        raise SystemExit("test clips not found: set FACEGATE_DATA or provide ../shared/data/clips")
    home = Path(tempfile.mkdtemp(prefix="facegate-shot-"))
    os.environ["FACEGATE_HOME"] = str(home)
    gallery = home / "gallery"
    (gallery / "Lin-Manuel Miranda").mkdir(parents=True)
    shutil.copy(clips / "lin-manuel-miranda.png", gallery / "Lin-Manuel Miranda" / "photo.png")
    source = clips / "short_hamilton_clip.mp4"
    if args.crowd or args.lockout:
        from facegate_dev.crowd import write_crowd_clip

        source = write_crowd_clip(clips, home / "crowd.avi")
        (gallery / "Barack Obama").mkdir()
        shutil.copy(clips / "obama.jpg", gallery / "Barack Obama" / "photo.jpg")
    xvfb = start_xvfb()
    try:
        from PySide6.QtWidgets import QApplication

        from facegate.admin import AdminPin
        from facegate.config import Settings, default_data_dir
        from facegate.ui.main_window import MainWindow

        AdminPin(default_data_dir() / "admin.json").set_pin("246813")
        app = QApplication(sys.argv[:1])
        settings = Settings(source=str(source), gallery=str(gallery), log_dir=str(home / "log"), speech=False,
                            liveness="challenge" if asking else "off")
        window = MainWindow(settings, settings_path=home / "config.json")
        window.video.show_distance = True
        window.resize(1100, 760)
        window.show()
        deadline = time.monotonic() + args.timeout
        granted_at = None
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
            if args.lockout:
                waiting = [t for t in window.video.tracks if t.waiting and t.name is None]
                if window.guard_alerts.isVisible() and waiting and (waiting[0].countdown or 0) > 5:
                    break
                continue
            if asking:
                # A request, not the wait after a failed check; caught early: the clip cannot follow requests, so
                # a check may fail at its first one.
                asked = [t for t in window.video.tracks if t.instruction and not t.waiting]
                if asked and asked[0].countdown is not None and asked[0].countdown < 4.7:
                    break
                continue
            granted = any(t.verdict is Verdict.GRANTED for t in window.video.tracks)
            if granted and granted_at is None:
                granted_at = time.monotonic()
            if granted_at and time.monotonic() - granted_at > 0.4 and window.video.banner_text:
                break
        else:
            raise SystemExit("no grant appeared in time")
        window.video.repaint()  # what the view holds now, on the display before it is grabbed
        app.processEvents()
        screen = app.primaryScreen().grabWindow(0)  # the X display itself, window frame and all
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screen.copy(window.frameGeometry()).save(str(args.out))
        print(f"saved {args.out}")
        window.shutdown()
        return 0
    finally:
        xvfb.terminate()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
