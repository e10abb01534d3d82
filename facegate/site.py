"""A site with several doors: one people list and one access log on a PostgreSQL server.

Without `database_url` nothing here runs: a kiosk keeps its gallery folder and SQLite log, alone.

With it, the server holds the people, their photos, their embeddings (per model version, `CACHE_FORMAT`) and
every door's access log with snapshots. Each kiosk keeps working from local copies, so the door never waits for
the network:

    server: people -> photos -> embeddings          events (event_id UUID primary key, door, snapshot, ...)
              | NOTIFY facegate_people <name>            ^ INSERT ... ON CONFLICT (event_id) DO NOTHING
              v                                          |
    kiosk:  SiteSync thread -> replica gallery folder    local SQLite access log (the durable outbox)
            (a SessionListener)    (recognition reads it) (every decision is committed here first)

`SiteSync` LISTENs on one connection; a change to a person (enrolled, photos added, removed) is sent by the
server's triggers at commit, and the kiosk copies that one person (or erases them: photos, embeddings, their
rows and snapshots in the local log). On every (re)connection it compares the whole people list. Decisions are
forwarded from the local log, oldest first, and marked forwarded only after the server committed them; a kiosk
killed in between sends them again, and the server takes each event id once. While the server is unreachable the
kiosk recognises from its replica and keeps its decisions in the local log; `status()` says since when and how
many wait ("Site server: offline since 10:42, 17 events waiting").

Roles (least privilege, made by `facegate site init`): `facegate_kiosk` reads people, photos and embeddings and
inserts events, nothing else (it cannot delete or change a person, nor read any door's log); `facegate_admin`
enrolls, removes and reads the log. Give each kiosk and each administrator a login role of their own in one of
them. A kiosk's event naming someone the server no longer has (removed while the kiosk was offline) is dropped by
a trigger: an erasure is not undone by a late kiosk.

The password is never printed or logged: every message shows the URL through `redact()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.errors import FaceGateError
from facegate.session import SessionListener

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "facegate_people"
KIOSK_ROLE = "facegate_kiosk"
ADMIN_ROLE = "facegate_admin"
# How long a connection attempt waits for the server before the kiosk counts it as offline.
CONNECT_TIMEOUT_S = 3
# Back-off between reconnection attempts: from the first to the last, doubling.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 4.0
# The outbox is also checked this often without a wake-up (an Unknown is logged without waiting for the disk).
FORWARD_EVERY_S = 1.0
# Events sent to the server in one transaction.
FORWARD_BATCH = 100
# A full comparison (at each connection) that changed more people than this reports them as one count.
FULL_COPY_NAMED = 20

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


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise SiteError("The PostgreSQL driver (psycopg 3) is not installed: pip install 'psycopg[binary]'") from exc
    return psycopg


def redact(url: str) -> str:
    """The connection URL as it may be shown or logged: the password (in the URL or as password=) is replaced."""
    from urllib.parse import urlsplit, urlunsplit

    text = (url or "").strip()
    if "://" in text:
        try:
            parts = urlsplit(text)
            netloc = parts.netloc
            if "@" in netloc:
                user, host = netloc.rsplit("@", 1)
                if ":" in user:
                    netloc = f"{user.split(':', 1)[0]}:***@{host}"
            query = "&".join(("password=***" if item.lower().startswith("password=") else item)
                             for item in parts.query.split("&")) if parts.query else ""
            return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
        except ValueError:
            return "<a database URL that cannot be read>"
    words = []
    for word in text.split():
        words.append("password=***" if word.lower().startswith("password=") else word)
    return " ".join(words)


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
    psycopg = _psycopg()
    if not (url or "").strip():
        raise SiteError("No site server is set: give --database postgresql://user@host:5432/dbname, or set "
                        "database_url in the settings.")
    extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "facegate"}
    if keepalive:  # a cut cable is noticed in seconds, not at the next write
        extra.update(keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2)
    try:
        return psycopg.connect(url, autocommit=autocommit, **extra)
    except psycopg.ProgrammingError as exc:  # not a conninfo string at all
        raise SiteError(f"database_url {redact(url)!r} is not a PostgreSQL connection URL ({' '.join(str(exc).split())}); write it as "
                        "postgresql://user@host:5432/dbname?sslmode=require") from None
    except psycopg.OperationalError as exc:
        detail = " ".join(str(exc).split()).rstrip(".")
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
    psycopg = _psycopg()
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
                            f"{redact(url)} may not: {' '.join(str(exc).split())}") from None
    return before, SCHEMA_VERSION


def _embedding_bytes(embedding: np.ndarray | None) -> bytes | None:
    return None if embedding is None else np.asarray(embedding, "<f4").tobytes()


def _embedding_array(data: bytes | None) -> np.ndarray | None:
    return None if data is None else np.frombuffer(bytes(data), "<f4").astype(np.float32)


# ------------------------------------------------------------------------------------------------ admin tools
class SiteAdmin:
    """What the admin tools (CLI, People dialog) do on the server; the connection's role must be facegate_admin."""

    def __init__(self, url: str):
        self.url = url
        self.conn = connect(url)
        try:
            check_schema(self.conn, url)
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SiteAdmin:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _refused(self, exc: Exception, what: str) -> SiteError:
        return SiteError(f"The site server {redact(self.url)} refused to {what}: {' '.join(str(exc).split())}. "
                         f"Connect with a login role in {ADMIN_ROLE} (the kiosk role may not change people).")

    def people(self) -> dict[str, int]:
        """Enrolled name -> number of photos, A to Z."""
        rows = self.conn.execute("SELECT p.name, count(ph.id) FROM people p LEFT JOIN photos ph ON ph.person_id = p.id "
                                 "GROUP BY p.name ORDER BY lower(p.name)").fetchall()
        return {name: int(count) for name, count in rows}

    def existing_name_like(self, name: str) -> str | None:
        row = self.conn.execute("SELECT name FROM people WHERE lower(name) = lower(%s)", (name,)).fetchone()
        return None if row is None else str(row[0])

    def enroll(self, gallery, name: str, photos: list, allow_new_person: bool = True) -> tuple[int, list]:
        """Add photos of `name` to the site, analysed as Gallery.enroll does (`gallery` gives the engine).
        Returns (photos stored, problems)."""
        import hashlib

        from facegate.errors import GalleryError
        from facegate.gallery import CACHE_FORMAT, check_enrollment_name, validate_name

        psycopg = _psycopg()
        name = validate_name(name)
        check_enrollment_name(name, self.existing_name_like(name), allow_new_person)
        accepted, problems = gallery.prepare_photos(name, photos)

        try:
            with self.conn.transaction():
                self.conn.execute("INSERT INTO people(name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
                row = self.conn.execute("SELECT id, name FROM people WHERE lower(name) = lower(%s)", (name,)).fetchone()
                if row[1] != name:
                    raise GalleryError(f"A person named {row[1]!r} was enrolled meanwhile; enroll as {row[1]!r}.")
                stored = 0
                for data, suffix, embedding in accepted:
                    digest = hashlib.sha256(data).hexdigest()
                    photo = self.conn.execute(
                        "INSERT INTO photos(person_id, file_name, sha256, data) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (person_id, file_name) DO NOTHING RETURNING id",
                        (row[0], f"{digest[:16]}{suffix}", digest, data)).fetchone()
                    if photo is None:
                        continue  # the same photo enrolled before
                    self.conn.execute("INSERT INTO embeddings(photo_id, model, embedding, problem) "
                                      "VALUES (%s, %s, %s, '')", (photo[0], CACHE_FORMAT, _embedding_bytes(embedding)))
                    stored += 1
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"enroll {name!r}") from None
        return stored, problems

    def remove(self, name: str) -> tuple[int, int]:
        """Erase `name` from the site: their photos and embeddings, and every door's events about them with
        their snapshots. Every kiosk erases its own copies when it hears of it. Returns (photos, events)."""
        from facegate.errors import GalleryError

        psycopg = _psycopg()
        try:
            with self.conn.transaction():
                row = self.conn.execute("SELECT id FROM people WHERE name = %s FOR UPDATE", (name,)).fetchone()
                if row is None:
                    raise GalleryError(f"{name!r} is not enrolled on the site server.")
                photos = self.conn.execute("SELECT count(*) FROM photos WHERE person_id = %s", (row[0],)).fetchone()[0]
                self.conn.execute("DELETE FROM people WHERE id = %s", (row[0],))
                events = self.conn.execute("DELETE FROM events WHERE person = %s", (name,)).rowcount
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"remove {name!r}") from None
        return int(photos), int(events)

    def events(self, limit: int | None = 100, person: str | None = None, door: str | None = None,
               since: float | None = None, until: float | None = None, unknown_only: bool = False) -> list[dict]:
        """Every door's decisions, newest first (dicts: event_id, door, time, person, decision, snapshot (JPEG
        bytes or None), ...)."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (("person = %s", person), ("door = %s", door), ("time >= %s", since),
                              ("time < %s", until)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if unknown_only:
            where.append("person IS NULL")
        sql = ("SELECT event_id::text, door, time, track_id, person, distance, margin, decision, source, details, "
               "snapshot FROM events" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY time DESC, event_id")
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        keys = ("event_id", "door", "time", "track_id", "person", "distance", "margin", "decision", "source",
                "details", "snapshot")
        return [dict(zip(keys, row, strict=True)) for row in self.conn.execute(sql, params)]

    def logged_people(self) -> list[str]:
        return [name for (name,) in self.conn.execute(
            "SELECT DISTINCT person FROM events WHERE person IS NOT NULL ORDER BY person")]

    def doors(self) -> list[str]:
        return [door for (door,) in self.conn.execute("SELECT DISTINCT door FROM events ORDER BY door")]

    def import_folder(self, gallery, access_log, door: str) -> dict[str, int]:
        """Copy a gallery folder (every photo file, with the embeddings its cache holds) and an access log (every
        row with its snapshot, under `door`) to the site. The folder and the log are left as they were; running it
        again adds nothing twice. Returns counts: people, photos, events (new on the server) and events_there."""
        import hashlib

        from facegate.gallery import CACHE_FORMAT, is_image_name

        counts = {"people": 0, "photos": 0, "events": 0, "events_there": 0}
        if gallery is not None:
            gallery.refresh()  # every usable photo's embedding, from the cache or encoded now
            for name, files in gallery.photos().items():
                existing = self.existing_name_like(name)
                if existing is not None and existing != name:
                    raise SiteError(f"{name!r} in {gallery.folder} and {existing!r} on the site server differ only "
                                    "in upper/lower case; rename one of them, then import again.")
                with self.conn.transaction():
                    inserted = self.conn.execute("INSERT INTO people(name) VALUES (%s) ON CONFLICT DO NOTHING "
                                                 "RETURNING id", (name,)).fetchone()
                    counts["people"] += inserted is not None
                    person_id = self.conn.execute("SELECT id FROM people WHERE name = %s", (name,)).fetchone()[0]
                    for path in files:
                        if not is_image_name(path) or path.is_symlink():
                            continue  # the gallery leaves these out as well (and says so)
                        data = path.read_bytes()
                        digest = hashlib.sha256(data).hexdigest()
                        photo = self.conn.execute(
                            "INSERT INTO photos(person_id, file_name, sha256, data) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (person_id, file_name) DO NOTHING RETURNING id",
                            (person_id, path.name, digest, data)).fetchone()
                        if photo is None:
                            continue
                        counts["photos"] += 1
                        known = gallery.analysis(digest)
                        if known is not None:
                            embedding, problem = known
                            self.conn.execute("INSERT INTO embeddings(photo_id, model, embedding, problem) "
                                              "VALUES (%s, %s, %s, %s)",
                                              (photo[0], CACHE_FORMAT, _embedding_bytes(embedding), problem))
        if access_log is not None:
            after = 0
            while True:
                batch = access_log.outgoing(FORWARD_BATCH, after_id=after, unforwarded_only=False)
                if not batch:
                    break
                new = _insert_events(self.conn, batch, door)
                counts["events"] += new
                counts["events_there"] += len(batch) - new
                access_log.mark_forwarded([event.id for event in batch])
                after = batch[-1].id
        return counts


def _insert_events(conn, batch, door: str) -> int:
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


# ------------------------------------------------------------------------------------------------ the window
@dataclass(frozen=True)
class SiteLogRow:
    """One decision in a site's log, as the Access log dialog shows it (the fields of events.LogRow, and the door)."""

    id: str  # the event id
    time: float
    track_id: int
    person: str | None
    distance: float | None
    margin: float | None
    decision: Any  # policy.Verdict
    snapshot: bytes | None  # JPEG
    source: str
    details: dict
    door: str


