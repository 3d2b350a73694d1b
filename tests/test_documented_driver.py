"""The minimal driver shown in docs/implementing-a-driver.md passes the conformance suite:
the document says it does, so a test keeps it true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from asyncdb.testing import ConformanceSuite, DriverFactory

DOC = Path(__file__).resolve().parents[1] / "docs" / "implementing-a-driver.md"


def _documented_driver_class() -> Any:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```python\n(import copy\n.*?)```", text, re.DOTALL)
    assert match, "the minimal driver example is missing from the document"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOC), "exec"), namespace)
    return namespace["DictDriver"]


class TestDocumentedMinimalDriver(ConformanceSuite):
    supports_list_collections = False  # the example implements only the four core methods

    @pytest.fixture
    def driver_factory(self) -> DriverFactory:
        shared = _documented_driver_class()()
        return lambda: shared
