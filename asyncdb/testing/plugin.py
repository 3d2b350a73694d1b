"""asyncdb's pytest plugin (loaded through the ``pytest11`` entry point).

It registers Hypothesis profiles: ``asyncdb-ci`` is derandomised and keeps no example
database, and is loaded automatically when ``CI`` is true, so CI runs are reproducible.
It imports nothing heavy: the conformance suite is imported only by the tests that use it.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    try:
        from hypothesis import settings
    except ImportError:  # hypothesis is a test extra; without it there is nothing to set up
        return
    settings.register_profile("asyncdb-ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("asyncdb-dev", print_blob=True)
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        settings.load_profile("asyncdb-ci")
