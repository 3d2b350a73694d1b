"""The ``asyncdb serve`` subcommand: the document API under uvicorn.

FastAPI and uvicorn are imported only when the command runs, so ``asyncdb --help`` and
the other subcommands work without the ``server`` extra. Start-up follows the rule of
``asyncdb.server._preflight``: a configuration error exits 2 with one line naming the
variable; an unreachable backend or refused credentials are a warning, then 503s. With no
provider configured, the documents go to the SQLite file ``./asyncdb.sqlite3``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

__all__ = ["register", "serve"]

logger = logging.getLogger("asyncdb")


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the CLI's subcommands."""
    parser = subcommands.add_parser(
        "serve",
        help="serve the REST document API (on 127.0.0.1:8000, into ./asyncdb.sqlite3 by default)",
        description=(
            "Serve the REST document API over the configured provider "
            "(DATABASE_PROVIDER or DATABASE_URL, and the provider's variables). With "
            "neither, documents are kept in the SQLite file ./asyncdb.sqlite3 (SQLITE_PATH "
            "names another) and survive a restart; DATABASE_PROVIDER=memory keeps them in "
            "the process only. Off loopback a bearer token is required: ASYNCDB_API_TOKEN."
        ),
    )
    parser.add_argument("--host", help="address to listen on (ASYNCDB_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (ASYNCDB_PORT, default 8000; 0 = any)")
    parser.add_argument(
        "--max-body-bytes", type=int, help="request body limit (ASYNCDB_MAX_BODY_BYTES)"
    )
    parser.add_argument(
        "--schemas",
        metavar="MODULE:ATTR",
        help="validate the collections of this mapping {collection: DocumentModel} against "
        "their models, e.g. asyncdb.schemas:SCHEMA_MODELS (ASYNCDB_SCHEMAS; default: none, "
        "every collection takes any document)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        dest="cors_origins",
        help="let browser pages of this origin call the API, e.g. http://localhost:3000 "
        "(repeatable; ASYNCDB_CORS_ORIGINS, comma-separated)",
    )
    parser.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (ASYNCDB_LOG_LEVEL, default info)",
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    """Build the app (failing fast on bad settings) and run it until interrupted."""
    try:
        import uvicorn

        from asyncdb.server._app import create_app
    except ImportError as exc:
        sys.stderr.write(
            "asyncdb serve needs the server extra: pip install 'asyncdb-documents[server]' "
            f"(missing: {exc.name})\n"
        )
        return 2
    from pydantic import ValidationError as SettingsError

    from asyncdb._settings import Settings
    from asyncdb.errors import ConfigurationError
    from asyncdb.server._config import ServerConfig
    from asyncdb.server._preflight import check_settings, is_unconfigured, probe, serve_settings

    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("max_body_bytes", args.max_body_bytes),
            ("log_level", args.log_level),
            ("schemas", args.schemas),
            ("cors_origins", None if args.cors_origins is None else tuple(args.cors_origins)),
        )
        if value is not None
    }
    defaulted = False
    try:
        config = ServerConfig(**overrides)
        environment = Settings()
        defaulted = is_unconfigured(environment)
        settings = serve_settings(environment)
        check_settings(settings)
        app = create_app(settings, config=config)
        logging.basicConfig(
            level=config.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
        )
        asyncio.run(probe(settings))
    except ConfigurationError as exc:
        # A SQLite problem nobody asked for by name: say where the choice came from.
        why = (
            " (with neither DATABASE_PROVIDER nor DATABASE_URL set, asyncdb serve keeps its "
            "documents in SQLite; DATABASE_PROVIDER=memory keeps them in the process only)"
            if defaulted and "sqlite" in str(exc).lower()
            else ""
        )
        sys.stderr.write(f"asyncdb serve: {exc}{why}\n")
        return 2
    except SettingsError as exc:
        # Listed without the offending input: a malformed value may be a secret.
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            sys.stderr.write(f"asyncdb serve: {where}: {error['msg']}\n")
        return 2
    logger.info(
        "serving provider %s on http://%s:%d (token %s; %s)",
        settings.resolved().database_provider,
        config.host,
        config.port,
        "required" if config.api_token is not None else "not required: loopback only",
        f"schemas for {', '.join(sorted(config.schemas))}"
        if config.schemas
        else "no schemas: any document in any collection",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            lifespan="on",
            server_header=False,
        )
    )
    server.run()
    return 0 if server.started else 1
