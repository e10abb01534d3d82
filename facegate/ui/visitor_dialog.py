"""The visitor desk: register a visitor in under a minute, and see today's visitors and who is still inside.

Registering is enrollment with one shot (the enroll dialog's guided capture: a straight face is enough for a day),
a host, an end (the end of today unless a time is chosen) and a group ("Visitors"). The visitor line is written
before the photo: a face in the gallery without its line would be let in as "Everyone", for ever. Enter in the name
field saves; the PIN is asked like every other change.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from facegate.access_log import AccessLog
from facegate.access_plan import VISITORS, AccessPlan, AccessPlanStore, AccessRulesError, PersonAccess
from facegate.enrollment import Pose
from facegate.errors import FaceGateError
from facegate.gallery import validate_name
from facegate.reports import Passage, grants_of, inside_today
from facegate.site.admin import SiteLog
from facegate.ui.access_tab import day_of, plan_store, when_words
from facegate.ui.enroll_dialog import EnrollDialog
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.modal import quiet_action_buttons


def visit_end_words(access: PersonAccess, today: dt.date) -> str:
    """'end of today' / '17:00' / '12 March 17:00' / 'end of 12 March' for a visit seen on `today`."""
    until = access.valid_until
    if until is None:
        return "no end"
    if isinstance(until, dt.datetime):
        return f"{until:%H:%M}" if until.date() == today else when_words(until)
    return "end of today" if until == today else f"end of {when_words(until)}"


class VisitorDialog(EnrollDialog):
    """Enrollment of a visitor: one shot, a host, an end, a group; the plan's visitor line, then the photo."""

    def __init__(self, window: DialogHost):
        self.plan: AccessPlan | None = None
        self._access: PersonAccess | None = None  # the line being saved
        super().__init__(window, poses=(Pose.STRAIGHT,))
        self.setWindowTitle("Register a visitor")
        self.setObjectName("visitor_dialog")
        self.name_edit.setPlaceholderText("Visitor's full name, as they should be greeted")
        self.save_button.setText("Register visitor")
        self.host_choice = QComboBox()
        self.host_choice.setObjectName("visitor_host")
        self.host_choice.setEditable(False)
        self.until_check = QCheckBox("Until a chosen time")
        self.until_check.setObjectName("visitor_until_check")
        self.until_check.setToolTip("Without it the visit lasts until the end of today")
        self.until_edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(2 * 3600))
        self.until_edit.setObjectName("visitor_until")
        self.until_edit.setDisplayFormat("d MMMM yyyy HH:mm")
        self.until_edit.setCalendarPopup(True)
        self.until_edit.setEnabled(False)
        self.until_check.toggled.connect(self.until_edit.setEnabled)
        self.group_choice = QComboBox()
        self.group_choice.setObjectName("visitor_group")
        until_row = QHBoxLayout()
        until_row.addWidget(QLabel("End of today"))
        until_row.addSpacing(20)
        until_row.addWidget(self.until_check)
        until_row.addWidget(self.until_edit)
        until_row.addStretch()
        form = QFormLayout()
        form.addRow("Host:", self.host_choice)
        form.addRow("Valid until:", until_row)
        form.addRow("Doors of the group:", self.group_choice)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertLayout(layout.indexOf(self.name_row), form)
        quiet_action_buttons(self)
        self._fill_hosts()
        self._plan_job = BackgroundJob("visitor-plan", self)
        self._plan_job.done.connect(self._plan_read)
        self._plan_job.run(self.store().plan)

    def store(self) -> AccessPlanStore:
        return plan_store(self.main_window)

    def _fill_hosts(self) -> None:
        gallery = self.main_window.gallery
        visitors = {name for name, access in (self.plan.people.items() if self.plan else ()) if access.visitor}
        chosen = self.host_choice.currentText()
        self.host_choice.clear()
        self.host_choice.addItem("(choose the host)", None)
        for name in sorted(gallery.people if gallery is not None else [], key=str.casefold):
            if name not in visitors:
                self.host_choice.addItem(name, name)
        if chosen:
            self.host_choice.setCurrentText(chosen)

    def _plan_read(self, outcome: object) -> None:
        if isinstance(outcome, FaceGateError):
            self.result_label.setText(f"The access rules cannot be read: {outcome}")
            return
        assert isinstance(outcome, AccessPlan)
        self.plan = outcome
        self.group_choice.clear()
        self.group_choice.addItems(list(outcome.groups))
        self.group_choice.setCurrentText(VISITORS)
        self._fill_hosts()

    # ------------------------------------------------------------------ saving
    def visitor_access(self, name: str, now: float) -> PersonAccess:
        """The visitor line for `name` as the form says (AccessRulesError saying what to fill in)."""
        plan = self.plan
        if plan is None:
            raise AccessRulesError("The access rules are not read yet (or cannot be read); try again in a moment.")
        host = self.host_choice.currentData()
        if not host:
            raise AccessRulesError("Choose the visitor's host.")
        existing = plan.people.get(name)
        gallery = self.main_window.gallery
        enrolled = [person for person in (gallery.people if gallery is not None else [])
                    if person.casefold() == name.casefold()]
        if enrolled and (existing is None or not existing.visitor):
            raise AccessRulesError(f"{enrolled[0]} is enrolled, not a visitor: a visitor's face is erased after the "
                                   "visit. Give the visitor a name of their own (e.g. with their company).")
        start = plan.local(now).replace(second=0, microsecond=0)
        until: dt.date | dt.datetime = start.date()
        if self.until_check.isChecked():
            chosen = self.until_edit.dateTime()
            until = dt.datetime.combine(day_of(chosen.date()), dt.time(chosen.time().hour(), chosen.time().minute()))
            if plan.epoch(until) <= now:
                raise AccessRulesError("The chosen end of the visit has passed; choose a later time.")
        return PersonAccess(name, (self.group_choice.currentText() or VISITORS,), start, until, host)

    def save(self, photos=None) -> None:
        try:
            name = validate_name(self.name_edit.text())
            access = self.visitor_access(name, time.time())
        except FaceGateError as exc:
            self.result_label.setText(f"Not saved: {exc}")
            return
        if not self.main_window.require_admin():
            self.result_label.setText("Not saved: the administrator PIN is needed.")
            return
        self._access = access
        super().save(photos)

    def resolve_duplicate(self, name: str, duplicate: tuple[str, float]) -> str | None:
        """A visitor's face that matches someone enrolled: saved under the visitor's own name only if asked."""
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            self, "Already enrolled?",
            f"This face already matches {duplicate[0]} (distance {duplicate[1]:.2f}). Two names for one face may "
            f"keep both from being recognised.\n\nRegister {name} as a visitor anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return name if answer == QMessageBox.StandardButton.Yes else None

    def enroll_job(self, name: str, photos) -> tuple:
        """The visitor line first, then the photo; when the photo cannot be saved the line is put back as it was."""
        access = self._access
        assert access is not None  # set by save() before the job starts
        store = self.store()
        before: list[PersonAccess | None] = []

        def add(plan: AccessPlan) -> AccessPlan:
            before.append(plan.people.get(name))
            return plan.with_person(access)

        store.edit(add)
        try:
            return super().enroll_job(name, photos)
        except Exception:
            previous = before[0] if before else None
            store.edit(lambda plan: plan.with_person(previous) if previous else plan.without_person(name))
            raise

    def _enrolled(self, name: str, outcome) -> None:
        super()._enrolled(name, outcome)
        access = self._access
        assert access is not None and access.valid_until is not None  # a visit always ends
        end = ("the end of today" if not isinstance(access.valid_until, dt.datetime)
               else when_words(access.valid_until))
        self.result_label.setText(f"{name} is registered as a visitor for {access.host} until {end} "
                                  f"({', '.join(access.groups)}).\n{self.result_label.text()}")