class SiteLog:
    """Every door's access log on the server, read the way the Access log dialog reads an AccessLog (plus doors).
    Each call opens its own connection (the dialog reads on worker threads); errors are SiteError."""

    def __init__(self, url: str):
        self.url = url

    def _admin(self) -> SiteAdmin:
        return SiteAdmin(self.url)

    def flush(self, timeout: float = 2.0) -> bool:
        return True  # the server has what the kiosks have sent; what waits at a kiosk is in its status line

    def recent(self, limit: int | None = 100, person: str | None = None, since: float | None = None,
               until: float | None = None, unknown_only: bool = False, door: str | None = None) -> list[SiteLogRow]:
        from facegate.policy import Verdict

        psycopg = _psycopg()
        try:
            with self._admin() as site:
                rows = site.events(limit, person=person, door=door, since=since, until=until,
                                   unknown_only=unknown_only)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SiteError(f"The site's access log may not be read with {redact(self.url)} "
                            f"({' '.join(str(exc).split())}): connect with a login role in {ADMIN_ROLE}.") from None
        except psycopg.Error as exc:
            raise SiteError(f"The site's access log could not be read: {' '.join(str(exc).split())}") from None
        return [SiteLogRow(r["event_id"], r["time"], r["track_id"], r["person"], r["distance"], r["margin"],
                           Verdict(r["decision"]), None if r["snapshot"] is None else bytes(r["snapshot"]),
                           r["source"], r["details"] or {}, r["door"]) for r in rows]

    def people(self) -> list[str]:
        with self._admin() as site:
            return site.logged_people()

    def doors(self) -> list[str]:
        with self._admin() as site:
            return site.doors()

    def export_csv(self, path, limit: int | None = None, person: str | None = None, since: float | None = None,
                   until: float | None = None, unknown_only: bool = False, door: str | None = None) -> int:
        from facegate.access_log import write_csv

        rows = list(reversed(self.recent(limit, person, since, until, unknown_only, door)))
        return write_csv(path, rows, with_door=True)


