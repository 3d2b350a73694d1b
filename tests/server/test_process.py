"""The real thing: ``asyncdb serve`` as a process on a free port, and the Docker image's
CMD run directly (no Docker engine here), with the image's environment. Every process runs
in a temporary working directory: without configuration serve keeps its documents in
``./asyncdb.sqlite3`` there (and a restart finds them again)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends._process import free_port

REPO = Path(__file__).resolve().parents[2]


def _asyncdb_command() -> list[str]:
    """The console script installed beside this interpreter (as pip installs it)."""
    found = shutil.which("asyncdb", path=str(Path(sys.executable).parent)) or shutil.which(
        "asyncdb"
    )
    assert found is not None, "the asyncdb console script is not installed (pip install -e .)"
    return [found]


def _wait_healthy(url: str, process: subprocess.Popen[str], headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()[0]}")
        try:
            if httpx.get(url + "/healthz", headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def _unconfigured_environment() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ASYNCDB_", "DATABASE_", "SQLITE_"))
    }


def _start_serve(port: int, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*_asyncdb_command(), "serve", "--port", str(port)],
        env=_unconfigured_environment(),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM), output
    return output


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = _start_serve(port, tmp_path)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_asyncdb_serve_end_to_end(serve_process: tuple[str, subprocess.Popen[str]]) -> None:
    url, process = serve_process
    _wait_healthy(url, process, {})
    with httpx.Client(base_url=url, timeout=5) as client:
        created = client.put("/v1/agents/a-1", json={"name": "summariser"})
        assert created.status_code == 200
        etag = created.headers["etag"]
        read = client.get("/v1/agents/a-1")
        assert read.headers["etag"] == etag and read.json()["name"] == "summariser"
        updated = client.put(
            "/v1/agents/a-1", json={"name": "summariser v2"}, headers={"If-Match": etag}
        )
        assert updated.status_code == 200
        stale = client.put("/v1/agents/a-1", json={"name": "lost"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        page = client.get("/v1/agents", params={"limit": 10}).json()
        assert [item["_id"] for item in page["items"]] == ["a-1"]
        found = client.post("/v1/agents/_find", json={"where": {"name": "summariser v2"}})
        assert len(found.json()["items"]) == 1
        assert client.get("/docs").status_code == 200
    output = _stop(process)
    assert "Application shutdown complete" in output


def test_serve_without_configuration_keeps_documents_across_a_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _start_serve(port, tmp_path)
    try:
        _wait_healthy(url, first, {})
        with httpx.Client(base_url=url, timeout=5) as client:
            saved = client.put("/v1/notes/n-1", json={"text": "kept", "n": 1.0})
            assert saved.status_code == 200, saved.text
            etag = saved.headers["etag"]
    finally:
        output = _stop(first) if first.poll() is None else first.communicate()[0]
    database = tmp_path.resolve() / "asyncdb.sqlite3"
    assert f"documents are stored in SQLITE_PATH='{database}'" in output
    assert database.exists()
    second = _start_serve(port, tmp_path)
    try:
        _wait_healthy(url, second, {})
        with httpx.Client(base_url=url, timeout=5) as client:
            read = client.get("/v1/notes/n-1")
            assert read.status_code == 200, read.text
            assert read.json()["text"] == "kept" and read.json()["n"] == 1.0
            assert read.headers["etag"] == etag  # the same revision: the same document
    finally:
        _stop(second)


def test_serve_with_a_bad_sqlite_path_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "some_file").write_text("a file, not a folder")
    result = subprocess.run(
        [*_asyncdb_command(), "serve", "--port", str(free_port())],
        env={**_unconfigured_environment(), "SQLITE_PATH": "some_file/db.sqlite3"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("asyncdb serve: SQLITE_PATH=") and "is a file" in lines[0]


def _dockerfile() -> tuple[list[str], dict[str, str]]:
    """The image's CMD and the ENV it sets, read from the Dockerfile."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    cmd = json.loads(re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)[-1])
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.*)$", text, re.MULTILINE):
        env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return cmd, env


def test_the_image_command_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    cmd, image_env = _dockerfile()
    assert cmd == ["asyncdb", "serve"] and image_env["ASYNCDB_HOST"] == "0.0.0.0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCDB_")}
    result = subprocess.run(
        [*_asyncdb_command(), *cmd[1:]],
        env={**env, **image_env, "ASYNCDB_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "without a bearer token" in result.stderr


def test_the_image_command_serves_with_a_token(tmp_path: Path) -> None:
    cmd, image_env = _dockerfile()
    token = secrets.token_urlsafe(24)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASYNCDB_", "DATABASE_"))}
    env.update(image_env, ASYNCDB_PORT=str(port), ASYNCDB_API_TOKEN=token)
    process = subprocess.Popen(
        [*_asyncdb_command(), *cmd[1:]],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, {"Authorization": f"Bearer {token}"})
        assert httpx.get(url + "/healthz", timeout=5).status_code == 401
        # The image's HEALTHCHECK command, run as written.
        healthcheck = re.search(
            r"HEALTHCHECK.*?CMD\s+(\[.*\])\s*$",
            (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " "),
            re.MULTILINE,
        )
        assert healthcheck is not None
        probe = json.loads(healthcheck.group(1))
        assert probe[0] == "python"
        subprocess.run([sys.executable, *probe[1:]], env=env, check=True, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert token not in output
