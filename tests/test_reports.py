"""The access log's reports (facegate/reports.py): attendance, doors per hour and denials by rule, read from a real
AccessLog written with real AccessEvent rows at set times in Europe/London, across both daylight-saving changes."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest

from facegate.access_log import AccessEvent, AccessLog
from facegate.reports import (
    attendance,
    attendance_table,
    denials,
    denials_table,
    door_hours,
    door_hours_table,
    format_table,
    table_csv,
)
from facegate.site.admin import SiteLogRow

LONDON = "Europe/London"
DOOR = "Front door"


def at(*fields, fold=0) -> float:
    """Epoch seconds of a wall-clock time in London (fold=1: the second 01:30 of the night the clocks go back)."""
    return dt.datetime(*fields, tzinfo=ZoneInfo(LONDON), fold=fold).timestamp()


def granted(when, person, track=1, **details):
    return AccessEvent(when, track, person, 0.35, 0.2, "granted", details=details)


def denied(when, person, rule=None, reason=""):
    details = {"rule": rule, "reason": reason} if rule else {"failed_checks": 3, "guard_alert": True}
    return AccessEvent(when, 9, person, 0.35, 0.2, "denied", details=details)


EVENTS = [
    # Sunday 29 March 2026: the clocks go forward at 01:00 GMT -> 02:00 BST
    granted(at(2026, 3, 29, 0, 30), "Ada Lovelace"),  # GMT
    granted(at(2026, 3, 29, 9, 15), "Ada Lovelace"),  # BST: 08:15 UTC
    granted(at(2026, 3, 29, 12, 0), "Ada Lovelace"),
    # Bob's night shift: Monday 30 March 21:00 to Tuesday 31 March 01:30, two days on the sheet
    granted(at(2026, 3, 30, 21, 0), "Bob Builder"),
    granted(at(2026, 3, 31, 1, 30), "Bob Builder"),
    AccessEvent(at(2026, 3, 30, 21, 20), 3, None, 0.8, None, "unknown"),
    denied(at(2026, 3, 30, 21, 40), "Bob Builder", "schedule", "Sorry Bob, this door is closed to you until 07:00"),
    denied(at(2026, 3, 31, 6, 59), "Bob Builder", "schedule", "Sorry Bob, this door is closed to you until 07:00"),
    denied(at(2026, 3, 31, 7, 30), "Jane Doe", "visit_ended", "Sorry Jane, your visit ended at 17:00"),
    denied(at(2026, 3, 31, 8, 0), "Ada Lovelace"),  # a failed liveness check: no rule
    denied(at(2026, 3, 31, 8, 5), "=cmd()"),  # a name a spreadsheet would run
    # Sunday 25 October 2026: the clocks go back, 01:00-02:00 happens twice
    granted(at(2026, 10, 25, 1, 30, fold=0), "Ada Lovelace"),  # BST, 00:30 UTC
    granted(at(2026, 10, 25, 1, 30, fold=1), "Ada Lovelace"),  # GMT, 01:30 UTC
]


@pytest.fixture(scope="module")
def log_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("log")
    with AccessLog(folder) as access_log:
        for event in EVENTS:
            assert access_log.record(event)
        assert access_log.flush()
    return folder


@pytest.fixture(scope="module")
def rows(log_folder):
    """The events as the log reads them back (oldest first): the reports' input."""
    with AccessLog(log_folder) as access_log:
        return list(reversed(access_log.recent(limit=None)))


def test_attendance_per_person_per_local_day_across_the_dst_change_and_midnight(rows):
    days = attendance(rows, DOOR, LONDON)
    sheet = [(d.person, d.date.isoformat(), f"{d.first:%H:%M}", f"{d.last:%H:%M}", d.grants) for d in days]
    assert sheet == [("Ada Lovelace", "2026-03-29", "00:30", "12:00", 3),  # 00:30 GMT and 12:00 BST: local times
                     ("Bob Builder", "2026-03-30", "21:00", "21:00", 1),
                     ("Bob Builder", "2026-03-31", "01:30", "01:30", 1),
                     ("Ada Lovelace", "2026-10-25", "01:30", "01:30", 2)]
    assert days[-1].first.utcoffset() != days[-1].last.utcoffset()  # the two 01:30s: BST, then GMT
    assert all(day.doors == (DOOR,) for day in days)

    # The same rows in UTC: Ada's spring day starts at 00:30 and ends at 11:00; the sheet follows the zone given.
    in_utc = attendance(rows, DOOR, "UTC")
    assert (f"{in_utc[0].first:%H:%M}", f"{in_utc[0].last:%H:%M}") == ("00:30", "11:00")


def test_attendance_csv_is_the_sheet_with_doors_of_a_sites_rows(rows):
    site_rows = [SiteLogRow(f"e{row.id}", row.time, row.track_id, row.person, row.distance, row.margin, row.decision,
                            None, row.source, row.details, "Side door" if row.time > at(2026, 3, 29, 10, 0) else DOOR)
                 for row in rows]
    text = table_csv(attendance_table(attendance(site_rows, "ignored: a site's row has its door", LONDON)))
    sheet = list(csv.DictReader(io.StringIO(text)))
    assert list(sheet[0]) == ["person", "date", "first", "last", "grants", "doors"]
    assert sheet[0] == {"person": "Ada Lovelace", "date": "2026-03-29", "first": "00:30:00", "last": "12:00:00",
                        "grants": "3", "doors": "Front door; Side door"}
    assert [(r["person"], r["date"], r["doors"]) for r in sheet[1:]] == [
        ("Bob Builder", "2026-03-30", "Side door"), ("Bob Builder", "2026-03-31", "Side door"),
        ("Ada Lovelace", "2026-10-25", "Side door")]


