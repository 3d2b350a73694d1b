"""``asyncdb serve``: the reference REST document API over any provider.

``create_app()`` builds the FastAPI application; ``asyncdb serve`` runs it under uvicorn.
The names are imported on first use, so that the command line (``asyncdb.server._command``)
and ``ServerConfig`` work without FastAPI installed; ``create_app`` needs the ``server``
extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.server._app import create_app
    from asyncdb.server._config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from asyncdb.server._app import create_app

        return create_app
    if name == "ServerConfig":
        from asyncdb.server._config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module 'asyncdb.server' has no attribute {name!r}")
