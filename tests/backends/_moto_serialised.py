"""moto's server with one request handled at a time: ``python _moto_serialised.py PORT``.

DynamoDB documents a conditional write as atomic: of two PutItems conditional on the same
revision, exactly one succeeds. moto's server answers requests in threads and its DynamoDB
model checks a condition and then writes without a lock, so under concurrent writers two
conditional puts on one revision both succeed now and then (2 rounds in 150 of 12 racing
writers, measured here with moto 5.2). That is a stand-in's quirk the driver must not be
tested against: this wrapper keeps moto's own app and threaded connections, and runs the
app itself under one lock, so each request is applied whole before the next one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

_lock = threading.Lock()


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with _lock:
            # The body is produced inside the lock too: a WSGI app may do its work lazily.
            return list(app(environ, start_response))

    run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
