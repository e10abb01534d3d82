"""A guard alert a guard can see in kiosk mode, and a wait an administrator can lift (issue 29 item 2): the real
window, offscreen, on the real clip."""

from __future__ import annotations

import time

import pytest
from helpers import ADMIN_PIN as PIN
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog
from test_ui import _open_window, answer_next_dialog

from facegate.access_log import AccessEvent
from facegate.policy import Decision, Verdict
from facegate.ui.video_view import BANNER_FADE_SECONDS, BANNER_SECONDS

NAME = "Lin-Manuel Miranda"


@pytest.fixture()
def window(qtbot, home, clips):
    win = _open_window(qtbot, home, clips / "short_hamilton_clip.mp4")
    qtbot.waitUntil(lambda: win.session is not None and win.session.pipeline.last_time > 0, timeout=120_000)
    yield win
    win.shutdown()


def third_failure(track_id: int = 7) -> Decision:
    """What the pipeline decides at the third failed check as him (tests/test_liveness.py makes it happen)."""
    return Decision(track_id, Verdict.DENIED, NAME, 0.3, 0.2, 1.0, reason="liveness check failed: ...",
                    details={"failed_checks": 3, "guard_alert": True})


def test_a_guard_alert_stays_on_the_picture_in_kiosk_mode_until_acknowledged_with_the_pin(window, qtbot):
    window.toggle_kiosk()
    assert not window.statusBar().isVisible()  # kiosk mode: the status bar line cannot be seen
    window.bridge.decision.emit(third_failure(), None)
    qtbot.waitUntil(lambda: window.guard_alerts.isVisible(), timeout=5_000)
    assert f"3 failed liveness checks as {NAME}" in window.guard_alerts.text.text()
    assert window.video.rect().contains(window.guard_alerts.geometry())
    qtbot.wait(int((BANNER_SECONDS + BANNER_FADE_SECONDS) * 1000) + 500)
    assert window.video.banner_text == ""  # the red banner has gone ...
    assert window.guard_alerts.isVisible()  # ... the alert has not

    answer_next_dialog(qtbot, [None])  # the PIN asked, and cancelled: still there
    window.guard_alerts.acknowledge.click()
    assert window.guard_alerts.isVisible()
    answer_next_dialog(qtbot, [PIN])
    window.guard_alerts.acknowledge.click()
    assert not window.guard_alerts.isVisible() and window.guard_alerts.alerts == {}


def test_an_administrator_lifts_a_wait_from_the_alert_or_the_toolbar(window, qtbot):
    pipeline = window.session.pipeline
    for _ in range(3):
        pipeline.attempts.record_failure(NAME, pipeline.last_time)
    assert [name for name, _, _ in pipeline.lockouts()] == [NAME]
    window.bridge.decision.emit(third_failure(), None)
    qtbot.waitUntil(lambda: window.guard_alerts.isVisible(), timeout=5_000)
    assert window.guard_alerts.lift.text() == f"Let {NAME} try again now"
    answer_next_dialog(qtbot, [PIN])
    window.guard_alerts.lift.click()
    assert pipeline.lockouts() == [] and not window.guard_alerts.isVisible()

    # From the toolbar: the waits are listed, one is chosen, the PIN (still unlocked for a minute) lifts it.
    pipeline.attempts.record_failure("Barack Obama", pipeline.last_time)
    chosen = []

    def choose() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(50, choose)
            return
        chosen.append(dialog.textValue())
        dialog.accept()

    QTimer.singleShot(50, choose)
    window.waits_action.trigger()
    assert chosen and chosen[0].startswith("Barack Obama: 1 failed checks")
    assert pipeline.lockouts() == []


def test_the_access_log_shows_the_guard_alert(window, qtbot):
    from facegate.ui.log_dialog import LogDialog

    assert window.access_log.record(AccessEvent(time.time(), 7, NAME, 0.3, 0.2, "denied",
                                                details={"failed_checks": 3, "guard_alert": True}))
    assert window.access_log.flush()
    dialog = LogDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
    cells = [dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())]
    assert "Refused - guard alert (3 failed checks)" in cells


def test_no_label_or_band_is_put_under_the_alert(qtbot):
    """A face at the top of the picture, under the panel: its label goes below its box, the prompt elsewhere."""
    import numpy as np

    from facegate.capture import Frame
    from facegate.pipeline import FrameResult, TrackView
    from facegate.ui.guard_alert import GuardAlert, GuardAlertPanel
    from facegate.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(800, 450)
    view.show()
    view.set_message("")
    panel = GuardAlertPanel(view)
    panel.add(GuardAlert(NAME, 3, time.time()))
    assert panel.isVisible()
    asked = TrackView(1, (260.0, 0.0, 40.0, 22.0), Verdict.PENDING, None, 0.4, 0.2,
                      instruction="Please open your mouth", icon="mouth", countdown=4.0)
    stranger = TrackView(2, (60.0, 0.0, 36.0, 20.0), Verdict.UNKNOWN, None, 0.7, 0.1)
    view.show_result(FrameResult(Frame(np.full((360, 640, 3), 90, np.uint8), 1, 0.0), [asked, stranger], []))
    view.grab()
    covered = QRectF(panel.geometry())
    assert len(view.labels) == 2, view.labels
    for label in [*view.labels.values(), view.prompt_rect]:
        assert not label.intersects(covered), (label, covered)
