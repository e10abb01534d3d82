"""The real kiosk window, offscreen, on the real clip: enroll by snapshot, see the grant on screen and in the log."""

import time

import cv2
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from facegate.config import Settings
from facegate.policy import Verdict

from helpers import ADMIN_PIN as PIN
NAME = "Lin-Manuel Miranda"


def _open_window(qtbot, home, source):
    from facegate.ui.main_window import MainWindow

    settings = Settings(source=str(source), gallery=str(home / "gallery"),
                        log_dir=str(home / "log"), speech=False, liveness="off")  # recognition alone
    started = time.monotonic()
    win = MainWindow(settings, settings_path=home / "config.json")
    win.show()
    qtbot.addWidget(win)
    win.startup_seconds = time.monotonic() - started
    return win


@pytest.fixture()
def window(qtbot, home, clips):
    win = _open_window(qtbot, home, clips / "short_hamilton_clip.mp4")
    yield win
    win.shutdown()


@pytest.fixture()
def close_up_window(qtbot, home, clips, tmp_path):
    """The window on Lin-Manuel Miranda alone and close, as a kiosk camera sees the person enrolling: frames
    82-210 of the clip (he looks straight, turns to one side, then to the other), cropped around him and
    enlarged 2x, written as a real video file."""
    source = cv2.VideoCapture(str(clips / "short_hamilton_clip.mp4"))
    path = tmp_path / "close_up.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (600, 400))
    for index in range(211):
        ok, frame = source.read()
        assert ok, f"the clip ended at frame {index}"
        if index >= 82:
            writer.write(cv2.resize(frame[0:200, 100:400], (600, 400), interpolation=cv2.INTER_CUBIC))
    writer.release()
    source.release()
    win = _open_window(qtbot, home, path)
    yield win
    win.shutdown()


def answer_next_dialog(qtbot, actions):
    """Answer the modal dialogs ask_pin() opens, one action per dialog: a PIN to type, or None to cancel."""
    actions = list(actions)
    seen = []

    def answer():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(50, answer)
            return
        seen.append(dialog.error.text())
        action = actions.pop(0)
        if action is None:
            dialog.reject()
        else:
            dialog.pin.setText(action)
            dialog.accept()
        if actions:
            QTimer.singleShot(50, answer)

    QTimer.singleShot(50, answer)
    return seen


def test_window_appears_at_once_with_a_loading_line(window):
    assert window.startup_seconds < 2.0
    assert window.isVisible()
    assert "Loading" in window.video.message or window.engine is not None


def test_wrong_pin_is_refused_then_right_pin_accepted(window, qtbot):
    seen = answer_next_dialog(qtbot, ["0000", None])
    assert window.require_admin() is False
    assert "Wrong PIN" in seen[1]
    answer_next_dialog(qtbot, [PIN])
    assert window.require_admin() is True


def test_enroll_from_the_live_picture_then_granted(close_up_window, qtbot):
    from facegate.ui.enroll_dialog import EnrollDialog

    window = close_up_window
    qtbot.waitUntil(lambda: window.engine is not None, timeout=120_000)
    qtbot.waitUntil(lambda: window.video._image is not None, timeout=30_000)
    assert window.people_label.text() == "Enrolled: 0"
    assert window.camera_label.text() == "Camera: file"

    dialog = EnrollDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    for shot in range(3):
        qtbot.waitUntil(dialog.capture_button.isEnabled, timeout=40_000)  # alone, large, turned as asked
        qtbot.mouseClick(dialog.capture_button, Qt.MouseButton.LeftButton)
        assert len(dialog.shots) == shot + 1
        qtbot.wait(300)
    straight, one_side, other_side = dialog.turns  # the turned shots lie on opposite sides of the straight one
    assert abs(straight) <= 0.12 and (one_side - straight) * (other_side - straight) < 0
    assert not dialog.capture_button.isEnabled()
    qtbot.keyClicks(dialog.name_edit, NAME)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved" in dialog.result_label.text(), timeout=60_000)
    dialog.close()
    assert window.gallery.people == [NAME]
    assert window.people_label.text() == "Enrolled: 1"

    greetings = []
    window.bridge.decision.connect(lambda d, r: greetings.append(d) if d.greet else None)
    qtbot.waitUntil(lambda: any(t.verdict is Verdict.GRANTED and t.name == NAME for t in window.video.tracks),
                    timeout=60_000)  # the clip loops; he comes back within ~5 s
    qtbot.waitUntil(lambda: window.video.banner_text == f"Welcome {NAME}", timeout=5_000)
    assert [d.name for d in greetings] == [NAME]
    assert window.access_log.flush()
    rows = window.access_log.recent(person=NAME)
    assert rows and rows[0].decision == "granted" and rows[0].snapshot is not None


def test_a_guard_alert_is_shown_in_red_and_stays_in_the_status_bar(window, qtbot):
    """The third failed liveness check as one person (tests/test_liveness.py makes it happen on the real clip)
    reaches the window as a denied decision carrying the alert: a red banner and a status line that stays."""
    from facegate.policy import Decision, Verdict

    qtbot.waitUntil(lambda: window.engine is not None, timeout=120_000)
    alert = Decision(7, Verdict.DENIED, NAME, 0.3, 0.2, 1.0, reason="liveness check failed: ...",
                     details={"failed_checks": 3, "guard_alert": True})
    window.bridge.decision.emit(alert, None)
    text = f"Guard alert: 3 failed liveness checks as {NAME}"
    qtbot.waitUntil(lambda: window.video.banner_text == text, timeout=5_000)
    assert window.video._banner_alert
    assert window.statusBar().currentMessage() == f"{text} (see the access log)"
    window.bridge.decision.emit(Decision(8, Verdict.GRANTED, NAME, 0.3, 0.2, 2.0, greet=True), None)
    qtbot.waitUntil(lambda: window.video.banner_text == f"Welcome {NAME}", timeout=5_000)
    assert not window.video._banner_alert  # a welcome is green again
