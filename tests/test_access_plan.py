"""The access plan and its rules (issue 31 items 1-5, 7, 8) without the pipeline: the text format and its errors,
hours in the plan's time zone across daylight-saving changes, validity to the last second, visitors, the
retentions, anti-passback, the rules file beside the gallery. The time is always set (item 8): nothing sleeps."""

import datetime as dt
import os
import stat
from zoneinfo import ZoneInfo

import pytest

from facegate.access_plan import (
    RULE_DOORS,
    RULE_HOLIDAY,
    RULE_INVALID,
    RULE_PASSBACK,
    RULE_SCHEDULE,
    RULE_VALIDITY,
    RULE_VISIT_ENDED,
    AccessPlan,
    AccessPlanFile,
    AccessRulesError,
    format_plan,
    parse_plan,
)
from facegate.access_rules import AccessRules, AntiPassback, Passages, PlanRule

LONDON, NEW_YORK = "Europe/London", "America/New_York"

OFFICE = """\
# a small office
timezone Europe/London
erase-expired-after 30 days
erase-visitors-after 2 hours
group "Staff" doors "Front door" "Side door" hours Mon-Fri 07:00-19:00
group "Cleaning" doors "Side door" hours Mon-Fri 18:00-22:00 Sat 08:00-12:00
group "Night" doors * hours daily 22:00-06:00
group "Visitors" doors "Front door" hours Mon-Fri 08:00-18:00
holiday 2026-12-25 "Christmas Day"
person "Ada Lovelace" groups "Staff"
person "Bob Builder" groups "Cleaning" from 2026-03-01 until 2026-03-12
person "Nina Night" groups "Night"
visitor "Jane Doe" host "Ada Lovelace" from 2026-12-07T09:12 until 2026-12-07
passback in "Front door" out "Front exit" reset 12 hours
"""


def at(year, month, day, hour=0, minute=0, second=0, zone=LONDON, fold=0) -> float:
    """Epoch seconds of a wall-clock time in `zone` (fold=1: the second of a time the autumn change repeats)."""
    return dt.datetime(year, month, day, hour, minute, second, fold=fold, tzinfo=ZoneInfo(zone)).timestamp()


@pytest.fixture(scope="module")
def office() -> AccessPlan:
    return parse_plan(OFFICE)


# ---- item 7: the text, read back; every error names its line ------------------------------------------------

def test_the_text_reads_back_as_the_same_plan(office):
    assert parse_plan(format_plan(office)) == office
    assert format_plan(parse_plan(format_plan(office))) == format_plan(office)
    assert office.people["Jane Doe"].visitor and office.people["Jane Doe"].groups == ("Visitors",)
    assert office.passbacks[0].reset_s == 12 * 3600 and office.erase_visitors_after_s == 2 * 3600
    assert list(office.groups)[:2] == ["Everyone", "Visitors"]  # the defaults are always there


@pytest.mark.parametrize(("line", "says"), [
    ('group "Staff" hours Mon-Fri 07:00-25:00', "not a time of day"),
    ('group "Staff" hours Mon-Fri 7h-19h', "not a time of day"),
    ('person "Ada" groups "Nobody"', "'Nobody', which no 'group' line defines"),
    ('persn "Ada"', "'persn' is not a rule"),
    ('group "Staff" doors "Front door hours always', "quote is not closed"),
    ('visitor "Jane Doe" until 2026-12-07', "needs a host"),
    ('person "Bob" until 2026-02-30', "not a date"),
    ("timezone Mars/Olympus", "not a time zone"),
])
def test_every_error_names_its_line(line, says):
    text = 'timezone Europe/London\ngroup "Staff" doors * hours always\n\n' + line + "\n"
    with pytest.raises(AccessRulesError) as error:
        parse_plan(text, "office.access.txt")
    assert error.value.line == 4
    assert str(error.value).startswith("office.access.txt, line 4: ") and says in str(error.value), str(error.value)


