"""What the test servers need on the machine, checked in one place (standard library only,
so that ``nox`` can run it before it creates any virtualenv).

``python tests/backends/prerequisites.py`` prints one line naming whatever is missing and
exits 1, or exits 0 silently. A backend whose variable points the suite at a running server
(``ASYNCDB_TEST_COUCHDB_URL``, ``ASYNCDB_TEST_DYNAMODB_URL``,
``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST``, ``ASYNCDB_TEST_POSTGRES_URL``) needs nothing
installed for it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "EMULATOR_HOST_VARIABLE",
    "EMULATOR_JAR_VARIABLE",
    "POSTGRES_URL_VARIABLE",
    "find_emulator_jar",
    "find_runuser",
    "java_major_version",
    "missing",
    "postgres_bindir",
    "summary",
]

EMULATOR_HOST_VARIABLE = "ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST"
POSTGRES_URL_VARIABLE = "ASYNCDB_TEST_POSTGRES_URL"
POSTGRES_HINT = (
    "PostgreSQL's server binaries (initdb, postgres, pg_ctl, pg_isready: the Debian package "
    f"postgresql, found through pg_config --bindir; or set {POSTGRES_URL_VARIABLE}=postgresql://"
    "... to use a running server)"
)
#: Names the emulator's jar directly (any install method).
EMULATOR_JAR_VARIABLE = "ASYNCDB_FIRESTORE_EMULATOR_JAR"
JAVA_MINIMUM = 17
_PACKAGE = "google-cloud-cli-firestore-emulator"
_JAR_NAME = "cloud-firestore-emulator.jar"
EMULATOR_HINT = (
    f"Google's Firestore emulator ({_JAR_NAME}: set {EMULATOR_JAR_VARIABLE}=path, or "
    f"`gcloud components install cloud-firestore-emulator`, or the Debian package {_PACKAGE};"
    f" or set {EMULATOR_HOST_VARIABLE}=host:port to use a running emulator)"
)


def java_major_version() -> int | None:
    """The major version of the ``java`` on PATH, ``None`` if there is none."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        answer = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', answer.stderr + answer.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older call themselves "1.8".
    return int(match.group(2) or 0) if major == 1 else major


def find_emulator_jar() -> Path | None:
    """The emulator's jar: the variable's file, gcloud's component, or the Debian package's.

    A variable naming a file that does not exist raises ``RuntimeError`` (a typo must not
    silently fall back to another emulator)."""
    named = os.environ.get(EMULATOR_JAR_VARIABLE)
    if named:
        if Path(named).is_file():
            return Path(named)
        raise RuntimeError(f"{EMULATOR_JAR_VARIABLE}={named} is not a file")
    return _gcloud_jar() or _dpkg_jar()


def _gcloud_jar() -> Path | None:
    """The jar among the components of the Cloud SDK that the ``gcloud`` on PATH belongs to
    (``<sdk root>/bin/gcloud``, often behind a symlink such as /usr/bin/gcloud)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = Path(gcloud).resolve().parents[1]
    jar = root / "platform" / "cloud-firestore-emulator" / _JAR_NAME
    return jar if jar.is_file() else None


def _dpkg_jar() -> Path | None:
    if shutil.which("dpkg") is None:
        return None
    listing = subprocess.run(
        ["dpkg", "-L", _PACKAGE], capture_output=True, text=True, check=False, timeout=30
    )
    for line in listing.stdout.splitlines():
        if line.endswith(_JAR_NAME) and Path(line).is_file():
            return Path(line)
    return None


def postgres_bindir() -> Path | None:
    """The folder of PostgreSQL's server binaries, ``None`` when they are not installed."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            answer = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            answer = None
        if answer is not None and answer.returncode == 0:
            folder = Path(answer.stdout.strip())
            if (folder / "initdb").is_file():
                return folder
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def find_runuser() -> str | None:
    """``runuser`` (util-linux), on PATH or in /usr/sbin, /sbin (often not on root's PATH
    in a non-login shell)."""
    found = shutil.which("runuser")
    if found is not None:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/bin"):
        candidate = Path(folder) / "runuser"
        if candidate.is_file():
            return str(candidate)
    return None


def missing() -> list[str]:
    """What the test servers need and this machine lacks, each named with how to get it."""
    lacking: list[str] = []
    needs_node = not (
        os.environ.get("ASYNCDB_TEST_COUCHDB_URL") and os.environ.get("ASYNCDB_TEST_DYNAMODB_URL")
    )
    if needs_node:
        for tool in ("node", "npm"):
            if shutil.which(tool) is None:
                lacking.append(f"{tool} (Node.js, for pouchdb-server and dynalite)")
    if not os.environ.get(EMULATOR_HOST_VARIABLE):
        major = java_major_version()
        if major is None or major < JAVA_MINIMUM:
            found = "none" if major is None else f"Java {major}"
            lacking.append(f"Java {JAVA_MINIMUM} or later (found {found})")
        try:
            jar = find_emulator_jar()
        except RuntimeError as exc:
            lacking.append(str(exc))
        else:
            if jar is None:
                lacking.append(EMULATOR_HINT)
    if not os.environ.get(POSTGRES_URL_VARIABLE):
        folder = postgres_bindir()
        needed = ("initdb", "postgres", "pg_ctl", "pg_isready")
        if folder is None or not all((folder / name).is_file() for name in needed):
            lacking.append(POSTGRES_HINT)
        elif os.geteuid() == 0 and find_runuser() is None:
            lacking.append("runuser (util-linux: PostgreSQL refuses to run as root)")
    return lacking


def summary() -> str | None:
    """One line naming what is missing, or ``None`` when nothing is."""
    lacking = missing()
    if not lacking:
        return None
    return "missing for the test servers: " + "; ".join(lacking)


if __name__ == "__main__":
    line = summary()
    if line is not None:
        sys.stderr.write(line + "\n")
        sys.exit(1)
