"""The fault suite: concurrent writers on every backend under injected faults."""
