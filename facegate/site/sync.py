"""The kiosk's side of a site (a login role in facegate_kiosk): its replica of the server's people, and SiteSync,
the thread that keeps the replica like the server and forwards the local log's decisions.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facegate.access_log import AccessLog
from facegate.access_plan import AccessPlan, AccessRulesError, format_plan, parse_plan, plan_path_for
from facegate.access_rules import Passages
from facegate.config import default_data_dir
from facegate.errors import FaceGateError, GalleryError
from facegate.gallery import CACHE_FORMAT, REPLICA_MARKER, Gallery, validate_name
from facegate.pipeline import FrameResult
from facegate.policy import Decision
from facegate.session import SessionListener
from facegate.site.access import plan_text
from facegate.site.schema import (
    FORWARD_BATCH,
    NOTIFY_CHANNEL,
    SiteError,
    check_schema,
    connect,
    driver_message,
    embedding_array,
    insert_events,
    psycopg_module,
    redact,
)
from facegate.storage import atomic_write_bytes, ensure_private_dir

if TYPE_CHECKING:  # the driver is imported when a site is used (psycopg_module)
    import psycopg

log = logging.getLogger(__name__)


class SiteEvent(str, enum.Enum):
    """What the site link tells its listener (on_change); its `value` is the word `run --headless` prints."""

    CONNECTED = "connected"  # payload: waiting
    OFFLINE = "offline"  # payload: problem, waiting
    REPLICA = "replica"  # a person copied or erased here; payload: name, change (a ReplicaChange's value)
    DOOR = "door"  # this kiosk's entry in the door registry; payload: login, door (None: none), problem, note
    DOOR_SILENT = "door_silent"  # a door fell silent or is back; payload: door, silent, last_contact, raised_by


class ReplicaChange(str, enum.Enum):
    """What copying one person from the server did to the replica."""

    UPDATED = "updated"  # photos added or deleted
    REMOVED = "removed"  # the server has no such person any more: erased here
    COPIED = "copied"  # many people at once (a first copy), counted rather than named

# Back-off between reconnection attempts: from the first to the last, doubling.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 4.0
# The outbox is also checked this often without a wake-up (an Unknown is logged without waiting for the disk).
FORWARD_EVERY_S = 1.0
# A full comparison (at each connection) that changed more people than this reports them as one count.
FULL_COPY_NAMED = 20
# How often the kiosk beats (its last contact in the door registry), claims doors silent past the bound, and reads
# the people change log even without a hint.
HEARTBEAT_S = 5.0
# A burst of notifications is drained for at most this long before the change log is read: anyone with a login
# may send them, so they are hints, never work items (a flood of 20,000 costs a few reads, not 20,000).
DRAIN_S = 0.05
# How often a kiosk asks the server to erase the people whose access ended longer ago than the plan's retention.
ERASE_EVERY_S = 60.0


@dataclass(frozen=True)
class DoorAlert:
    """A door that fell silent (no heartbeat for longer than the bound; claimed by this kiosk, so raised once for
    the site) or that is back (this kiosk's own door, whose silence had been reported)."""

    door: str
    silent: bool
    last_contact: float | None  # epoch seconds of the door's last heartbeat before the silence
    raised_by: str  # the door (or login) that noticed


def default_replica_folder() -> Path:
    """Where a site kiosk keeps its copy of the server's people: site-gallery/ in the data folder."""
    return default_data_dir() / "site-gallery"


def open_replica(folder: Path, url: str):
    """The kiosk's replica folder: made (or checked) so that a gallery of one's own is never mirrored over."""
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
    problem: str = ""  # why it is offline, or why decisions wait while connected (the password never appears)
    door_note: str = ""  # the door registry names this kiosk otherwise than its door_name (the registry wins)

    def line(self) -> str:
        waiting = f"{self.waiting} event{'s' if self.waiting != 1 else ''} waiting"
        if self.connected:
            if self.problem:  # e.g. no door registered for this login: decisions wait, people still follow
                return f"Site server: connected, {waiting}: {self.problem}"
            return "Site server: connected" + (f", {waiting}" if self.waiting else "") + \
                (f"; {self.door_note}" if self.door_note else "")
        if self.offline_since is None:
            return f"Site server: connecting, {waiting}"
        return f"Site server: offline since {time.strftime('%H:%M', time.localtime(self.offline_since))}, {waiting}"


class SiteSync(SessionListener):
    """The kiosk's link to the site server, on a thread of its own: keeps `gallery` (the replica folder) like the
    server's people, forwards `access_log`'s decisions. A SessionListener (pass it in `listeners=`); call
    start() before the session starts. on_change(kind, payload) hears "connected", "offline" and "replica"
    (payload: {"name", "change"}), "door" and "door_silent", on the sync thread.

    Every `heartbeat_s` it beats (the door registry's last contact for its login's own row) and, with
    `silent_after_s`, claims the doors silent longer than that: each claimed door is told once, for the whole site,
    to on_door_alert (the kiosk's actions: MQTT, webhook) and on_change.

    The site's access plan (facegate/site/access.py) is written, at each connection and each change, as the text
    file beside the replica (`plan_path_for(gallery.folder)`), which the kiosk's AccessPlanFile follows: offline, the
    door keeps the rules it last had. `passages` (anti-passback across doors): every door's last grant of each person
    is merged into it from the server as grants arrive there; offline, this kiosk knows only its own grants (and the
    others' up to the cut). Every `erase_every_s` it asks the server to erase the people whose access ended longer
    ago than the plan's retention (facegate_erase_expired: their removal reaches every replica)."""

    def __init__(self, url: str, gallery: Gallery, access_log: AccessLog, door: str,
                 on_change: Callable[[SiteEvent, dict[str, Any]], None] | None = None, *,
                 silent_after_s: float | None = None, on_door_alert: Callable[[DoorAlert], None] | None = None,
                 heartbeat_s: float = HEARTBEAT_S, passages: Passages | None = None,
                 erase_every_s: float = ERASE_EVERY_S, clock: Callable[[], float] = time.time):
        self.url, self.gallery, self.access_log, self.door = url, gallery, access_log, door
        self.on_change = on_change
        self.silent_after_s, self.on_door_alert, self.heartbeat_s = silent_after_s, on_door_alert, heartbeat_s
        self.passages, self.erase_every_s = passages, erase_every_s
        # the access rules' clock: since when the door has been offline is compared with it (the offline bound)
        self.clock = clock
        self.plan_path = plan_path_for(gallery.folder)
        self._plan_revision: int | None = None  # access_settings.revision of the plan file written here
        self._plan = AccessPlan()  # the plan last read from the server
        self._passage_seq = 0  # the last passages.seq merged
        self._erased_at = float("-inf")  # monotonic time of the last facegate_erase_expired call
        self._applied = 0  # the last people change (people_changes.seq) this replica has applied
        self._registered: str | None = None  # this login's door in the registry
        self._tied = False  # a kiosk login: its rows are its registered door's, and none without one
        self._door_problem = ""
        self._door_note = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._connected = False
        self._offline_since: float | None = None
        self._started = clock()  # a kiosk that never reached the server counts as offline from here
        self._was_connected = False
        self._problem = ""
        self._conn = None
        self._thread = threading.Thread(target=self._run, name="facegate-site-sync", daemon=True)
        self.forwarded = 0
        # People removed at the server whose decisions here could not be sent yet (this login has no door): erased
        # once sent, since one made after the removal is a security event there
        self._erase_when_sent: set[str] = set()

    # ---- SessionListener
    def on_decision(self, decision: Decision, result: FrameResult) -> None:
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
        except psycopg_module().Error as exc:
            log.warning("Site server %s failed at the end (%s); the decisions not sent yet go at the next start.",
                        redact(self.url), driver_message(exc, self.url))
        return self.access_log.waiting()

    def start(self) -> SiteSync:
        self._started = self.clock()
        self._thread.start()
        return self

    def offline_since(self) -> float | None:
        """Since when this kiosk has been without the server (epoch seconds; None while connected): from its
        start when it has not connected since. Cheap (the access rule asks it on the video path)."""
        with self._lock:
            if self._connected:
                return None
            return self._offline_since if self._offline_since is not None else self._started

    def status(self) -> SiteStatus:
        try:
            waiting = self.access_log.waiting()
        except Exception:  # noqa: BLE001 - the status line must not fail; the log reports its own problems
            waiting = -1
        with self._lock:
            problem = self._door_problem if self._connected else self._problem
            return SiteStatus(self._connected, self._offline_since, waiting, problem, self._door_note)

    def _tell(self, kind: SiteEvent, payload: dict[str, Any]) -> None:
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
                self._offline_since = self.clock() if self._was_connected else self._started
            changed = problem != self._problem
            self._problem = problem
        if was or changed:
            log.warning("Site server offline (%s); the kiosk recognises from its copy and keeps decisions in its "
                        "local log until the server is back.", problem)
            self._tell(SiteEvent.OFFLINE, {"problem": problem, "waiting": self.status().waiting})

    def _run(self) -> None:
        retry = RETRY_FIRST_S
        psycopg = psycopg_module()
        while not self._stop.is_set():
            try:
                self._session()
                retry = RETRY_FIRST_S
            except SiteError as exc:
                self._went_offline(str(exc))
            except psycopg.Error as exc:
                self._went_offline(f"{redact(self.url)}: {driver_message(exc, self.url)}")
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
        # the change log's end before the full copy: a change committed during it is read again after it
        self._applied = conn.execute("SELECT coalesce(max(seq), 0) FROM people_changes").fetchone()[0]
        self._beat(conn)  # before anything is forwarded: this login's door (none: its decisions wait)
        self._follow_plan(conn)
        self._erase_expired(conn)
        self._reconcile_all(conn)  # sends what waits before it erases anyone removed meanwhile
        self._merge_passages(conn, everything=True)
        with self._lock:
            self._connected, self._offline_since, self._problem = True, None, ""
            self._was_connected = True
        log.info("Site server %s connected", redact(self.url))
        self._forward(conn)
        self._tell(SiteEvent.CONNECTED, {"waiting": self.status().waiting})
        last_forward = last_beat = time.monotonic()
        while not self._stop.is_set():
            if self._hinted(conn):
                self._apply_changes(conn)
                self._follow_plan(conn)
                self._merge_passages(conn)
            if self._wake.is_set() or time.monotonic() - last_forward >= FORWARD_EVERY_S:
                self._wake.clear()
                self._forward(conn)
                last_forward = time.monotonic()
            if time.monotonic() - last_beat >= self.heartbeat_s:
                last_beat = time.monotonic()
                self._beat(conn)
                self._apply_changes(conn)  # a lost hint costs at most one heartbeat
                self._follow_plan(conn)
                self._merge_passages(conn, everything=True)
                self._claim_silent_doors(conn)
                if time.monotonic() - self._erased_at >= self.erase_every_s:
                    self._erase_expired(conn)

    @staticmethod
    def _hinted(conn) -> bool:
        """Whether a notification came within 0.2 s. Those waiting behind it are drained (at most DRAIN_S)
        without reading their payloads: notifications only say "read the change log"."""
        # notifications that came during a query are kept by psycopg (3.3) and come first here
        if not _count(conn.notifies(timeout=0.2, stop_after=1)):
            return False
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and _count(conn.notifies(timeout=0)):
            pass  # each call takes all psycopg holds, then what the socket has now
        return True

    def _apply_changes(self, conn) -> None:
        """The people changed since the last change applied here, each copied or erased once (one query)."""
        rows = conn.execute("SELECT seq, name FROM people_changes WHERE seq > %s ORDER BY seq",
                            (self._applied,)).fetchall()
        for name in filter(_storable, dict.fromkeys(name for _, name in rows)):
            self._reconcile(conn, name)
        if rows:
            self._applied = rows[-1][0]

    def _follow_plan(self, conn) -> None:
        """When the site's access plan changed since this kiosk wrote its copy: write it again (atomic, private).
        Tables that do not read as a plan are written as they are: the door's AccessPlanFile then keeps the rules
        it had (or refuses everyone) and says which line is wrong."""
        revision = conn.execute("SELECT revision FROM access_settings").fetchone()[0]
        if revision == self._plan_revision and self.plan_path.is_file():
            return
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                revision = conn.execute("SELECT revision FROM access_settings").fetchone()[0]
                text = plan_text(conn)
        except AccessRulesError as exc:  # a name the text cannot hold: the tables were written by hand
            log.error("site: the server's access rules cannot be copied (%s); this door keeps the rules it had", exc)
            self._plan_revision = revision
            return
        try:
            self._plan = parse_plan(text, str(self.plan_path))
            text = format_plan(self._plan)
        except AccessRulesError as exc:
            log.error("site: the server's access rules cannot be read (%s); this door keeps the rules it had", exc)
        data = text.encode("utf-8")
        try:
            unchanged = self.plan_path.read_bytes() == data
        except OSError:
            unchanged = False
        if not unchanged:
            atomic_write_bytes(self.plan_path, data)
            log.info("site: the access rules changed at the server (revision %d); written to %s", revision,
                     self.plan_path)
        self._plan_revision = revision

    def _merge_passages(self, conn, everything: bool = False) -> None:
        """Every door's grants the server has and this kiosk has not merged yet. everything: also those within the
        plan's longest passback reset (a grant whose number came before one already read, committed later)."""
        if self.passages is None:
            return
        rows = conn.execute("SELECT person, door, granted_at, seq FROM passages WHERE seq > %s ORDER BY seq",
                            (self._passage_seq,)).fetchall()
        reset = self._plan.longest_passback_reset_s
        if everything and reset > 0:
            rows += conn.execute("SELECT person, door, granted_at, seq FROM passages WHERE granted_at >= %s",
                                 (self.clock() - reset,)).fetchall()
        self.passages.merge((person, door, float(when)) for person, door, when, _ in rows)
        self._passage_seq = max([self._passage_seq, *(seq for *_, seq in rows)])

    def _erase_expired(self, conn) -> None:
        """Ask the server to erase whoever's access ended longer ago than the retention (by the server's clock, in
        the plan's time zone). Their removal comes back through the change log."""
        self._erased_at = time.monotonic()
        try:
            rows = conn.execute("SELECT name FROM facegate_erase_expired() AS name").fetchall()
        except psycopg_module().errors.DataException as exc:  # e.g. a time zone the server does not know
            log.error("site: the server could not erase the people whose access ended: %s; tried again in %g s",
                      driver_message(exc, self.url), self.erase_every_s)
            return
        for (name,) in rows:
            log.info("site: erased %s at the server: their access ended longer ago than the plan's retention", name)

    def _beat(self, conn) -> None:
        """This door's heartbeat; notes what the door registry says of this login (its door, or none)."""
        login, registered, tied, was_silent = conn.execute(
            "SELECT login, registered_door, tied, was_silent_since FROM facegate_door_heartbeat()").fetchone()
        problem = note = ""
        if registered is None and tied:
            problem = (f"the login {login} has no door in the site's door registry; decisions wait here until an "
                       f"administrator runs: facegate site door add {login} \"{self.door}\"")
        elif registered is not None and registered != self.door:
            note = f"this kiosk is {registered!r} in the site's door registry (door_name says {self.door!r})"
        with self._lock:
            changed = (registered, problem, note) != (self._registered, self._door_problem, self._door_note)
            self._registered, self._tied, self._door_problem, self._door_note = registered, tied, problem, note
        if changed:
            if problem or note:
                log.warning("site: %s", problem or note)
            self._tell(SiteEvent.DOOR, {"login": login, "door": registered, "problem": problem, "note": note})
        if was_silent is not None and registered is not None:
            log.info("site: this door (%s) is back; its silence had been reported at %s", registered,
                     time.strftime("%H:%M:%S", time.localtime(was_silent.timestamp())))
            self._door_alert(DoorAlert(registered, False, time.time(), registered))

    def _claim_silent_doors(self, conn) -> None:
        """Doors silent past the bound, claimed here (each once for the whole site) and told."""
        if not self.silent_after_s:
            return
        bound = max(float(self.silent_after_s), 2 * self.heartbeat_s)  # never shorter than two heartbeats
        for alert in claim_silent_doors(conn, bound, self._registered or self.door):
            self._door_alert(alert)

    def _door_alert(self, alert: DoorAlert) -> None:
        if self.on_door_alert is not None:
            try:
                self.on_door_alert(alert)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the sync
                log.exception("site: the door alert listener failed")
        self._tell(SiteEvent.DOOR_SILENT, {"door": alert.door, "silent": alert.silent,
                                           "last_contact": alert.last_contact, "raised_by": alert.raised_by})

    def _forward(self, conn, final: bool = False) -> None:
        self.access_log.flush(0.5)  # a decision queued a moment ago (an Unknown is logged without waiting) goes too
        if self._tied and self._registered is None:
            return  # the server would refuse them: they wait here (the status line says what to do)
        while final or not self._stop.is_set():
            batch = self.access_log.outgoing(FORWARD_BATCH)
            if not batch:
                for name in sorted(self._erase_when_sent):  # everything is on the server now
                    self._erase_removed(name)
                return
            insert_events(conn, batch, self._registered or self.door)  # a kiosk login's rows: its door, whatever
            self.access_log.mark_forwarded([event.id for event in batch])  # after the server's commit
            self.forwarded += len(batch)

    def _erase_removed(self, name: str) -> int:
        """Erase a person the server removed from the local log, but for decisions not sent yet (they wait, and
        are erased once sent). Returns the rows erased."""
        erased = self.access_log.erase_person(name, keep_unsent=True)
        if self.access_log.waiting(name):
            self._erase_when_sent.add(name)
        else:
            self._erase_when_sent.discard(name)
        return erased

    def _reconcile_all(self, conn) -> None:
        server = {name for (name,) in conn.execute("SELECT name FROM people")}
        listing = self.gallery.photos()
        changed = []
        for name in filter(_storable, sorted(server | set(listing))):
            change = copy_person(conn, self.gallery, name, listing, refresh=False)
            if change is not None:
                changed.append((name, change))
        if changed:
            self.gallery.refresh()  # once, after every person is copied
        removed = [name for name, change in changed if change is ReplicaChange.REMOVED]
        # rows of someone the server no longer has, whose erasure here an outage interrupted (after the copy forgot
        # them, before the log was sent), are erased now
        removed += sorted(set(self.access_log.people()) - server - set(removed))
        if removed:
            # What was decided until the copy forgot them reaches the server first: it keeps a decision made after
            # the removal as a security event, and drops those from before it (the erasure holds).
            self._forward(conn, final=True)
            for name in removed:
                self._erase_removed(name)
        if len(changed) > FULL_COPY_NAMED:  # a first copy of a large site: one line, not thousands
            self._tell(SiteEvent.REPLICA, {"name": None, "change": ReplicaChange.COPIED.value, "people": len(changed)})
            return
        for name, change in changed:
            self._tell(SiteEvent.REPLICA, {"name": name, "change": change.value})

    def _reconcile(self, conn, name: str) -> None:
        """Make the replica's `name` like the server's; a person removed there is erased here, log included."""
        began = time.monotonic()
        change = copy_person(conn, self.gallery, name)
        if change is ReplicaChange.REMOVED:
            if self.passages is not None:
                self.passages.forget(name)
            self._forward(conn, final=True)  # first: a decision made after the removal is a security event there
            erased = self._erase_removed(name)
            log.info("site: %s was removed at the server; erased here (photos, embeddings, %d log entries)",
                     name, erased)
        if change is not None:
            self._tell(SiteEvent.REPLICA, {"name": name, "change": change.value,
                                           "seconds": round(time.monotonic() - began, 3)})


def _storable(name: str) -> bool:
    """Whether the server's person `name` can be a folder of the replica (said in the log when not: left out)."""
    try:
        validate_name(name)
    except FaceGateError:
        log.error("site: the server's person %r has a name FaceGate cannot store as a folder; left out", name)
        return False
    return True


def claim_silent_doors(conn, bound_s: float, raised_by: str) -> list[DoorAlert]:
    """The doors (other than this login's) silent longer than `bound_s`, claimed by this caller: of every caller
    at once, each door goes to one, and the server logs it (door_alerts). Warned in the app's log too."""
    alerts = []
    for door, last_contact in conn.execute("SELECT silent_door, last_contact_at FROM facegate_claim_silent_doors(%s)",
                                           (float(bound_s),)).fetchall():
        log.warning("site: the door %s has not been heard from since %s (more than %g s)", door,
                    time.strftime("%H:%M:%S", time.localtime(last_contact.timestamp())), bound_s)
        alerts.append(DoorAlert(door, True, last_contact.timestamp(), raised_by))
    return alerts


def _count(items: Iterable[object]) -> int:
    return sum(1 for _ in items)


def copy_person(conn: psycopg.Connection, gallery: Gallery, name: str, listing: dict[str, list[Path]] | None = None,
                refresh: bool = True) -> ReplicaChange | None:
    """Make `gallery`'s `name` like the server's (copy missing photos with their embeddings, delete others), or
    erase them when the server has no such person. Returns what changed, or None (nothing).
    `listing`: gallery.photos() if the caller has it (a full copy lists the folder once, not once per person);
    refresh=False: the caller refreshes the gallery once after many people."""
    rows = conn.execute(
        "SELECT ph.id, ph.file_name, e.embedding, e.problem FROM people p JOIN photos ph ON ph.person_id = p.id "
        "LEFT JOIN embeddings e ON e.photo_id = ph.id AND e.model = %s WHERE p.name = %s",
        (CACHE_FORMAT, name)).fetchall()
    local = (gallery.photos() if listing is None else listing).get(name)
    if not rows:
        if local is None:
            return None
        try:
            Gallery.mirror_person(gallery, name, {})
        except GalleryError:
            if name in gallery.photos():
                raise
            # erased meanwhile by another thread: the window's own removal and the sync link, hearing of it at
            # once, race for the same folder; either way the person is gone here
        return ReplicaChange.REMOVED
    local_files = {p.name for p in local or []}
    missing = [row[0] for row in rows if row[1] not in local_files]
    data: dict[int, bytes] = dict(conn.execute("SELECT id, data FROM photos WHERE id = ANY(%s)",
                                               (missing,)).fetchall()) if missing else {}
    wanted: dict[str, tuple[bytes | None, np.ndarray | None, str]] = {
        file_name: (bytes(data[photo_id]) if photo_id in data else None, embedding_array(embedding), problem or "")
        for photo_id, file_name, embedding, problem in rows}
    return ReplicaChange.UPDATED if Gallery.mirror_person(gallery, name, wanted, refresh=refresh) else None
