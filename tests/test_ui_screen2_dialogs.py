"""Issue 29, the dialogs: liveness mode in Settings (item 4), the door and building dialog (item 7), Enter that
starts nothing unasked (item 8), Escape in kiosk mode (item 10), the PIN dialog's title (item 12).

The real window with the real models (the session's engine, loaded once) and a real gallery of one person; its
camera is one that is not there, so that no clip is played while the dialogs are tested. Modal dialogs are
answered the way a person would, through QTimer: keys typed, buttons pressed.
"""

import json

import pytest
from helpers import ADMIN_PIN as PIN
from helpers import answer_modals, still_window
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QFormLayout, QLabel, QPushButton

from facegate.config import CHOICES, Settings

NAME = "Lin-Manuel Miranda"


@pytest.fixture()
def window(qtbot, home, clips, engine):
    win = still_window(qtbot, home, engine, {NAME: clips / "lin-manuel-miranda.png"})
    yield win
    win.shutdown()


def type_pin(pin):
    """Type the PIN and press Enter in the PIN prompt, as a person does; None: Cancel."""
    def handle(dialog):
        if pin is None:
            dialog.reject()
            return dialog.windowTitle()
        QTest.keyClicks(dialog.pin, pin)
        QTest.keyClick(dialog.pin, Qt.Key.Key_Return)
        return dialog.windowTitle()
    return handle


def pin_dialog():
    from facegate.ui.admin_dialogs import PinDialog

    return PinDialog


def may_answer_enter(button: QPushButton) -> bool:
    """OK, Cancel, Close, Yes, No of a button box: the only buttons that Enter may press."""
    box = button.parent()
    return isinstance(box, QDialogButtonBox) and box.buttonRole(button) in (
        QDialogButtonBox.ButtonRole.AcceptRole, QDialogButtonBox.ButtonRole.RejectRole,
        QDialogButtonBox.ButtonRole.YesRole, QDialogButtonBox.ButtonRole.NoRole)


def buttons_that_answer_enter(dialog) -> list[str]:
    """The action buttons of a shown dialog that Enter would press (default now, or auto-default)."""
    return [button.text() for button in dialog.findChildren(QPushButton)
            if (button.isDefault() or button.autoDefault()) and not may_answer_enter(button)]


# ---------------------------------------------------------------------------------------------------- item 4

def test_item4_liveness_mode_is_chosen_in_settings_behind_the_pin_saved_and_applied(window, qtbot, home):
    from facegate.liveness import LivenessMode
    from facegate.ui.settings_dialog import SettingsDialog

    # Settings are behind the PIN: cancelled, nothing else opens.
    answered, errors = answer_modals([(pin_dialog(), type_pin(None))])
    window.open_settings()
    assert answered == ["Administrator PIN"] and not errors

    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    combo, explanation = dialog.liveness_combo, dialog.liveness_explanation
    assert [combo.itemData(i) for i in range(combo.count())] == list(CHOICES["liveness"])
    assert dialog.liveness_mode() == "adaptive" == window.settings.liveness
    texts = {}
    for mode in CHOICES["liveness"]:
        combo.setCurrentIndex(combo.findData(mode))
        texts[mode] = explanation.text()
    assert len(set(texts.values())) == len(texts) and all(texts.values())  # each mode its own trade-off
    assert "within a second" in texts["adaptive"] and "phone" in texts["adaptive"]
    assert "2.5 s" in texts["challenge"] and "puppet" in texts["challenge"]
    assert "stops nothing" in texts["off"]
    assert "turns most real people away" in texts["passive"]

    combo.setCurrentIndex(combo.findData("challenge"))
    assert explanation.text() == texts["challenge"]
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == 1, dialog.error_label.text()
    assert json.loads((home / "config.json").read_text(encoding="utf-8"))["liveness"] == "challenge"
    assert window.settings.liveness == "challenge"
    qtbot.waitUntil(lambda: window.session is not None, timeout=10_000)
    assert window.session.pipeline.liveness.mode is LivenessMode.CHALLENGE  # the running kiosk checks this way

    again = SettingsDialog(window)  # opened again: the mode in force is shown
    qtbot.addWidget(again)
    assert again.liveness_mode() == "challenge" and again.liveness_explanation.text() == texts["challenge"]


# ---------------------------------------------------------------------------------------------------- item 7

