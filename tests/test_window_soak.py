"""The kiosk window survives long live video: the Qt binding gives back every reference it takes.

PySide6-Essentials 6.12.0 on Python 3.11 took one reference from None on each void Qt call; the window aborted
("none_dealloc") after 200 s of this very soak (benchmarks/window_soak.py; see README "Supported versions").
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# About twice the 200 s after which the leaking binding aborted the same soak on the 2-core development machine.
SOAK_SECONDS = 400


def test_qt_calls_give_back_their_references():
    from facegate.ui.binding_check import SUPPORTED, check_qt_binding, lost_references

    assert lost_references(1000) < 10  # a leaking binding loses 1000
    check_qt_binding()
    assert f'"{SUPPORTED}"' in (ROOT / "pyproject.toml").read_text()  # the fix it names is the one we pin


@pytest.mark.slow
def test_window_soak_keeps_refcounts_flat_and_stays_alive(clips):
    """The real MainWindow on the looped clip with the enrollment dialog opened and closed, in its own process
    (an abort must fail this test, not end the test run)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "window_soak.py"), "--seconds", str(SOAK_SECONDS),
         "--warmup", "60", "--sample-every", "5", "--dialog-every", "20", "--dialog-open", "10", "--json"],
        capture_output=True, text=True, timeout=SOAK_SECONDS + 300, cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode in (0, 1), f"the window process died (status {done.returncode}):\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    failed = [c["text"] for c in report["checks"] if not c["ok"]]
    assert not failed, failed
    assert report["samples"][-1]["seconds"] >= SOAK_SECONDS - 5
    assert report["samples"][-1]["dialogs_opened"] >= 5