# ---- item 2: the hours, on the plan's wall clock -------------------------------------------------------------

def test_a_monday_at_06_59_59_is_refused_until_07_00_and_07_00_is_granted(office):
    monday = dt.date(2026, 12, 7)
    assert monday.weekday() == 0
    refusal = office.refusal("Ada Lovelace", "Front door", at(2026, 12, 7, 6, 59, 59))
    assert refusal is not None and refusal.rule == RULE_SCHEDULE
    assert refusal.reason == "Sorry Ada, this door is closed to you until 07:00"
    assert office.refusal("Ada Lovelace", "front door", at(2026, 12, 7, 7)) is None  # door names: any case
    assert office.refusal("Ada Lovelace", "Front door", at(2026, 12, 7, 18, 59, 59)) is None
    evening = office.refusal("Ada Lovelace", "Front door", at(2026, 12, 7, 19))
    assert evening.reason == "Sorry Ada, this door is closed to you until tomorrow 07:00"
    friday_night = office.refusal("Ada Lovelace", "Front door", at(2026, 12, 11, 20))
    assert friday_night.reason == "Sorry Ada, this door is closed to you until Monday 07:00"
    wrong_door = office.refusal("Ada Lovelace", "Back gate", at(2026, 12, 7, 10))
    assert (wrong_door.rule, wrong_door.reason) == (RULE_DOORS, "Sorry Ada, this door is not one of yours")
    assert office.refusal("Someone Unlisted", "Back gate", at(2026, 12, 25, 3)) is None  # "Everyone", always


def test_a_holiday_closes_the_window(office):
    christmas = office.refusal("Ada Lovelace", "Front door", at(2026, 12, 25, 10))  # a Friday
    assert christmas.rule == RULE_HOLIDAY
    assert christmas.reason == "Sorry Ada, this door is closed today (Christmas Day) until Monday 07:00"
    assert office.refusal("Ada Lovelace", "Front door", at(2026, 12, 24, 10)) is None


@pytest.mark.parametrize(("zone", "spring", "autumn"), [
    (LONDON, dt.date(2026, 3, 29), dt.date(2026, 10, 25)),
    (NEW_YORK, dt.date(2026, 3, 8), dt.date(2026, 11, 1)),
])
def test_the_window_is_wall_clock_across_the_daylight_saving_nights(zone, spring, autumn):
    plan = parse_plan(f'timezone {zone}\ngroup "Early" hours daily 07:00-19:00\ngroup "Night" hours daily 22:00-06:00\n'
                      'person "Ada Lovelace" groups "Early"\nperson "Nina Night" groups "Night"\n')
    for night in (spring, autumn):
        before, after = night - dt.timedelta(days=1), night + dt.timedelta(days=1)
        # 07:00 on the wall clock the day before the change, on its day and the day after: an hour apart in UTC
        for day in (before, night, after):
            opening = at(day.year, day.month, day.day, 7, zone=zone)
            assert plan.refusal("Ada Lovelace", "Door", opening - 1).reason == \
                "Sorry Ada, this door is closed to you until 07:00", (zone, day)
            assert plan.refusal("Ada Lovelace", "Door", opening) is None, (zone, day)
        shift = (at(after.year, after.month, after.day, 7, zone=zone)
                 - at(before.year, before.month, before.day, 7, zone=zone))
        assert shift == 2 * 86400 + (-3600 if night == spring else 3600)  # the clocks did change in between
        # the overnight window 22:00-06:00 across the change night: open from 22:00 to the wall clock's 06:00
        evening = at(before.year, before.month, before.day, 22, zone=zone)
        morning = at(night.year, night.month, night.day, 6, zone=zone)
        assert plan.refusal("Nina Night", "Door", evening - 1) is not None
        for moment in (evening, evening + 3 * 3600, morning - 1):
            assert plan.refusal("Nina Night", "Door", moment) is None, (zone, night, moment)
        refused = plan.refusal("Nina Night", "Door", morning)
        assert (refused.rule, refused.reason) == (RULE_SCHEDULE, "Sorry Nina, this door is closed to you until 22:00")
        assert morning - evening == 8 * 3600 + (-3600 if night == spring else 3600)  # 7 or 9 hours, not 8
    # the hour the autumn change repeats (01:30 twice) is inside the night window both times
    assert plan.refusal("Nina Night", "Door", at(autumn.year, autumn.month, autumn.day, 1, 30, zone=zone)) is None
    assert plan.refusal("Nina Night", "Door", at(autumn.year, autumn.month, autumn.day, 1, 30, zone=zone,
                                                 fold=1)) is None


