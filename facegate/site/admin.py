"""The administrator's side of a site (a login role in facegate_admin): enroll and remove people, import a
kiosk's folder and log, read every door's log; and the window's gallery at a site (SiteGallery), whose changes go
to the server first.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facegate.access_log import write_csv
from facegate.errors import GalleryError
from facegate.gallery import CACHE_FORMAT, Gallery, PhotoProblem, check_enrollment_name, validate_name
from facegate.imageio import is_image_name
from facegate.policy import Verdict
from facegate.site.schema import (
    ADMIN_ROLE,
    AFTER_REMOVAL,
    FORWARD_BATCH,
    KIOSK_ROLE,
    SiteError,
    check_schema,
    connect,
    driver_message,
    embedding_bytes,
    insert_events,
    psycopg_module,
    redact,
)
from facegate.site.sync import copy_person, open_replica
from facegate.vision.engine import FaceEngine


def security_event_words(decision: str, time_of_decision: float, details: dict) -> str:
    """ "granted after removal at 10:42; the door was offline since 10:40" for a security event (a door decided
    about someone after their removal at the server), else "" (an ordinary row)."""
    marked = details.get(AFTER_REMOVAL)
    if not isinstance(marked, dict) or marked.get("removed_at") is None:
        return ""

    def clock(epoch: float) -> str:  # the day too, when it was not the decision's day
        same_day = time.localtime(epoch)[:3] == time.localtime(time_of_decision)[:3]
        return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.localtime(epoch))

    words = f"{decision} after removal at {clock(float(marked['removed_at']))}"
    if marked.get("offline_since") is not None:
        words += f"; the door was offline since {clock(float(marked['offline_since']))}"
    return words


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
        return SiteError(f"The site server {redact(self.url)} refused to {what}: {driver_message(exc, self.url)}. "
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
        psycopg = psycopg_module()
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
                                      "VALUES (%s, %s, %s, '')", (photo[0], CACHE_FORMAT, embedding_bytes(embedding)))
                    stored += 1
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"enroll {name!r}") from None
        return stored, problems

    def remove(self, name: str) -> tuple[int, int]:
        """Erase `name` from the site: their photos and embeddings, and every door's events about them with
        their snapshots, except security events (decisions a door made after an earlier removal of theirs: they
        follow SECURITY_SNAPSHOT_DAYS). Every kiosk erases its own copies when it hears of it; the server keeps a
        tombstone (the name, when enrolled, when removed). Returns (photos, events)."""
        psycopg = psycopg_module()
        try:
            with self.conn.transaction():
                row = self.conn.execute("SELECT id FROM people WHERE name = %s FOR UPDATE", (name,)).fetchone()
                if row is None:
                    raise GalleryError(f"{name!r} is not enrolled on the site server.")
                photos = self.conn.execute("SELECT count(*) FROM photos WHERE person_id = %s", (row[0],)).fetchone()[0]
                self.conn.execute("DELETE FROM people WHERE id = %s", (row[0],))
                events = self.conn.execute(f"DELETE FROM events WHERE person = %s AND NOT details ? '{AFTER_REMOVAL}'",
                                           (name,)).rowcount
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"remove {name!r}") from None
        return int(photos), int(events)

    def events(self, limit: int | None = 100, person: str | None = None, door: str | None = None,
               since: float | None = None, until: float | None = None, unknown_only: bool = False) -> list[dict]:
        """Every door's decisions, newest first (dicts: event_id, door, time, person, decision, snapshot (JPEG
        bytes or None), ...). A security event's details hold AFTER_REMOVAL (security_event_words says it);
        their snapshots past SECURITY_SNAPSHOT_DAYS are deleted first."""
        self.conn.execute("SELECT facegate_expire_security_snapshots()")
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

    # ---- the door registry: which kiosk login writes which door's rows (README, Several doors)
    def add_door(self, login: str, door: str) -> None:
        """Tie the kiosk login `login` to `door`: its decisions go into the log as that door's, whatever it sends.
        Again for a login already there: its door is renamed (its earlier rows keep their door)."""
        psycopg = psycopg_module()
        door = " ".join((door or "").split())
        if not door or len(door) > 100 or any(ord(c) < 32 for c in door):
            raise SiteError(f"{door!r} is not a door name: give one line of at most 100 characters, e.g. "
                            "\"Front door\".")
        row = self.conn.execute("SELECT pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                                (KIOSK_ROLE, login)).fetchone()
        if row is None:
            raise SiteError(f"There is no login role {login!r} on the site server: create it (CREATE ROLE {login} "
                            f"LOGIN PASSWORD '...'; GRANT {KIOSK_ROLE} TO {login}), then add its door.")
        if not row[0]:
            raise SiteError(f"{login!r} is not a kiosk login: GRANT {KIOSK_ROLE} TO {login} first (README, Several "
                            "doors).")
        try:
            with self.conn.transaction():
                taken = self.conn.execute("SELECT login FROM doors WHERE lower(door) = lower(%s) AND login <> %s",
                                          (door, login)).fetchone()
                if taken is not None:
                    raise SiteError(f"The door {door!r} is already {taken[0]}'s: each door has one kiosk login "
                                    f"(remove it first: facegate site door remove {taken[0]}).")
                self.conn.execute("INSERT INTO doors(login, door) VALUES (%s, %s) ON CONFLICT (login) DO UPDATE "
                                  "SET door = EXCLUDED.door", (login, door))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"register the door {door!r}") from None

    def remove_door(self, login: str) -> str:
        """Untie `login` from its door (it can write no row until it has one again). Returns the door it had."""
        psycopg = psycopg_module()
        try:
            row = self.conn.execute("DELETE FROM doors WHERE login = %s RETURNING door", (login,)).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self._refused(exc, f"remove {login}'s door") from None
        if row is None:
            raise SiteError(f"{login!r} has no door in the site's door registry (facegate site door list).")
        return str(row[0])

    def door_registry(self) -> list[dict]:
        """Each kiosk login with its door, last contact and silence (epoch seconds or None), by door."""
        rows = self.conn.execute("SELECT login, door, extract(epoch FROM last_contact)::float8, "
                                 "extract(epoch FROM silent_since)::float8 FROM doors ORDER BY lower(door)")
        return [dict(zip(("login", "door", "last_contact", "silent_since"), row, strict=True)) for row in rows]

    def door_alerts(self, limit: int = 50) -> list[dict]:
        """The server's log of doors that fell silent and came back, newest first."""
        rows = self.conn.execute("SELECT extract(epoch FROM at)::float8, door, kind, "
                                 "extract(epoch FROM last_contact)::float8, raised_by FROM door_alerts "
                                 "ORDER BY id DESC LIMIT %s", (int(limit),))
        return [dict(zip(("at", "door", "kind", "last_contact", "raised_by"), row, strict=True)) for row in rows]

    def import_folder(self, gallery, access_log, door: str) -> dict[str, int]:
        """Copy a gallery folder (every photo file, with the embeddings its cache holds) and an access log (every
        row with its snapshot, under `door`) to the site. The folder and the log are left as they were; running it
        again adds nothing twice. Returns counts: people, photos, events (new on the server) and events_there."""
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
                                              (photo[0], CACHE_FORMAT, embedding_bytes(embedding), problem))
        if access_log is not None:
            after = 0
            while True:
                batch = access_log.outgoing(FORWARD_BATCH, after_id=after, unforwarded_only=False)
                if not batch:
                    break
                new = insert_events(self.conn, batch, door)
                counts["events"] += new
                counts["events_there"] += len(batch) - new
                access_log.mark_forwarded([event.id for event in batch])
                after = batch[-1].id
        return counts


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
        psycopg = psycopg_module()
        try:
            with self._admin() as site:
                rows = site.events(limit, person=person, door=door, since=since, until=until,
                                   unknown_only=unknown_only)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SiteError(f"The site's access log may not be read with {redact(self.url)} "
                            f"({driver_message(exc, self.url)}): connect with a login role in {ADMIN_ROLE}.") from None
        except psycopg.Error as exc:
            raise SiteError(f"The site's access log could not be read: {driver_message(exc, self.url)}") from None
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
        rows = list(reversed(self.recent(limit, person, since, until, unknown_only, door)))
        return write_csv(path, rows, with_door=True)