def site_gallery(folder: Path, engine, url: str):
    """The window's gallery at a site: the replica folder, whose enroll and remove go to the server first (the
    connection's role must be in facegate_admin; a kiosk role is refused, with that said), then the copy is brought
    up to date at once (the other kiosks hear of it by NOTIFY)."""
    from facegate.errors import GalleryError
    from facegate.gallery import Gallery, validate_name

    class SiteGallery(Gallery):
        def enroll(self, name, photos, allow_new_person=True):
            name = validate_name(name)
            with SiteAdmin(url) as site:
                _, problems = site.enroll(self, name, photos, allow_new_person)
                copy_person(site.conn, self, name)
            return self.photos().get(name, []), problems

        def remove(self, name):
            with SiteAdmin(url) as site:
                photos, _ = site.remove(name)
                copy_person(site.conn, self, name)
            return photos

        def rename(self, old, new):
            raise GalleryError(f"{old!r} was not renamed: renaming is not available for a site's people yet. "
                               "Delete them and enroll them again under the new name.")

        def add_learned_photo(self, name, jpeg, captured, keep):
            raise GalleryError("A site's kiosks do not learn photos (what one door learned would be its own).")

    return SiteGallery(open_replica(folder, url), engine)


# ------------------------------------------------------------------------------------------------ the kiosk
def default_replica_folder() -> Path:
    """Where a site kiosk keeps its copy of the server's people: site-gallery/ in the data folder."""
    from facegate.config import default_data_dir

    return default_data_dir() / "site-gallery"


