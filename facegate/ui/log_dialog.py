"""The access log viewer: who came when, with the face picture taken at the door; filter and export to CSV.

At a site (database_url) it shows every door's log on the server (facegate.site.admin.SiteLog), with a door filter.
Its Reports row shows attendance, doors per hour and denials by rule (facegate.reports) for the chosen filters, and
saves the attendance sheet as CSV.

Reading the log and its snapshots, and writing the CSV, run on worker threads: a long log never freezes the
kiosk. The table shows the newest rows only (MAX_ROWS); the export has no such limit.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtGui import QFontDatabase, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from facegate import reports
from facegate.access_log import LogRow
from facegate.errors import FaceGateError
from facegate.kiosk import access_plan_store
from facegate.site.admin import SiteLog, SiteLogRow, security_event_words
from facegate.storage import atomic_write_bytes
from facegate.ui.host import DialogHost, host_widget
from facegate.ui.jobs import BackgroundJob
from facegate.ui.video_view import to_qimage

MAX_ROWS = 500
SNAPSHOT_HEIGHT = 48
DEFAULT_DAYS = 7
DECISION_WORDS = {"granted": "Let in", "unknown": "Not recognised", "denied": "Refused"}
COLUMNS = ("Time", "Name", "Decision", "Distance", "Snapshot", "Door")
ALL_DOORS = "All doors"
# The Reports row: its choices, and how each turns the chosen rows into a table (door: this kiosk's; zone: the plan's)
REPORTS = {
    "Attendance": lambda rows, door, zone: reports.attendance_table(reports.attendance(rows, door, zone)),
    "Doors per hour": lambda rows, door, zone: reports.door_hours_table(reports.door_hours(rows, door, zone)),
    "Denials by rule": lambda rows, door, zone: reports.denials_table(reports.denials(rows, zone)),
}


@dataclass(frozen=True)
class PersonChoice:
    label: str
    person: str | None = None  # None: everyone (unless unknown_only)
    unknown_only: bool = False


ALL_PEOPLE = PersonChoice("All people")
UNKNOWN_ONLY = PersonChoice("Unknown only", unknown_only=True)


def logged_people(access_log) -> list[str]:
    """Everyone named in the log, A to Z."""
    try:
        return access_log.people()
    except sqlite3.Error as exc:
        raise FaceGateError(f"the list of people in the log could not be read ({exc})") from exc


def snapshot_thumbnail(path: Path | bytes | None, height: int = SNAPSHOT_HEIGHT):
    """The snapshot (a file, or a site server's JPEG bytes) as a small RGB array, or None when there is none or it
    cannot be read."""
    if path is None:
        return None
    if isinstance(path, bytes):
        image = cv2.imdecode(np.frombuffer(path, np.uint8), cv2.IMREAD_COLOR)
    else:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.cvtColor(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def decision_words(decision: str, details: dict, when: float = 0.0) -> str:
    """ "Refused - guard alert": what the guard must not miss is in the Decision column, not only in the details.
    `when`: the decision's time (a security event says the removal's time beside it)."""
    words = DECISION_WORDS[decision]
    security = security_event_words(decision, when, details)
    if security:
        return f"SECURITY EVENT: {security}"
    if details.get("rule"):  # an access rule refused a recognised person (facegate/access_rules.py)
        return f"{words} - {details.get('reason') or details['rule']}"
    if details.get("guard_alert"):
        return f"{words} - guard alert ({details.get('failed_checks', '?')} failed checks)"
    if details.get("tailgating"):
        return f"{words} - tailgating"
    return words


def local_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _day_start(day: QDate) -> float:
    """Local midnight at the start of `day`, in epoch seconds."""
    return float(QDateTime(day, QTime(0, 0)).toSecsSinceEpoch())


class LogDialog(QDialog):
    def __init__(self, window: DialogHost):
        super().__init__(host_widget(window))
        self.main_window: DialogHost = window  # not self.window: that is QWidget.window()
        # at a site: every door's log on the server; else this kiosk's own
        self.site = window.site_log is not None
        self.access_log = window.site_log if self.site else window.access_log
        self.setWindowTitle("Access log")
        self.setObjectName("log_dialog")
        self.resize(760, 600)
        self.loading = False
        self.exporting = False
        self.rows: list[LogRow | SiteLogRow] = []  # shown, newest first
        self._generation = 0
        self._choices: list[PersonChoice] = [ALL_PEOPLE, UNKNOWN_ONLY]
        self._load_worker = BackgroundJob("log-reader", self)
        self._load_worker.done.connect(self._loaded)
        self._export_worker = BackgroundJob("log-export", self)
        self._export_worker.done.connect(self._exported)
        self.reporting = False
        self._report_worker = BackgroundJob("log-report", self)
        self._report_worker.done.connect(self._reported)

        self.person_combo = QComboBox()
        self.person_combo.setObjectName("person_combo")
        self.person_combo.setMinimumContentsLength(16)
        self.door_combo = QComboBox()  # at a site only
        self.door_combo.setObjectName("door_combo")
        self.door_combo.addItem(ALL_DOORS)
        self.door_combo.setMinimumContentsLength(12)
        today = QDate.currentDate()
        self.from_date = QDateEdit(today.addDays(-(DEFAULT_DAYS - 1)))
        self.from_date.setObjectName("from_date")
        self.to_date = QDateEdit(today)
        self.to_date.setObjectName("to_date")
        for edit in (self.from_date, self.to_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.refresh_button = QPushButton("Show newest")
        self.refresh_button.clicked.connect(self.reload)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.setObjectName("export_button")
        self.export_button.setToolTip("Save every entry that matches the filters (not only those shown) "
                                      "as a spreadsheet file")
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.status_label = QLabel("")
        self.status_label.setObjectName("status_label")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("log_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(SNAPSHOT_HEIGHT + 6)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnHidden(5, not self.site)
        self.export_label = QLabel("")
        self.export_label.setObjectName("export_label")
        self.export_label.setWordWrap(True)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report_combo = QComboBox()
        self.report_combo.setObjectName("report_combo")
        self.report_combo.addItems(list(REPORTS))
        self.report_button = QPushButton("Show report")
        self.report_button.setObjectName("report_button")
        self.report_button.setToolTip("Attendance (first and last entry per person per day), entries per door per "
                                      "hour, or who was refused by which rule, for the chosen filters")
        self.report_button.clicked.connect(lambda: self.show_report())
        self.attendance_button = QPushButton("Save attendance CSV...")
        self.attendance_button.setObjectName("attendance_button")
        self.attendance_button.clicked.connect(lambda: self.save_attendance())
        self.report_view = QPlainTextEdit()
        self.report_view.setObjectName("report_view")
        self.report_view.setReadOnly(True)
        self.report_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.report_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.report_view.setVisible(False)  # until a report is shown

        layout = QVBoxLayout(self)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Person:"))
        filters.addWidget(self.person_combo)
        filters.addSpacing(12)
        self.door_label = QLabel("Door:")
        filters.addWidget(self.door_label)
        filters.addWidget(self.door_combo)
        for widget in (self.door_label, self.door_combo):
            widget.setVisible(self.site)
        filters.addWidget(QLabel("From:"))
        filters.addWidget(self.from_date)
        filters.addWidget(QLabel("to:"))
        filters.addWidget(self.to_date)
        filters.addStretch()
        filters.addWidget(self.refresh_button)
        layout.addLayout(filters)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.export_label, 1)
        bottom.addWidget(self.export_button)
        layout.addLayout(bottom)
        report_row = QHBoxLayout()
        report_row.addWidget(QLabel("Report:"))
        report_row.addWidget(self.report_combo)
        report_row.addWidget(self.report_button)
        report_row.addStretch()
        report_row.addWidget(self.attendance_button)
        layout.addLayout(report_row)
        layout.addWidget(self.report_view)
        self._fill_person_combo([])

        if self.access_log is None:
            self.status_label.setStyleSheet("color: #c62828")
            self.status_label.setText(
                "The access log is not available, so there is nothing to show. It opens once the recognition "
                "model has loaded; if this message stays, check the log folder in Settings "
                f"({window.settings.log_path()}).")
            disabled: tuple[QWidget, ...] = (self.person_combo, self.from_date, self.to_date, self.refresh_button,
                                             self.export_button, self.report_combo, self.report_button,
                                             self.attendance_button)
            for control in disabled:
                control.setEnabled(False)
            return
        self.person_combo.currentIndexChanged.connect(lambda _: self.reload())
        self.door_combo.currentIndexChanged.connect(lambda _: self.reload())
        self.from_date.dateChanged.connect(lambda _: self.reload())
        self.to_date.dateChanged.connect(lambda _: self.reload())
        self.reload()

    # ------------------------------------------------------------------ filters
    def _fill_person_combo(self, people: list[str]) -> None:
        current = self._choices[self.person_combo.currentIndex()] if self.person_combo.count() else ALL_PEOPLE
        self._choices = [ALL_PEOPLE] + [PersonChoice(name, person=name) for name in people] + [UNKNOWN_ONLY]
        if current not in self._choices:  # e.g. just erased: keep showing what was chosen
            self._choices.insert(1, current)
        _refill(self.person_combo, [choice.label for choice in self._choices], self._choices.index(current))

    def choose_person(self, label: str) -> None:
        """Select the person filter by its label ("All people", a name, "Unknown only")."""
        _choose(self.person_combo, label, "person")

    def _fill_door_combo(self, doors: list[str]) -> None:
        current = self.door_combo.currentText() or ALL_DOORS
        choices = [ALL_DOORS] + sorted(set(doors) | ({current} - {ALL_DOORS}))
        _refill(self.door_combo, choices, choices.index(current))

    def choose_door(self, door: str) -> None:
        """Select the door filter ("All doors" or a door's name; a site's log only)."""
        _choose(self.door_combo, door, "door")

    def filters(self) -> dict:
        """The chosen filters as AccessLog.recent/export_csv arguments; FaceGateError when they make no sense."""
        first, last = self.from_date.date(), self.to_date.date()
        if first > last:
            raise FaceGateError("The \"From\" date is after the \"to\" date. Choose a \"From\" date on or before "
                                "the \"to\" date.")
        choice = self._choices[max(self.person_combo.currentIndex(), 0)]
        chosen = {"person": choice.person, "unknown_only": choice.unknown_only,
                  "since": _day_start(first), "until": _day_start(last.addDays(1))}
        if self.site:
            door = self.door_combo.currentText()
            chosen["door"] = None if door in ("", ALL_DOORS) else door
        return chosen

    # ------------------------------------------------------------------ loading
    def reload(self) -> None:
        if self.access_log is None:
            return
        try:
            filters = self.filters()
        except FaceGateError as exc:
            self._status(str(exc), error=True)
            return
        self._generation += 1
        generation, access_log = self._generation, self.access_log
        self.loading = True
        self._status("Loading...")

        def job() -> tuple[int, object]:
            try:
                access_log.flush(timeout=2.0)  # include decisions made a moment ago
                rows = access_log.recent(limit=MAX_ROWS + 1, **filters)
                pictures = {row.id: snapshot_thumbnail(row.snapshot) for row in rows[:MAX_ROWS]}
                doors = access_log.doors() if isinstance(access_log, SiteLog) else []
                return generation, (rows, pictures, logged_people(access_log), doors)
            except Exception as exc:  # noqa: BLE001 - reported in the dialog with the load it belongs to
                return generation, exc if isinstance(exc, FaceGateError) else FaceGateError(str(exc))

        self._load_worker.run(job)

    def _loaded(self, outcome) -> None:
        if isinstance(outcome, FaceGateError):  # not expected (the job catches), but never lost
            self.loading = False
            self._status(f"The access log could not be read: {outcome}", error=True)
            return
        generation, result = outcome
        if generation != self._generation:
            return  # the filters changed while this was loading; a newer load is on its way
        self.loading = False
        if isinstance(result, FaceGateError):
            self._status(f"The access log could not be read: {result}", error=True)
            return
        rows, pictures, people, doors = result
        self._fill_person_combo(people)
        if self.site:
            self._fill_door_combo(doors)
        more = len(rows) > MAX_ROWS
        self.rows = rows[:MAX_ROWS]
        self.table.setRowCount(len(self.rows))
        for index, row in enumerate(self.rows):
            self._fill_row(index, row, pictures.get(row.id))
        if not self.rows:
            self._status("No entries for these filters.")
        elif more:
            self._status(f"Showing the newest {MAX_ROWS} entries. Choose fewer days to see older ones, or export "
                         "them all to CSV.")
        else:
            self._status(f"{len(self.rows)} {'entry' if len(self.rows) == 1 else 'entries'}.")

    def _fill_row(self, index: int, row, picture) -> None:
        cells = [local_time(row.time), row.person or "Unknown",
                 decision_words(row.decision.value, row.details, row.time),
                 "" if row.distance is None else f"{row.distance:.2f}"]
        for column, text in enumerate(cells):
            self.table.setItem(index, column, QTableWidgetItem(text))
        snapshot = QTableWidgetItem()
        if picture is not None:
            snapshot.setData(Qt.ItemDataRole.DecorationRole, QPixmap.fromImage(to_qimage(picture)))
            snapshot.setToolTip("" if isinstance(row.snapshot, bytes) else str(row.snapshot))
        else:
            snapshot.setText("none" if row.snapshot is None else "missing")
            snapshot.setToolTip("No picture was kept" if row.snapshot is None
                                else f"The picture file cannot be read: {row.snapshot}")
        self.table.setItem(index, 4, snapshot)
        self.table.setItem(index, 5, QTableWidgetItem(getattr(row, "door", "")))

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet("color: #c62828" if error else "")
        self.status_label.setText(text)

    # ------------------------------------------------------------------ export
    def choose_export_path(self) -> Path | None:
        return self._choose_csv_path("Export the access log", f"access-log-{time.strftime('%Y-%m-%d')}.csv")

    def export_csv(self, path: str | Path | None = None) -> None:
        """Write every entry matching the filters to a CSV file; asks where when `path` is None."""
        if self.access_log is None:
            return
        try:
            filters = self.filters()
        except FaceGateError as exc:
            self._export_result(str(exc), error=True)
            return
        path = self.choose_export_path() if path is None else Path(path)
        if path is None:
            return
        access_log = self.access_log
        self.exporting = True
        self.export_button.setEnabled(False)
        self._export_result(f"Saving to {path}...")
        self._export_worker.run(lambda: (path, access_log.export_csv(path, **filters)))

    def _exported(self, outcome) -> None:
        self.exporting = False
        self.export_button.setEnabled(True)
        if isinstance(outcome, FaceGateError):
            self._export_result(f"Not saved: {outcome}", error=True)
            return
        path, count = outcome
        self._export_result(f"Saved {count} {'entry' if count == 1 else 'entries'} to {path}.")

    def _export_result(self, text: str, error: bool = False) -> None:
        self.export_label.setStyleSheet("color: #c62828" if error else "")
        self.export_label.setText(text)

    # ------------------------------------------------------------------ reports
    def show_report(self, name: str | None = None) -> None:
        """Show a report (REPORTS: the combo's choice when `name` is None) of every entry matching the filters."""
        if name is not None:
            _choose(self.report_combo, name, "report")
        self._run_report(self.report_combo.currentText(), None)

    def save_attendance(self, path: str | Path | None = None) -> None:
        """Save the attendance sheet of the chosen filters as CSV; asks where when `path` is None."""
        if path is None:
            path = self._choose_csv_path("Save the attendance sheet", f"attendance-{time.strftime('%Y-%m-%d')}.csv")
            if path is None:
                return
        self._run_report("Attendance", Path(path))

    def _run_report(self, name: str, path: Path | None) -> None:
        if self.access_log is None:
            return
        try:
            filters = self.filters()
        except FaceGateError as exc:
            self._export_result(str(exc), error=True)
            return
        access_log, settings = self.access_log, self.main_window.settings
        gallery = self.main_window.gallery
        self.reporting = True
        for button in (self.report_button, self.attendance_button):
            button.setEnabled(False)
        self._export_result(f"Making the {name.lower()} report...")

        def job() -> tuple[str, Path | None, reports.ReportTable]:
            # the plan's time zone: its days and hours are the report's
            zone = access_plan_store(settings, gallery.folder if gallery else None).plan().timezone
            access_log.flush(timeout=2.0)  # include decisions made a moment ago
            rows = list(reversed(access_log.recent(limit=None, **filters)))
            table = REPORTS[name](rows, settings.door(), zone)
            if path is not None:
                atomic_write_bytes(path, reports.table_csv(table).encode("utf-8"))
            return name, path, table

        self._report_worker.run(job)

    def _reported(self, outcome) -> None:
        self.reporting = False
        for button in (self.report_button, self.attendance_button):
            button.setEnabled(True)
        if isinstance(outcome, FaceGateError):
            self._export_result(f"No report: {outcome}", error=True)
            return
        name, path, table = outcome
        self.report_view.setPlainText(reports.format_table(table) if table.rows
                                      else "Nothing for these filters.")
        self.report_view.setVisible(True)
        count = f"{len(table.rows)} {'row' if len(table.rows) == 1 else 'rows'}"
        self._export_result(f"Saved the attendance sheet ({count}) to {path}." if path is not None
                            else f"{name}: {count}.")

    def _choose_csv_path(self, title: str, default_name: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / default_name),
                                              "Spreadsheet (CSV) files (*.csv)")
        if not path:
            return None
        chosen = Path(path)
        return chosen if chosen.suffix.lower() == ".csv" else chosen.with_name(chosen.name + ".csv")


def _refill(combo, labels: list[str], current: int) -> None:
    """New items for a filter, the current choice kept, without a reload for each change on the way."""
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(labels)
    combo.setCurrentIndex(current)
    combo.blockSignals(False)


def _choose(combo, label: str, what: str) -> None:
    index = combo.findText(label)
    if index < 0:
        raise ValueError(f"{label!r} is not in the {what} list")
    combo.setCurrentIndex(index)
