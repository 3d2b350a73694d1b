"""The README's quick starts run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


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
