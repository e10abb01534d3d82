"""The access plan of a site (facegate/access_plan.py), kept in tables on the server (schema.py, MIGRATIONS[3]):
written by the admin role, read by the kiosks, replicated with the people and honoured offline (each kiosk's site
link writes its copy as the same text file beside its replica, which its AccessPlanFile follows).

    access_settings (one row)   timezone, erase_expired_after_s, erase_visitors_after_s, revision (bumped by every
                                change of any of these tables; kiosks read the plan again when it moves)
    access_groups               name, doors text[] ('*': every door), hours (NULL: always; '': never; else the
                                windows as the plan's text writes them: Mon-Fri 07:00-19:00), position
    access_holidays             day, name
    access_people               person, groups text[], valid_from, valid_until (the plan's ISO text), host (a
                                visitor's; else NULL), erased (a visitor whose face data is gone), position
    access_passback             position, in_door, out_door, reset_s

No rows (an existing site after `site init`): the default plan, everyone at every door at any hour. The tables are
read as the plan's text (one line a row) and parsed by `parse_plan`: the same meaning and the same checks as a single
kiosk's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from facegate.access_plan import (
    ALL_DOORS,
    EVERYONE,
    HEADER,
    VISITORS,
    AccessPlan,
    AccessRulesError,
    format_plan,
    local_zone_name,
    parse_plan,
    when_text,
)
from facegate.site.schema import ADMIN_ROLE, SiteError, check_schema, connect, driver_message, psycopg_module, redact


def _quote(name: str) -> str:
    if '"' in name or "\n" in name:
        raise AccessRulesError(f"{name!r}: a name in the access rules cannot hold a double quote or a line break")
    return f'"{name}"'


def plan_text(conn) -> str:
    """The site's access plan as the plan's text, from the tables (one line a row). Run it in one transaction
    (REPEATABLE READ) to read one moment's plan."""
    lines = [HEADER.rstrip("\n")]
    timezone, expired, visitors = conn.execute(
        "SELECT timezone, erase_expired_after_s, erase_visitors_after_s FROM access_settings").fetchone()
    if timezone:
        lines.append(f"timezone {timezone}")
    lines.append(f"erase-expired-after {float(expired)!r} seconds")
    lines.append(f"erase-visitors-after {float(visitors)!r} seconds")
    for name, doors, hours in conn.execute("SELECT name, doors, hours FROM access_groups ORDER BY position, name"):
        listed = " ".join(door if door == ALL_DOORS else _quote(door) for door in doors) or "-"
        lines.append(f"group {_quote(name)} doors {listed} hours "
                     f"{'always' if hours is None else hours.strip() or 'never'}")
    for day, name in conn.execute("SELECT day, name FROM access_holidays ORDER BY day"):
        lines.append(f"holiday {day.isoformat()} {_quote(name)}")
    for person, groups, valid_from, valid_until, host, erased in conn.execute(
            "SELECT person, groups, valid_from, valid_until, host, erased FROM access_people "
            "ORDER BY position, person"):
        words = ["visitor" if host is not None else "person", _quote(person)]
        if host is not None:
            words += ["host", _quote(host)]
        if groups:
            words += ["groups", *(_quote(group) for group in groups)]
        if valid_from:
            words += ["from", valid_from]
        if valid_until:
            words += ["until", valid_until]
        if erased and host is not None:
            words.append("erased")
        lines.append(" ".join(words))
    for in_door, out_door, reset_s in conn.execute(
            "SELECT in_door, out_door, reset_s FROM access_passback ORDER BY position"):
        lines.append(f"passback in {_quote(in_door)} out {_quote(out_door)} reset {float(reset_s)!r} seconds")
    return "\n".join(lines) + "\n"


