"""The README runs as written: its Python quick starts, and its curl block against a
real ``asyncdb serve`` (the console script, on a free port) with the answers it
promises; its install commands name the distribution, not the unrelated ``asyncdb``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends._process import free_port

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
BASH = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)


def test_the_readme_has_both_quick_starts() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=["async", "sync"])
def test_a_quick_start_runs(index: int, tmp_path: Path) -> None:
    script = tmp_path / "quick_start.py"
    script.write_text(BLOCKS[index], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    if index == 1:
        assert result.stdout.split() == ["completed", "t-1", "404"]


def test_the_install_commands_name_the_distribution() -> None:
    commands = [line for block in BASH for line in block.splitlines() if "pip install" in line]
    assert 'pip install ".[server]" && asyncdb serve' in BASH[1]
    assert "pip install nox && nox" in README
    for command in commands:
        assert "pip install asyncdb" not in command and 'install "asyncdb[' not in command
    assert "asyncdb-documents" in README and "unrelated project" in README


def _curl_block() -> list[str]:
    """The README's curl commands, one string each (line continuations joined)."""
    block = next(block for block in BASH if "curl" in block)
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl")]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    found = shutil.which("asyncdb", path=str(Path(sys.executable).parent)) or shutil.which(
        "asyncdb"
    )
    assert found is not None, "the asyncdb console script is not installed (pip install -e .)"
    port = free_port()
    # A fresh machine's environment: no asyncdb setting, and a working directory of its
    # own, where serve's default SQLite file is created (never in the checkout).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ASYNCDB_", "DATABASE_", "SQLITE_"))
    }
    process = subprocess.Popen(
        [found, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "asyncdb serve did not become healthy"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    # With nothing configured, serve keeps its documents in a SQLite file and says where.
    assert "documents are stored in SQLITE_PATH=" in output, output
    assert (tmp_path / "asyncdb.sqlite3").exists()


def _run(command: str, url: str) -> tuple[int, dict[str, str], str]:
    """Run one README curl command against ``url``; its status, headers and body."""
    command = command.replace("http://127.0.0.1:8000", url)
    if " -i " not in f" {command} ":
        command = command.replace("curl ", "curl -i ", 1)
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    )
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    return int(status_line.split()[1]), headers, body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_quick_start_gives_the_documented_answers(served: str) -> None:
    create, read, update, page, find = _curl_block()
    status, headers, body = _run(create, served)
    assert status == 201, body
    etag = headers["etag"]
    assert re.fullmatch(r'"1-[0-9a-f]{16}"', etag), etag  # the shape the README shows
    status, headers, body = _run(read, served)
    stored = json.loads(body)
    assert status == 200 and headers["etag"] == etag
    # What was stored, plus _id and _rev: nothing the README does not mention.
    assert stored == {
        "_id": "a-1",
        "_rev": etag.strip('"'),
        "name": "summariser",
        "tools": {"web": ["search"]},
    }
    # The README's update names the revision its reader got back; here, this one.
    update = update.replace('"1-5f0c8e2a9b7d4c31"', etag)
    status, _, body = _run(update, served)
    assert status == 200 and json.loads(body)["name"] == "summariser v2"
    status, _, body = _run(update, served)
    assert status == 412  # the same ETag again: no longer current
    status, _, body = _run(page, served)
    listed = json.loads(body)
    assert [item["_id"] for item in listed["items"]] == ["a-1"] and listed["next_cursor"] is None
    status, _, body = _run(find, served)
    assert [item["name"] for item in json.loads(body)["items"]] == ["summariser v2"]
