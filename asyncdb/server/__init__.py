"""``asyncdb serve``: the reference REST document API over any provider.

``create_app()`` builds the FastAPI application; ``asyncdb serve`` runs it under uvicorn.
Importing this package imports FastAPI (``import asyncdb`` does not).
"""

from asyncdb.server.app import create_app
from asyncdb.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