def read_plan_text(conn) -> str:
    """plan_text in a transaction of its own that sees one moment of the server (`conn`: autocommit)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return plan_text(conn)


def write_plan(conn, plan: AccessPlan) -> None:
    """Replace the tables' plan with `plan` (inside the caller's transaction)."""
    with conn.cursor() as cur:
        cur.execute("UPDATE access_settings SET timezone = %s, erase_expired_after_s = %s, "
                    "erase_visitors_after_s = %s", (plan.timezone, plan.erase_expired_after_s,
                                                    plan.erase_visitors_after_s))
        for table in ("access_groups", "access_holidays", "access_people", "access_passback"):
            cur.execute(f"DELETE FROM {table}")
        cur.executemany("INSERT INTO access_groups(name, doors, hours, position) VALUES (%s, %s, %s, %s)", [
            (group.name, list(group.doors),
             None if group.hours is None else " ".join(window.text() for window in group.hours), position)
            for position, group in enumerate(plan.groups.values())])
        cur.executemany("INSERT INTO access_holidays(day, name) VALUES (%s, %s)", sorted(plan.holidays.items()))
        cur.executemany(
            "INSERT INTO access_people(person, groups, valid_from, valid_until, host, erased, position) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)", [
                (access.name, [] if access.groups == ((VISITORS,) if access.visitor else (EVERYONE,))
                 else list(access.groups),
                 None if access.valid_from is None else when_text(access.valid_from),
                 None if access.valid_until is None else when_text(access.valid_until),
                 access.host, access.erased and access.visitor, position)
                for position, access in enumerate(plan.people.values())])
        cur.executemany("INSERT INTO access_passback(position, in_door, out_door, reset_s) VALUES (%s, %s, %s, %s)",
                        [(position, pair.in_door, pair.out_door, pair.reset_s)
                         for position, pair in enumerate(plan.passbacks)])


class SiteAccessPlan:
    """The site's access plan (AccessPlanStore): any site login reads it, an admin login changes it. Each change is
    one transaction; the kiosks hear of it at once (the tables' trigger) and on their periodic pass. A plan saved
    without a time zone gets this computer's (local_zone_name): every door, and the server's erasure, then read the
    hours and dates in one zone."""

    def __init__(self, url: str):
        self.url = url
        self.where = f"the site's access rules on {redact(url)}"

    def plan(self) -> AccessPlan:
        psycopg = psycopg_module()
        try:
            with connect(self.url) as conn:
                check_schema(conn, self.url)
                return parse_plan(read_plan_text(conn), self.where)
        except psycopg.Error as exc:
            raise SiteError(f"The site server {redact(self.url)} could not give its access rules: "
                            f"{driver_message(exc, self.url)}") from None

    def edit(self, change: Callable[[AccessPlan], AccessPlan]) -> AccessPlan:
        """Read the plan, apply `change`, write the result, all in one transaction (two administrators at once:
        one after the other). AccessRulesError from `change` or a plan that cannot be written: nothing changed.
        SiteError when the login may not change it (a kiosk login) or the server fails."""
        psycopg = psycopg_module()
        with connect(self.url) as conn:
            check_schema(conn, self.url)
            try:
                with conn.transaction():
                    conn.execute("SELECT revision FROM access_settings FOR UPDATE")  # the next editor waits
                    current = parse_plan(plan_text(conn), self.where)
                    changed = change(current)
                    if changed.unreadable is not None:
                        raise AccessRulesError(f"{self.where}: a plan that refuses everyone because rules cannot be "
                                               "read is not a plan to save")
                    if changed.timezone is None:  # one zone for every door, and for the server's erasure
                        changed = replace(changed, timezone=local_zone_name())
                    changed = parse_plan(format_plan(changed), self.where)  # what is written reads back
                    write_plan(conn, changed)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise SiteError(f"The site server {redact(self.url)} refused to change the access rules: "
                                f"{driver_message(exc, self.url)}. Connect with a login role in {ADMIN_ROLE} (a kiosk "
                                "login reads the rules; it may not change them).") from None
            except psycopg.Error as exc:
                raise SiteError(f"The site server {redact(self.url)} could not change the access rules: "
                                f"{driver_message(exc, self.url)}") from None
        return changed