def test_door_hours_count_each_local_hour_and_keep_the_repeated_hour_apart(rows):
    hours = door_hours(rows, DOOR, LONDON)
    counts = {(h.start.strftime("%Y-%m-%d %H:%M %Z")): (h.granted, h.denied, h.unknown) for h in hours}
    assert counts["2026-03-29 00:00 GMT"] == (1, 0, 0)
    assert counts["2026-03-29 09:00 BST"] == (1, 0, 0)
    assert counts["2026-03-30 21:00 BST"] == (1, 1, 1)  # Bob in, a stranger, Bob refused
    assert counts["2026-03-31 08:00 BST"] == (0, 2, 0)
    assert counts["2026-10-25 01:00 BST"] == (1, 0, 0)  # the hour the clocks repeat: twice, not merged
    assert counts["2026-10-25 01:00 GMT"] == (1, 0, 0)
    assert sum(h.granted + h.denied + h.unknown for h in hours) == len(EVENTS)
    assert {h.door for h in hours} == {DOOR}
    table = door_hours_table(hours)
    assert table.columns == ("door", "date", "hour", "granted", "denied", "unknown")
    assert [DOOR, "2026-10-25", "01:00 GMT", "1", "0", "0"] in table.rows


def test_denials_per_rule_and_person_with_counts_last_time_and_reason(rows):
    found = {(d.rule, d.person): d for d in denials(rows, LONDON)}
    assert set(found) == {("schedule", "Bob Builder"), ("visit_ended", "Jane Doe"), ("liveness", "Ada Lovelace"),
                          ("liveness", "=cmd()")}
    bob = found["schedule", "Bob Builder"]
    assert bob.count == 2 and f"{bob.last:%Y-%m-%d %H:%M}" == "2026-03-31 06:59"
    assert bob.last_reason == "Sorry Bob, this door is closed to you until 07:00"
    assert found["liveness", "Ada Lovelace"].count == 1 and found["liveness", "Ada Lovelace"].last_reason == ""
    text = format_table(denials_table(denials(rows, LONDON)))
    lines = text.splitlines()
    assert lines[0].split() == ["rule", "person", "refused", "last", "reason"]
    assert [line.split()[0] for line in lines[1:]] == ["liveness", "liveness", "schedule", "visit_ended"]
    sheet = list(csv.reader(io.StringIO(table_csv(denials_table(denials(rows, LONDON))))))
    assert sheet[1][:2] == ["liveness", "'=cmd()"]  # a name a spreadsheet would run is not a formula there
    assert sheet[2][:3] == ["liveness", "Ada Lovelace", "1"]


def test_the_access_log_dialog_shows_the_reports_and_saves_the_attendance_sheet(log_folder, tmp_path, qtbot):
    """The Access log dialog's Reports row, on the real log, in the time zone of the rules beside the gallery."""
    from PySide6.QtCore import QDate
    from PySide6.QtWidgets import QWidget

    from facegate.access_plan import plan_path_for
    from facegate.config import Settings
    from facegate.ui.log_dialog import LogDialog

    gallery = tmp_path / "gallery"
    plan_path_for(gallery).write_text(f"timezone {LONDON}\n", encoding="utf-8")

    class Window(QWidget):  # what the dialog reads of the window (ui/host.py's DialogHost)
        def __init__(self, access_log):
            super().__init__()
            self.settings = Settings(gallery=str(gallery), log_dir=str(log_folder), door_name=DOOR)
            self.access_log, self.site_log, self.gallery, self.engine = access_log, None, None, None

    with AccessLog(log_folder) as access_log:
        window = Window(access_log)
        qtbot.addWidget(window)
        dialog = LogDialog(window)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)
        assert not dialog.report_view.isVisible()  # until a report is asked for
        dialog.from_date.setDate(QDate(2026, 3, 28))
        dialog.to_date.setDate(QDate(2026, 3, 31))
        qtbot.waitUntil(lambda: not dialog.loading, timeout=30_000)

        dialog.show_report("Attendance")
        qtbot.waitUntil(lambda: not dialog.reporting, timeout=30_000)
        lines = dialog.report_view.toPlainText().splitlines()
        assert lines[0].split() == ["person", "date", "first", "last", "grants", "doors"]
        assert lines[1].split() == ["Ada", "Lovelace", "2026-03-29", "00:30:00", "12:00:00", "3", "Front", "door"]
        assert len(lines) == 4 and dialog.report_view.isVisible()
        assert dialog.export_label.text() == "Attendance: 3 rows."

        dialog.report_combo.setCurrentText("Denials by rule")
        dialog.report_button.click()
        qtbot.waitUntil(lambda: not dialog.reporting, timeout=30_000)
        denied = [line.split()[:4] for line in dialog.report_view.toPlainText().splitlines()]
        assert ["schedule", "Bob", "Builder", "2"] in denied and ["visit_ended", "Jane", "Doe", "1"] in denied

        sheet = tmp_path / "attendance.csv"
        dialog.save_attendance(sheet)
        qtbot.waitUntil(lambda: not dialog.reporting, timeout=30_000)
        assert dialog.export_label.text() == f"Saved the attendance sheet (3 rows) to {sheet}."
        with open(sheet, newline="", encoding="utf-8") as handle:
            saved = list(csv.DictReader(handle))
        assert [(r["person"], r["date"], r["first"], r["last"]) for r in saved] == [
            ("Ada Lovelace", "2026-03-29", "00:30:00", "12:00:00"), ("Bob Builder", "2026-03-30", "21:00:00",
                                                                      "21:00:00"),
            ("Bob Builder", "2026-03-31", "01:30:00", "01:30:00")]
        dialog.close()
