"""``aezoo calibrate``: set a model's anomaly threshold on held-out normal data."""

from __future__ import annotations

import argparse


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from aezoo.runtime.calibrate import calibrate_version

    new, cal = calibrate_version(
        args.name,
        args.data,
        fpr=args.fpr,
        contamination=args.contamination,
        aliases=tuple(args.alias or ()),
    )
    target = f"fpr={cal.fpr}" if cal.fpr is not None else f"contamination={cal.contamination}"
    print(
        f"registered {new.name}@{new.version} ({new.path}): threshold {cal.threshold:.6g} "
        f"at {target} on {cal.rows} rows (sha256 {cal.data_sha256[:12]}...)"
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``calibrate`` to the ``aezoo`` subcommands."""
    c = sub.add_parser(
        "calibrate",
        help="set a model's anomaly threshold and p-values on data; registers a new version",
        description="Score DATA with model NAME (onnx/scorer.onnx), set the threshold at a "
        "false-positive rate (the split-conformal quantile of the scores; DATA = normal rows "
        "not used in training) or at a contamination (DATA holds that share of anomalies), and "
        "register the next version of NAME with the same weights and this calibration.json. "
        "The old version is left unchanged.",
    )
    c.add_argument("name", metavar="NAME", help="model reference name[@version|@alias]")
    c.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="rows to calibrate on: .npy, .npz (X), .csv, .parquet, an image folder",
    )
    target = c.add_mutually_exclusive_group()
    target.add_argument(
        "--fpr", type=float, help="target false-positive rate in (0, 0.5] (default 0.01)"
    )
    target.add_argument(
        "--contamination", type=float, help="share of anomalies in DATA, in (0, 0.5]"
    )
    c.add_argument(
        "--alias", action="append", metavar="ALIAS", help="move ALIAS to the new version"
    )
    c.set_defaults(fn=_cmd_calibrate)
