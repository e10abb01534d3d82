"""A site with several doors on a real PostgreSQL server (started here, in a temp folder), with real kiosks:
`facegate run --headless` processes on the real clip, and the CLI. Nothing is mocked."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from facegate_dev.pgserver import TempPostgres, find_bin_dir

psycopg = pytest.importorskip("psycopg")

CLIP = "short_hamilton_clip.mp4"
LIN = "Lin-Manuel Miranda"
PROPAGATION_S = 2.0


@pytest.fixture(scope="session")
def pg():
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl): scripts/install.sh --test installs it")
    server = TempPostgres().start()
    yield server
    server.close()


_sites = iter(range(1, 1000))


def new_site(server: TempPostgres, name: str, enroll_lin_from: Path | None = None,
             doors: bool = True) -> dict[str, str]:
    """A fresh site database on `server`, initialised, with owner, admin and two kiosk logins (their URLs), the
    kiosk logins registered as the doors "front" and "side" unless doors=False; with Lin-Manuel Miranda enrolled
    from `enroll_lin_from` (the clips folder) when given."""
    from facegate.gallery import Gallery
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import init_site

    urls = server.create_site(name)
    init_site(urls["owner"])
    server.grant_roles(name)
    if doors:
        with SiteAdmin(urls["admin"]) as admin:
            admin.add_door(f"{name}_kiosk", "front")
            admin.add_door(f"{name}_kiosk2", "side")
    if enroll_lin_from is not None:
        with SiteAdmin(urls["admin"]) as admin, tempfile.TemporaryDirectory() as unused:
            admin.enroll(Gallery(unused), LIN, [enroll_lin_from / "lin-manuel-miranda.png"])
    return urls


@pytest.fixture()
def site(pg):
    """A fresh site database, initialised, with owner, admin and two kiosk logins."""
    return new_site(pg, f"site{next(_sites)}")


def facegate(*args, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACEGATE_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "facegate", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


class Kiosk:
    """A `facegate run --headless` process on the looped clip; its JSON lines kept with their arrival times."""

    def __init__(self, folder: Path, url: str, clip: Path, door: str, settings: dict | None = None):
        self.folder, self.door = folder, door
        self.lines: list[tuple[float, dict]] = []
        self.log_dir = folder / "log"
        self.replica = folder / "replica"
        if settings:  # saved settings the command line has no option for
            (folder / "home").mkdir(parents=True, exist_ok=True)
            (folder / "home" / "config.json").write_text(json.dumps(settings))
        env = dict(os.environ, FACEGATE_HOME=str(folder / "home"), TF_CPP_MIN_LOG_LEVEL="2")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "facegate", "--database", url, "run", "--headless", "--no-speech", "--liveness",
             "off", "--loop", "--source", str(clip), "--gallery", str(self.replica), "--log-dir", str(self.log_dir),
             "--door", door], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.append((time.time(), json.loads(line)))

    def wait_for(self, test, timeout: float, after: float = 0.0) -> float:
        """Arrival time of the first line after `after` that passes `test`; fails after `timeout`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for when, line in list(self.lines):
                if when >= after and test(line):
                    return when
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"kiosk {self.door}: no such line in {timeout} s; last lines "
                             f"{[line for _, line in self.lines[-8:]]}; stderr {''.join(self.stderr)[-2000:]}")

    def decisions(self, after: float = 0.0) -> list[tuple[float, dict]]:
        return [(when, line) for when, line in self.lines if line["type"] == "decision" and when >= after]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def local_event_ids(self) -> list[str]:
        import sqlite3

        conn = sqlite3.connect(self.log_dir / "access.sqlite3")
        try:
            return [row[0] for row in conn.execute("SELECT event_id FROM decisions ORDER BY id")]
        finally:
            conn.close()


def connected(line: dict) -> bool:
    return line["type"] == "site" and line["event"] == "connected"


def server_events(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT event_id::text, door, person, decision, snapshot IS NOT NULL "
                            "FROM events").fetchall()


