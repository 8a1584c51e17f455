"""A throwaway PostgreSQL cluster for the tests: initdb, a private Unix socket, no fsync.

The cluster lives in a temporary folder for one test session. As root (CI) it runs as the
`postgres` OS user (PostgreSQL refuses to run as root); as anyone else, as that user. It never
listens on TCP: the socket sits in the temporary folder. Each test gets a fresh database copied
from a migrated template, so a test starts from the schema in milliseconds.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from storage.db import StorageError, open_db

TEMPLATE = "rotation_template"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
# Durability is useless for a cluster thrown away after the session, and costs time.
SETTINGS = "-c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
# For fault tests: an immediate stop is a server crash, and a commit acknowledged before it
# must survive it (synchronous_commit=off would lose the last few). fsync stays off: the
# machine does not crash, only the server processes.
CRASH_SAFE = "-c listen_addresses='' -c fsync=off -c full_page_writes=off"


class ClusterUnavailable(Exception):
    """PostgreSQL is not installed here, or the cluster did not start (the reason says which)."""


def find_bin_dir(root: Path = DEBIAN_ROOT) -> Path:
    """The newest installed PostgreSQL server's bin folder (Debian layout, or on PATH)."""
    found = sorted(root.glob("*/bin/initdb"), key=_major)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


def _major(initdb: Path) -> int:
    name = initdb.parent.parent.name
    return int(name) if name.isdigit() else 0


def start_cluster(settings: str = SETTINGS) -> Cluster:
    """A started cluster, or ClusterUnavailable saying why not (nothing left behind)."""
    cluster = None
    try:
        cluster = Cluster(settings)
        cluster.start()
    except (OSError, LookupError, subprocess.SubprocessError, psycopg.Error, StorageError) as error:
        if cluster is not None:
            cluster.stop()
        raise ClusterUnavailable(f"{type(error).__name__}: {error}") from error
    except ClusterUnavailable:
        if cluster is not None:
            cluster.stop()
        raise
    return cluster


class Cluster:
    """One running cluster; `new_database()` gives a fresh migrated database's URL."""

    def __init__(self, settings: str = SETTINGS) -> None:
        self.settings = settings
        self.bin = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="rotation-pg-"))
        self.data = self.root / "data"
        self._names = itertools.count(1)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
        # The socket folder must be reachable by the postgres user and by the tests.
        self.root.chmod(0o755)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise ClusterUnavailable(f"{Path(args[0]).name} failed: {' '.join(detail)}")

    def start(self) -> None:
        initdb = f"-D {self.data} -U postgres -A trust -E UTF8 --locale=C --no-sync"
        self._run(str(self.bin / "initdb"), *initdb.split(), "--no-instructions")
        self.start_server()
        self._admin(f"CREATE DATABASE {TEMPLATE}")
        open_db(self.url(TEMPLATE)).close()

    def start_server(self) -> None:
        """Start the server (again) and wait until it accepts connections."""
        options = f"-k {self.root} {self.settings}"
        log = str(self.root / "log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-o", options,
                  "start")  # fmt: skip

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions ended cleanly; `immediate`: as if it crashed)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart_server(self, mode: str = "fast") -> None:
        """Restart the server and wait until it accepts connections again."""
        self.stop_server(mode)
        self.start_server()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """A `postgresql://` URL of `database`, through the cluster's private socket."""
        return f"postgresql://postgres@/{database}?host={self.root}"

    def new_database(self, *, migrated: bool = True) -> str:
        """Create a database (the migrated template's copy, or empty); return its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]