# ---- item 3: validity to the last second; the retention ------------------------------------------------------

def test_access_holds_to_the_last_second_of_its_last_day_and_then_expires(office):
    assert office.refusal("Bob Builder", "Side door", at(2026, 3, 12, 21, 59, 59)) is None  # Thursday, in hours
    bob = replace_groups(office, "Bob Builder", "Everyone")  # any hour: only the dates decide
    assert bob.refusal("Bob Builder", "Side door", at(2026, 3, 12, 23, 59, 59)) is None
    expired = bob.refusal("Bob Builder", "Side door", at(2026, 3, 13))
    assert (expired.rule, expired.reason) == (RULE_VALIDITY, "Sorry Bob, your access expired on 12 March")
    early = bob.refusal("Bob Builder", "Side door", at(2026, 2, 28, 23, 59, 59))
    assert (early.rule, early.reason) == (RULE_VALIDITY, "Sorry Bob, your access starts on 1 March")
    assert bob.refusal("Bob Builder", "Side door", at(2026, 3, 1)) is None


def replace_groups(plan: AccessPlan, name: str, *groups: str) -> AccessPlan:
    from dataclasses import replace

    return plan.with_person(replace(plan.people[name], groups=groups))


def test_a_visitor_is_refused_the_day_after_and_erased_exactly_at_the_end_plus_the_retention(office):
    assert office.refusal("Jane Doe", "Front door", at(2026, 12, 7, 9, 11, 59)).reason == \
        "Sorry Jane, your access starts at 09:12"
    assert office.refusal("Jane Doe", "Front door", at(2026, 12, 7, 9, 12)) is None
    assert office.details("Jane Doe") == {"visitor": True, "host": "Ada Lovelace"}
    assert office.details("Ada Lovelace") == {}
    ended = office.refusal("Jane Doe", "Front door", at(2026, 12, 8, 10))
    assert (ended.rule, ended.reason) == (RULE_VISIT_ENDED, "Sorry Jane, your visit ended on 7 December")
    assert [v.name for v in office.visitors_on(dt.date(2026, 12, 7))] == ["Jane Doe"]
    assert office.visitors_on(dt.date(2026, 12, 8)) == []
    erase_at = at(2026, 12, 8) + 2 * 3600  # the end of her day, plus "erase-visitors-after 2 hours"
    assert "Jane Doe" not in office.due_for_erasure(erase_at - 0.001)
    assert "Jane Doe" in office.due_for_erasure(erase_at)
    gone = office.after_erasure("Jane Doe")
    assert "Jane Doe" not in gone.due_for_erasure(erase_at)
    assert gone.people["Jane Doe"].erased  # today's list keeps her line
    bob_erased_at = at(2026, 3, 13) + 30 * 86400
    assert office.due_for_erasure(bob_erased_at - 0.001) == []
    assert office.due_for_erasure(bob_erased_at) == ["Bob Builder"]
    assert "Bob Builder" not in office.after_erasure("Bob Builder").people