# ------------------------------------------------------------------------------------------ set-up and errors
def test_site_init_is_versioned_and_a_newer_schema_is_refused(pg, site, tmp_path):
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import SCHEMA_VERSION, SiteError, init_site

    assert init_site(site["owner"]) == (SCHEMA_VERSION, SCHEMA_VERSION)  # again: nothing to do
    result = facegate("--database", site["owner"], "site", "init", home=tmp_path)
    assert result.returncode == 0 and "up to date" in result.stdout and "owner-pw" not in result.stdout + result.stderr
    with psycopg.connect(site["owner"], autocommit=True) as conn:
        conn.execute("INSERT INTO facegate_schema(version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SiteError, match="newer than this FaceGate"):
        SiteAdmin(site["admin"])
    with pytest.raises(SiteError, match="newer than this FaceGate"):
        init_site(site["owner"])


def test_bad_url_wrong_password_and_server_down_say_what_to_do_without_the_password(pg, site, tmp_path):
    wrong = site["admin"].replace("admin-pw", "not-the-pw")
    result = facegate("--database", wrong, "gallery", "list", home=tmp_path)
    assert result.returncode == 2 and "password" in result.stderr and "not-the-pw" not in result.stderr
    assert "***" in result.stderr

    down = f"postgresql://someone:s3cret@127.0.0.1:{pg.port + 1}/nowhere"
    result = facegate("--database", down, "gallery", "list", home=tmp_path)
    assert result.returncode == 2 and "Is the server running" in result.stderr and "s3cret" not in result.stderr

    result = facegate("--database", "bogus_option=1 password=hunter2", "gallery", "list", home=tmp_path)
    assert result.returncode == 2 and "not a PostgreSQL connection URL" in result.stderr
    assert "hunter2" not in result.stderr


def test_the_kiosk_role_reads_people_writes_events_and_cannot_delete_people(site, tmp_path):
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import SiteError

    with psycopg.connect(site["admin"], autocommit=True) as admin:
        admin.execute("INSERT INTO people(name) VALUES ('Ann')")
    with SiteAdmin(site["kiosk"]) as kiosk:
        assert kiosk.people() == {"Ann": 0}  # it may read people
        with pytest.raises(SiteError, match="refused to remove"):
            kiosk.remove("Ann")
    with psycopg.connect(site["kiosk"], autocommit=True) as conn:
        for forbidden in ("DELETE FROM people", "UPDATE people SET name = 'Bob'", "DELETE FROM photos",
                          "SELECT * FROM events", "DELETE FROM events", "INSERT INTO people(name) VALUES ('Eve')",
                          "CREATE TABLE kiosk_settings(x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
        conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision) "
                     "VALUES (gen_random_uuid(), 'front', 1.0, 1, 'Ann', 'granted') ON CONFLICT (event_id) DO NOTHING")
        # an event naming someone the site does not have (erased while this kiosk was offline) is dropped
        conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision) "
                     "VALUES (gen_random_uuid(), 'front', 2.0, 2, 'Gone', 'granted')")
    with SiteAdmin(site["admin"]) as admin_site:
        assert admin_site.people() == {"Ann": 0}
        assert [(e["person"], e["door"]) for e in admin_site.events()] == [("Ann", "front")]


