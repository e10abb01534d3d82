"""`facegate access|group|holiday|person|visitor|passback|report ...` through the real command line (main([...]), in
this process: the models load once per command that needs them), on a real gallery folder, its rules file and a
real SQLite access log."""

import csv
import datetime as dt
import shutil
import time
from zoneinfo import ZoneInfo

import pytest

from facegate.access_log import AccessEvent, AccessLog
from facegate.access_plan import VISITORS, format_plan, parse_plan, plan_path_for
from facegate.cli import main
from facegate.config import load_settings


@pytest.fixture()
def gallery(home, clips):
    """A gallery folder with Ada (a real photo; only its layout is read until a command needs the models)."""
    folder = home / "gallery"
    (folder / "Ada Lovelace").mkdir(parents=True)
    shutil.copy(clips / "obama.jpg", folder / "Ada Lovelace" / "ada.jpg")
    return folder


def run(capsys, *args):
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def plan_of(gallery):
    path = plan_path_for(gallery)
    return parse_plan(path.read_text(encoding="utf-8"), str(path))


def test_group_holiday_passback_and_person_edits_write_the_rules_beside_the_gallery(gallery, capsys):
    g = ("--gallery", gallery)
    assert run(capsys, "group", "add", "Staff", "--doors", "Front door", "Side door", "--hours",
               "Mon-Fri 07:00-19:00", *g)[0] == 0
    assert run(capsys, "group", "add", "Cleaning", "--doors", "Side door", "--hours", "Mon-Fri 18:00-22:00", *g)[0] == 0
    assert run(capsys, "group", "set", "Cleaning", "--hours", "Mon-Fri 18:00-22:00 Sat 08:00-12:00", *g)[0] == 0
    assert run(capsys, "holiday", "add", "2026-12-25", "Christmas Day", *g)[0] == 0
    assert run(capsys, "passback", "add", "--in", "Front door", "--out", "Front exit", "--reset", "8", *g)[0] == 0
    code, out, _ = run(capsys, "person", "access", "Ada Lovelace", "--groups", "Staff", "Cleaning", "--from",
                       "2026-03-01", "--until", "2026-03-12", *g)
    assert code == 0 and "Ada Lovelace: groups Staff, Cleaning; from 2026-03-01; until 2026-03-12" in out

    plan = plan_of(gallery)
    assert plan.groups["Staff"].doors == ("Front door", "Side door")
    assert [w.text() for w in plan.groups["Cleaning"].hours] == ["Mon-Fri 18:00-22:00", "Sat 08:00-12:00"]
    assert plan.groups["Cleaning"].doors == ("Side door",)  # kept: only --hours was set
    assert plan.holidays == {dt.date(2026, 12, 25): "Christmas Day"}
    assert [(p.in_door, p.out_door, p.reset_s) for p in plan.passbacks] == [("Front door", "Front exit", 8 * 3600.0)]
    ada = plan.people["Ada Lovelace"]
    assert (ada.groups, ada.valid_from, ada.valid_until) == (("Staff", "Cleaning"), dt.date(2026, 3, 1),
                                                            dt.date(2026, 3, 12))
    code, out, _ = run(capsys, "access", "show", *g)
    assert code == 0 and out == format_plan(plan)

    # refusals say what to do, and change nothing
    before = plan_path_for(gallery).read_text()
    code, _, err = run(capsys, "group", "add", "Staff", *g)
    assert code == 2 and "exists already" in err and "group set" in err
    code, _, err = run(capsys, "group", "remove", "Cleaning", *g)
    assert code == 2 and "still has members (Ada Lovelace)" in err
    code, _, err = run(capsys, "group", "set", "Staff", "--hours", "Mon-Fry 07:00-19:00", *g)
    assert code == 2 and "'Fry' is not a day" in err
    code, _, err = run(capsys, "person", "access", "Nobody Here", "--groups", "Staff", *g)
    assert code == 2 and "not enrolled" in err and "facegate enroll" in err
    code, _, err = run(capsys, "person", "access", "Ada Lovelace", "--groups", "Nightshift", *g)
    assert code == 2 and "There is no group 'Nightshift'" in err
    code, _, err = run(capsys, "holiday", "remove", "2026-01-01", *g)
    assert code == 2 and "is not a holiday" in err
    assert plan_path_for(gallery).read_text() == before

    assert run(capsys, "person", "access", "Ada Lovelace", "--no-end", *g)[0] == 0
    assert run(capsys, "holiday", "remove", "2026-12-25", *g)[0] == 0
    assert run(capsys, "passback", "remove", "--in", "Front door", "--out", "Front exit", *g)[0] == 0
    plan = plan_of(gallery)
    assert plan.people["Ada Lovelace"].valid_until is None and not plan.holidays and not plan.passbacks

    # the gallery's rename and remove carry the person's line (the models load here: the gallery refreshes)
    code, out, _ = run(capsys, "gallery", "rename", "Ada Lovelace", "Ada King", *g)
    assert code == 0 and "in the access rules" in out
    assert set(plan_of(gallery).people) == {"Ada King"} and plan_of(gallery).people["Ada King"].groups == (
        "Staff", "Cleaning")
    code, out, _ = run(capsys, "gallery", "remove", "Ada King", "--yes", *g)
    assert code == 0 and "from the access rules" in out and plan_of(gallery).people == {}
    assert run(capsys, "group", "remove", "Cleaning", *g)[0] == 0 and "Cleaning" not in plan_of(gallery).groups


