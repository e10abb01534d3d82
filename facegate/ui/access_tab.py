"""The People dialog's Access tab: who may enter where and when (README "Who may enter where and when").

For the person chosen in the list: their groups, the dates their access holds, and a line that says in words what
that means now. For the whole kiosk (or site): the groups with their doors and hours, the holidays, the
anti-passback pairs. Every change asks the administrator's PIN, is checked by the plan's own parser before anything
is written (a half-valid plan is never saved), and goes through the AccessPlanStore (the file beside the gallery, or
the site's tables) on a worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from facegate.access_plan import (
    ALL_DOORS,
    DAY,
    DEFAULT_ERASE_EXPIRED_S,
    DEFAULT_ERASE_VISITORS_S,
    EVERYONE,
    VISITORS,
    AccessPlan,
    AccessPlanStore,
    AccessRulesError,
    Group,
    Passback,
    PersonAccess,
    date_words,
    parse_plan,
)
from facegate.errors import FaceGateError
from facegate.kiosk import access_plan_store
from facegate.ui.host import DialogHost
from facegate.ui.jobs import BackgroundJob
from facegate.ui.modal import run_modal

log = logging.getLogger(__name__)

BUILT_IN_GROUPS = (EVERYONE, VISITORS)
When = dt.date | dt.datetime
NO_PIN = "Nothing was changed: the administrator PIN is needed for every change to the access rules."


def plan_store(host: DialogHost) -> AccessPlanStore:
    """Where the window's dialogs read and change the access plan: the file beside its gallery, or the site's."""
    gallery = host.gallery
    return access_plan_store(host.settings, gallery.folder if gallery is not None else None)


def day_of(date: QDate) -> dt.date:
    return dt.date(date.year(), date.month(), date.day())


# ------------------------------------------------------------------------------------------------ words
def when_words(value: When) -> str:
    """12 March, or 12 March 17:00."""
    words = date_words(value)
    return f"{words} {value:%H:%M}" if isinstance(value, dt.datetime) else words


def group_words(group: Group) -> str:
    """'Staff: Front door, Side door, Mon-Fri 07:00-19:00'."""
    doors = ("every door" if ALL_DOORS in group.doors else ", ".join(group.doors) if group.doors else "no door")
    hours = ("any time" if group.hours is None else "never" if not group.hours
             else " ".join(window.text() for window in group.hours))
    return f"{group.name}: {doors}, {hours}"


def describe_access(plan: AccessPlan, name: str, now: float) -> str:
    """What `name`'s line means now, in words: their groups' doors and hours, their dates, whether it holds today."""
    if plan.unreadable is not None:
        return f"Nobody is let in: {plan.unreadable}"
    access = plan.access_of(name)
    parts = ["; ".join(group_words(plan.groups[group]) for group in access.groups if group in plan.groups)]
    if access.visitor:
        parts.append(f"visitor for {access.host}")
    if access.valid_from is not None:
        parts.append(f"valid from {when_words(access.valid_from)}")
    if access.valid_until is not None:
        parts.append(f"valid until {when_words(access.valid_until)}")
    starts, ends = plan.starts(access), plan.ends(access)
    if access.erased:
        parts.append("face data erased")
    elif ends is not None and now >= ends:
        parts.append("EXPIRED: not let in")
    elif starts is not None and now < starts:
        parts.append("not yet valid")
    return "; ".join(part for part in parts if part)


# ------------------------------------------------------------------------------------------------ checked edits
def parse_group(name: str, doors_text: str, hours_text: str) -> Group:
    """A group from what was typed, read by the plan's own parser (AccessRulesError with its message).
    Doors: names separated by commas, `*` for every door, nothing for no door; hours: always, never, or days and
    spans (Mon-Fri 07:00-19:00 Sat 08:00-12:00)."""
    name = name.strip()
    if not name or '"' in name:
        raise AccessRulesError("A group needs a name, without double quotes.")
    doors = [door.strip() for door in doors_text.split(",") if door.strip()]
    if any('"' in door for door in doors):
        raise AccessRulesError("A door's name cannot have double quotes.")
    door_words = ("*" if ALL_DOORS in doors else " ".join(f'"{door}"' for door in doors)) or "-"
    hours = hours_text.strip() or "always"
    try:
        plan = parse_plan(f'group "{name}" doors {door_words} hours {hours}', "The group")
    except AccessRulesError as exc:
        raise AccessRulesError(str(exc).replace(", line 1:", ":")) from None
    return plan.groups[name]


def with_group_renamed(plan: AccessPlan, old: str | None, group: Group) -> AccessPlan:
    """`plan` with `group` added, or put in the place of `old` (its members follow the new name)."""
    if old is None or old == group.name:
        if old is None and group.name in plan.groups:
            raise AccessRulesError(f"There is a group {group.name!r} already; edit it, or choose another name.")
        return plan.with_group(group)
    if group.name in plan.groups:
        raise AccessRulesError(f"There is a group {group.name!r} already; choose another name.")
    groups = {(group.name if key == old else key): (group if key == old else value)
              for key, value in plan.groups.items()}
    people = {key: replace(value, groups=tuple(group.name if g == old else g for g in value.groups))
              for key, value in plan.people.items()}
    return replace(plan, groups=groups, people=people)


def with_access(plan: AccessPlan, access: PersonAccess) -> AccessPlan:
    """`plan` with `access` as the person's line; a line that says nothing more than the default goes."""
    if access == PersonAccess(access.name):
        return plan.without_person(access.name)
    return plan.with_person(access)