def test_import_folder_copies_gallery_and_log_losing_nothing(site, people_gallery, engine, tmp_path):
    from facegate.access_log import AccessEvent, AccessLog
    from facegate.gallery import Gallery
    from facegate.site.admin import SiteAdmin

    gallery = Gallery(people_gallery, engine)
    gallery.refresh()
    files = {(name, p.name): p.read_bytes() for name, paths in gallery.photos().items() for p in paths}
    with AccessLog(tmp_path / "log") as access_log:
        for i, person in enumerate([LIN, None, "Somebody Removed Since"]):
            access_log.record(AccessEvent(1000.0 + i, i, person, 0.3, 0.1, "granted" if person else "unknown",
                                          "cam", {"n": i}, np.full((20, 20, 3), 40 * i, np.uint8)))
        access_log.flush()
        local = {row.id: row for row in access_log.recent(None)}
        with SiteAdmin(site["admin"]) as admin:
            counts = admin.import_folder(gallery, access_log, "front desk")
            assert counts == {"people": len(gallery.photos()), "photos": len(files), "events": 3, "events_there": 0}
            again = admin.import_folder(gallery, access_log, "front desk")
            assert again == {"people": 0, "photos": 0, "events": 0, "events_there": 3}
            events = admin.events(None)
        with psycopg.connect(site["admin"]) as conn:
            stored = {(n, f): bytes(d) for n, f, d in conn.execute(
                "SELECT p.name, ph.file_name, ph.data FROM photos ph JOIN people p ON p.id = ph.person_id")}
            embedded = conn.execute("SELECT count(*) FROM embeddings WHERE embedding IS NOT NULL").fetchone()[0]
            snapshots = {row[0]: bytes(row[1]) for row in conn.execute("SELECT event_id::text, snapshot FROM events")}
        assert stored == files  # every photo file, byte for byte
        assert embedded == sum(gallery.photo_count(name) for name in gallery.people)
        assert sorted((e["person"] or "", e["door"]) for e in events) == sorted(
            (row.person or "", "front desk") for row in local.values())
        for event_id, data in snapshots.items():
            [row] = [r for r in access_log.outgoing(10, unforwarded_only=False) if r.event_id == event_id]
            assert data == row.snapshot
        assert access_log.waiting() == 0  # on the server: a kiosk on this log would not send them again
    assert sorted(p.name for p in people_gallery.iterdir() if not p.name.startswith(".")) == \
        sorted({name if (people_gallery / name).is_dir() else f"{name}.png" for name, _ in files})  # left as it was


# ------------------------------------------------------------------------------------------ kiosks
def test_two_kiosks_enroll_at_one_is_granted_at_the_other_and_removal_stops_it_everywhere(site, clips, tmp_path):
    kiosks = [Kiosk(tmp_path / door, site[login], clips / CLIP, door)
              for door, login in (("front", "kiosk"), ("side", "kiosk2"))]
    try:
        for kiosk in kiosks:
            kiosk.wait_for(connected, 240)
        result = facegate("--database", site["admin"], "enroll", "--name", LIN, clips / "lin-manuel-miranda.png",
                          home=tmp_path / "admin")
        enrolled = time.time()
        assert result.returncode == 0, result.stderr
        for kiosk in kiosks:  # every kiosk has the new person within 2 s
            copied = kiosk.wait_for(lambda line: line["type"] == "site" and line["event"] == "replica"
                                    and line["name"] == LIN and line["change"] == "updated", 30)
            assert copied - enrolled <= PROPAGATION_S, f"{kiosk.door}: {copied - enrolled:.2f} s"
        # ... and the other door grants them (the clip is looped: Lin-Manuel Miranda is on screen every 9 s)
        side = kiosks[1]
        side.wait_for(lambda line: line["type"] == "decision" and line["decision"] == "granted"
                      and line["name"] == LIN, 60, after=enrolled)
        deadline = time.time() + 10
        while time.time() < deadline and not any(e[2] == LIN and e[1] == "side" for e in server_events(site["owner"])):
            time.sleep(0.2)
        assert any(e[2] == LIN and e[1] == "side" and e[3] == "granted" and e[4] for e in server_events(site["owner"]))

        result = facegate("--database", site["admin"], "gallery", "remove", LIN, "--yes", home=tmp_path / "admin")
        removed = time.time()
        assert result.returncode == 0, result.stderr
        for kiosk in kiosks:
            gone = kiosk.wait_for(lambda line: line["type"] == "site" and line["event"] == "replica"
                                  and line["name"] == LIN and line["change"] == "removed", 30)
            assert gone - removed <= PROPAGATION_S, f"{kiosk.door}: {gone - removed:.2f} s"
        time.sleep(12)  # more than a loop of the clip: Lin-Manuel Miranda is in view again meanwhile
        for kiosk in kiosks:
            late = [line for when, line in kiosk.decisions(after=removed + PROPAGATION_S)
                    if line["decision"] == "granted"]
            assert late == [], f"{kiosk.door} granted after the removal: {late}"
            assert any(line["name"] is None for _, line in kiosk.decisions(after=removed + PROPAGATION_S))
    finally:
        for kiosk in kiosks:
            kiosk.stop()
    for kiosk in kiosks:  # erased everywhere: the server, each replica, each local log
        assert not (kiosk.replica / LIN).exists()
        import sqlite3

        conn = sqlite3.connect(kiosk.log_dir / "access.sqlite3")
        assert conn.execute("SELECT count(*) FROM decisions WHERE person = ?", (LIN,)).fetchone()[0] == 0
        conn.close()
    assert not [e for e in server_events(site["owner"]) if e[2] == LIN]
    with psycopg.connect(site["owner"]) as conn:
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 0


