"""``aezoo serve``: the HTTP service."""

from __future__ import annotations

import argparse
import sys

from aezoo.serving.settings import add_engine_arguments, add_serve_arguments


def _cmd_serve(args: argparse.Namespace) -> int:
    args.refs = [*args.refs, *(args.model or [])]
    if args.engine == "ray":
        try:
            from aezoo.serving.ray_serve import run
        except ImportError as e:
            print(f"aezoo serve: --engine ray needs the [ray] extra: {e}", file=sys.stderr)
            return 1
    else:
        from aezoo.serving.server import run
    return run(args, args.parser)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve`` to the ``aezoo`` subcommands."""
    s = sub.add_parser(
        "serve",
        help="serve models over HTTP (encode, denoise, classify, interpolate)",
        description="Start the HTTP service. Without MODEL it serves every registered "
        "and bundled model. OpenAPI docs at /docs, metrics at /metrics; prints a "
        "ready-to-paste curl call once listening.",
    )
    add_serve_arguments(s)
    add_engine_arguments(s)
    s.add_argument(
        "--model", action="append", metavar="MODEL", help="same as a positional MODEL; repeatable"
    )
    s.set_defaults(fn=_cmd_serve, parser=s)