def test_item7_the_broker_host_stays_readable_and_errors_name_the_fields_on_screen(window, qtbot):
    from facegate.ui.actions_dialog import ActionsDialog

    settings = Settings(mqtt_url="mqtt://ha:s3cret@homeassistant.local:1883")
    dialog = ActionsDialog(window, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5_000)
    broker, password = dialog.edits["mqtt_url"], dialog.mqtt_password_edit
    assert broker.displayText() == "mqtt://ha@homeassistant.local:1883"
    assert "s3cret" not in password.displayText() and password.text() == "s3cret"

    # A new address with its password typed in the broker's field: once left, the host reads, the password not.
    broker.setFocus()
    broker.selectAll()
    QTest.keyClicks(broker, "mqtt://door:p%40ss@10.0.0.5:1883")
    dialog.edits["mqtt_topic"].setFocus()
    qtbot.waitUntil(lambda: not broker.hasFocus(), timeout=5_000)
    assert broker.displayText() == "mqtt://door@10.0.0.5:1883"
    assert password.text() == "p@ss" and "p@ss" not in password.displayText() and password.displayText()
    assert dialog.chosen().mqtt_url == "mqtt://door:p%40ss@10.0.0.5:1883"
    unchanged = ActionsDialog(window, settings)  # nothing edited: the stored text itself
    qtbot.addWidget(unchanged)
    assert unchanged.chosen().mqtt_url == settings.mqtt_url

    # Invalid values: each error names the field's label as the form shows it, never the setting's key.
    note = dialog.findChild(QLabel, "door_note")
    qtbot.waitUntil(lambda: note.height() >= note.heightForWidth(note.width()), timeout=5_000)
    dialog.edits["door_command"].setText('pulse "1')
    broker.setText("http://door@homeassistant.local")  # the password field keeps p@ss: a user is named
    dialog.edits["webhook_url"].setText("ftp://example.org/hook")
    qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    errors = dialog.error_label.text()
    assert dialog.isVisible() and dialog.result() == 0
    for name in ("door_command", "mqtt_url", "webhook_url"):
        edit = dialog.edits[name]
        form = edit.parentWidget().layout()
        assert isinstance(form, QFormLayout)
        label = form.labelForField(edit).text().rstrip(":")
        assert f"{label}: " in errors, (label, errors)
        assert name not in errors, errors
    # The explanation above the errors and the errors themselves keep the height their wrapped lines need.
    for shown in (note, dialog.error_label):
        qtbot.waitUntil(lambda shown=shown: shown.height() >= shown.heightForWidth(shown.width()), timeout=5_000)
    assert errors.count("\n") == 3


# ---------------------------------------------------------------------------------------------------- item 8

def test_item8_the_enter_that_confirms_the_pin_opens_people_and_no_file_chooser(window, qtbot):
    from facegate.ui.people_dialog import PeopleDialog

    seen = []

    def in_people(dialog):
        seen.append(QApplication.activeModalWidget())
        dialog.list.setCurrentRow(0)
        assert dialog.selected_name() == NAME  # Add photos... would ask for photos of him

        def look_then_close():
            front = QApplication.activeModalWidget()
            seen.append(front)
            if isinstance(front, QFileDialog):  # opened by itself: closed, and the test fails below
                front.reject()
            dialog.reject()

        QTimer.singleShot(500, look_then_close)
        QTest.keyClick(dialog.list, Qt.Key.Key_Return)  # a second Enter, as a held or repeated key gives
        QTest.keyClick(dialog, Qt.Key.Key_Enter)
        return buttons_that_answer_enter(dialog)

    answered, errors = answer_modals([(pin_dialog(), type_pin(PIN)), (PeopleDialog, in_people)], timeout_s=5.0)
    window.open_people()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    assert not errors, errors
    assert answered == ["Administrator PIN", []], answered
    assert not isinstance(seen[1], QFileDialog), "a file chooser opened by itself"
    assert len(seen) == 2 and seen[0] is seen[1]  # People stayed the dialog in front: nothing opened over it


def test_item8_no_dialog_has_a_default_button_that_starts_something(window, qtbot):
    from facegate.ui.actions_dialog import ActionsDialog
    from facegate.ui.admin_dialogs import PinDialog
    from facegate.ui.enroll_dialog import EnrollDialog
    from facegate.ui.log_dialog import LogDialog
    from facegate.ui.modal import run_modal
    from facegate.ui.people_dialog import PeopleDialog
    from facegate.ui.settings_dialog import SettingsDialog

    def inspect(dialog):
        found = (type(dialog).__name__, buttons_that_answer_enter(dialog), len(dialog.findChildren(QPushButton)))
        dialog.reject()
        return found

    answered, errors = answer_modals([(PinDialog, inspect)])
    assert window.require_admin() is False  # the PIN prompt, looked at, then cancelled
    typed, errors_now = answer_modals([(PinDialog, type_pin(PIN))])
    assert window.require_admin() is True, (typed, errors_now)
    opened = [(PeopleDialog, window.open_people), (LogDialog, window.open_log),
              (SettingsDialog, window.open_settings), (EnrollDialog, window.open_enroll),
              (ActionsDialog, lambda: run_modal(ActionsDialog(window, window.settings)))]
    for kind, open_it in opened:
        answered_now, errors_now = answer_modals([(kind, inspect)], timeout_s=10.0)
        open_it()
        answered += answered_now
        errors += errors_now
    set_pin = PinDialog(window, "Set the administrator PIN", "Choose a PIN.", confirm=True)
    qtbot.addWidget(set_pin)
    set_pin.show()
    answered.append((type(set_pin).__name__, buttons_that_answer_enter(set_pin), 2))
    assert not errors, errors
    names = [name for name, _, _ in answered]
    assert names == ["PinDialog", "PeopleDialog", "LogDialog", "SettingsDialog", "EnrollDialog", "ActionsDialog",
                     "PinDialog"]
    for name, answering_enter, buttons in answered:
        assert buttons >= 2, name  # the walk saw the dialog's buttons
        assert answering_enter == [], (name, answering_enter)


