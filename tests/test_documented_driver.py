"""docs/implementing-a-driver.md, run as written: its "complete minimal driver" and its
conformance test file (with ``from my_package.drivers import DictDriver`` pointed at that
driver) pass the conformance suite. The document says they do; this keeps it true."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "implementing-a-driver.md"
_TEXT = DOC.read_text(encoding="utf-8")


def _block(pattern: str) -> str:
    match = re.search(pattern, _TEXT, re.DOTALL)
    assert match, f"a documented example is missing from {DOC.name}: {pattern!r}"
    return match.group(1)


def _documented_tests() -> dict[str, Any]:
    driver_module = types.ModuleType("my_package.drivers")
    exec(
        compile(_block(r"```python\n(import copy\n.*?)```"), str(DOC), "exec"), vars(driver_module)
    )
    package = types.ModuleType("my_package")
    package.drivers = driver_module  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("my_package", "my_package.drivers")}
    sys.modules.update({"my_package": package, "my_package.drivers": driver_module})
    try:
        namespace: dict[str, Any] = {"__name__": __name__}
        test_file = _block(r"```py\n(# tests/test_dict_driver\.py\n.*?)```")
        exec(compile(test_file, str(DOC), "exec"), namespace)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return namespace


_NAMESPACE = _documented_tests()
TestDictDriver = _NAMESPACE["TestDictDriver"]
TestDictDriverThroughSyncFacade = _NAMESPACE["TestDictDriverThroughSyncFacade"]


def test_the_documented_test_file_declares_what_the_driver_lacks() -> None:
    assert TestDictDriver.supports_list_collections is False
    assert TestDictDriverThroughSyncFacade.via_sync_facade is True