def test_server_stopped_mid_run_every_decision_reaches_it_exactly_once(clips, tmp_path):
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl): scripts/install.sh --test installs it")
    server = TempPostgres().start()  # a server of its own: it is stopped mid-run
    try:
        urls = new_site(server, "outage", enroll_lin_from=clips)
        kiosk = Kiosk(tmp_path / "front", urls["kiosk"], clips / CLIP, "front")
        try:
            kiosk.wait_for(connected, 240)
            kiosk.wait_for(lambda line: line["type"] == "decision", 60)
            server.stop("immediate")  # as a crash or a power cut at the server
            stopped = time.time()
            kiosk.wait_for(lambda line: line["type"] == "site" and line["event"] == "offline", 30)
            kiosk.wait_for(lambda line: line["type"] == "decision" and line["decision"] == "granted", 60,
                           after=stopped)  # the door still works, from the replica
            offline_decisions = len(kiosk.decisions(after=stopped))
            assert offline_decisions >= 1
            server.start()
            kiosk.wait_for(connected, 30, after=time.time())
        finally:
            kiosk.stop()
        assert kiosk.process.returncode == 0, "".join(kiosk.stderr)[-2000:]
        local = kiosk.local_event_ids()
        assert len(local) == len(kiosk.decisions()) and len(set(local)) == len(local)
        # what the kiosk had not sent before it stopped is sent at its next start; wait_idle sent it already here
        on_server = [row[0] for row in server_events(urls["owner"])]
        assert sorted(on_server) == sorted(local), "every decision on the server, exactly once"
    finally:
        server.close()


