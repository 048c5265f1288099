"""``aezoo serve``: the HTTP service."""

from __future__ import annotations

import argparse

from aezoo.cli.locations import locations
from aezoo.serving.settings import add_serve_arguments


def _cmd_serve(args: argparse.Namespace) -> int:
    from aezoo.serving.server import run

    args.refs = [*args.refs, *(args.model or [])]
    return run(args, args.parser)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` to the ``aezoo`` subcommands."""
    s = sub.add_parser(
        "serve",
        help="serve models over HTTP (encode, denoise, classify, interpolate)",
        description="Start the HTTP service. Without MODEL it serves every registered "
        "and bundled model. OpenAPI docs at /docs, metrics at /metrics; prints a "
        "ready-to-paste curl call once listening. The gallery and playground are at / "
        "(--no-ui turns them off). Needs the [serve] extra.",
        epilog=locations("registry", "hub"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_serve_arguments(s)
    s.add_argument(
        "--model", action="append", metavar="MODEL", help="same as a positional MODEL; repeatable"
    )
    s.set_defaults(fn=_cmd_serve, parser=s)
