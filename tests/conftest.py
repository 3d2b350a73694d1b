"""Shared test configuration: every backend's server as a session fixture."""

pytest_plugins = ["tests.backends.fixtures"]