class SiteGallery(Gallery):
    """The window's gallery at a site: the replica folder, whose enroll and remove go to the server first (the
    connection's role must be in facegate_admin; a kiosk role is refused, with that said), then the copy is brought
    up to date at once (the other kiosks hear of it by NOTIFY)."""

    def __init__(self, folder: Path, engine: FaceEngine, url: str):
        super().__init__(open_replica(folder, url), engine)
        self.url = url

    def enroll(self, name: str, photos: list, allow_new_person: bool = True
               ) -> tuple[list[Path], list[PhotoProblem]]:
        name = validate_name(name)
        with SiteAdmin(self.url) as site:
            _, problems = site.enroll(self, name, photos, allow_new_person)
            copy_person(site.conn, self, name)
        return self.photos().get(name, []), problems

    def remove(self, name: str) -> int:
        with SiteAdmin(self.url) as site:
            photos, _ = site.remove(name)
            copy_person(site.conn, self, name)
        return photos

    def rename(self, old: str, new: str) -> None:
        raise GalleryError(f"{old!r} was not renamed: renaming is not available for a site's people yet. "
                           "Delete them and enroll them again under the new name.")

    def add_learned_photo(self, name: str, jpeg: bytes, captured: float, keep: int) -> Path:
        raise GalleryError("A site's kiosks do not learn photos (what one door learned would be its own).")