def open_replica(folder: Path, url: str):
    """The kiosk's replica folder: made (or checked) so that a gallery of one's own is never mirrored over."""
    from facegate.gallery import REPLICA_MARKER
    from facegate.storage import atomic_write_bytes, ensure_private_dir

    folder = Path(folder).expanduser()
    marker = folder / REPLICA_MARKER
    if not marker.is_file():
        people = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
        if people:
            raise SiteError(f"{folder} holds a gallery of its own, and a site kiosk's folder is a copy of the "
                            "server's people (what is not on the server is erased from it). Import it first "
                            "(`facegate site import-folder`), then give the kiosk a new folder.")
        ensure_private_dir(folder)
        atomic_write_bytes(marker, b"A copy of a FaceGate site server's people; it follows the server.\n")
    return folder


@dataclass(frozen=True)
class SiteStatus:
    connected: bool
    offline_since: float | None  # epoch seconds; None while connected (or before the first try)
    waiting: int  # decisions in the local log not yet on the server
    problem: str = ""  # why it is offline (the password never appears)

    def line(self) -> str:
        waiting = f"{self.waiting} event{'s' if self.waiting != 1 else ''} waiting"
        if self.connected:
            return "Site server: connected" + (f", {waiting}" if self.waiting else "")
        if self.offline_since is None:
            return f"Site server: connecting, {waiting}"
        return f"Site server: offline since {time.strftime('%H:%M', time.localtime(self.offline_since))}, {waiting}"