def test_access_check_names_the_bad_line_and_exits_1(gallery, capsys, tmp_path):
    rules = tmp_path / "rules.txt"
    rules.write_text('timezone Europe/London\ngroup "Staff" doors "Front door" hours Mon-Fri 07:00-19:00\n'
                     'person "Ada Lovelace" groups "Staf"\n', encoding="utf-8")
    code, out, err = run(capsys, "access", "check", rules)
    assert code == 1 and out == ""
    assert f"{rules}, line 3: 'Ada Lovelace' is in the group 'Staf', which no 'group' line defines" in err
    rules.write_text(rules.read_text().replace('"Staf"', '"Staff"'), encoding="utf-8")
    code, out, _ = run(capsys, "access", "check", rules)
    assert code == 0 and "ok: 3 groups, 1 people, 0 visitors" in out and "Europe/London" in out

    # the file beside the gallery: none yet is the default (everyone, every door); a broken one is refused
    code, out, _ = run(capsys, "access", "check", "--gallery", gallery)
    assert code == 0 and "no access rules file" in out
    plan_path_for(gallery).write_text('group "Staff" hours Mon-Fri 07:00\n', encoding="utf-8")
    code, _, err = run(capsys, "access", "check", "--gallery", gallery)
    assert code == 1 and "line 1: '07:00' is not a span of hours (e.g. 07:00-19:00)" in err
    code, out, err = run(capsys, "access", "show", "--gallery", gallery)
    assert code == 1 and "line 1:" in err and "refuses everyone" in err and out == ""
    code, _, err = run(capsys, "group", "add", "Cleaning", "--gallery", gallery)
    assert code == 2 and "Fix the file" in err  # a file that cannot be read is not overwritten


def test_access_settings_show_and_change_the_retentions_and_the_time_zone(gallery, capsys):
    g = ("--gallery", gallery)
    code, out, _ = run(capsys, "access", "settings", *g)
    assert code == 0 and out.startswith("face data erased 30 days after a person's access ends, 1 hour after a visit")
    code, _, err = run(capsys, "access", "settings", "--timezone", "Mars/Olympus_Mons", *g)
    assert code == 2 and "not a time zone" in err and not plan_path_for(gallery).exists()
    code, _, err = run(capsys, "access", "settings", "--expired-days", "-1", *g)
    assert code == 2 and "--expired-days cannot be negative" in err
    assert run(capsys, "access", "settings", "--expired-days", "7", "--visitors-hours", "0.5", "--timezone",
               "Europe/London", *g)[0] == 0
    plan = plan_of(gallery)
    assert (plan.erase_expired_after_s, plan.erase_visitors_after_s, plan.timezone) == (7 * 86400.0, 1800.0,
                                                                                        "Europe/London")


