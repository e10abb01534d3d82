"""The site server's database: the schema and its migrations, the two roles and their grants, the connection
(with messages that say what to do, never the password), and the rows every side reads or writes the same way.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from facegate.errors import FaceGateError
from facegate.redaction import redact_connection as redact  # the site's name for it
from facegate.redaction import redact_message

NOTIFY_CHANNEL = "facegate_people"
KIOSK_ROLE = "facegate_kiosk"
ADMIN_ROLE = "facegate_admin"
# How long a connection attempt waits for the server before the kiosk counts it as offline.
CONNECT_TIMEOUT_S = 3
# Events sent to the server in one transaction (a kiosk forwarding, an import).
FORWARD_BATCH = 100
# A security event's snapshot (a decision a door made for someone after their removal, README "Privacy") is
# deleted this long after the decision; the row (who, when, which door, the removal's time) stays. The server's
# function holds the number (MIGRATIONS[1]): changing it takes a new migration.
SECURITY_SNAPSHOT_DAYS = 90
# The details key that marks a security event: {"removed_at": epoch, "offline_since": epoch or null}.
AFTER_REMOVAL = "after_removal"
# The details key a kiosk stamps on a decision made while it could not reach the server (epoch seconds).
OFFLINE_SINCE = "site_offline_since"

# Each migration brings the schema from version i to i + 1, in one transaction; never edit one that shipped.
MIGRATIONS: list[str] = [
    f"""
    CREATE TABLE people(
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX people_name_folded ON people (lower(name));
    CREATE TABLE photos(
        id bigserial PRIMARY KEY,
        person_id bigint NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        file_name text NOT NULL,
        sha256 text NOT NULL,
        data bytea NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (person_id, file_name)
    );
    CREATE TABLE embeddings(
        photo_id bigint NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model text NOT NULL,
        embedding bytea,
        problem text NOT NULL DEFAULT '',
        PRIMARY KEY (photo_id, model)
    );
    CREATE TABLE events(
        event_id uuid PRIMARY KEY,
        door text NOT NULL,
        time double precision NOT NULL,
        track_id integer NOT NULL,
        person text,
        distance double precision,
        margin double precision,
        decision text NOT NULL CHECK (decision IN ('granted', 'unknown', 'denied')),
        source text NOT NULL DEFAULT '',
        details jsonb NOT NULL DEFAULT '{{}}',
        snapshot bytea,
        received_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX events_time ON events(time);
    CREATE INDEX events_person ON events(person, time);
    CREATE INDEX events_door ON events(door, time);

    CREATE FUNCTION facegate_people_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('{NOTIFY_CHANNEL}', OLD.name); END IF;
        IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.name); END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER people_changed AFTER INSERT OR UPDATE OR DELETE ON people
        FOR EACH ROW EXECUTE FUNCTION facegate_people_changed();

    CREATE FUNCTION facegate_photos_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        who text;
    BEGIN
        SELECT name INTO who FROM people
            WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.person_id ELSE NEW.person_id END;
        IF who IS NOT NULL THEN PERFORM pg_notify('{NOTIFY_CHANNEL}', who); END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER photos_changed AFTER INSERT OR UPDATE OR DELETE ON photos
        FOR EACH ROW EXECUTE FUNCTION facegate_photos_changed();

    -- A kiosk's event naming someone no longer enrolled (erased while that kiosk was offline) is dropped.
    CREATE FUNCTION facegate_event_person_enrolled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.person IS NOT NULL AND NOT pg_has_role(current_user, '{ADMIN_ROLE}', 'MEMBER')
                AND NOT EXISTS (SELECT 1 FROM people WHERE name = NEW.person) THEN
            RETURN NULL;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER events_person_enrolled BEFORE INSERT ON events
        FOR EACH ROW EXECUTE FUNCTION facegate_event_person_enrolled();
    """,
    # A removal leaves a tombstone (the name and two times, nothing biometric). A kiosk's late event naming someone
    # no longer enrolled is dropped when it was decided while they were enrolled (the erasure holds) and kept as a
    # security event, flagged in details, when it was decided after their removal (a door that had not heard of it).
    f"""
    CREATE TABLE removals(
        name text NOT NULL,
        enrolled_at timestamptz NOT NULL,
        removed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX removals_name ON removals(name, removed_at);
    GRANT SELECT ON removals TO {ADMIN_ROLE};

    CREATE FUNCTION facegate_person_removed() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path FROM CURRENT AS $$
    BEGIN
        INSERT INTO removals(name, enrolled_at) VALUES (OLD.name, OLD.created_at);
        RETURN NULL;
    END $$;
    CREATE TRIGGER people_removed AFTER DELETE ON people
        FOR EACH ROW EXECUTE FUNCTION facegate_person_removed();

    -- For a decision about `who` (not enrolled now) at `decided`: the removal (epoch seconds) it came after, -1
    -- when they were enrolled then, NULL when no removal of theirs is known. A kiosk may ask it of one name at a
    -- time; it cannot read the tombstones.
    CREATE FUNCTION facegate_removed_before(who text, decided double precision) RETURNS double precision
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
        SELECT CASE WHEN EXISTS (SELECT 1 FROM removals e WHERE e.name = who
                                 AND to_timestamp(decided) >= e.enrolled_at AND to_timestamp(decided) < e.removed_at)
                    THEN -1
                    ELSE (SELECT extract(epoch FROM max(r.removed_at))::double precision FROM removals r
                          WHERE r.name = who AND r.removed_at <= to_timestamp(decided)) END
    $$;
    REVOKE ALL ON FUNCTION facegate_removed_before(text, double precision) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION facegate_removed_before(text, double precision) TO {KIOSK_ROLE}, {ADMIN_ROLE};

    CREATE OR REPLACE FUNCTION facegate_event_person_enrolled() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        admin boolean := pg_has_role(current_user, '{ADMIN_ROLE}', 'MEMBER');
        removed double precision;
    BEGIN
        IF NOT admin THEN
            NEW.details := NEW.details - '{AFTER_REMOVAL}';  -- only the server marks a security event
        END IF;
        IF NEW.person IS NULL OR EXISTS (SELECT 1 FROM people WHERE name = NEW.person) THEN
            RETURN NEW;
        END IF;
        removed := facegate_removed_before(NEW.person, NEW.time);
        IF removed = -1 THEN
            RETURN NULL;  -- decided while they were enrolled: their erasure holds (an administrator's window too)
        ELSIF removed IS NULL THEN  -- no removal of theirs known: an administrator's import is taken as it is
            RETURN CASE WHEN admin THEN NEW ELSE NULL END;
        END IF;
        NEW.details := NEW.details || jsonb_build_object('{AFTER_REMOVAL}', jsonb_build_object(
            'removed_at', removed, 'offline_since', NEW.details -> '{OFFLINE_SINCE}'));
        RETURN NEW;
    END $$;

    -- A security event's snapshot is kept {SECURITY_SNAPSHOT_DAYS} days after the decision: cleared whenever events
    -- arrive (every door sends some each day) and whenever an administrator reads the log.
    CREATE INDEX events_security_snapshots ON events(time)
        WHERE snapshot IS NOT NULL AND details ? '{AFTER_REMOVAL}';
    CREATE FUNCTION facegate_expire_security_snapshots() RETURNS integer LANGUAGE plpgsql
        SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        cleared integer;
    BEGIN
        UPDATE events SET snapshot = NULL
            WHERE snapshot IS NOT NULL AND details ? '{AFTER_REMOVAL}'
              AND time < extract(epoch FROM now()) - {SECURITY_SNAPSHOT_DAYS} * 86400;
        GET DIAGNOSTICS cleared = ROW_COUNT;
        RETURN cleared;
    END $$;
    REVOKE ALL ON FUNCTION facegate_expire_security_snapshots() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION facegate_expire_security_snapshots() TO {ADMIN_ROLE};
    CREATE FUNCTION facegate_events_arrived() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path FROM CURRENT AS $$
    BEGIN
        PERFORM facegate_expire_security_snapshots();
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_expire_security_snapshots AFTER INSERT ON events
        FOR EACH STATEMENT EXECUTE FUNCTION facegate_events_arrived();
    """,
    # Issue 30 (doors): the door registry (a kiosk login -> its door), events tied to the door of the login that
    # wrote them with the server's own receive time, the people change log (notifications become hints), and each
    # door's heartbeat with the silent-door alerts. Self-contained: its grants are here, not in _GRANTS_SQL.
    f"""
    CREATE TABLE doors(
        login text PRIMARY KEY,
        door text NOT NULL CHECK (length(btrim(door)) > 0),
        added_at timestamptz NOT NULL DEFAULT now(),
        last_contact timestamptz,
        silent_since timestamptz  -- an alert was raised for this silence; cleared by the door's next heartbeat
    );
    CREATE UNIQUE INDEX doors_door_folded ON doors (lower(door));
    CREATE TABLE door_alerts(
        id bigserial PRIMARY KEY,
        door text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('silent', 'back')),
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        last_contact timestamptz,
        raised_by text NOT NULL DEFAULT session_user
    );
    CREATE TABLE people_changes(
        seq bigserial PRIMARY KEY,
        name text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX people_changes_at ON people_changes(changed_at);

    -- One writer at a time until its commit: sequence numbers become visible in their order, so a kiosk that read
    -- up to n never misses an n - 1 committed later. Rows older than an hour go (a connected kiosk reads them
    -- within a second; one that reconnects compares the whole list).
    CREATE FUNCTION facegate_note_change(who text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE
        noted bigint;
    BEGIN
        LOCK TABLE people_changes IN SHARE ROW EXCLUSIVE MODE;
        DELETE FROM people_changes WHERE changed_at < clock_timestamp() - interval '1 hour';
        INSERT INTO people_changes(name) VALUES (who) RETURNING seq INTO noted;
        PERFORM pg_notify('{NOTIFY_CHANNEL}', noted::text);
    END $$;
    CREATE OR REPLACE FUNCTION facegate_people_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN PERFORM facegate_note_change(OLD.name); END IF;
        IF TG_OP <> 'DELETE' THEN PERFORM facegate_note_change(NEW.name); END IF;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION facegate_photos_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        who text;
    BEGIN
        SELECT name INTO who FROM people
            WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.person_id ELSE NEW.person_id END;
        IF who IS NOT NULL THEN PERFORM facegate_note_change(who); END IF;
        RETURN NULL;
    END $$;

    -- A kiosk login (in {KIOSK_ROLE}, not {ADMIN_ROLE}) writes rows for its own door only: the registry's door
    -- replaces whatever the row said; none registered: refused, saying what the administrator does. Every row gets
    -- the server's own receive time. The administrator (an import) names the door.
    CREATE FUNCTION facegate_event_door() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE
        registered text;
    BEGIN
        NEW.received_at := clock_timestamp();
        IF pg_has_role(session_user, '{KIOSK_ROLE}', 'MEMBER')
                AND NOT pg_has_role(session_user, '{ADMIN_ROLE}', 'MEMBER') THEN
            SELECT d.door INTO registered FROM doors d WHERE d.login = session_user;
            IF registered IS NULL THEN
                RAISE EXCEPTION 'the login % has no door in the site''s door registry', session_user
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = format('an administrator runs: facegate site door add %s "Door name"', session_user);
            END IF;
            NEW.door := registered;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER events_door BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION facegate_event_door();

    -- A door's heartbeat, for the calling login's own row only. Returns the login, its door (NULL: none
    -- registered), whether the login is tied to a door (a kiosk login), and when its silence had been reported
    -- (NULL: it was not): that claim is cleared and a 'back' row logged.
    CREATE FUNCTION facegate_door_heartbeat()
        RETURNS TABLE(login text, registered_door text, tied boolean, was_silent_since timestamptz)
        LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE
        found_door text;
        was timestamptz;
    BEGIN
        SELECT d.door, d.silent_since INTO found_door, was FROM doors d WHERE d.login = session_user FOR UPDATE;
        IF found_door IS NOT NULL THEN
            UPDATE doors d SET last_contact = clock_timestamp(), silent_since = NULL WHERE d.login = session_user;
            IF was IS NOT NULL THEN
                INSERT INTO door_alerts(door, kind, last_contact) VALUES (found_door, 'back', clock_timestamp());
            END IF;
        END IF;
        RETURN QUERY SELECT session_user::text, found_door,
            pg_has_role(session_user, '{KIOSK_ROLE}', 'MEMBER')
                AND NOT pg_has_role(session_user, '{ADMIN_ROLE}', 'MEMBER'),
            was;
    END $$;

    -- Doors (other than the caller's) that beat once and then fell silent longer than bound_s, claimed at once
    -- (row locks: of two callers at the same moment, one gets each door) and logged in door_alerts; the caller
    -- tells them to its actions. At least 1 s.
    CREATE FUNCTION facegate_claim_silent_doors(bound_s double precision)
        RETURNS TABLE(silent_door text, last_contact_at timestamptz) LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        RETURN QUERY
        WITH claimed AS (
            UPDATE doors d SET silent_since = clock_timestamp()
            WHERE d.silent_since IS NULL AND d.last_contact IS NOT NULL AND d.login <> session_user
              AND d.last_contact < clock_timestamp() - make_interval(secs => greatest(coalesce(bound_s, 1), 1))
            RETURNING d.door, d.last_contact
        ), logged AS (
            INSERT INTO door_alerts(door, kind, last_contact) SELECT c.door, 'silent', c.last_contact FROM claimed c
        )
        SELECT c.door, c.last_contact FROM claimed c;
    END $$;

    -- SECURITY DEFINER functions resolve names in the site's schema only, never in a caller's temporary tables.
    DO $$
    DECLARE
        fn text;
    BEGIN
        FOREACH fn IN ARRAY ARRAY['facegate_note_change(text)', 'facegate_event_door()', 'facegate_door_heartbeat()',
                                  'facegate_claim_silent_doors(double precision)'] LOOP
            EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', fn, current_schema());
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        END LOOP;
    END $$;
    REVOKE ALL ON doors, door_alerts, people_changes FROM PUBLIC;
    GRANT SELECT ON people_changes TO {KIOSK_ROLE}, {ADMIN_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON doors TO {ADMIN_ROLE};
    GRANT SELECT ON door_alerts TO {ADMIN_ROLE};
    GRANT EXECUTE ON FUNCTION facegate_note_change(text) TO {ADMIN_ROLE};
    GRANT EXECUTE ON FUNCTION facegate_door_heartbeat(), facegate_claim_silent_doors(double precision)
        TO {KIOSK_ROLE}, {ADMIN_ROLE};
    """,
    # Issue 31 (who may enter where and when): the site's access plan (facegate/access_plan.py's AccessPlan, the same
    # meaning as the text file of a single kiosk) in tables written by the admin role and read by the kiosks; no rows:
    # the default plan (Everyone at every door at any hour), so an existing site keeps its behaviour. Every change
    # bumps access_settings.revision and sends a hint on the people channel: kiosks read the plan again then, and on
    # their periodic pass. Also each person's last grant at each door (anti-passback across doors), and the erasure
    # of people whose access ended longer ago than the plan's retention.
    f"""
    CREATE TABLE access_settings(
        single boolean PRIMARY KEY DEFAULT true CHECK (single),
        timezone text,  -- an IANA name; NULL: each kiosk's own zone
        -- the defaults: access_plan.py's when this shipped (30 days; a visitor's: an hour)
        erase_expired_after_s double precision NOT NULL DEFAULT 2592000 CHECK (erase_expired_after_s >= 0),
        erase_visitors_after_s double precision NOT NULL DEFAULT 3600 CHECK (erase_visitors_after_s >= 0),
        revision bigint NOT NULL DEFAULT 0
    );
    INSERT INTO access_settings DEFAULT VALUES;
    -- The groups, people and passback pairs keep the order they were written in (position): the plan's text does.
    CREATE TABLE access_groups(
        name text PRIMARY KEY,
        doors text[] NOT NULL,  -- '*': every door; empty: none
        hours text,  -- NULL: always; '': never; else windows as the plan's text writes them (Mon-Fri 07:00-19:00)
        position integer NOT NULL
    );
    CREATE TABLE access_holidays(
        day date PRIMARY KEY,
        name text NOT NULL
    );
    CREATE TABLE access_people(
        person text PRIMARY KEY,
        groups text[] NOT NULL,
        valid_from text,  -- the plan's ISO form: 2026-03-01 (the whole day) or 2026-03-01T09:00 (local time)
        valid_until text,
        host text,  -- set for a visitor only
        erased boolean NOT NULL DEFAULT false,  -- a visitor whose face data is gone (the row stays for the day's list)
        position integer NOT NULL
    );
    CREATE TABLE access_passback(
        position integer PRIMARY KEY,
        in_door text NOT NULL,
        out_door text NOT NULL,
        reset_s double precision NOT NULL CHECK (reset_s >= 0)
    );

    CREATE FUNCTION facegate_access_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        IF pg_trigger_depth() > 1 THEN
            RETURN NULL;  -- the revision's own update below
        END IF;
        UPDATE access_settings SET revision = revision + 1;
        PERFORM pg_notify('{NOTIFY_CHANNEL}', 'access');
        RETURN NULL;
    END $$;
    DO $$
    DECLARE
        name text;
    BEGIN
        FOREACH name IN ARRAY ARRAY['access_settings', 'access_groups', 'access_holidays', 'access_people',
                                    'access_passback'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION facegate_access_changed()', name || '_changed', name);
        END LOOP;
    END $$;

    -- Each person's last grant at each door, from every door's events (a kiosk cannot read the events): an "in" door
    -- knows its person was seen at the "out" door. seq orders the changes, so a kiosk reads only what is new.
    CREATE SEQUENCE passages_seq;
    CREATE TABLE passages(
        person text NOT NULL,
        door text NOT NULL,
        granted_at double precision NOT NULL,  -- the decision's time (the deciding door's clock), epoch seconds
        seq bigint NOT NULL DEFAULT nextval('passages_seq'),
        PRIMARY KEY (person, door)
    );
    CREATE INDEX passages_changed ON passages(seq);
    CREATE FUNCTION facegate_passage() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        IF NEW.decision = 'granted' AND NEW.person IS NOT NULL AND EXISTS (SELECT 1 FROM people WHERE name = NEW.person)
        THEN
            INSERT INTO passages(person, door, granted_at) VALUES (NEW.person, NEW.door, NEW.time)
                ON CONFLICT (person, door) DO UPDATE SET granted_at = EXCLUDED.granted_at, seq = nextval('passages_seq')
                WHERE passages.granted_at < EXCLUDED.granted_at;
            PERFORM pg_notify('{NOTIFY_CHANNEL}', 'passage');
        END IF;
        RETURN NULL;
    END $$;
    -- AFTER: the row as the BEFORE triggers left it (the login's registered door; dropped rows are not seen)
    CREATE TRIGGER events_passage AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION facegate_passage();
    CREATE FUNCTION facegate_passages_forget() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        DELETE FROM passages WHERE person = OLD.name;
        RETURN NULL;
    END $$;
    CREATE TRIGGER people_passages_forget AFTER DELETE ON people
        FOR EACH ROW EXECUTE FUNCTION facegate_passages_forget();

    -- The people whose access ended longer ago than the plan's retention (erase_expired_after_s, a visitor's
    -- erase_visitors_after_s), by the server's clock, removed as an administrator's removal does (their photos and
    -- embeddings go, a tombstone, the change log: every kiosk erases its copy) but their events stay; a visitor's
    -- access row stays, marked erased (the day's list). A plan without a time zone (SiteAccessPlan gives every plan
    -- the administrator's zone; only tables written by hand lack one) ends its dates at the latest instant any
    -- zone could mean (UTC-14): an erasure is never early, and no kiosk login can make it so. Returns the names
    -- erased.
    CREATE FUNCTION facegate_erase_expired() RETURNS SETOF text
        LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE
        plan access_settings%ROWTYPE;
        who record;
        local_end timestamp;
        ends timestamptz;
    BEGIN
        SELECT * INTO plan FROM access_settings;
        FOR who IN SELECT a.person, a.host, a.valid_until FROM access_people a
                   WHERE NOT a.erased AND a.valid_until IS NOT NULL ORDER BY a.position FOR UPDATE LOOP
            BEGIN
                local_end := CASE WHEN who.valid_until LIKE '%T%' THEN who.valid_until::timestamp
                                  ELSE (who.valid_until::date + 1)::timestamp END;
            EXCEPTION WHEN others THEN
                RAISE WARNING 'access_people: % has valid_until %, which is not a date: not erased',
                    who.person, who.valid_until;
                CONTINUE;
            END;
            IF plan.timezone IS NOT NULL THEN
                ends := local_end AT TIME ZONE plan.timezone;
            ELSE
                ends := local_end AT TIME ZONE make_interval(hours => -14);
            END IF;
            IF clock_timestamp() >= ends + make_interval(secs => CASE WHEN who.host IS NOT NULL
                    THEN plan.erase_visitors_after_s ELSE plan.erase_expired_after_s END) THEN
                DELETE FROM people WHERE name = who.person;
                IF who.host IS NOT NULL THEN
                    UPDATE access_people SET erased = true WHERE person = who.person;
                ELSE
                    DELETE FROM access_people WHERE person = who.person;
                END IF;
                RETURN NEXT who.person;
            END IF;
        END LOOP;
    END $$;

    DO $$
    DECLARE
        fn text;
    BEGIN
        FOREACH fn IN ARRAY ARRAY['facegate_access_changed()', 'facegate_passage()', 'facegate_passages_forget()',
                                  'facegate_erase_expired()'] LOOP
            EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', fn, current_schema());
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        END LOOP;
    END $$;
    REVOKE ALL ON access_settings, access_groups, access_holidays, access_people, access_passback, passages
        FROM PUBLIC;
    GRANT SELECT ON access_settings, access_groups, access_holidays, access_people, access_passback, passages
        TO {KIOSK_ROLE}, {ADMIN_ROLE};
    GRANT INSERT, UPDATE, DELETE ON access_groups, access_holidays, access_people, access_passback TO {ADMIN_ROLE};
    GRANT UPDATE ON access_settings TO {ADMIN_ROLE};
    GRANT EXECUTE ON FUNCTION facegate_erase_expired() TO {KIOSK_ROLE}, {ADMIN_ROLE};
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_ROLES_SQL = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{KIOSK_ROLE}') THEN CREATE ROLE {KIOSK_ROLE} NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ADMIN_ROLE}') THEN CREATE ROLE {ADMIN_ROLE} NOLOGIN; END IF;
END $$;
"""
_GRANTS_SQL = f"""
REVOKE ALL ON people, photos, embeddings, events, facegate_schema FROM PUBLIC;
GRANT SELECT ON people, photos, embeddings, facegate_schema TO {KIOSK_ROLE};
GRANT INSERT ON events TO {KIOSK_ROLE};
-- ON CONFLICT (event_id) needs to see the ids (random UUIDs, nothing more): not who, where or when
GRANT SELECT (event_id) ON events TO {KIOSK_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON people, photos, embeddings, events TO {ADMIN_ROLE};
GRANT SELECT ON facegate_schema TO {ADMIN_ROLE};
GRANT USAGE, SELECT ON SEQUENCE people_id_seq, photos_id_seq TO {ADMIN_ROLE};
"""
# pg_advisory_xact_lock key: two `site init`s at once migrate one after the other.
_MIGRATION_LOCK = 0x46414345


class SiteError(FaceGateError):
    """The site server cannot be used as asked; the message names the server (never its password) and what to do."""


def psycopg_module() -> ModuleType:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise SiteError("The PostgreSQL driver (psycopg 3) is not installed: pip install 'psycopg[binary]'") from exc
    return psycopg


def driver_message(exc: BaseException, url: str) -> str:
    """A driver's error on one line, fit to show: libpq may quote the connection string, password and all."""
    return redact_message(str(exc), url) or type(exc).__name__


def _advice(message: str) -> str:
    lowered = message.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return ("check the user name and password (in database_url, or better in ~/.pgpass or PGPASSWORD so that "
                "they are not on the command line)")
    if "does not exist" in lowered and "database" in lowered:
        return "create the database (createdb), then run `facegate site init` as its owner"
    if "role" in lowered and "does not exist" in lowered:
        return "create that login role on the server (see README, Several doors)"
    if "ssl" in lowered:
        return "check sslmode in database_url (require, verify-full) and the server's TLS set-up"
    if "connection refused" in lowered or "timeout" in lowered or "could not connect" in lowered \
            or "no such file" in lowered or "could not translate host" in lowered:
        return "is the server running and reachable at that address? Start it, or correct database_url"
    return "check database_url and the server"


def connect(url: str, *, autocommit: bool = True, keepalive: bool = False):
    """A psycopg connection to the site server, or SiteError saying what went wrong and what to do."""
    psycopg = psycopg_module()
    if not (url or "").strip():
        raise SiteError("No site server is set: give --database postgresql://user@host:5432/dbname, or set "
                        "database_url in the settings.")
    extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "facegate"}
    if keepalive:  # a cut cable is noticed in seconds, not at the next write
        extra.update(keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
    try:
        return psycopg.connect(url, autocommit=autocommit, **extra)
    except psycopg.ProgrammingError as exc:  # not a conninfo string at all
        raise SiteError(f"database_url {redact(url)!r} is not a PostgreSQL connection URL "
                        f"({driver_message(exc, url)}); write it as "
                        "postgresql://user@host:5432/dbname?sslmode=require") from None
    except psycopg.OperationalError as exc:
        detail = driver_message(exc, url).rstrip(".")
        advice = _advice(detail)
        raise SiteError(f"Cannot connect to the site server {redact(url)}: {detail}. {advice[0].upper()}{advice[1:]}."
                        ) from None


def schema_version(conn) -> int:
    """The schema's version on the server; 0 when `site init` has never run there."""
    row = conn.execute("SELECT to_regclass('facegate_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    found = conn.execute("SELECT max(version) FROM facegate_schema").fetchone()[0]
    return int(found or 0)


def check_schema(conn, url: str) -> None:
    """SiteError unless the server's schema is the one this FaceGate uses."""
    version = schema_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise SiteError(f"The site server {redact(url)} has schema version {version}, newer than this FaceGate's "
                        f"({SCHEMA_VERSION}): update FaceGate on this computer.")
    raise SiteError(f"The site server {redact(url)} has schema version {version}; this FaceGate needs "
                    f"{SCHEMA_VERSION}: run `facegate site init` as the database's owner.")


def init_site(url: str) -> tuple[int, int]:
    """Create or bring forward the schema, the two roles and their grants. Returns (version before, after).
    Run as the database's owner (a role that may also create roles)."""
    psycopg = psycopg_module()
    with connect(url) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute("CREATE TABLE IF NOT EXISTS facegate_schema(version integer NOT NULL, "
                             "applied_at timestamptz NOT NULL DEFAULT now())")
                before = schema_version(conn)
                if before > SCHEMA_VERSION:
                    raise SiteError(f"The site server {redact(url)} has schema version {before}, newer than this "
                                    f"FaceGate's ({SCHEMA_VERSION}): update FaceGate.")
                conn.execute(_ROLES_SQL)
                for version in range(before, SCHEMA_VERSION):
                    conn.execute(MIGRATIONS[version])
                    conn.execute("INSERT INTO facegate_schema(version) VALUES (%s)", (version + 1,))
                conn.execute(_GRANTS_SQL)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SiteError(f"`site init` needs the database's owner with the right to create roles; "
                            f"{redact(url)} may not: {driver_message(exc, url)}") from None
    return before, SCHEMA_VERSION


def embedding_bytes(embedding: np.ndarray | None) -> bytes | None:
    return None if embedding is None else np.asarray(embedding, "<f4").tobytes()


def embedding_array(data: bytes | None) -> np.ndarray | None:
    return None if data is None else np.frombuffer(bytes(data), "<f4").astype(np.float32)


def insert_events(conn, batch, door: str) -> int:
    """Insert local log rows (OutgoingEvent) in one transaction; returns how many the server did not have."""
    with conn.transaction(), conn.cursor() as cur:
        new = 0
        for event in batch:
            cur.execute("INSERT INTO events(event_id, door, time, track_id, person, distance, margin, decision, "
                        "source, details, snapshot) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (event_id) DO NOTHING",
                        (event.event_id, door, event.time, event.track_id, event.person, event.distance,
                         event.margin, event.decision, event.source, event.details, event.snapshot))
            new += cur.rowcount
        return new