# ------------------------------------------------------------------------------------------------ small forms
class _Form(QDialog):
    """A few fields, OK and Cancel; `check` turns them into a value or raises AccessRulesError, shown here, and the
    form stays open until what was typed can be used."""

    def __init__(self, parent: QWidget, title: str, object_name: str, check: Callable[[], object]):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName(object_name)
        self.check = check
        self.value: object = None
        self.form = QFormLayout()
        self.error = QLabel("")
        self.error.setObjectName("form_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def accept(self) -> None:
        try:
            self.value = self.check()
        except AccessRulesError as exc:
            self.error.setText(str(exc))
            return
        super().accept()


def group_form(parent: QWidget, group: Group | None) -> _Form:
    name, doors, hours = QLineEdit(), QLineEdit(), QLineEdit()
    name.setObjectName("group_name")
    doors.setObjectName("group_doors")
    hours.setObjectName("group_hours")
    doors.setPlaceholderText("Front door, Side door   (* = every door)")
    hours.setPlaceholderText("Mon-Fri 07:00-19:00 Sat 08:00-12:00   (or always, never)")
    if group is not None:
        name.setText(group.name)
        name.setReadOnly(group.name in BUILT_IN_GROUPS)
        doors.setText(", ".join(group.doors))
        hours.setText("always" if group.hours is None else "never" if not group.hours
                      else " ".join(window.text() for window in group.hours))
    else:
        doors.setText(ALL_DOORS)
        hours.setText("always")
    form = _Form(parent, "Group" if group is None else f"Group {group.name}", "group_form",
                 lambda: parse_group(name.text(), doors.text(), hours.text()))
    form.form.addRow("Name:", name)
    form.form.addRow("Doors:", doors)
    form.form.addRow("Hours:", hours)
    return form


def holiday_form(parent: QWidget) -> _Form:
    day, name = QDateEdit(QDate.currentDate()), QLineEdit()
    day.setCalendarPopup(True)
    day.setDisplayFormat("yyyy-MM-dd")
    day.setObjectName("holiday_date")
    name.setObjectName("holiday_name")
    name.setPlaceholderText("e.g. Christmas Day")

    def check() -> tuple[dt.date, str]:
        if not name.text().strip() or '"' in name.text():
            raise AccessRulesError("A holiday needs a name, without double quotes.")
        return day_of(day.date()), name.text().strip()

    form = _Form(parent, "Holiday", "holiday_form", check)
    form.form.addRow("Date:", day)
    form.form.addRow("Name:", name)
    return form


def passback_form(parent: QWidget) -> _Form:
    in_door, out_door, reset = QLineEdit(), QLineEdit(), QDoubleSpinBox()
    in_door.setObjectName("passback_in")
    out_door.setObjectName("passback_out")
    reset.setRange(0.1, 72.0)
    reset.setValue(12.0)
    reset.setSuffix(" hours")

    def check() -> Passback:
        doors = in_door.text().strip(), out_door.text().strip()
        if not all(doors) or any('"' in door for door in doors):
            raise AccessRulesError("An anti-passback pair needs an in door and an out door (names without quotes).")
        if doors[0].casefold() == doors[1].casefold():
            raise AccessRulesError("The in door and the out door must differ.")
        return Passback(doors[0], doors[1], round(reset.value() * 3600.0))

    form = _Form(parent, "Anti-passback", "passback_form", check)
    form.form.addRow("In door:", in_door)
    form.form.addRow("Out door:", out_door)
    form.form.addRow("Reset after:", reset)
    return form


# ------------------------------------------------------------------------------------------------ the tab
def _button(text: str, object_name: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(object_name)
    button.clicked.connect(lambda: slot())
    return button


class AccessTab(QWidget):
    """The Access tab. `show_person` follows the People list's choice."""

    def __init__(self, host: DialogHost, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.plan: AccessPlan | None = None
        self.person: str | None = None
        self.busy = False
        self._on_done: Callable[[AccessPlan], None] | None = None
        self.worker = BackgroundJob("access-plan", self)
        self.worker.done.connect(self._job_done)

        # -- the person
        self.person_box = QGroupBox("Choose a person in the People tab")
        self.groups_list = QListWidget()
        self.groups_list.setObjectName("person_groups")
        self.groups_list.setMaximumHeight(110)
        self.from_check, self.until_check = QCheckBox("Valid from"), QCheckBox("Valid until")
        self.from_date, self.until_date = QDateEdit(QDate.currentDate()), QDateEdit(QDate.currentDate())
        for check, edit, name in ((self.from_check, self.from_date, "valid_from"),
                                  (self.until_check, self.until_date, "valid_until")):
            edit.setObjectName(name)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMMM yyyy")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
        self.summary = QLabel("")
        self.summary.setObjectName("access_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_person_button = _button("Save access", "save_access_button", self.save_person)
        person = QGridLayout(self.person_box)
        person.addWidget(QLabel("Groups:"), 0, 0, Qt.AlignmentFlag.AlignTop)
        person.addWidget(self.groups_list, 0, 1, 3, 1)
        person.addWidget(self.from_check, 0, 2)
        person.addWidget(self.from_date, 0, 3)
        person.addWidget(self.until_check, 1, 2)
        person.addWidget(self.until_date, 1, 3)
        person.addWidget(self.save_person_button, 2, 3)
        person.addWidget(self.summary, 3, 0, 1, 4)
        person.setColumnStretch(1, 1)

        # -- the site-wide parts
        self.groups = self._list("groups")
        self.holidays = self._list("holidays")
        self.passbacks = self._list("passbacks")
        site = QGroupBox("For everyone at this kiosk (or site)")
        grid = QGridLayout(site)
        columns = (("Groups: doors and hours", self.groups,
                    [_button("Add...", "add_group_button", lambda: self.edit_group(None)),
                     _button("Edit...", "edit_group_button", lambda: self.edit_group(self._chosen(self.groups))),
                     _button("Remove", "remove_group_button", self.remove_group)]),
                   ("Holidays (closed)", self.holidays,
                    [_button("Add...", "add_holiday_button", self.add_holiday),
                     _button("Remove", "remove_holiday_button", self.remove_holiday)]),
                   ("Anti-passback", self.passbacks,
                    [_button("Add...", "add_passback_button", self.add_passback),
                     _button("Remove", "remove_passback_button", self.remove_passback)]))
        # The groups across the width (their lines are long), the holidays and the pairs side by side below.
        for (title, widget, buttons), (top, column, span) in zip(columns, ((0, 0, 2), (3, 0, 1), (3, 1, 1)),
                                                                 strict=True):
            grid.addWidget(QLabel(title), top, column, 1, span)
            grid.addWidget(widget, top + 1, column, 1, span)
            row = QHBoxLayout()
            for button in buttons:
                row.addWidget(button)
            row.addStretch()
            grid.addLayout(row, top + 2, column, 1, span)
        # How long face data stays after access ends, and the zone of the hours (the plan's own settings).
        self.expired_days = QDoubleSpinBox()
        self.expired_days.setObjectName("erase_expired_days")
        self.expired_days.setRange(0.0, 3650.0)
        self.expired_days.setDecimals(1)
        self.expired_days.setSuffix(" days")
        self.expired_days.setToolTip("A person's photos and embeddings are erased this long after their access "
                                     f"ends (default {DEFAULT_ERASE_EXPIRED_S / DAY:g} days); their log rows stay")
        self.visitor_hours = QDoubleSpinBox()
        self.visitor_hours.setObjectName("erase_visitor_hours")
        self.visitor_hours.setRange(0.0, 720.0)
        self.visitor_hours.setDecimals(1)
        self.visitor_hours.setSuffix(" hours")
        self.visitor_hours.setToolTip("A visitor's photo and embeddings are erased this long after the visit ends "
                                      f"(default {DEFAULT_ERASE_VISITORS_S / 3600:g} hour)")
        self.zone = QLineEdit()
        self.zone.setObjectName("access_timezone")
        self.zone.setPlaceholderText("this computer's")
        self.zone.setMinimumWidth(150)
        self.zone.setToolTip("The time zone of the hours and dates, e.g. Europe/London; empty: this computer's")
        kept = QHBoxLayout()
        parts: tuple[QWidget, ...] = (QLabel("Erase face data"), self.expired_days, QLabel("after access ends,"),
                                      self.visitor_hours, QLabel("after a visit; hours in"), self.zone,
                                      _button("Save", "save_retention_button", self.save_plan_settings))
        for part in parts:
            kept.addWidget(part)
        grid.addLayout(kept, 6, 0, 1, 2)
        self.message = QLabel("")
        self.message.setObjectName("access_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(self.person_box)
        layout.addWidget(site, 1)
        layout.addWidget(self.message)
        self._enable()
        self.reload()

    @staticmethod
    def _list(name: str) -> QListWidget:
        widget = QListWidget()
        widget.setObjectName(f"{name}_list")
        return widget

    @staticmethod
    def _chosen(widget: QListWidget) -> object:
        item = widget.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def store(self) -> AccessPlanStore:
        return plan_store(self.host)

    # ------------------------------------------------------------------ reading
    def reload(self) -> None:
        """Read the plan as it is now (a file, or the site's tables: on the worker)."""
        store = self.store()
        self._run(store.plan, "Reading the access rules...", lambda plan: self._show_message(
            f"The access rules cannot be read: {plan.unreadable}" if plan.unreadable else "", error=True))

    def show_person(self, name: str | None) -> None:
        self.person = name
        self._show_person()

    def _show_plan(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.groups.clear()
        for group in plan.groups.values():
            item = QListWidgetItem(group_words(group))
            item.setData(Qt.ItemDataRole.UserRole, group.name)
            self.groups.addItem(item)
        self.holidays.clear()
        for day, name in sorted(plan.holidays.items()):
            item = QListWidgetItem(f"{day.isoformat()} {name}")
            item.setData(Qt.ItemDataRole.UserRole, day)
            self.holidays.addItem(item)
        self.passbacks.clear()
        for pair in plan.passbacks:
            item = QListWidgetItem(f"in {pair.in_door}, out {pair.out_door}, reset after "
                                   f"{pair.reset_s / 3600:g} hours")
            item.setData(Qt.ItemDataRole.UserRole, pair)
            self.passbacks.addItem(item)
        self.expired_days.setValue(plan.erase_expired_after_s / DAY)
        self.visitor_hours.setValue(plan.erase_visitors_after_s / 3600.0)
        self.zone.setText(plan.timezone or "")
        self._show_person()

    def _show_person(self) -> None:
        name, plan = self.person, self.plan
        self.groups_list.clear()
        if name is None or plan is None:
            self.person_box.setTitle("Choose a person in the People tab")
            self.summary.setText("")
            self._enable()
            return
        access = plan.access_of(name)
        self.person_box.setTitle(f"Access of {name}" + (f" (visitor for {access.host})" if access.visitor else ""))
        for group in plan.groups:
            item = QListWidgetItem(group)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if group in access.groups else Qt.CheckState.Unchecked)
            self.groups_list.addItem(item)
        for check, edit, value in ((self.from_check, self.from_date, access.valid_from),
                                   (self.until_check, self.until_date, access.valid_until)):
            check.setChecked(value is not None)
            edit.setDate(QDate(value.year, value.month, value.day) if value is not None else QDate.currentDate())
        self.summary.setText(describe_access(plan, name, time.time()))
        self._enable()

    def _enable(self) -> None:
        ready = self.plan is not None and not self.busy
        self.person_box.setEnabled(ready and self.person is not None)
        for button in self.findChildren(QPushButton):
            if button is not self.save_person_button:
                button.setEnabled(ready)

    # ------------------------------------------------------------------ changing
    def checked_groups(self) -> tuple[str, ...]:
        return tuple(self.groups_list.item(i).text() for i in range(self.groups_list.count())
                     if self.groups_list.item(i).checkState() == Qt.CheckState.Checked)

    @staticmethod
    def _date(check: QCheckBox, edit: QDateEdit, old: When | None) -> When | None:
        """The date shown, or None; a date and time kept as it was while its day is left alone (a visit's end)."""
        if not check.isChecked():
            return None
        day = day_of(edit.date())
        return old if old is not None and (old.date() if isinstance(old, dt.datetime) else old) == day else day

    def save_person(self) -> None:
        """The chosen person's groups and dates, as ticked and typed."""
        name, plan = self.person, self.plan
        if name is None or plan is None:
            return
        groups = self.checked_groups()
        if not groups:
            self._show_message(f"Tick at least one group for {name} (Everyone: every door at any hour).", error=True)
            return
        old = plan.access_of(name)
        access = replace(old, groups=groups, valid_from=self._date(self.from_check, self.from_date, old.valid_from),
                         valid_until=self._date(self.until_check, self.until_date, old.valid_until))
        starts, ends = plan.starts(access), plan.ends(access)
        if starts is not None and ends is not None and ends <= starts:
            self._show_message(f"{name}'s access would end before it starts: check the dates.", error=True)
            return
        self._change(lambda current: with_access(current, replace(current.access_of(name), groups=groups,
                                                                  valid_from=access.valid_from,
                                                                  valid_until=access.valid_until)),
                     f"Saved: {name}'s access.")

    def edit_group(self, name: object) -> None:
        plan = self.plan
        if plan is None:
            return
        if name is not None and name not in plan.groups:
            return
        old = plan.groups[name] if isinstance(name, str) else None
        form = group_form(self, old)
        if run_modal(form) != QDialog.DialogCode.Accepted:
            return
        self.save_group(old.name if old is not None else None, form.value)  # type: ignore[arg-type]

    def save_group(self, old: str | None, group: Group) -> None:
        if old in BUILT_IN_GROUPS and group.name != old:
            self._show_message(f"The group {old!r} is built in and keeps its name.", error=True)
            return
        self._change(lambda plan: with_group_renamed(plan, old, group), f"Saved the group {group.name}.")

    def remove_group(self) -> None:
        name = self._chosen(self.groups)
        if not isinstance(name, str):
            self._show_message("Choose a group in the list first.", error=True)
            return
        if name in BUILT_IN_GROUPS:
            self._show_message(f"The group {name!r} is built in; give it no doors instead (Edit...).", error=True)
            return
        self._change(lambda plan: plan.without_group(name), f"Removed the group {name}.")

    def add_holiday(self) -> None:
        form = holiday_form(self)
        if run_modal(form) == QDialog.DialogCode.Accepted:
            value = form.value
            assert isinstance(value, tuple)  # the holiday form's (date, name)
            day: dt.date = value[0]
            name: str = value[1]
            self._change(lambda plan: replace(plan, holidays={**plan.holidays, day: name}),
                         f"Added the holiday {name} on {when_words(day)}.")

    def remove_holiday(self) -> None:
        day = self._chosen(self.holidays)
        if not isinstance(day, dt.date):
            self._show_message("Choose a holiday in the list first.", error=True)
            return
        self._change(lambda plan: replace(plan, holidays={k: v for k, v in plan.holidays.items() if k != day}),
                     f"Removed the holiday on {when_words(day)}.")

    def add_passback(self) -> None:
        form = passback_form(self)
        if run_modal(form) == QDialog.DialogCode.Accepted:
            pair = form.value
            assert isinstance(pair, Passback)
            self._change(lambda plan: replace(plan, passbacks=(*plan.passbacks, pair)),
                         f"Added anti-passback: in at {pair.in_door}, out at {pair.out_door}.")

    def remove_passback(self) -> None:
        pair = self._chosen(self.passbacks)
        if not isinstance(pair, Passback):
            self._show_message("Choose an anti-passback pair in the list first.", error=True)
            return
        self._change(lambda plan: replace(plan, passbacks=tuple(p for p in plan.passbacks if p != pair)),
                     f"Removed anti-passback at {pair.in_door}.")

    def save_plan_settings(self) -> None:
        """The retentions and the time zone, checked as the rules file checks its `timezone` line."""
        zone = self.zone.text().strip()
        if zone:
            try:
                parse_plan(f'timezone "{zone}"', "The time zone")
            except AccessRulesError as exc:
                self._show_message(str(exc), error=True)
                return
        expired_s, visitors_s = self.expired_days.value() * DAY, self.visitor_hours.value() * 3600.0
        self._change(lambda plan: replace(plan, erase_expired_after_s=expired_s, erase_visitors_after_s=visitors_s,
                                          timezone=zone or None),
                     f"Saved: face data erased {expired_s / DAY:g} days after access ends, "
                     f"{visitors_s / 3600:g} hours after a visit; hours in {zone or 'this computer’s time zone'}.")

    def _change(self, change: Callable[[AccessPlan], AccessPlan], done: str) -> None:
        """The PIN, then `change` applied to the plan as it is now and kept (checked by the store before it is
        written: a plan that does not read back is not saved)."""
        if not self.host.require_admin():
            self._show_message(NO_PIN, error=True)
            return
        store = self.store()
        self._run(lambda: store.edit(change), "Saving the access rules...", lambda _: self._show_message(done))

    # ------------------------------------------------------------------ background work
    def _run(self, job: Callable[[], AccessPlan], working: str, on_done: Callable[[AccessPlan], None]) -> None:
        self.busy = True
        self._on_done = on_done
        self._show_message(working)
        self._enable()
        self.worker.run(job)

    def _job_done(self, outcome: object) -> None:
        self.busy = False
        on_done, self._on_done = self._on_done, None
        if isinstance(outcome, FaceGateError):
            log.warning("Access rules: %s", outcome)
            self._show_message(f"Not changed: {outcome}", error=True)
        else:
            assert isinstance(outcome, AccessPlan)
            self.plan = outcome
            self._show_plan()
            if on_done is not None:
                on_done(outcome)
        self._enable()

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #c62828" if error and text else "")
        self.message.setText(text)
