"""``aezoo register`` and ``aezoo alias``: add an artifact directory, move an alias."""

from __future__ import annotations

import argparse


def _cmd_register(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aezoo.registry.artifact import read_manifest
    from aezoo.registry.store import LocalStore

    src = Path(args.dir)
    name = args.name or read_manifest(src).name
    command = f"aezoo register {src}" + (f" --name {name}" if args.name else "")
    v = LocalStore().add(src, name, aliases=tuple(args.alias or ()), command=command)
    print(f"registered {v.name}@{v.version} ({v.path})")
    for alias in args.alias or ():
        print(f"  {alias} -> {v.version}")
    return 0


def _cmd_alias(args: argparse.Namespace) -> int:
    from aezoo.registry.store import LocalStore

    command = f"aezoo alias {args.name} {args.alias} {args.version}"
    rec = LocalStore().set_alias(args.name, args.alias, args.version, command=command)
    print(f"{args.name}@{args.alias}: {rec['from'] or '(new)'} -> {rec['to']}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``register`` and ``alias`` to the ``aezoo`` subcommands."""
    r = sub.add_parser(
        "register",
        help="add an artifact directory to the local registry as a new version",
        description="Verify an artifact directory (manifest, config, graphs), copy the files its "
        "manifest lists into the local registry ($AEZOO_HOME/registry) as the next version of "
        "NAME, and optionally move aliases to it. A name bundled with the package numbers after "
        "the bundled version.",
    )
    r.add_argument("dir", metavar="DIR", help="artifact directory (holds manifest.json)")
    r.add_argument("--name", help="registry name (default: the name in its manifest)")
    r.add_argument(
        "--alias",
        action="append",
        metavar="ALIAS",
        help="move ALIAS (e.g. production) to the new version; repeatable",
    )
    r.set_defaults(fn=_cmd_register)

    a = sub.add_parser(
        "alias",
        help="point an alias of a model at a version",
        description="Point ALIAS of model NAME at VERSION (a local version number, the bundled "
        "version's number, or 'bundled'). The move is recorded in the model's alias history "
        "(`aezoo models NAME` shows it); 'latest' and 'bundled' are implicit and cannot be set.",
    )
    a.add_argument("name", metavar="NAME", help="model name")
    a.add_argument("alias", metavar="ALIAS", help="alias to move (e.g. production, staging)")
    a.add_argument("version", metavar="VERSION", help="version number, or 'bundled'")
    a.set_defaults(fn=_cmd_alias)