def test_visitor_add_enrolls_from_one_photo_and_lists_who_is_inside(gallery, capsys, clips, home):
    g = ("--gallery", gallery)
    log_dir = home / "log"
    code, out, err = run(capsys, "visitor", "add", "Joe Biden", "--host", "Ada Lovelace", "--photo",
                         clips / "biden.jpg", *g)
    assert code == 0, err
    assert "registered the visitor Joe Biden (host Ada Lovelace; groups Visitors) until the end of today" in out
    assert [p.parent.name for p in (gallery / "Joe Biden").iterdir() if p.suffix == ".jpg"] == ["Joe Biden"]
    plan = plan_of(gallery)
    visit = plan.people["Joe Biden"]
    assert visit.host == "Ada Lovelace" and visit.groups == (VISITORS,)
    assert visit.valid_until == plan.local(time.time()).date()  # the end of today
    assert plan.refusal("Joe Biden", "Front door", time.time()) is None
    assert plan.refusal("Joe Biden", "Front door", time.time() + 86400).rule == "visit_ended"

    # an enrolled person is not made a visitor; a photo without a usable face leaves no line behind
    code, _, err = run(capsys, "visitor", "add", "Ada Lovelace", "--host", "Joe Biden", "--photo",
                       clips / "biden.jpg", *g)
    assert code == 2 and "enrolled already, not as a visitor" in err
    junk = home / "junk.jpg"
    junk.write_bytes(b"not a photo")
    code, _, err = run(capsys, "visitor", "add", "Jane Doe", "--host", "Ada Lovelace", "--photo", junk,
                       "--until", "23:59", *g)
    assert code == 2 and "junk.jpg" in err
    assert "Jane Doe" not in plan_of(gallery).people and not (gallery / "Jane Doe").exists()
    code, _, err = run(capsys, "visitor", "add", "Jane Doe", "--host", "Ada Lovelace", "--photo", junk,
                       "--until", "2000-01-01", *g)
    assert code == 2 and "already past" in err

    # the list: inside once granted today (no "out" door in the rules: everyone granted today counts)
    code, out, _ = run(capsys, "visitor", "list", "--log-dir", log_dir, *g)
    assert code == 0 and "Joe Biden  host Ada Lovelace  until the end of today  not inside" in out
    with AccessLog(log_dir) as access_log:
        assert access_log.record(AccessEvent(time.time(), 4, "Joe Biden", 0.3, 0.2, "granted",
                                             details={"visitor": True, "host": "Ada Lovelace"}))
        assert access_log.flush()
    code, out, _ = run(capsys, "visitor", "list", "--inside", "--log-dir", log_dir, *g)
    assert code == 0 and out.startswith("Joe Biden  host Ada Lovelace  until the end of today  inside (in at ")


def test_report_attendance_csv_doors_and_denials_from_the_log(gallery, capsys, home):
    london = ZoneInfo("Europe/London")
    plan_path_for(gallery).write_text("timezone Europe/London\n", encoding="utf-8")

    def at(*fields):
        return dt.datetime(*fields, tzinfo=london).timestamp()

    log_dir = home / "log"
    with AccessLog(log_dir) as access_log:
        for event in [AccessEvent(at(2026, 3, 29, 0, 30), 1, "Ada Lovelace", 0.3, 0.2, "granted"),
                      AccessEvent(at(2026, 3, 29, 17, 45), 2, "Ada Lovelace", 0.3, 0.2, "granted"),
                      AccessEvent(at(2026, 3, 30, 8, 5), 3, "Ada Lovelace", 0.3, 0.2, "granted"),
                      AccessEvent(at(2026, 3, 30, 6, 0), 4, "Bob Builder", 0.3, 0.2, "denied",
                                  details={"rule": "schedule", "reason": "Sorry Bob, this door is closed to you"}),
                      AccessEvent(at(2026, 4, 2, 9, 0), 5, "Ada Lovelace", 0.3, 0.2, "granted")]:  # after --until
            assert access_log.record(event)
        assert access_log.flush()
    period = ("--since", "2026-03-29", "--until", "2026-03-31", "--log-dir", log_dir, "--gallery", gallery)
    sheet = home / "attendance.csv"
    code, out, _ = run(capsys, "report", "attendance", *period, "--csv", sheet)
    assert code == 0 and f"wrote 2 row(s) to {sheet}" in out
    door = load_settings().door()
    with open(sheet, newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [
            {"person": "Ada Lovelace", "date": "2026-03-29", "first": "00:30:00", "last": "17:45:00", "grants": "2",
             "doors": door},
            {"person": "Ada Lovelace", "date": "2026-03-30", "first": "08:05:00", "last": "08:05:00", "grants": "1",
             "doors": door}]
    code, out, _ = run(capsys, "report", "doors", *period)
    assert code == 0 and "2026-03-29  00:00 GMT" in out and "2026-03-29  17:00 BST" in out
    code, out, _ = run(capsys, "report", "denials", *period)
    assert code == 0 and "schedule  Bob Builder  1" in out and "Sorry Bob, this door is closed to you" in out
    code, _, err = run(capsys, "report", "denials", "--since", "2026-04-01", "--until", "2026-03-01",
                       "--log-dir", log_dir, "--gallery", gallery)
    assert code == 2 and "is after --until" in err
    code, _, err = run(capsys, "report", "attendance", "--log-dir", home / "nowhere", "--gallery", gallery)
    assert code == 2 and "no access log in" in err