class SiteSync(SessionListener):
    """The kiosk's link to the site server, on a thread of its own: keeps `gallery` (the replica folder) like the
    server's people, forwards `access_log`'s decisions. A SessionListener (pass it in `listeners=`); call
    start() before the session starts. on_change(kind, payload) hears "connected", "offline" and "replica"
    (payload: {"name", "change"}), on the sync thread."""

    def __init__(self, url: str, gallery, access_log, door: str,
                 on_change: Callable[[str, dict], None] | None = None):
        self.url, self.gallery, self.access_log, self.door = url, gallery, access_log, door
        self.on_change = on_change
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._connected = False
        self._offline_since: float | None = None
        self._problem = ""
        self._conn = None
        self._thread = threading.Thread(target=self._run, name="facegate-site-sync", daemon=True)
        self.forwarded = 0

    # ---- SessionListener
    def on_decision(self, decision, result) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # ---- the rest
    def drain(self) -> int:
        """After the session stopped (no more decisions): send what the local log still holds, on a connection of
        its own. Returns how many are left for the next start (0 when the server took everything)."""
        self.access_log.flush()
        if self._thread.is_alive():  # stop() timed out (a slow server): two senders at once would be harmless
            log.warning("The site link did not stop in time; the decisions not sent yet go at the next start.")
            return self.access_log.waiting()
        try:
            with connect(self.url) as conn:
                check_schema(conn, self.url)
                self._forward(conn, final=True)
        except FaceGateError as exc:
            log.warning("Site server unreachable at the end (%s); the decisions not sent yet go at the next start.",
                        exc)
        except _psycopg().Error as exc:
            log.warning("Site server %s failed at the end (%s); the decisions not sent yet go at the next start.",
                        redact(self.url), " ".join(str(exc).split()))
        return self.access_log.waiting()

    def start(self) -> SiteSync:
        self._thread.start()
        return self

    def status(self) -> SiteStatus:
        try:
            waiting = self.access_log.waiting()
        except Exception:  # noqa: BLE001 - the status line must not fail; the log reports its own problems
            waiting = -1
        with self._lock:
            return SiteStatus(self._connected, self._offline_since, waiting, self._problem)

    def _tell(self, kind: str, payload: dict) -> None:
        if self.on_change is not None:
            try:
                self.on_change(kind, payload)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the sync
                log.exception("site: the %s listener failed", kind)

    def _went_offline(self, problem: str) -> None:
        with self._lock:
            was = self._connected or self._offline_since is None
            self._connected = False
            if self._offline_since is None:
                self._offline_since = time.time()
            changed = problem != self._problem
            self._problem = problem
        if was or changed:
            log.warning("Site server offline (%s); the kiosk recognises from its copy and keeps decisions in its "
                        "local log until the server is back.", problem)
            self._tell("offline", {"problem": problem, "waiting": self.status().waiting})

    def _run(self) -> None:
        retry = RETRY_FIRST_S
        psycopg = _psycopg()
        while not self._stop.is_set():
            try:
                self._session()
                retry = RETRY_FIRST_S
            except SiteError as exc:
                self._went_offline(str(exc))
            except psycopg.Error as exc:
                self._went_offline(f"{redact(self.url)}: {' '.join(str(exc).split()) or type(exc).__name__}")
            except Exception as exc:  # noqa: BLE001 - e.g. the replica folder cannot be written: said, retried
                log.exception("site: sync failed")
                self._went_offline(f"{type(exc).__name__}: {exc}")
            finally:
                conn, self._conn = self._conn, None
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        log.debug("site: closing the connection failed", exc_info=True)
            if self._stop.wait(retry):
                break
            retry = min(retry * 2, RETRY_MAX_S)

    def _session(self) -> None:
        """One connection's life: LISTEN, copy everything, then follow notifications and forward decisions."""
        conn = self._conn = connect(self.url, keepalive=True)
        check_schema(conn, self.url)
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")  # before the full copy: a change during it is heard after it
        self._reconcile_all(conn)
        with self._lock:
            self._connected, self._offline_since, self._problem = True, None, ""
        log.info("Site server %s connected", redact(self.url))
        self._forward(conn)
        self._tell("connected", {"waiting": self.status().waiting})
        last_forward = time.monotonic()
        while not self._stop.is_set():
            # notifications that came during the copy or a forward are kept by psycopg (3.3) and come first here
            names = {notify.payload for notify in conn.notifies(timeout=0.2)}
            for name in sorted(names):
                self._reconcile(conn, name)
            if self._wake.is_set() or time.monotonic() - last_forward >= FORWARD_EVERY_S:
                self._wake.clear()
                self._forward(conn)
                last_forward = time.monotonic()

    def _forward(self, conn, final: bool = False) -> None:
        self.access_log.flush(0.5)  # a decision queued a moment ago (an Unknown is logged without waiting) goes too
        while final or not self._stop.is_set():
            batch = self.access_log.outgoing(FORWARD_BATCH)
            if not batch:
                return
            _insert_events(conn, batch, self.door)
            self.access_log.mark_forwarded([event.id for event in batch])  # after the server's commit
            self.forwarded += len(batch)

    def _reconcile_all(self, conn) -> None:
        from facegate.gallery import validate_name

        server = {name for (name,) in conn.execute("SELECT name FROM people")}
        listing = self.gallery.photos()
        changed = []
        for name in sorted(server | set(listing)):
            try:
                validate_name(name)
            except FaceGateError:
                log.error("site: the server's person %r has a name FaceGate cannot store as a folder; left out", name)
                continue
            change = copy_person(conn, self.gallery, name, listing, refresh=False)
            if change == "removed":
                self.access_log.erase_person(name)
            if change is not None:
                changed.append((name, change))
        if changed:
            self.gallery.refresh()  # once, after every person is copied
        if len(changed) > FULL_COPY_NAMED:  # a first copy of a large site: one line, not thousands
            self._tell("replica", {"name": None, "change": "copied", "people": len(changed)})
            return
        for name, change in changed:
            self._tell("replica", {"name": name, "change": change})

    def _reconcile(self, conn, name: str) -> None:
        """Make the replica's `name` like the server's; a person removed there is erased here, log included."""
        began = time.monotonic()
        change = copy_person(conn, self.gallery, name)
        if change == "removed":
            erased = self.access_log.erase_person(name)
            log.info("site: %s was removed at the server; erased here (photos, embeddings, %d log entries)",
                     name, erased)
        if change is not None:
            self._tell("replica", {"name": name, "change": change, "seconds": round(time.monotonic() - began, 3)})


