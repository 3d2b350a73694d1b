"""The ``asyncdb`` command line: ``asyncdb <subcommand> ...``.

Each subcommand lives in its own module, which exposes ``register(subcommands)``: it adds
its parser and sets ``handler`` (a function of the parsed arguments returning the exit
status). To add one (``export``, ``import``, ``migrate`` ...), write such a module and
list it in ``SUBCOMMAND_MODULES``; keep heavy imports inside the handler.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

__all__ = ["SUBCOMMAND_MODULES", "build_parser", "main"]

#: Modules that register a subcommand, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: Final[tuple[str, ...]] = ("asyncdb.server._command", "asyncdb.transfer._cli")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    from asyncdb import __version__

    parser = argparse.ArgumentParser(
        prog="asyncdb", description="asyncdb: one awaited document API over many databases."
    )
    parser.add_argument("--version", action="version", version=f"asyncdb {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="<command>")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the return value is the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
