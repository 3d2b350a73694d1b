"""The start-up rule of ``asyncdb serve`` (asyncdb/server/_preflight.py): a configuration
error exits 2 with one line naming the variable; an unreachable backend is a warning and
then 503s; refused credentials are a warning and the same 503 on every route."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from asyncdb import Settings
from asyncdb.cli import main
from asyncdb.server import ServerConfig, create_app
from asyncdb.server._preflight import probe
from tests.backends._process import free_port

PASSWORD = "not-the-password-4711"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    # serve's default database file goes to the working directory: never the checkout's.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(
            ("ASYNCDB_", "DATABASE_", "COUCHDB_", "DYNAMODB_", "AWS_", "GOOGLE_", "SQLITE_")
        ):
            monkeypatch.delenv(name)
    for name in ("FIRESTORE_EMULATOR_HOST", "GCLOUD_PROJECT", "FIRESTORE_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_MAX_RETRIES", "0")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DYNAMODB_REGION": "not a region!"}, "DYNAMODB_REGION='not a region!'"),
        ({"DYNAMODB_ENDPOINT_URL": "localhost:8000"}, "DYNAMODB_ENDPOINT_URL='localhost:8000'"),
        ({"DYNAMODB_ENDPOINT_URL": "http://"}, "DYNAMODB_ENDPOINT_URL='http://'"),
    ],
)
def test_a_dynamodb_configuration_error_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    named: str,
) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "dynamodb")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("asyncdb serve: ") and named in line


def test_firestore_without_credentials_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    pytest.importorskip("google.cloud.firestore")
    monkeypatch.setenv("DATABASE_PROVIDER", "firestore")
    monkeypatch.setenv("HOME", str(tmp_path))  # no application-default credentials file
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe a metadata server
    assert main(["serve"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in line and "Traceback" not in line


# -- the SQLite default of asyncdb serve -------------------------------------------------------
def test_serve_without_configuration_uses_sqlite_and_the_library_stays_memory() -> None:
    from asyncdb import create_database_service
    from asyncdb.server._preflight import serve_settings

    environment = Settings()
    assert environment.database_provider == "memory"  # the library's own default
    assert repr(create_database_service(environment)).startswith("<DatabaseService memory")
    assert serve_settings(environment).database_provider == "sqlite"


@pytest.mark.parametrize(
    "variables",
    [
        {"DATABASE_PROVIDER": "memory"},
        {"DATABASE_URL": "memory://"},
        {"DATABASE_PROVIDER": "MEMORY"},
    ],
)
def test_serve_keeps_a_configured_provider(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    from asyncdb.server._preflight import serve_settings

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert serve_settings(Settings()).resolved().database_provider == "memory"


async def test_the_sqlite_default_logs_the_absolute_path_of_its_file(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from asyncdb.server._preflight import serve_settings

    with caplog.at_level(logging.INFO, logger="asyncdb"):
        await probe(serve_settings(Settings()))
    expected = tmp_path.resolve() / "asyncdb.sqlite3"
    assert f"documents are stored in SQLITE_PATH='{expected}'" in caplog.text
    assert expected.exists()


@pytest.mark.parametrize("kind", ["under-a-file", "not-a-database", "a-folder"])
def test_a_bad_sqlite_path_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kind: str,
) -> None:
    (tmp_path / "some_file").write_text("not a folder, not a database")
    path = {
        "under-a-file": tmp_path / "some_file" / "db.sqlite3",
        "not-a-database": tmp_path / "some_file",
        "a-folder": tmp_path,
    }[kind]
    monkeypatch.setenv("SQLITE_PATH", str(path))
    assert main(["serve"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"asyncdb serve: SQLITE_PATH='{path}'"), line
    assert "DATABASE_PROVIDER=memory" in line  # where the SQLite choice came from
    assert "Traceback" not in line


def test_a_bad_sqlite_path_chosen_explicitly_says_nothing_of_the_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "some_file").write_text("x")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/some_file/db.sqlite3")
    assert main(["serve"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is a file" in line and "DATABASE_PROVIDER=memory" not in line


async def test_memory_warns_that_everything_is_lost_at_exit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        await probe(Settings(database_provider="memory"))
    assert "all lost when the server stops" in caplog.text


async def test_an_unreachable_dynamodb_is_a_warning_naming_what_to_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("aioboto3")
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        database_provider="dynamodb",
        dynamodb_endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        max_retries=0,
        request_timeout=5,
    )
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        await probe(settings)
    assert f"endpoint {endpoint}" in caplog.text
    assert "check DYNAMODB_REGION and DYNAMODB_ENDPOINT_URL" in caplog.text
    assert "answer 503" in caplog.text


async def test_a_mistyped_region_is_a_warning_naming_the_region_and_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("aioboto3")
    settings = Settings(
        database_provider="dynamodb",
        dynamodb_region="us-esat-1",  # no such region: its endpoint's name does not resolve
        aws_access_key_id="x",
        aws_secret_access_key="y",
        max_retries=0,
        request_timeout=5,
    )
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        await probe(settings)
    assert "DYNAMODB_REGION='us-esat-1' (a region AWS does not list)" in caplog.text
    assert "endpoint AWS's endpoint for us-esat-1" in caplog.text
    assert "check DYNAMODB_REGION and DYNAMODB_ENDPOINT_URL" in caplog.text


def test_a_mistyped_region_is_named_in_the_warning() -> None:
    pytest.importorskip("botocore")
    from asyncdb.drivers.dynamodb.settings import DynamoDBSettings

    assert DynamoDBSettings(dynamodb_region="us-esat-1").where() == (
        "DYNAMODB_REGION='us-esat-1' (a region AWS does not list), "
        "endpoint AWS's endpoint for us-esat-1"
    )
    assert "does not list" not in DynamoDBSettings(dynamodb_region="eu-west-1").where()


# -- refused credentials -----------------------------------------------------------------------
class _RefusingCouch(BaseHTTPRequestHandler):
    """What Apache CouchDB answers to every request with a wrong basic-auth password."""

    def _refuse(self) -> None:
        body = json.dumps(
            {"error": "unauthorized", "reason": "Name or password is incorrect."}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_couch() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingCouch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _couch_settings(url: str) -> Settings:
    return Settings(
        database_provider="couchdb",
        couchdb_url=url,
        couchdb_user="admin",
        couchdb_password=PASSWORD,
        max_retries=0,
    )


async def test_refused_couchdb_credentials_are_a_start_up_warning(
    refusing_couch: str, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("aiohttp")
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        await probe(_couch_settings(refusing_couch))
    assert "couchdb refused the credentials at start-up" in caplog.text
    assert "check COUCHDB_USER and COUCHDB_PASSWORD" in caplog.text
    assert PASSWORD not in caplog.text


async def test_refused_couchdb_credentials_are_503_on_every_route(refusing_couch: str) -> None:
    pytest.importorskip("aiohttp")
    app = create_app(_couch_settings(refusing_couch), config=ServerConfig())
    requests = [
        ("GET", "/healthz", None),
        ("GET", "/v1/notes/n1", None),
        ("HEAD", "/v1/notes/n1", None),
        ("PUT", "/v1/notes/n1", {"v": 1}),
        ("DELETE", "/v1/notes/n1", None),
        ("GET", "/v1/notes", None),
        ("POST", "/v1/notes/_bulk_get", {"ids": ["a"]}),
        ("POST", "/v1/notes/_bulk_save", {"documents": [{"_id": "a"}]}),
        ("POST", "/v1/notes/_bulk_delete", {"ids": ["a"]}),
        ("POST", "/v1/notes/_find", {"where": {"a": 1}}),
    ]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        for method, path, body in requests:
            response = await client.request(method, path, json=body)
            assert response.status_code == 503, (method, path, response.text)
            assert PASSWORD not in response.text
            if method != "HEAD":
                error = response.json()["error"]
                assert error["type"] == "AuthenticationError", (method, path, error)
                assert "refused this server's credentials" in error["message"]
