"""Checkpoints of a migration, so that one killed half-way resumes where it stopped.

A checkpoint names the migration it belongs to by a fingerprint of its arguments (the
redacted URLs and the collections), the collections already finished and, for the one in
progress, the cursor after the last page that was completely written. It is replaced
atomically after every page and removed when the migration completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Checkpoint", "fingerprint"]


def fingerprint(*parts: str) -> str:
    """A stable identity for a migration's arguments."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class Checkpoint:
    """Where a migration stands; saved with ``save``, found again with ``load``."""

    fingerprint: str
    finished: list[str] = field(default_factory=list)
    collection: str | None = None
    cursor: str | None = None
    copied: int = 0

    @classmethod
    def load(cls, path: Path, expected: str) -> Checkpoint | None:
        """The checkpoint at ``path`` if it belongs to this migration, else ``None``."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a torn write cannot happen (atomic replace); a foreign file can
        if not isinstance(data, dict) or data.get("fingerprint") != expected:
            return None
        return cls(
            fingerprint=expected,
            finished=[str(name) for name in data.get("finished", [])],
            collection=data.get("collection"),
            cursor=data.get("cursor"),
            copied=int(data.get("copied", 0)),
        )

    def save(self, path: Path) -> None:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @staticmethod
    def remove(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
