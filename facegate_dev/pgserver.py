"""A real PostgreSQL server in a temp folder, for the site tests and benchmarks/site.py (initdb + pg_ctl).

It listens on 127.0.0.1 at a free port (password logins, scram-sha-256) and on a unix socket in its own folder
(the superuser `postgres`, trusted). PostgreSQL refuses to run as root: under root it runs as the `postgres`
system user (the distribution's package makes it), through runuser.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or the newest /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TempPostgres:
    """start() / stop() / kill(); url(user, password, db) for logins; superuser_sql(sql) for set-up."""

    def __init__(self, bin_dir: Path | None = None):
        self.bin_dir = bin_dir or find_bin_dir()
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root, and there is no `postgres` user to run the server as") from None
            self.as_user = "postgres"
            shutil.chown(self.folder, "postgres", "postgres")
        os.chmod(self.folder, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-sync", "--auth-local=trust",
                  "--auth-host=scram-sha-256")

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / tool), *args]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
        return result

    def start(self) -> TempPostgres:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                   "-c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w",
                  "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """mode: fast (clean), immediate (as a crash or power cut leaves it: recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the server and every process of it at once (a crash; the next start recovers from the WAL)."""
        import signal
        import time

        root = self.server_pid()
        if root is None:
            return
        family = [root]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                    family.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in family):
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True).returncode == 0

    def server_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def superuser_conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.folder} port={self.port} user=postgres dbname={dbname}"

    def superuser_sql(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.superuser_conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def url(self, user: str, password: str, dbname: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def create_site(self, dbname: str) -> dict[str, str]:
        """A database with an owner (runs `site init`), an administrator and two kiosk logins. Returns their URLs:
        owner, admin, kiosk, kiosk2."""
        self.superuser_sql(f"CREATE ROLE {dbname}_owner LOGIN CREATEROLE PASSWORD 'owner-pw'")
        self.superuser_sql(f"CREATE DATABASE {dbname} OWNER {dbname}_owner")
        urls = {"owner": self.url(f"{dbname}_owner", "owner-pw", dbname)}
        for login in ("admin", "kiosk", "kiosk2"):
            self.superuser_sql(f"CREATE ROLE {dbname}_{login} LOGIN PASSWORD '{login}-pw'")
            urls[login] = self.url(f"{dbname}_{login}", f"{login}-pw", dbname)
        return urls

    def grant_roles(self, dbname: str) -> None:
        """After `site init` made the group roles: the logins join them."""
        self.superuser_sql(f"GRANT facegate_admin TO {dbname}_admin")
        for login in ("kiosk", "kiosk2"):
            self.superuser_sql(f"GRANT facegate_kiosk TO {dbname}_{login}")

    def close(self) -> None:
        if self.running:
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
