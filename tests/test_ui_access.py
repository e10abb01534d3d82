"""Issue 31 in the window: the People dialog's Access tab, visitor registration, Visitors today, a visitor's grant.

The real window with the real models (the session's engine) and a real gallery of one person (Lin-Manuel Miranda,
the host); its camera is one that is not there, so no clip plays. The visitor's snapshot is taken by the enroll
dialog's own guided capture from a real enrollment photo (Joe Biden's) handed in as the camera's frames. The plan
file beside the gallery is read back with parse_plan. Modal dialogs are answered as a person would, through QTimer.
"""

import datetime as dt
import time

import cv2
import pytest
from helpers import ADMIN_PIN as PIN
from helpers import answer_modals, still_window
from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QInputDialog, QLineEdit

from facegate.access_plan import (
    AccessPlan,
    AccessRulesError,
    Group,
    Window,
    format_plan,
    parse_plan,
    plan_path_for,
)
from facegate.imageio import load_image

HOST = "Lin-Manuel Miranda"
VISITOR = "Joe Biden"
STAFF_HOURS = "Mon-Fri 07:00-19:00"


@pytest.fixture()
def window(qtbot, home, clips, engine):
    win = still_window(qtbot, home, engine, {HOST: clips / "lin-manuel-miranda.png"})
    yield win
    win.shutdown()


def pin_given(window):
    """As just after the PIN was typed (it holds for a minute)."""
    window._admin_until = time.monotonic() + 60.0


def plan_file(window):
    return plan_path_for(window.settings.gallery_path())


def read_plan(window) -> AccessPlan:
    return parse_plan(plan_file(window).read_text(encoding="utf-8"))


def fill_group(name, doors, hours, close=True):
    """Type a group into the group form and press OK; returns the form's error line (empty: accepted)."""
    def handle(form):
        for field, text in (("group_name", name), ("group_doors", doors), ("group_hours", hours)):
            edit = form.findChild(QLineEdit, field)
            edit.clear()
            QTest.keyClicks(edit, text)
        form.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
        error = form.error.text()
        if form.isVisible() and close:
            form.reject()
        return error
    return handle


def people_dialog(window, qtbot):
    from facegate.ui.people_dialog import PeopleDialog

    dialog = PeopleDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.access_tab.busy and dialog.access_tab.plan is not None, timeout=10_000)
    return dialog


def group_form_kind():
    from facegate.ui.access_tab import _Form

    return _Form


def tick(tab, groups):
    for i in range(tab.groups_list.count()):
        item = tab.groups_list.item(i)
        item.setCheckState(Qt.CheckState.Checked if item.text() in groups else Qt.CheckState.Unchecked)


# ---------------------------------------------------------------------------------------------------- item 1

def test_a_group_and_a_persons_groups_and_dates_are_written_to_the_plan_file_and_follow_a_rename(window, qtbot):
    pin_given(window)
    dialog = people_dialog(window, qtbot)
    tab = dialog.access_tab
    assert not plan_file(window).exists()  # an existing gallery: no rules file, everyone everywhere
    answered, errors = answer_modals([(group_form_kind(), fill_group("Staff", "Front door, Side door",
                                                                     STAFF_HOURS))])
    qtbot.mouseClick(tab.findChild(type(tab.save_person_button), "add_group_button"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(answered) and not tab.busy, timeout=10_000)
    assert not errors and answered == [""], (errors, answered)
    assert read_plan(window).groups["Staff"] == Group("Staff", ("Front door", "Side door"),
                                                      (Window(frozenset(range(5)), 7 * 60, 19 * 60),))
    assert tab.message.text() == "Saved the group Staff."

    dialog.list.setCurrentRow(0)
    dialog.tabs.setCurrentWidget(tab)
    assert tab.person_box.title() == f"Access of {HOST}"
    tick(tab, {"Staff"})
    until = dt.date.today() + dt.timedelta(days=30)
    tab.until_check.setChecked(True)
    tab.until_date.setDate(QDate(until.year, until.month, until.day))
    qtbot.mouseClick(tab.save_person_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=10_000)
    access = read_plan(window).people[HOST]
    assert (access.groups, access.valid_from, access.valid_until, access.host) == (("Staff",), None, until, None)
    assert tab.summary.text() == (f"Staff: Front door, Side door, {STAFF_HOURS}; valid until "
                                  f"{until.day} {until:%B}")
    assert f'person "{HOST}" groups "Staff" until {until.isoformat()}' in plan_file(window).read_text()

    # Renamed in the People tab: the plan's line follows
    answered, errors = answer_modals([(QInputDialog, lambda d: (d.setTextValue("Lin Miranda"), d.accept()))])
    qtbot.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(answered) and not dialog.busy, timeout=30_000)
    assert not errors
    plan = read_plan(window)
    assert list(plan.people) == ["Lin Miranda"] and plan.people["Lin Miranda"].groups == ("Staff",)
    assert "The access rules follow." in dialog.result_label.text()
    dialog.close()


