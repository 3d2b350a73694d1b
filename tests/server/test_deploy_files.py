"""docker-compose.yml, .env.example and .dockerignore, checked structurally (no Docker
engine runs here; docs/serve.md says what was not exercised)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_compose_runs_asyncdb_over_couchdb_3() -> None:
    services = _compose()["services"]
    assert set(services) == {"couchdb", "asyncdb", "postgres", "asyncdb-postgres"}
    # The PostgreSQL pair runs only with --profile postgres; the default is CouchDB's.
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "couchdb",
        "asyncdb",
    }
    couchdb, api = services["couchdb"], services["asyncdb"]
    assert couchdb["image"] == "couchdb:3"
    assert "ports" not in couchdb  # CouchDB is reachable only from the compose network
    assert api["build"] == "."
    assert api["env_file"] == ".env"
    assert api["environment"]["DATABASE_PROVIDER"] == "couchdb"
    assert api["environment"]["COUCHDB_URL"] == "http://couchdb:5984"
    assert api["depends_on"]["couchdb"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in api["ports"])


def test_compose_profile_postgres_runs_asyncdb_over_postgresql_15() -> None:
    services = _compose()["services"]
    postgres, api = services["postgres"], services["asyncdb-postgres"]
    assert postgres["image"] == "postgres:15" and postgres["profiles"] == ["postgres"]
    assert "ports" not in postgres  # reachable only from the compose network
    assert api["environment"]["DATABASE_PROVIDER"] == "postgres"
    assert api["environment"]["POSTGRES_URL"].endswith("@postgres:5432/asyncdb")
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in api["ports"])


def test_compose_takes_every_secret_from_env() -> None:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    referenced = set(re.findall(r"\$\{(\w+)", text))
    assert referenced == {
        "COUCHDB_USER",
        "COUCHDB_PASSWORD",
        "ASYNCDB_API_TOKEN",
        "POSTGRES_PASSWORD",
    }
    assert referenced <= set(_env_example())
    # No password is written into the file itself: every one comes from .env.
    without_references = re.sub(r"\$\{[^}]*\}", "", text).lower()
    for allowed in ("couchdb_password", "postgres_password"):
        without_references = without_references.replace(allowed, "")
    assert "password" not in without_references


def test_env_example_has_only_placeholders_and_no_real_secret() -> None:
    # asyncdb serve refuses the placeholder token (test_auth_and_limits.py): it must be changed.
    values = _env_example()
    placeholders = ("COUCHDB_PASSWORD", "POSTGRES_PASSWORD", "ASYNCDB_API_TOKEN")
    assert all("change-me" in values[name] for name in placeholders)


def test_dockerignore_keeps_secrets_and_bulk_out_of_the_image() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".git" in ignored and "tests" in ignored
