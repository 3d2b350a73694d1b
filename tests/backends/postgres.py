"""Start PostgreSQL (the Debian package's server, 15 on this machine) for the tests and
benchmarks, or use the server named by ``ASYNCDB_TEST_POSTGRES_URL`` (a
``postgresql://user:password@host:port/database`` URL): then nothing starts.

``initdb`` makes a cluster in a temporary folder with a password-protected superuser (so
that a wrong password can be tested), and the server runs on a free loopback port. The
binaries are found with ``pg_config --bindir``. PostgreSQL refuses to run as root, and CI
runs as root: then every command runs as the ``postgres`` user (``runuser -u postgres``)
and the folder belongs to that user.

The server runs in the foreground (``postgres -D``, what ``pg_ctl start`` would launch), in
its own process group, so that the fault suite can SIGKILL it with its backends and start
it again over the same data; it is stopped with ``pg_ctl stop -m fast`` so that open
connections do not hold up the end of a session. ``fsync=off`` makes the tests faster and
changes nothing when a process is killed: a commit has still been written to the OS.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.backends._process import ManagedServer, free_port
from tests.backends.prerequisites import find_runuser, postgres_bindir

__all__ = ["ENV_VAR", "PostgresServer", "bindir", "postgres_managed", "postgres_server"]

ENV_VAR = "ASYNCDB_TEST_POSTGRES_URL"
USER = "asyncdb"
_SYSTEM_USER = "postgres"


def bindir() -> Path:
    """The folder of PostgreSQL's server binaries (``pg_config --bindir``; the newest
    ``/usr/lib/postgresql/*/bin`` when ``pg_config`` is missing)."""
    folder = postgres_bindir()
    if folder is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no pg_config, no /usr/lib/postgresql/*/bin/initdb): "
            f"install the Debian package postgresql, or set {ENV_VAR}"
        )
    return folder


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = find_runuser()
    if runuser is None:
        raise RuntimeError("running as root and runuser is missing: PostgreSQL refuses root")
    return [runuser, "-u", _SYSTEM_USER, "--", *command]


def _hand_over(path: Path) -> None:
    """Give ``path`` to the server's user when running as root."""
    if os.geteuid() == 0:
        shutil.chown(path, _SYSTEM_USER, _SYSTEM_USER)


class PostgresServer(ManagedServer):
    """A ``ManagedServer`` whose stop is PostgreSQL's fast shutdown (``pg_ctl stop -m
    fast``: open sessions are ended), falling back to the group's SIGTERM/SIGKILL."""

    def __init__(self, binaries: Path, data: Path, port: int) -> None:
        command = _as_server_user(
            [
                str(binaries / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                # TCP only: a killed server's socket lock file would block its restart.
                "unix_socket_directories=",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ]
        )
        ready = [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        super().__init__(command, lambda: _ready(ready), log_name="postgres", timeout=60.0)
        self._data = data
        self._pg_ctl = _as_server_user(
            [str(binaries / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "20"]
        )

    def kill(self) -> None:
        """SIGKILL the server with its backends, as a crash would, and clear its lock file.

        The postmaster is a child of ``runuser``, which dies with it; where nothing reaps
        orphans (a container's init), the dead postmaster stays a zombie, which a restart
        would take for a live one ("lock file postmaster.pid already exists"). Once it is
        dead or a zombie, its lock file is stale and removed, as an operator would."""
        super().kill()
        lock = self._data / "postmaster.pid"
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            lock.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()  # a stopped server cannot shut down
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(self._pg_ctl, capture_output=True, check=False, timeout=30)
        super().stop()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it only waits to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not any(
        line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines()
    )


def _ready(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, check=False, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def postgres_managed(directory: Path) -> tuple[PostgresServer, str]:
    """A fresh cluster in ``directory`` and a server (not started yet) over it, always on
    the same port, and the URL of its ``postgres`` database as the password user."""
    binaries = bindir()
    directory.mkdir(parents=True, exist_ok=True)
    _hand_over(directory)
    password = secrets.token_hex(12)
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n")
    _hand_over(pwfile)
    data = directory / "data"
    answer = subprocess.run(
        _as_server_user(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    pwfile.unlink()
    if answer.returncode != 0:
        raise RuntimeError(f"initdb failed: {(answer.stderr or answer.stdout)[-1500:]}")
    port = free_port()
    server = PostgresServer(binaries, data, port)
    return server, f"postgresql://{USER}:{password}@127.0.0.1:{port}/postgres"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a running PostgreSQL, started here unless the environment names one.
    Raises ``RuntimeError`` when no server can be started."""
    external = os.environ.get(ENV_VAR)
    if external:
        yield external
        return
    scratch = Path(tempfile.mkdtemp(prefix="asyncdb-postgres-"))
    try:
        server, url = postgres_managed(scratch)
        with server:
            yield url
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
