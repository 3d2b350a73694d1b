"""Start, wait for and stop a test server process; install npm-packaged servers on demand.

Every backend's harness uses these helpers so that all of them behave alike:
- a server is started on 127.0.0.1 and a free port, in its own process group, and killed
  with that group at the end (emulators that fork children leave nothing behind);
- an environment variable may point the suite at an already running server instead;
- with ``CI=true`` a server that cannot start fails the run; elsewhere the backend's tests
  are skipped with the reason (never reported as passing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("ASYNCDB_TEST_CACHE", REPO_ROOT / ".cache" / "test-servers"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(backend: str, reason: str) -> None:
    """Fail in CI, skip elsewhere: a backend that cannot run is never a pass."""
    message = f"{backend} test server unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def npm_package(package: str, version: str, entry: str) -> Path:
    """Path of ``entry`` inside ``package@version``, installed under the test cache once."""
    prefix = CACHE_DIR / f"{package}-{version}"
    target = prefix / "node_modules" / package / entry
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(prefix),
            f"{package}@{version}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    if not target.exists():
        raise RuntimeError(f"{package}@{version} installed without {entry}")
    return target


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status < 500)
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    return check


@contextlib.contextmanager
def running_server(
    command: Sequence[str],
    ready: Callable[[], bool],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    log_name: str = "server",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; wait until ``ready()`` is true.

    The server's output goes to a log file of its own (so that concurrent servers and
    sessions never share one), quoted in the error when the server does not start, and
    removed at the end.
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        prefix=f"{log_name}-", suffix=".log", dir=CACHE_DIR, delete=False
    ) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{log_name} exited with {process.returncode}: {tail}")
                if time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{log_name} did not answer within {timeout:.0f}s: {tail}")
                time.sleep(0.1)
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            log_path.unlink(missing_ok=True)


class ManagedServer:
    """A test server that a test may pause, kill and restart, always on the same port.

    ``running_server`` covers a server that lives for a block; the fault suite also needs
    to SIGSTOP / SIGCONT one and to kill it with SIGKILL and start it again over the same
    data directory, so that clients that keep its address see a crash and a recovery.
    """

    def __init__(
        self,
        command: Sequence[str],
        ready: Callable[[], bool],
        *,
        cwd: Path | None = None,
        timeout: float = 60.0,
        log_name: str = "server",
    ) -> None:
        self.command = list(command)
        self._ready = ready
        self._cwd = cwd
        self._timeout = timeout
        self._log_name = log_name
        self._stack: contextlib.ExitStack | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        if self._stack is not None:
            raise RuntimeError(f"{self._log_name} is already running")
        stack = contextlib.ExitStack()
        self.process = stack.enter_context(
            running_server(
                self.command,
                self._ready,
                cwd=self._cwd,
                timeout=self._timeout,
                log_name=self._log_name,
            )
        )
        self._stack = stack

    def stop(self) -> None:
        """Stop the server (SIGTERM to its process group; see ``running_server``)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            self.resume()  # a stopped process cannot act on SIGTERM
            stack.close()
        self.process = None

    def pause(self) -> None:
        """SIGSTOP the server's process group: it keeps its sockets but answers nothing."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the server's process group, as a crash would, and reap it."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.stop()

    def restart(self) -> None:
        """Kill the server and start it again with the same command (port, data)."""
        self.kill()
        self.start()

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