def test_invalid_hours_show_the_parsers_message_and_nothing_is_saved(window, qtbot):
    pin_given(window)
    dialog = people_dialog(window, qtbot)
    with pytest.raises(AccessRulesError) as parsed:
        parse_plan('group "Cleaning" doors "Side door" hours Mon-Fry 18:00-22:00')
    answered, errors = answer_modals([(group_form_kind(), fill_group("Cleaning", "Side door",
                                                                     "Mon-Fry 18:00-22:00"))])
    qtbot.mouseClick(dialog.access_tab.findChild(type(dialog.rename_button), "add_group_button"),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(answered), timeout=10_000)
    assert not errors
    assert "'Fry' is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)" in str(parsed.value)
    assert answered == [str(parsed.value).replace("the access rules, line 1:", "The group:")]
    assert not plan_file(window).exists()  # nothing written
    assert "Cleaning" not in dialog.access_tab.plan.groups
    dialog.close()


def test_the_retentions_and_the_time_zone_are_set_in_the_access_tab(window, qtbot):
    pin_given(window)
    dialog = people_dialog(window, qtbot)
    tab = dialog.access_tab
    assert (tab.expired_days.value(), tab.visitor_hours.value(), tab.zone.text()) == (30.0, 1.0, "")  # defaults
    tab.zone.setText("Mars/Olympus_Mons")
    qtbot.mouseClick(tab.findChild(type(tab.save_person_button), "save_retention_button"), Qt.MouseButton.LeftButton)
    assert "not a time zone" in tab.message.text() and not plan_file(window).exists()  # refused, nothing written
    tab.zone.setText("Europe/London")
    tab.expired_days.setValue(7)
    tab.visitor_hours.setValue(2)
    qtbot.mouseClick(tab.findChild(type(tab.save_person_button), "save_retention_button"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=10_000)
    plan = read_plan(window)
    assert (plan.erase_expired_after_s, plan.erase_visitors_after_s, plan.timezone) == (7 * 86400.0, 7200.0,
                                                                                        "Europe/London")
    dialog.close()


def test_a_change_without_the_pin_changes_nothing(window, qtbot):
    from facegate.ui.access_tab import NO_PIN
    from facegate.ui.admin_dialogs import PinDialog

    plan_file(window).write_text(format_plan(AccessPlan().with_group(Group("Staff", ("Front door",)))))
    before = plan_file(window).read_bytes()
    pin_given(window)
    dialog = people_dialog(window, qtbot)
    dialog.list.setCurrentRow(0)
    tab = dialog.access_tab
    tick(tab, {"Staff"})
    window._admin_until = 0.0  # the minute after the PIN has passed
    answered, errors = answer_modals([(PinDialog, lambda d: d.reject())])
    qtbot.mouseClick(tab.save_person_button, Qt.MouseButton.LeftButton)
    assert answered and not errors
    assert tab.message.text() == NO_PIN and not tab.busy
    assert plan_file(window).read_bytes() == before

    # The right PIN: the same change is saved
    answered, errors = answer_modals([(PinDialog, lambda d: (QTest.keyClicks(d.pin, PIN),
                                                             QTest.keyClick(d.pin, Qt.Key.Key_Return)))])
    qtbot.mouseClick(tab.save_person_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=10_000)
    assert not errors and read_plan(window).people[HOST].groups == ("Staff",)
    dialog.close()


# ---------------------------------------------------------------------------------------------------- items 2-4

def feed_photo(window, image, frames):
    """The photo as the camera's frames, a tenth of a second apart (the capture holds a pose 0.3 s)."""
    from facegate.capture import Frame
    from facegate.pipeline import FrameResult

    start = time.monotonic()
    for index in range(frames):
        window.bridge.frame_ready.emit(FrameResult(Frame(image, index, start + 0.1 * index), [], []))
        QApplication.processEvents()


def test_a_visitor_is_registered_with_one_shot_listed_today_with_their_host_and_announced(window, qtbot, clips):
    from facegate.access_log import AccessEvent
    from facegate.policy import Decision, Verdict
    from facegate.ui.visitor_dialog import VisitorRow, VisitorsTodayDialog

    pin_given(window)
    dialog = visitor_dialog(window, qtbot)
    assert dialog.group_choice.currentText() == "Visitors" and not dialog.until_check.isChecked()
    dialog.host_choice.setCurrentText(HOST)
    photo = load_image(clips / "biden.jpg", max_side=800)
    frame = cv2.copyMakeBorder(photo, 0, 0, 200, 200, cv2.BORDER_CONSTANT, value=(40, 40, 40))  # a wider picture
    for _ in range(20):
        feed_photo(window, frame, 5)
        if dialog.session.complete:
            break
        qtbot.wait(100)  # the shot is checked on the worker
    qtbot.waitUntil(lambda: dialog.session.complete, timeout=20_000)
    assert dialog.progress.text() == "Photos taken: 1 of 1"
    QTest.keyClicks(dialog.name_edit, VISITOR)
    QTest.keyClick(dialog.name_edit, Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: "registered" in dialog.result_label.text(), timeout=30_000)
    assert dialog.result_label.text().startswith(f"{VISITOR} is registered as a visitor for {HOST} until the end "
                                                 "of today (Visitors).\nSaved 1 photo(s) of Joe Biden.")
    assert VISITOR in window.gallery.people and window.gallery.photo_count(VISITOR) == 1
    plan = read_plan(window)
    access = plan.people[VISITOR]
    today = plan.local(time.time()).date()
    assert (access.host, access.groups, access.valid_until) == (HOST, ("Visitors",), today)
    assert plan.ends(access) == plan.epoch(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
    dialog.close()

    today_view = VisitorsTodayDialog(window)
    qtbot.addWidget(today_view)
    qtbot.waitUntil(lambda: not today_view.busy, timeout=10_000)
    assert today_view.rows == [VisitorRow(VISITOR, HOST, "end of today", "not inside")]
    assert [today_view.table.item(0, c).text() for c in range(4)] == [VISITOR, HOST, "end of today", "not inside"]
    at = time.time()
    assert window.access_log.record(AccessEvent(at, 7, VISITOR, 0.3, 0.2, Verdict.GRANTED))
    assert window.access_log.flush()
    today_view.refresh()
    qtbot.waitUntil(lambda: not today_view.busy, timeout=10_000)
    assert today_view.rows[0].inside == f"inside since {plan.local(at):%H:%M}"
    plan_store_of(window).edit(lambda p: p.after_erasure(VISITOR))
    today_view.refresh()
    qtbot.waitUntil(lambda: not today_view.busy, timeout=10_000)
    assert today_view.rows[0].inside == "face data erased"
    today_view.close()

    # Item 4: a visitor's grant names the host on the picture; a refusal by the hours says its reason
    window._on_decision(Decision(9, Verdict.GRANTED, VISITOR, 0.3, 0.2, time.time(), greet=True,
                                 details={"visitor": True, "host": HOST}), None)
    assert window.video.banner_text == f"Welcome {VISITOR} \u2014 visitor for {HOST}"
    reason = "Sorry Joe, this door is closed to you until 07:00"
    window._on_decision(Decision(9, Verdict.DENIED, VISITOR, 0.3, 0.2, time.time(), reason=reason,
                                 details={"rule": "schedule"}), None)
    assert window.video.banner_text == reason


def visitor_dialog(window, qtbot):
    from facegate.ui.visitor_dialog import VisitorDialog

    dialog = VisitorDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10_000)
    return dialog


def plan_store_of(window):
    from facegate.ui.access_tab import plan_store

    return plan_store(window)


def test_a_visitor_needs_a_host_and_an_enrolled_persons_name_is_refused(window, qtbot):
    pin_given(window)
    dialog = visitor_dialog(window, qtbot)
    QTest.keyClicks(dialog.name_edit, "Jane Doe")
    dialog.save([])
    assert dialog.result_label.text() == "Not saved: Choose the visitor's host."
    dialog.host_choice.setCurrentText(HOST)
    dialog.name_edit.setText(HOST.upper())
    dialog.save([])
    assert dialog.result_label.text().startswith(f"Not saved: {HOST} is enrolled, not a visitor")
    assert not plan_file(window).exists() and window.gallery.people == [HOST]
    dialog.close()


def test_the_greeter_setting_is_in_settings_and_saved(window, qtbot, home):
    """Item 2's greeting kiosk: a checkbox in Settings, saved in the settings file."""
    import json

    from facegate.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.greeter_check.isChecked()  # the default: a door
    dialog.greeter_check.setChecked(True)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == 1, dialog.error_label.text()
    assert json.loads((home / "config.json").read_text(encoding="utf-8"))["greeter"] is True
    assert window.settings.greeter