def test_a_visit_ending_at_a_time_says_the_time():
    plan = parse_plan('timezone Europe/London\nvisitor "Jane Doe" host "Ada Lovelace" until 2026-12-07T17:00\n')
    assert plan.refusal("Jane Doe", "Door", at(2026, 12, 7, 16, 59, 59)) is None  # Visitors: every door, any hour
    assert plan.refusal("Jane Doe", "Door", at(2026, 12, 7, 17)).reason == "Sorry Jane, your visit ended at 17:00"


# ---- greeter: a kiosk that opens no door ---------------------------------------------------------------------

def test_a_greeter_ignores_doors_and_hours_but_not_validity(office):
    plan = lambda: office  # noqa: E731
    greeter = PlanRule(plan, "Lobby", greeter=True)
    door = PlanRule(plan, "Lobby")
    sunday_night = at(2026, 12, 6, 23)
    assert door.check("Ada Lovelace", sunday_night).rule == RULE_DOORS
    assert greeter.check("Ada Lovelace", sunday_night) is None
    assert greeter.check("Bob Builder", at(2026, 3, 13)).rule == RULE_VALIDITY
    assert greeter.check("Jane Doe", at(2026, 12, 8, 10)).rule == RULE_VISIT_ENDED


# ---- item 5: anti-passback -----------------------------------------------------------------------------------

def test_anti_passback_refuses_a_second_in_until_out_or_the_reset(office):
    now = [at(2026, 12, 7, 8)]  # Grace has no line: "Everyone", any hour; only the pair refuses
    passages = Passages()
    rules = AccessRules([PlanRule(lambda: office, "Front door"), AntiPassback(lambda: office, "Front door",
                                                                              passages)], lambda: now[0])
    assert rules.check("Grace Hopper") is None
    passages.record("Grace Hopper", "Front door", now[0])
    now[0] += 60
    second = rules.check("Grace Hopper")
    assert (second.rule, second.reason) == (RULE_PASSBACK, "Sorry Grace, you went in at 08:00 and have not been seen "
                                                          "going out")
    assert rules.check("Ada Lovelace") is None  # someone else: not her passage
    passages.record("Grace Hopper", "front exit", now[0])  # seen going out
    now[0] += 60
    assert rules.check("Grace Hopper") is None
    passages.record("Grace Hopper", "Front door", now[0])
    now[0] += 12 * 3600 - 1
    assert rules.check("Grace Hopper").rule == RULE_PASSBACK
    now[0] += 1  # the reset: 12 hours after the grant in
    assert rules.check("Grace Hopper") is None
    exit_rules = AccessRules([AntiPassback(lambda: office, "Front exit", passages)], lambda: now[0])
    assert exit_rules.check("Grace Hopper") is None  # only the "in" door refuses
    passages.forget("Grace Hopper")
    assert passages.last("Grace Hopper", "Front door") is None


# ---- item 7: the rules file beside the gallery ---------------------------------------------------------------

def test_no_file_is_the_default_plan_everyone_everywhere_always(tmp_path):
    rules_file = AccessPlanFile(tmp_path / "gallery.access.txt", check_every_s=0)
    plan = rules_file.plan()
    assert plan == AccessPlan() and rules_file.problem is None
    for moment in (at(2026, 12, 25, 3), at(2026, 3, 29, 1, 30), at(2030, 1, 1)):
        assert plan.refusal("Anyone", "Any door", moment) is None
    assert plan.due_for_erasure(at(2040, 1, 1)) == []


