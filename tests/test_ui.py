"""The real kiosk window, offscreen, on the real clip: enroll by snapshot, see the grant on screen and in the log."""

import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from facegate.config import Settings

from helpers import ADMIN_PIN as PIN
NAME = "Lin-Manuel Miranda"


@pytest.fixture()
def window(qtbot, home, clips):
    from facegate.ui.main_window import MainWindow

    settings = Settings(source=str(clips / "short_hamilton_clip.mp4"), gallery=str(home / "gallery"),
                        log_dir=str(home / "log"), speech=False, liveness="off")  # recognition alone
    started = time.monotonic()
    win = MainWindow(settings, settings_path=home / "config.json")
    win.show()
    qtbot.addWidget(win)
    win.startup_seconds = time.monotonic() - started
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


def test_enroll_from_the_live_picture_then_granted(window, qtbot):
    from facegate.ui.enroll_dialog import EnrollDialog

    qtbot.waitUntil(lambda: window.engine is not None, timeout=120_000)
    qtbot.waitUntil(lambda: window.video._image is not None, timeout=30_000)
    assert window.people_label.text() == "Enrolled: 0"
    assert window.camera_label.text() == "Camera: file"

    dialog = EnrollDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    for shot in range(3):
        qtbot.waitUntil(dialog.capture_button.isEnabled, timeout=40_000)  # his face, large, alone
        qtbot.mouseClick(dialog.capture_button, Qt.MouseButton.LeftButton)
        assert len(dialog.shots) == shot + 1
        qtbot.wait(300)
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
    qtbot.waitUntil(lambda: any(t.state == "granted" and t.name == NAME for t in window.video.tracks),
                    timeout=60_000)  # the clip loops; he comes back within ~9 s
    qtbot.waitUntil(lambda: window.video.banner_text == f"Welcome {NAME}", timeout=5_000)
    assert [d.name for d in greetings] == [NAME]
    assert window.access_log.flush()
    rows = window.access_log.recent(person=NAME)
    assert rows and rows[0].decision == "granted" and rows[0].snapshot is not None