def copy_person(conn, gallery, name: str, listing: dict | None = None, refresh: bool = True) -> str | None:
    """Make `gallery`'s `name` like the server's (copy missing photos with their embeddings, delete others), or
    erase them when the server has no such person. Returns "updated", "removed" or None (nothing changed).
    `listing`: gallery.photos() if the caller has it (a full copy lists the folder once, not once per person);
    refresh=False: the caller refreshes the gallery once after many people."""
    from facegate.gallery import CACHE_FORMAT, Gallery

    rows = conn.execute(
        "SELECT ph.id, ph.file_name, e.embedding, e.problem FROM people p JOIN photos ph ON ph.person_id = p.id "
        "LEFT JOIN embeddings e ON e.photo_id = ph.id AND e.model = %s WHERE p.name = %s",
        (CACHE_FORMAT, name)).fetchall()
    local = (gallery.photos() if listing is None else listing).get(name)
    if not rows:
        if local is None:
            return None
        Gallery.mirror_person(gallery, name, {})
        return "removed"
    local_files = {p.name for p in local or []}
    missing = [row[0] for row in rows if row[1] not in local_files]
    data = dict(conn.execute("SELECT id, data FROM photos WHERE id = ANY(%s)", (missing,)).fetchall()) \
        if missing else {}
    wanted: dict[str, tuple[bytes | None, np.ndarray | None, str]] = {
        file_name: (bytes(data[photo_id]) if photo_id in data else None, _embedding_array(embedding), problem or "")
        for photo_id, file_name, embedding, problem in rows}
    return "updated" if Gallery.mirror_person(gallery, name, wanted, refresh=refresh) else None