# ------------------------------------------------------------------------------------------ the window
def test_window_at_a_site_status_bar_people_and_log_dialogs_with_a_door_filter(site, qtbot, home, clips, engine,
                                                                                tmp_path):
    import cv2
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox
    from test_ui_dialogs import answer_modals, select, wait_idle

    from facegate.config import Settings
    from facegate.gallery import Gallery
    from facegate.site.admin import SiteAdmin
    from facegate.ui.log_dialog import LogDialog
    from facegate.ui.main_window import MainWindow
    from facegate.ui.people_dialog import PeopleDialog

    with SiteAdmin(site["admin"]) as admin:
        admin.enroll(Gallery(tmp_path / "unused", engine), "biden", [clips / "biden.jpg"])
        admin.enroll(Gallery(tmp_path / "unused", engine), "obama", [clips / "obama.jpg"])
    face = cv2.imencode(".jpg", np.full((40, 30, 3), 90, np.uint8))[1].tobytes()
    with psycopg.connect(site["admin"], autocommit=True) as conn:  # what two other doors have sent
        for i, (door, person) in enumerate([("front", "biden"), ("side", "obama"), ("side", None)]):
            conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision, snapshot) VALUES "
                         "(gen_random_uuid(), %s, %s, %s, %s, %s, %s)",
                         (door, time.time() - 60 + i, i, person, "granted" if person else "unknown", face))

    settings = Settings(source=str(clips / CLIP), log_dir=str(home / "log"), speech=False, liveness="off",
                        database_url=site["admin"], door_name="desk")
    win = MainWindow(settings, settings_path=home / "config.json")
    win.show()
    qtbot.addWidget(win)
    try:
        qtbot.waitUntil(lambda: win.site is not None and win.site.status().connected, timeout=180_000)
        qtbot.waitUntil(lambda: win.site_label.text().startswith("Site server: connected"), timeout=5_000)
        assert win.site_label.isVisible() and "admin-pw" not in win.site_label.toolTip()
        qtbot.waitUntil(lambda: sorted(win.gallery.people) == ["biden", "obama"], timeout=10_000)

        log_dialog = LogDialog(win)
        qtbot.addWidget(log_dialog)
        log_dialog.show()
        qtbot.waitUntil(lambda: not log_dialog.loading, timeout=30_000)
        assert {(row.person, row.door) for row in log_dialog.rows} >= {("biden", "front"), ("obama", "side"),
                                                                        (None, "side")}
        doors = [log_dialog.door_combo.itemText(i) for i in range(log_dialog.door_combo.count())]
        assert doors[0] == "All doors" and {"front", "side"} <= set(doors)
        log_dialog.choose_door("side")
        qtbot.waitUntil(lambda: not log_dialog.loading, timeout=30_000)
        assert sorted((row.person or "", row.door) for row in log_dialog.rows) == [("", "side"), ("obama", "side")]
        assert log_dialog.table.item(0, 5).text() == "side"
        picture = log_dialog.table.item(0, 4).data(Qt.ItemDataRole.DecorationRole)
        assert picture is not None and not picture.isNull()
        exported = tmp_path / "site.csv"
        log_dialog.export_csv(exported)
        qtbot.waitUntil(lambda: not log_dialog.exporting, timeout=30_000)
        assert "Saved 2 entries" in log_dialog.export_label.text()
        assert (exported.stat().st_mode & 0o777) == 0o600 and "side" in exported.read_text()
        log_dialog.close()

        from facegate.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(win)
        qtbot.addWidget(dialog)
        assert "admin-pw" not in dialog.site_edit.text() and ":***@" in dialog.site_edit.text()
        dialog.door_edit.setText("reception")
        chosen = dialog.new_settings()
        assert chosen.database_url == site["admin"] and chosen.door_name == "reception"  # the password kept
        dialog.site_edit.setText("nonsense_option=1")
        assert any("not a PostgreSQL connection URL" in problem for problem in dialog.problems())
        dialog.close()

        people = PeopleDialog(win)
        qtbot.addWidget(people)
        people.show()
        select(people, "biden")

        def confirm(box: QMessageBox):
            next(b for b in box.buttons() if b.text() == "Delete").click()

        answered, errors = answer_modals([(QMessageBox, confirm)])
        qtbot.mouseClick(people.delete_button, Qt.MouseButton.LeftButton)
        wait_idle(qtbot, people)
        assert not errors and "biden was deleted" in people.result_label.text(), people.result_label.text()
        with SiteAdmin(site["admin"]) as admin:
            assert admin.people() == {"obama": 1}  # removed on the server, for every door
            assert "biden" not in {row["person"] for row in admin.events(None)}
        assert "biden" not in people.names() and "biden" not in win.gallery.photos()
        people.close()
    finally:
        win.shutdown()


def test_window_with_the_kiosk_role_may_not_enroll_or_delete_people(site, qtbot, home, clips, engine, tmp_path):
    from facegate.errors import GalleryError
    from facegate.gallery import Gallery
    from facegate.site.admin import SiteAdmin, SiteGallery
    from facegate.site.schema import SiteError

    with SiteAdmin(site["admin"]) as admin:
        admin.enroll(Gallery(tmp_path / "unused", engine), "biden", [clips / "biden.jpg"])
    gallery = SiteGallery(tmp_path / "replica", engine, site["kiosk"])
    with pytest.raises(SiteError, match="facegate_admin"):
        gallery.remove("biden")
    with pytest.raises(SiteError, match="facegate_admin"):
        gallery.enroll("obama", [clips / "obama.jpg"])  # what the Enroll dialog calls
    with pytest.raises(GalleryError, match="not available"):
        gallery.rename("biden", "Joe")
    with SiteAdmin(site["admin"]) as admin:
        assert admin.people() == {"biden": 1}