# ------------------------------------------------------------------------------------------------ visitors today
@dataclass(frozen=True)
class VisitorRow:
    name: str
    host: str
    until: str
    inside: str  # "inside since 09:30", "not inside", "face data erased"


def visitors_today(plan: AccessPlan, grants: list[Passage], now: float) -> list[VisitorRow]:
    """Today's visitors with their host, the end of their visit and whether they are still inside (granted in at a
    door that is not an anti-passback "out" door, not granted out since)."""
    today = plan.local(now).date()
    inside = inside_today(plan, grants, now)
    rows = []
    for access in plan.visitors_on(today):
        if access.erased:
            state = "face data erased"
        elif access.name in inside:
            state = f"inside since {plan.local(inside[access.name].time):%H:%M}"
        else:
            state = "not inside"
        rows.append(VisitorRow(access.name, access.host or "", visit_end_words(access, today), state))
    return rows


def grants_since(access_log: AccessLog | None, site_log: SiteLog | None, door: str, since: float) -> list[Passage]:
    """The grants since `since`: every door's at a site (its log on the server), else this door's own log."""
    if site_log is not None:
        return grants_of(site_log.recent(limit=None, since=since), door)
    if access_log is None:
        return []
    return grants_of(access_log.recent(limit=None, since=since), door)


class VisitorsTodayDialog(QDialog):
    """Today's visitors, their host, until when, and who is still inside."""

    COLUMNS = ("Visitor", "Host", "Until", "Now")

    def __init__(self, window: DialogHost):
        super().__init__(host_widget(window))
        self.main_window = window
        self.setWindowTitle("Visitors today")
        self.setObjectName("visitors_today_dialog")
        self.resize(640, 360)
        self.busy = False
        self.rows: list[VisitorRow] = []
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("visitors_table")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = QLabel("Reading today's visitors...")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        refresh = buttons.addButton("Refresh", QDialogButtonBox.ButtonRole.ActionRole)
        refresh.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.worker = BackgroundJob("visitors-today", self)
        self.worker.done.connect(self._shown)
        self.refresh()

    def refresh(self) -> None:
        window = self.main_window
        store = plan_store(window)
        access_log, site_log, door = window.access_log, window.site_log, window.settings.door()

        def job() -> list[VisitorRow]:
            plan, now = store.plan(), time.time()
            since = plan.midnight(plan.local(now).date())
            return visitors_today(plan, grants_since(access_log, site_log, door, since), now)

        self.busy = True
        self.worker.run(job)

    def _shown(self, outcome: object) -> None:
        self.busy = False
        if isinstance(outcome, FaceGateError):
            self.status.setText(f"Today's visitors cannot be shown: {outcome}")
            return
        assert isinstance(outcome, list)
        self.rows = outcome
        self.table.setRowCount(len(outcome))
        for row, visitor in enumerate(outcome):
            for column, text in enumerate((visitor.name, visitor.host, visitor.until, visitor.inside)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        inside = sum(visitor.inside.startswith("inside") for visitor in outcome)
        self.status.setText(f"{len(outcome)} visitor(s) today, {inside} inside now." if outcome
                            else "No visitors today.")
