"""``aezoo serve``: the HTTP service."""

from __future__ import annotations

import argparse
import sys

from aezoo.cli.locations import locations
from aezoo.errors import missing_extra
from aezoo.integrations.ray.settings import add_engine_arguments
from aezoo.serving.settings import add_serve_arguments


def _cmd_serve(args: argparse.Namespace) -> int:
    args.refs = [*args.refs, *(args.model or [])]
    if args.engine == "ray":
        if getattr(args, "grpc_port", None) is not None:
            print(
                "aezoo serve: error: --grpc-port is not offered with --engine ray "
                "(Ray Serve answers HTTP only); serve gRPC with the default engine",
                file=sys.stderr,
            )
            return 2
        try:
            from aezoo.integrations.ray.serve import run
        except ModuleNotFoundError as e:  # aezoo.cli prints it in one line, exit status 2
            raise (missing_extra(e, "--engine ray") or e) from None
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
        "ready-to-paste curl call once listening. The gallery and playground are at / "
        "(--no-ui turns them off). Needs the [serve] extra.",
        epilog=locations("registry", "hub"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_serve_arguments(s)
    add_engine_arguments(s)
    s.add_argument(
        "--model", action="append", metavar="MODEL", help="same as a positional MODEL; repeatable"
    )
    s.set_defaults(fn=_cmd_serve, parser=s)
    add_export_torchserve_parser(sub)


def _cmd_export_torchserve(args: argparse.Namespace) -> int:
    from aezoo.integrations.torchserve.archive import ArchiveSettings, build_archive

    settings = ArchiveSettings(
        batch_size=args.batch_size,
        max_batch_delay_ms=args.max_batch_delay,
        workers=args.workers,
        max_batch_size=args.max_batch_size,
        intra_op_threads=args.threads,
    )
    mar = build_archive(args.ref, args.to, settings, force=args.force)
    print(f"archive: {mar}")
    print(
        f"  serve: torchserve --start --ncs --disable-token-auth --model-store {mar.parent} "
        f"--models {mar.stem}={mar.name}"
    )
    return 0


def add_export_torchserve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``export-torchserve`` to the ``aezoo`` subcommands."""
    t = sub.add_parser(
        "export-torchserve",
        help="pack a model as a TorchServe archive (.mar)",
        description="Write DIR/NAME.mar with torch-model-archiver: aezoo's handler, the "
        "artifact's files (verified against its manifest when TorchServe loads them) and "
        "TorchServe's batching settings. TorchServe's Python needs aezoo installed. "
        "Routes: POST /predictions/NAME[/VERSION/{encode,denoise,classify}].",
    )
    t.add_argument("ref", metavar="NAME[@VERSION]", help="registry reference or artifact directory")
    t.add_argument("--to", required=True, metavar="DIR", help="output directory")
    t.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="requests per TorchServe batch (default %(default)s)",
    )
    t.add_argument(
        "--max-batch-delay",
        type=int,
        default=5,
        help="ms TorchServe waits to fill a batch (default %(default)s)",
    )
    t.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes (default 0: TorchServe's default, one per CPU core)",
    )
    t.add_argument(
        "--max-batch-size",
        type=int,
        default=1024,
        help="most samples per request; more -> 413 (default %(default)s)",
    )
    t.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime intra-op threads (default 0 = its default)",
    )
    t.add_argument("--force", action="store_true", help="overwrite an existing archive")
    t.set_defaults(fn=_cmd_export_torchserve)