def test_sigkill_of_kiosk_and_server_at_random_moments_loses_and_duplicates_nothing(clips, tmp_path):
    """SIGKILL the kiosk (then start it again on the same folders) and the whole server (then start it: recovery)
    at random moments; in the end every decision the kiosk logged is on the server once, and nothing is damaged."""
    import random
    import sqlite3

    if find_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl): scripts/install.sh --test installs it")
    from facegate.gallery import Gallery

    seed = int(os.environ.get("FACEGATE_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    server = TempPostgres().start()
    kiosks: list[Kiosk] = []
    try:
        urls = new_site(server, "kills", enroll_lin_from=clips)

        def start_kiosk() -> Kiosk:
            kiosks.append(Kiosk(tmp_path / "front", urls["kiosk"], clips / CLIP, "front"))
            kiosks[-1].wait_for(lambda line: line["type"] == "decision", 240)
            return kiosks[-1]

        kiosk = start_kiosk()
        for victim in ["kiosk", "server", rng.choice(["kiosk", "server"])]:
            time.sleep(rng.uniform(0.5, 4.0))
            if victim == "kiosk":
                kiosk.process.kill()  # SIGKILL
                kiosk.process.wait(30)
                kiosk = start_kiosk()
            else:
                server.kill()
                time.sleep(rng.uniform(0.5, 3.0))  # the kiosk goes on deciding meanwhile
                server.start()
        kiosk.wait_for(connected, 60, after=time.time() - 5)
        kiosk.stop()
        assert kiosk.process.returncode == 0, f"seed {seed}: " + "".join(kiosk.stderr)[-2000:]

        conn = sqlite3.connect(tmp_path / "front" / "log" / "access.sqlite3")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            local = [row[0] for row in conn.execute("SELECT event_id FROM decisions")]
            granted = conn.execute("SELECT count(*) FROM decisions WHERE decision = 'granted'").fetchone()[0]
            waiting = conn.execute("SELECT count(*) FROM decisions WHERE forwarded = 0").fetchone()[0]
        finally:
            conn.close()
        printed = sum(1 for k in kiosks for _, line in k.decisions() if line["decision"] == "granted")
        assert granted >= printed > 0, f"seed {seed}: a grant announced but not in the log"  # durable before said
        on_server = [row[0] for row in server_events(urls["owner"])]
        assert waiting == 0, f"seed {seed}"
        assert len(on_server) == len(set(on_server)), f"seed {seed}: an event twice on the server"
        assert sorted(on_server) == sorted(local), f"seed {seed}: the server's log differs from the kiosk's"
        replica = Gallery(tmp_path / "front" / "replica", engine=object())
        assert [p.name for p in replica.photos()[LIN]] == [p.name for p in (tmp_path / "front" / "replica" / LIN)
                                                            .iterdir()]
    finally:
        for kiosk in kiosks:
            if kiosk.process.poll() is None:
                kiosk.process.kill()
                kiosk.process.wait(30)
        server.close()


# ------------------------------------------------------------------------------------------ a cut cable
class TcpProxy:
    """A kiosk's network cable: forwards 127.0.0.1:`port` to the server's port until cut() drops every connection
    (and refuses new ones, as a pulled cable would time them out) and restore() plugs it back."""

    def __init__(self, target_port: int):
        import socket

        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def via(self, url: str) -> str:
        """`url` through this proxy."""
        return url.replace(f":{self.target_port}/", f":{self.port}/")

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        with contextlib.suppress(OSError):  # the other side was closed (cut)
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def cut(self) -> None:
        import socket

        self.open = False
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def offline(line: dict) -> bool:
    return line["type"] == "site" and line["event"] == "offline"


def lin_decision(verdict: str):
    return lambda line: line["type"] == "decision" and line["decision"] == verdict and line["name"] == LIN


def test_a_removal_while_a_door_is_offline_keeps_its_later_decisions_as_security_events(pg, clips, tmp_path):
    """Issue 30 item 1a: the door's cable is cut, Lin-Manuel Miranda is removed at the server, the door (within its
    offline bound) keeps granting him; once it is back, the server holds those decisions as security events naming
    him with the removal's time and the door's offline time, none of his rows from before the removal, and the
    kiosk's log has erased him after sending them."""
    import sqlite3

    from facegate.site.admin import SiteAdmin

    urls = new_site(pg, f"site{next(_sites)}", enroll_lin_from=clips)
    proxy = TcpProxy(pg.port)
    kiosk = Kiosk(tmp_path / "front", proxy.via(urls["kiosk"]), clips / CLIP, "front")
    try:
        kiosk.wait_for(connected, 240)
        proxy.cut()
        cut = time.time()
        kiosk.wait_for(offline, 30, after=cut)
        kiosk.wait_for(lin_decision("granted"), 30, after=cut)  # offline, before the removal: to be dropped
        with SiteAdmin(urls["admin"]) as admin:
            admin.remove(LIN)
        removed = time.time()
        kiosk.wait_for(lin_decision("granted"), 30, after=removed)  # the door has not heard of it
        proxy.restore()
        back = time.time()
        kiosk.wait_for(lambda line: line["type"] == "site" and line["event"] == "replica" and line["name"] == LIN
                       and line["change"] == "removed", 30, after=back)
        kiosk.wait_for(connected, 30, after=back)
    finally:
        kiosk.stop()
        proxy.close()
    with psycopg.connect(urls["owner"]) as conn:
        [(removed_at,)] = conn.execute("SELECT extract(epoch FROM removed_at)::float FROM removals WHERE name = %s",
                                       (LIN,)).fetchall()
        rows = conn.execute("SELECT time, decision, details, snapshot IS NOT NULL FROM events WHERE person = %s "
                            "ORDER BY time", (LIN,)).fetchall()
    assert removed - 5 < removed_at <= removed
    after = [line for when, line in kiosk.decisions() if line["name"] == LIN and when > removed_at]
    before = [line for when, line in kiosk.decisions(after=cut) if line["name"] == LIN and when < removed_at]
    assert after and before, (after, before)
    assert len(rows) == len(after), "every decision about him after the removal, and none from before it"
    for decided, verdict, details, has_snapshot in rows:
        assert decided >= removed_at and verdict == "granted" and has_snapshot
        assert details["after_removal"]["removed_at"] == pytest.approx(removed_at, abs=1e-3)
        assert cut - 10 < details["after_removal"]["offline_since"] <= cut + 1, (details, cut)
    conn = sqlite3.connect(kiosk.log_dir / "access.sqlite3")
    try:
        assert conn.execute("SELECT count(*) FROM decisions WHERE person = ?", (LIN,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM decisions WHERE forwarded = 0").fetchone()[0] == 0
    finally:
        conn.close()
    printed = facegate("--database", urls["admin"], "site", "log", "--person", LIN, home=tmp_path / "admin")
    assert printed.returncode == 0, printed.stderr
    removal = time.strftime("%H:%M", time.localtime(removed_at))
    since = time.strftime("%H:%M", time.localtime(rows[0][2]["after_removal"]["offline_since"]))
    assert printed.stdout.count(f"SECURITY EVENT: granted after removal at {removal}; the door was offline since "
                                f"{since}") == len(rows), printed.stdout


def test_an_offline_door_refuses_everyone_after_its_bound_and_grants_again_once_back(pg, clips, tmp_path):
    """Issue 30 item 1b: with site_offline_grant_s = 2, a door whose cable is cut refuses Lin-Manuel Miranda with
    the reason (Denied, the rule's name in the log, no failed liveness check), and grants him again once back."""
    import sqlite3

    from facegate.access_rules import OFFLINE_REASON

    bound = 2.0
    urls = new_site(pg, f"site{next(_sites)}", enroll_lin_from=clips)
    proxy = TcpProxy(pg.port)
    kiosk = Kiosk(tmp_path / "front", proxy.via(urls["kiosk"]), clips / CLIP, "front",
                  settings={"site_offline_grant_s": bound})
    try:
        kiosk.wait_for(connected, 240)
        proxy.cut()
        cut = time.time()
        kiosk.wait_for(offline, 30, after=cut)
        kiosk.wait_for(lambda line: lin_decision("denied")(line) and line["reason"] == OFFLINE_REASON, 30,
                       after=cut + bound)
        proxy.restore()
        back = kiosk.wait_for(connected, 30, after=time.time())
        kiosk.wait_for(lin_decision("granted"), 30, after=back)
    finally:
        kiosk.stop()
        proxy.close()
    late = [line for when, line in kiosk.decisions(after=cut + bound + 0.5) if when < back - 0.5
            and line["decision"] == "granted"]
    assert late == [], f"granted while offline past the bound: {late}"
    refused = [line for _, line in kiosk.decisions() if line["decision"] == "denied"]
    assert refused and all("failed_checks" not in line and "guard_alert" not in line for line in refused)
    conn = sqlite3.connect(kiosk.log_dir / "access.sqlite3")
    try:
        rows = [json.loads(details) for (details,) in conn.execute(
            "SELECT details FROM decisions WHERE person = ? AND decision = 'denied'", (LIN,))]
    finally:
        conn.close()
    assert rows and all(d["rule"] == "offline_bound" and d["reason"] == OFFLINE_REASON and d["site_offline_since"]
                        for d in rows)


def test_a_security_events_snapshot_is_deleted_after_its_retention_and_a_kiosk_cannot_forge_one(site):
    """Issue 30 item 1a: SECURITY_SNAPSHOT_DAYS is enforced by the server; only the server marks a security event."""
    from facegate.site.admin import SiteAdmin
    from facegate.site.schema import SECURITY_SNAPSHOT_DAYS

    old = time.time() - (SECURITY_SNAPSHOT_DAYS + 1) * 86400
    with psycopg.connect(site["admin"], autocommit=True) as conn:
        conn.execute("INSERT INTO people(name) VALUES ('Ann')")
        for when in (old, time.time() - 86400):
            conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision, details, snapshot) "
                         "VALUES (gen_random_uuid(), 'front', %s, 1, 'Gone', 'granted', %s, 'jpeg')",
                         (when, json.dumps({"after_removal": {"removed_at": old - 60, "offline_since": None}})))
    with psycopg.connect(site["kiosk"], autocommit=True) as conn:  # any door's next event enforces it
        conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision, details) VALUES "
                     "(gen_random_uuid(), 'front', %s, 2, 'Ann', 'granted', %s)",
                     (time.time(), json.dumps({"after_removal": {"removed_at": 1.0}})))
    with psycopg.connect(site["owner"]) as conn:
        kept = conn.execute("SELECT person, time < %s, snapshot IS NOT NULL, details ? 'after_removal' FROM events "
                            "ORDER BY time", (old + 1,)).fetchall()
    assert kept == [("Gone", True, False, True), ("Gone", False, True, True), ("Ann", False, False, False)]
    with SiteAdmin(site["admin"]) as admin:
        assert len(admin.events(None)) == 3


