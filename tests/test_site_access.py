"""Issue 31 at a site, on a real PostgreSQL server (tests/test_site.py's fixtures) with real kiosk links (SiteSync on a
real local log and replica folder, tests/test_site_doors.py's Link): the access plan in the server's tables, written
by the admin role only, copied by every kiosk as the text file its AccessPlanFile follows, honoured by a kiosk whose
cable is cut (tests/test_site.py's TcpProxy); anti-passback across two doors; the server's erasure of expired people.

Decisions are asked of the kiosk's own rules (kiosk.access_rules: PlanRule and AntiPassback on a set clock, the plan
from the file beside the replica); grants reach the server through the kiosk's local log and its site link."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from test_access_pipeline import LIN, Decisions, Passes, frontal  # noqa: F401 - frontal is a fixture used here
from test_site import TcpProxy, new_site, pg  # noqa: F401 - pg is a fixture used here
from test_site_doors import Link, add_person

from facegate.access_log import AccessEvent, AccessLog
from facegate.access_plan import (
    RULE_PASSBACK,
    RULE_SCHEDULE,
    RULE_VALIDITY,
    RULE_VISIT_ENDED,
    AccessPlan,
    AccessPlanFile,
    AccessRulesError,
    PersonAccess,
    local_zone_name,
    parse_plan,
    plan_path_for,
)
from facegate.access_rules import AccessRules, Passages
from facegate.config import Settings
from facegate.kiosk import access_rules, assemble_kiosk, open_gallery
from facegate.policy import Verdict
from facegate.site.access import SiteAccessPlan
from facegate.site.schema import SiteError
from facegate.site.sync import SiteEvent
from facegate_dev.counterparts import wait_until

psycopg = pytest.importorskip("psycopg")

_names = iter(range(1, 1000))
LONDON = dt.timezone.utc  # Europe/London in January is UTC


def at(day: int, hour: int, minute: int = 0) -> float:
    """Epoch seconds of January `day` 2027, `hour`:`minute` in London (the 11th is a Monday)."""
    return dt.datetime(2027, 1, day, hour, minute, tzinfo=LONDON).timestamp()


PLAN = """timezone Europe/London
group "Staff" doors "front" "side" hours Mon-Fri 07:00-19:00
holiday 2027-01-01 "New Year's Day"
person "Ada Lovelace" groups "Staff"
person "Bob Builder" groups "Staff" until 2027-01-10
visitor "Jane Doe" host "Ada Lovelace" from 2027-01-11T09:00 until 2027-01-11T18:00
passback in "front" out "side" reset 12 hours
"""


@pytest.fixture()
def site(pg):  # noqa: F811 - the fixture from test_site
    name = f"access{next(_names)}"
    return {**new_site(pg, name), "login": f"{name}_kiosk", "login2": f"{name}_kiosk2"}


class Door:
    """A kiosk as far as access goes: its site link (replica, local log) and the rules the kiosk's assembly builds
    (kiosk.access_rules) on a set clock, with the plan from the file the link writes beside the replica."""

    def __init__(self, folder: Path, url: str, door: str, **options):
        self.name = door
        self.passages = Passages()
        self.link = Link(folder, url, door, passages=self.passages, **options)
        self.plan_file = AccessPlanFile(plan_path_for(self.link.gallery.folder), check_every_s=0.0)
        self.now = at(11, 7)
        self.rules: AccessRules = access_rules(Settings(door_name=door), None, lambda: self.now,
                                               self.plan_file.plan, self.passages)

    def ask(self, person: str, when: float):
        """The refusal (None: granted) this door's rules give `person` at `when`."""
        self.now = when
        return self.rules.check(person)

    def grant(self, person: str, when: float) -> None:
        """A grant as the kiosk keeps it: into its passages (PassagesListener) and its log, forwarded to the site."""
        assert self.ask(person, when) is None
        self.passages.record(person, self.name, when)
        self.link.log.record_durably(AccessEvent(when, 1, person, 0.3, 0.1, "granted", "cam", {}, None))
        self.link.sync.on_decision(None, None)

    def follows(self, plan: AccessPlan, timeout: float = 10.0) -> bool:
        return wait_until(lambda: self.plan_file.plan() == plan and self.plan_file.problem is None, timeout)