def test_a_broken_file_at_start_refuses_everyone_and_a_broken_edit_keeps_the_last_good_plan(tmp_path):
    path = tmp_path / "gallery.access.txt"
    path.write_text(OFFICE.replace('hours Mon-Fri 07:00-19:00', 'hours Mon-Fri 07:00-19:60'), encoding="utf-8")
    problems: list[str] = []
    rules_file = AccessPlanFile(path, check_every_s=0, on_problem=problems.append)
    refused = rules_file.plan().refusal("Anyone", "Front door", at(2026, 12, 7, 10))
    assert refused.rule == RULE_INVALID and "see reception" in refused.reason
    assert "line 5" in rules_file.problem and "refuses everyone" in rules_file.problem and problems
    with pytest.raises(AccessRulesError, match="Fix the file"):
        rules_file.edit(lambda plan: plan)  # a file that cannot be read is not overwritten
    assert "19:60" in path.read_text(encoding="utf-8")

    good = parse_plan(OFFICE)
    rules_file.save(good)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # owner-only
    assert rules_file.plan() == good and rules_file.problem is None
    # a broken edit by hand: a line granting the cleaners every door always, plus a typo elsewhere
    broken = path.read_text(encoding="utf-8").replace('group "Cleaning" doors "Side door" hours Mon-Fri 18:00-22:00 '
                                                      'Sat 08:00-12:00', 'group "Cleaning" doors * hours always')
    path.write_text(broken + "persn \"Eve\"\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    kept = rules_file.plan()
    assert kept == good, "a broken edit must not change what the door does"
    assert "read before" in rules_file.problem and "persn" in rules_file.problem
    assert kept.refusal("Bob Builder", "Front door", at(2026, 3, 9, 19)).rule == RULE_DOORS  # no more than before
    path.write_text(broken, encoding="utf-8")  # fixed: the new plan holds
    os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9, path.stat().st_mtime_ns + 2 * 10**9))
    assert rules_file.plan().refusal("Bob Builder", "Front door", at(2026, 3, 9, 19)) is None
    assert rules_file.problem is None


def test_an_edit_is_saved_owner_only_and_reads_back(tmp_path):
    from facegate.access_plan import PersonAccess

    rules_file = AccessPlanFile(tmp_path / "gallery.access.txt", check_every_s=0)
    rules_file.edit(lambda plan: plan.with_person(PersonAccess("Jane Doe", ("Visitors",), None,
                                                               dt.date(2026, 12, 7), host="Ada Lovelace")))
    path = tmp_path / "gallery.access.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_plan(path.read_text(encoding="utf-8")).people["Jane Doe"].host == "Ada Lovelace"
    with pytest.raises(AccessRulesError, match="no group 'Nobody'"):
        rules_file.edit(lambda plan: plan.with_person(PersonAccess("Bob", ("Nobody",))))
    assert "Bob" not in rules_file.plan().people


def test_a_granted_track_whose_votes_dip_and_come_back_is_not_refused_by_its_own_passage(office):
    """The door opened for a track: when its votes drop to Pending (a turned head) and come back, the rules are not
    asked again. (They were: anti-passback then refused the very grant it had just recorded, said "you went in at
    10:00" to the person still at the door, and logged a Denied; seen on the clip, tests/test_access_pipeline.py.)"""
    from facegate.matching import Match
    from facegate.policy import AccessPolicy, PolicySettings, Verdict

    now = [at(2026, 12, 7, 10)]
    passages = Passages()
    rules = AccessRules([AntiPassback(lambda: office, "Front door", passages)], lambda: now[0])
    policy = AccessPolicy(PolicySettings(votes_needed=3, window=5), rules=rules)
    grace, unsure = Match("Grace Hopper", 0.35, 0.3, "Bob"), Match("Grace Hopper", 0.55, 0.3, "Bob")
    decisions = [policy.add_vote(1, grace, t) for t in range(3)]
    assert decisions[-1].verdict is Verdict.GRANTED
    passages.record("Grace Hopper", "Front door", now[0])  # the door's passages listener, at the grant
    decisions = [policy.add_vote(1, match, 3 + t) for t, match in enumerate([unsure] * 3 + [grace] * 3)]
    assert policy.verdict(1) == (Verdict.GRANTED, "Grace Hopper") and decisions == [None] * 6
    assert policy.add_vote(2, grace, 10) is None and policy.add_vote(2, grace, 11) is None
    assert policy.add_vote(2, grace, 12).details["rule"] == RULE_PASSBACK  # a new track: a new passage, refused