def test_a_late_event_about_a_removed_person_is_dropped_from_before_the_removal_and_kept_after_it(site):
    """Issue 30 item 1a, at the server: for a kiosk login and for an administrator's window (whose own log is
    forwarded with an admin login) alike, a decision from while the person was enrolled stays erased, and one from
    after their removal is kept, marked with the removal's time and since when the door was offline."""
    from facegate.site.admin import SiteAdmin

    with SiteAdmin(site["admin"]) as admin:
        admin.conn.execute("INSERT INTO people(name) VALUES ('Bob')")
        time.sleep(0.05)
        enrolled_during = time.time()
        time.sleep(0.05)
        admin.remove("Bob")
    after = time.time() + 1
    for login in ("kiosk", "admin"):
        with psycopg.connect(site[login], autocommit=True) as conn:
            for when in (enrolled_during, after):
                conn.execute("INSERT INTO events(event_id, door, time, track_id, person, decision, details) VALUES "
                             "(gen_random_uuid(), %s, %s, 1, 'Bob', 'granted', %s)",
                             (login, when, json.dumps({"site_offline_since": enrolled_during - 5})))
    with SiteAdmin(site["admin"]) as admin:
        rows = sorted((e["door"], e["time"], e["details"]["after_removal"]["offline_since"])
                      for e in admin.events(None) if e["person"] == "Bob")
    # the kiosk login's row is its registered door's ("front"), whatever it said (issue 30 item 2)
    assert rows == [("admin", after, enrolled_during - 5), ("front", after, enrolled_during - 5)]