def answers(door: Door) -> dict[str, tuple]:
    """The rules' answers at `door` for a set of people and times: (rule, reason) or ("granted", details)."""
    cases = {"Ada Monday 06:59": ("Ada Lovelace", at(11, 6, 59)), "Ada Monday 07:00": ("Ada Lovelace", at(11, 7)),
             "Ada Saturday 10:00": ("Ada Lovelace", at(16, 10)), "Ada New Year": ("Ada Lovelace", at(1, 10)),
             "Bob Monday 07:00": ("Bob Builder", at(11, 7)), "Jane Monday 10:00": ("Jane Doe", at(11, 10)),
             "Jane Tuesday 10:00": ("Jane Doe", at(12, 10)), "Eve (no line) Sunday 03:00": ("Eve", at(10, 3))}
    found = {}
    for case, (person, when) in cases.items():
        refusal = door.ask(person, when)
        found[case] = ("granted", door.rules.details(person)) if refusal is None else (refusal.rule, refusal.reason)
    return found


# ------------------------------------------------------------------------------------------ item 1: the migration
def test_an_existing_site_migrates_to_the_default_plan_and_its_doors_keep_granting_everyone(pg, tmp_path,  # noqa: F811
                                                                                           monkeypatch):
    import facegate.site.schema as schema

    urls = pg.create_site("before_access")
    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION - 1)  # the site as issue 30 left it
    before = schema.SCHEMA_VERSION
    assert schema.init_site(urls["owner"]) == (0, before)
    pg.grant_roles("before_access")
    add_person(urls["admin"], "Ann")
    monkeypatch.undo()
    assert schema.init_site(urls["owner"]) == (before, schema.SCHEMA_VERSION)
    assert SiteAccessPlan(urls["admin"]).plan() == AccessPlan()  # no rows: the default plan
    with psycopg.connect(urls["owner"]) as conn:
        assert conn.execute("SELECT count(*) FROM access_groups").fetchone()[0] == 0
    door = Door(tmp_path / "front", urls["kiosk"], "front")
    door.link.start()
    try:
        assert wait_until(lambda: door.plan_file.path.is_file(), 10)
        assert door.follows(AccessPlan())
        for when in (at(10, 3), at(11, 7), at(1, 23, 59)):  # any day, any hour: granted, as before
            assert door.ask("Ann", when) is None
        # tables an administrator wrote by hand that do not read as a plan: the door keeps the rules it had, says
        # which line is wrong, and stays connected
        with psycopg.connect(urls["admin"], autocommit=True) as conn:
            conn.execute("UPDATE access_settings SET timezone = 'Mars/Olympus_Mons'")
        assert wait_until(lambda: door.plan_file.plan() is not None and door.plan_file.problem is not None, 10)
        assert "line 4" in door.plan_file.problem and "Mars/Olympus_Mons" in door.plan_file.problem
        assert door.plan_file.plan() == AccessPlan() and door.ask("Ann", at(11, 7)) is None
        assert door.link.sync.status().connected
    finally:
        door.link.close()


