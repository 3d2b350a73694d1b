"""Every code block of README.md and docs/ that is meant to run, runs.

The convention (docs/README.md says it for writers): a ```python block is a complete
example, run as a script on the memory provider, from a fresh interpreter and an empty
working directory, with no network and no backend variables set; it must exit 0. A
```py block is a fragment (a signature, a snippet that needs your application): shown,
never run. ```bash blocks with curl against ``asyncdb serve`` are run by
tests/test_readme.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def _documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in _documents():
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(REPO)}:{line}", match.group(1)))
    return found


EXAMPLES = _examples()


def test_examples_are_found() -> None:
    # README's two quick starts at least; an empty list would make the test below vacuous.
    assert sum(1 for where, _ in EXAMPLES if where.startswith("README.md")) >= 2


@pytest.mark.parametrize(("where", "code"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_a_python_block_runs(where: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("DATABASE_", "ASYNCDB_", "COUCHDB_", "DYNAMODB_", "AWS_", "GOOGLE_", "FIRESTORE_")
        )
    }
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, f"{where} failed:\n{result.stderr[-3000:]}"