# ---------------------------------------------------------------------------------------------------- item 10

def test_item10_escape_in_kiosk_mode_asks_the_pin_and_outside_does_nothing(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    answered, errors = answer_modals([(pin_dialog(), type_pin(None))], timeout_s=1.0)
    QTest.keyClick(window, Qt.Key.Key_Escape)  # not in kiosk mode: nothing
    qtbot.wait(1200)
    assert answered == [] and not window.isFullScreen() and window.toolbar.isVisible()

    window.toggle_kiosk()
    qtbot.waitUntil(window.isFullScreen, timeout=5_000)
    assert not window.toolbar.isVisible()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    answered, errors = answer_modals([(pin_dialog(), type_pin("135790")), (pin_dialog(), type_pin(None))])
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert answered == ["Administrator PIN"] * 2 and not errors  # asked, wrong, asked again, cancelled
    assert window.isFullScreen() and not window.toolbar.isVisible()  # still in kiosk mode

    window.activateWindow()  # active again once the prompt closed, as for a person at the screen
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    answered, errors = answer_modals([(pin_dialog(), type_pin(PIN))])
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert answered == ["Administrator PIN"] and not errors
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5_000)
    assert window.toolbar.isVisible()


# ---------------------------------------------------------------------------------------------------- item 12

@pytest.mark.parametrize("confirm", [False, True], ids=["enter PIN", "set PIN"])
def test_item12_the_pin_dialogs_title_fits_its_title_bar(window, qtbot, confirm):
    from facegate.ui.admin_dialogs import ask_pin, set_pin

    def measure(dialog):
        title_font = dialog.font()
        title_font.setBold(True)
        found = dialog.windowTitle(), dialog.width(), QFontMetrics(title_font).horizontalAdvance(dialog.windowTitle())
        dialog.reject()
        return found

    answered, errors = answer_modals([(pin_dialog(), measure)])
    (set_pin if confirm else ask_pin)(window, window.admin)  # looked at, then cancelled: nothing changes
    assert not errors, errors
    title, width, title_width = answered[0]
    assert title in ("Administrator PIN", "Set the administrator PIN")
    # A title bar holds the window's icon and three buttons beside the title: about 30 px each.
    assert width >= title_width + 4 * 30, (title, width, title_width)


def test_settings_fit_a_short_screen_with_ok_in_view(window, qtbot):
    """The Settings dialog grew past 900 px with the liveness row; on a shorter screen (offscreen: 600 lines) its
    groups scroll and OK / Cancel stay on the screen."""
    from facegate.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    screen = dialog.screen().availableGeometry()
    qtbot.waitUntil(lambda: dialog.groups_scroll.minimumHeight() > 0, timeout=5_000)
    qtbot.wait(100)  # the refit after the layout
    assert dialog.height() <= screen.height()
    assert dialog.groups.sizeHint().height() > dialog.groups_scroll.viewport().height()  # it does scroll here
    ok = dialog.ok_button
    assert ok.isVisible() and dialog.rect().contains(ok.geometry().translated(ok.parentWidget().pos()))
    dialog.groups_scroll.ensureWidgetVisible(dialog.door_edit)
    assert dialog.groups_scroll.verticalScrollBar().value() > 0


def test_the_offline_bound_and_the_silent_door_alert_are_set_in_settings_and_saved(window, qtbot, home):
    """Issue 30 items 1(b) and 1(c): the two site bounds are in Settings > Several doors, in minutes and seconds,
    saved in seconds; left alone, a stored value is kept exactly."""
    from facegate.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.offline_grant_spin.value() == 10.0 and dialog.door_silent_spin.value() == 60.0  # the defaults
    assert dialog.new_settings().site_offline_grant_s == window.settings.site_offline_grant_s
    dialog.offline_grant_spin.setValue(2.5)
    dialog.door_silent_spin.setValue(90)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == 1, dialog.error_label.text()
    saved = json.loads((home / "config.json").read_text(encoding="utf-8"))
    assert saved["site_offline_grant_s"] == 150.0 and saved["door_silent_after_s"] == 90.0
    assert window.settings.site_offline_grant_s == 150.0