# ------------------------------------------------------------------------------------------ items 7 and 1
def test_the_admin_saves_a_plan_that_reads_back_equal_and_a_kiosk_login_cannot_write_it(site):
    plan = parse_plan(PLAN + 'visitor "Old Visitor" host "Ada Lovelace" until 2026-01-01 erased\n'
                             'group "Cleaning" doors "side" hours Mon-Fri 18:00-22:00 Sat 08:00-12:00\n'
                             'group "Nobody" doors - hours never\nerase-visitors-after 90 minutes\n')
    admin = SiteAccessPlan(site["admin"])
    assert admin.edit(lambda _: plan) == plan
    assert admin.plan() == plan and SiteAccessPlan(site["kiosk"]).plan() == plan  # a kiosk login reads it
    assert list(admin.plan().people) == list(plan.people)  # in the order written

    with pytest.raises(SiteError) as refused:
        SiteAccessPlan(site["kiosk"]).edit(lambda current: current.without_person("Ada Lovelace"))
    message = str(refused.value)
    assert "refused to change the access rules" in message and "facegate_admin" in message
    assert "kiosk-pw" not in message and "***" in message
    with psycopg.connect(site["kiosk"], autocommit=True) as kiosk:
        for forbidden in ("DELETE FROM access_people", "UPDATE access_settings SET timezone = 'UTC'",
                          "INSERT INTO access_groups(name, doors, position) VALUES ('Mine', '{*}', 9)",
                          "INSERT INTO passages(person, door, granted_at) VALUES ('Ada Lovelace', 'side', 1)",
                          "SELECT person FROM events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                kiosk.execute(forbidden)
        assert kiosk.execute("SELECT count(*) FROM passages").fetchone()[0] == 0  # it reads the passages
    assert admin.plan() == plan

    # a change that breaks the rules changes nothing, and says why
    with pytest.raises(AccessRulesError, match="no group 'Interns'"):
        admin.edit(lambda current: current.with_person(PersonAccess("Ann", ("Interns",))))
    assert admin.plan() == plan

    # a plan saved without a time zone gets the administrator's: every door (and the server's erasure) reads its
    # hours and dates in one zone
    saved = admin.edit(lambda current: dataclasses.replace(current, timezone=None))
    assert saved.timezone == local_zone_name() and admin.plan().timezone == local_zone_name()


# ------------------------------------------------------------------------------------------ two doors, one offline
def test_two_doors_give_the_same_answers_and_an_offline_door_keeps_its_copy_until_it_is_back(pg, site,  # noqa: F811
                                                                                             tmp_path):
    proxy = TcpProxy(pg.port)
    front = Door(tmp_path / "front", proxy.via(site["kiosk"]), "front")
    side = Door(tmp_path / "side", site["kiosk2"], "side")
    try:
        for door in (front, side):
            door.link.start()
        admin = SiteAccessPlan(site["admin"])
        plan = admin.edit(lambda _: parse_plan(PLAN))
        assert front.follows(plan) and side.follows(plan)

        expected = answers(side)
        assert expected["Ada Monday 06:59"] == (RULE_SCHEDULE, "Sorry Ada, this door is closed to you until 07:00")
        assert expected["Ada Monday 07:00"] == ("granted", {})
        assert expected["Ada Saturday 10:00"][0] == RULE_SCHEDULE
        assert expected["Ada New Year"][0] == "holiday"
        assert expected["Bob Monday 07:00"] == (RULE_VALIDITY, "Sorry Bob, your access expired on 10 January")
        assert expected["Jane Monday 10:00"] == ("granted", {"visitor": True, "host": "Ada Lovelace"})
        assert expected["Jane Tuesday 10:00"][0] == RULE_VISIT_ENDED
        assert expected["Eve (no line) Sunday 03:00"] == ("granted", {})  # Everyone, every door, any time
        assert answers(front) == expected

        proxy.cut()  # the front door's cable
        assert wait_until(lambda: not front.link.sync.status().connected, 15)
        assert answers(front) == expected  # from its copy
        assert AccessPlanFile(front.plan_file.path).plan() == plan  # the copy stays (a restart reads it too)

        # a change while the front door is offline: Ada's access ends at noon
        changed = admin.edit(lambda current: current.with_person(
            PersonAccess("Ada Lovelace", ("Staff",), valid_until=dt.datetime(2027, 1, 11, 12, 0))))
        assert side.follows(changed, timeout=5)
        assert side.ask("Ada Lovelace", at(11, 13)) is not None
        assert side.ask("Ada Lovelace", at(11, 13)).rule == RULE_VALIDITY
        assert front.plan_file.plan() == plan and front.ask("Ada Lovelace", at(11, 13)) is None  # not heard yet

        proxy.restore()
        assert wait_until(lambda: front.link.sync.status().connected, 15)
        assert front.follows(changed, timeout=5)
        assert answers(front) == answers(side)
        assert front.ask("Ada Lovelace", at(11, 13)).rule == RULE_VALIDITY
    finally:
        for door in (front, side):
            door.link.close()
        proxy.close()


# ------------------------------------------------------------------------------------------ item 5 across doors
def test_anti_passback_an_in_door_refuses_a_second_in_until_the_out_door_grants(site, tmp_path):
    add_person(site["admin"], "Ada Lovelace")
    front = Door(tmp_path / "front", site["kiosk"], "front")
    side = Door(tmp_path / "side", site["kiosk2"], "side")
    try:
        for door in (front, side):
            door.link.start()
        plan = SiteAccessPlan(site["admin"]).edit(lambda _: parse_plan(PLAN))
        assert front.follows(plan) and side.follows(plan)

        went_in = at(11, 8)
        front.grant("Ada Lovelace", went_in)
        second = front.ask("Ada Lovelace", went_in + 60)  # a second "in" (the face let someone else in)
        assert second is not None and second.rule == RULE_PASSBACK
        assert second.reason == "Sorry Ada, you went in at 08:00 and have not been seen going out"
        # the server keeps every door's last grant: the side door hears of the front door's
        assert wait_until(lambda: side.passages.last("Ada Lovelace", "front") == went_in, 10)

        went_out = went_in + 120
        side.grant("Ada Lovelace", went_out)  # out at the side door (another kiosk)
        assert wait_until(lambda: front.passages.last("Ada Lovelace", "side") == went_out, 10)
        assert front.ask("Ada Lovelace", went_out + 60) is None  # seen out: in again
        with psycopg.connect(site["owner"]) as conn:
            assert sorted(conn.execute("SELECT person, door, granted_at FROM passages").fetchall()) == [
                ("Ada Lovelace", "front", went_in), ("Ada Lovelace", "side", went_out)]
    finally:
        for door in (front, side):
            door.link.close()


# ------------------------------------------------------------------------------------------ item 3 at a site
def test_the_server_erases_expired_people_at_every_replica_and_keeps_their_log_rows(site, tmp_path):
    for name in ("Ada Lovelace", "Carl Contractor", "Vera Visitor"):
        add_person(site["admin"], name)
    options = {"heartbeat_s": 0.25, "erase_every_s": 0.5}
    doors = [Door(tmp_path / "front", site["kiosk"], "front", **options),
             Door(tmp_path / "side", site["kiosk2"], "side", **options)]
    try:
        for door in doors:
            door.link.start()
            assert wait_until(lambda door=door: len(door.link.gallery.photos()) == 3, 10)
        doors[0].link.decide("Carl Contractor")  # his log row, on the server before the erasure
        assert wait_until(lambda: doors[0].link.log.waiting() == 0, 10)
        # Carl's access ended yesterday (retention 1 hour); Vera's visit ended two hours ago (retention 1 hour)
        today = dt.date.today()
        ended = (dt.datetime.now() - dt.timedelta(hours=2)).replace(microsecond=0, second=0)
        SiteAccessPlan(site["admin"]).edit(lambda _: parse_plan(
            f'erase-expired-after 1 hours\nerase-visitors-after 1 hours\nperson "Ada Lovelace"\n'
            f'person "Carl Contractor" until {today - dt.timedelta(days=2)}\n'
            f'visitor "Vera Visitor" host "Ada Lovelace" until {ended.isoformat(timespec="minutes")}\n'))
        for door in doors:  # each kiosk's periodic pass calls the server's function; every replica erases them
            assert wait_until(lambda door=door: sorted(door.link.gallery.photos()) == ["Ada Lovelace"], 15), \
                door.link.gallery.photos()
            assert door.link.told(SiteEvent.REPLICA, name="Carl Contractor", change="removed")
        with psycopg.connect(site["owner"]) as conn:
            assert conn.execute("SELECT person, door FROM events").fetchall() == [("Carl Contractor", "front")]
            assert sorted(conn.execute("SELECT name FROM removals").fetchall()) == [("Carl Contractor",),
                                                                                   ("Vera Visitor",)]
            assert conn.execute("SELECT count(*) FROM photos p JOIN people n ON n.id = p.person_id "
                                "WHERE n.name <> 'Ada Lovelace'").fetchone()[0] == 0
        plan = SiteAccessPlan(site["admin"]).plan()
        assert list(plan.people) == ["Ada Lovelace", "Vera Visitor"] and plan.people["Vera Visitor"].erased
        for door in doors:  # the copies follow: Vera's line stays (the day's list), marked erased
            assert door.follows(plan)
    finally:
        for door in doors:
            door.link.close()


# ------------------------------------------------------------------------------------------ the real pipeline
def test_two_real_kiosks_on_the_clip_follow_the_sites_hours_alike_with_one_of_them_offline(
        pg, clips, engine, frontal, tmp_path):  # noqa: F811 - pg and frontal are the fixtures imported above
    """Two kiosks as assemble_kiosk builds them, on the clip (Lin-Manuel Miranda's frontal shot played twice, the
    clock set for each pass): the site's plan says Staff from 07:00; the front door's cable is cut before he comes.
    Both doors refuse him at 06:59 with the same words and grant him at 07:00, the front one from its copy."""
    urls = new_site(pg, "access_real", enroll_lin_from=clips)
    plan = SiteAccessPlan(urls["admin"]).edit(lambda _: parse_plan(
        f'timezone Europe/London\ngroup "Staff" doors "front" "side" hours Mon-Fri 07:00-19:00\n'
        f'person "{LIN}" groups "Staff"\n'))
    early, opening = at(11, 6, 59), at(11, 7)
    proxy = TcpProxy(pg.port)
    kiosks, views, logs = {}, {}, []
    try:
        for door, url in (("front", proxy.via(urls["kiosk"])), ("side", urls["kiosk2"])):
            settings = Settings(database_url=url, door_name=door, liveness="off", learn_from_visits=False,
                                speech=False, log_dir=str(tmp_path / door / "log"))
            clock = [early]
            access_log = AccessLog(tmp_path / door / "log")
            logs.append(access_log)
            views[door] = Decisions()
            views[door].clock = lambda clock=clock: clock[0]
            passes = Passes(frontal, [early, opening], clock)
            kiosks[door] = assemble_kiosk(
                settings, engine, open_gallery(settings, engine, tmp_path / door / "replica"), views[door],
                source=str(clips / "short_hamilton_clip.mp4"), access_log=access_log, speech=None, realtime=False,
                learn=False, clock=lambda clock=clock: clock[0], reader_factory=lambda spec, hold, p=passes: p)
            kiosks[door].site.start()  # the site link first: the replica and the rules before any frame
        for door, kiosk in kiosks.items():
            assert wait_until(lambda kiosk=kiosk: kiosk.plan_file.plan() == plan and LIN in kiosk.session.pipeline
                              .gallery.people, 30), door
        proxy.cut()  # the front door's cable, before he arrives
        assert wait_until(lambda: not kiosks["front"].site.status().connected, 15)
        for door, kiosk in kiosks.items():  # one after the other: two pipelines at once are slow on two cores
            kiosk.session.start()
            assert kiosk.session.wait(90) and kiosk.session.error is None, (door, kiosk.session.error)
        decided = {door: [(when, d.verdict, d.reason) for when, d in view.about(LIN)] for door, view in views.items()}
        reason = "Sorry Lin-Manuel, this door is closed to you until 07:00"
        assert decided["side"] == [(early, Verdict.DENIED, reason), (opening, Verdict.GRANTED, "")], decided
        assert decided["front"] == decided["side"], decided
        assert not kiosks["front"].site.status().connected  # it decided from its copy
    finally:
        for kiosk in kiosks.values():
            kiosk.stop()
        for access_log in logs:
            access_log.close()
        proxy.close()
