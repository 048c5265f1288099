"""``aezoo train``, ``aezoo export``, ``aezoo evaluate``: recipes to artifacts, and their scores."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

from aezoo.cli.locations import locations
from aezoo.cli.train_data import add_data_arguments, calibrate_fpr, print_calibration
from aezoo.errors import AezooError, install_hint


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refused it, or a broken half-import
        return False


def _print_recipes() -> None:
    from aezoo.training.recipe_help import recipe_infos

    infos = recipe_infos()
    width = max(len(r.name) for r in infos)
    print(f"{'recipe':<{width}}  {'family':<7}  {'data':<7}  {'shipped':>9}  purpose")
    for r in infos:
        shipped = _minutes(r.shipped_seconds)
        print(f"{r.name:<{width}}  {r.family:<7}  {r.dataset:<7}  {shipped:>9}  {r.description}")
    print(
        "shipped: training time of the bundled model of that name (2-core CPU); "
        "`aezoo train NAME --help-recipe` lists a recipe's keys"
    )
    print(
        "families, for your own data (`aezoo train FAMILY --data SOURCE`): "
        "sda, lista, drsae, conv-ae (images; --set acai.enabled=true adds the ACAI critic)"
    )
    if not _installed("torch"):
        print(
            "note: training needs the [train] extra (torch is not installed); "
            + install_hint("train")
        )


def _cmd_train(args: argparse.Namespace) -> int:
    from aezoo.training.recipe_help import check_keys, flatten, format_recipe_help, override_keys
    from aezoo.training.recipes import apply_overrides, read_recipe

    if args.list:
        _print_recipes()
        return 0
    if args.data:
        from aezoo.cli.train_data import run_own_data

        calibrate_fpr(args)  # a bad value answers before the data is read
        return run_own_data(args)
    if not args.recipe:
        raise AezooError(
            "name a recipe, or a family with --data SOURCE (aezoo train --list shows them)"
        )
    data = read_recipe(args.recipe)
    label = Path(args.recipe).stem
    # Keys are checked here, before torch is imported: a typo answers at once.
    check_keys(data["family"], flatten(data), label)
    check_keys(data["family"], override_keys(args.set or []), label, "--set key")
    data = apply_overrides(data, args.set or [])
    if args.help_recipe:
        print(format_recipe_help(label, data))
        return 0

    from aezoo.training.pipeline import parse_config, run_recipe  # torch from here on

    cfg = parse_config(data)
    run_dir = Path(args.run_dir or f"runs/{cfg.name}")
    artifact, version = run_recipe(
        cfg,
        run_dir,
        data_dir=args.data_dir,
        resume=args.resume,
        register=not args.no_register,
        export_to=Path(args.export_to) if args.export_to else None,
        show_progress=not args.quiet,
        calibrate_fpr=calibrate_fpr(args),
    )
    metrics = json.loads((artifact / "training.json").read_text())["metrics"]
    print(f"artifact: {artifact}")
    if version is not None:
        print(f"registered: {version.name}@{version.version} ({version.path})")
    print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    print_calibration(artifact)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from aezoo.registry.store import LocalStore
    from aezoo.training.pipeline import export_run

    out = export_run(Path(args.run_dir), Path(args.to) if args.to else None, args.data_dir)
    print(f"artifact: {out}")
    if args.register:
        v = LocalStore().add(
            out, args.name or json.loads((out / "manifest.json").read_text())["name"]
        )
        print(f"registered: {v.name}@{v.version}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import aezoo
    from aezoo.evaluation.artifact import evaluate_artifact, training_record

    model = aezoo.load(args.model)
    metrics = evaluate_artifact(model, data_dir=args.data_dir, split=args.split)
    dataset = training_record(model).get("dataset", "mnist")
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{model.name}@{model.version} on {dataset} {args.split}:")
        for k, v in metrics.items():
            print(f"  {k:<28} {v:.4g}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``train``, ``export`` and ``evaluate`` to the ``aezoo`` subcommands."""
    t = sub.add_parser(
        "train",
        help="train a recipe, export it to ONNX and register it",
        description="Train a named recipe (or a recipe JSON file), or a family on your own "
        "data (aezoo train FAMILY --data SOURCE: a table, an image folder, a Hugging Face "
        "dataset), evaluate it on the test split, export the ONNX artifact with its model "
        "card and register it in the local registry. Checkpoints every epoch to RUN_DIR/checkpoint.pt. Training needs "
        "the [train] extra; --list and --help-recipe do not.",
        epilog=locations("data", "cache", "registry"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "recipe",
        nargs="?",
        metavar="RECIPE_OR_FAMILY",
        help="packaged recipe name (see --list) or path to a recipe JSON; with --data, a "
        "family (sda, lista, drsae, conv-ae) or a recipe used as a template",
    )
    t.add_argument(
        "--list",
        action="store_true",
        help="list packaged recipes (family, data, purpose, shipped run's time) and exit",
    )
    t.add_argument(
        "--help-recipe",
        action="store_true",
        help="list the recipe's keys with their values, defaults and meaning, and exit",
    )
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a recipe key (JSON value); dotted keys reach nested sections; "
        "repeatable; unknown keys are rejected (--help-recipe lists them)",
    )
    t.add_argument(
        "--data-dir",
        help="MNIST IDX directory (default: $AEZOO_DATA_DIR, else download to the cache)",
    )
    t.add_argument("--run-dir", help="checkpoints and the built artifact (default: runs/<name>)")
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    t.add_argument(
        "--no-register", action="store_true", help="build the artifact but do not register it"
    )
    t.add_argument(
        "--export-to",
        metavar="DIR",
        help="also copy the artifact to DIR (e.g. aezoo/pretrained/NAME)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument(
        "--calibrate-fpr",
        type=float,
        default=0.01,
        metavar="FPR",
        help="after training, set the model's anomaly threshold at this false-positive rate "
        "on the held-out test split (the split-conformal quantile of its scores, stored in "
        "calibration.json with the rows' count and hash, as `aezoo calibrate` does); a "
        "model or data that cannot be calibrated (no test split, fewer than 1/FPR - 1 test "
        "rows) is said on stderr and left without a threshold. The test split should be "
        "normal data; otherwise calibrate later on normal rows. Default %(default)s",
    )
    t.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not calibrate: the model answers scores without a threshold",
    )
    add_data_arguments(t)
    t.set_defaults(fn=_cmd_train)

    e = sub.add_parser(
        "export",
        help="build an artifact from a run's checkpoint",
        description="Re-export the best weights of RUN_DIR/checkpoint.pt as an artifact "
        "(ONNX graphs with parity check, safetensors, model card). Needs the [train] extra.",
        epilog=locations("data", "cache", "registry"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("run_dir", help="run directory holding checkpoint.pt")
    e.add_argument(
        "--to", metavar="DIR", help="artifact directory to write (default: RUN_DIR/artifact)"
    )
    e.add_argument("--register", action="store_true", help="also add it to the local registry")
    e.add_argument("--name", help="registry name (default: the recipe's name)")
    e.add_argument("--data-dir", help="MNIST IDX directory for the card's metrics and figures")
    e.set_defaults(fn=_cmd_export)

    v = sub.add_parser(
        "evaluate",
        help="test metrics of a model (onnxruntime, no torch)",
        description="Run a registered model or artifact directory over the split of the "
        "data set it was trained on (MNIST, lines or patches) and print its test error, "
        "reconstruction PSNR and denoising gain (onnxruntime, no torch).",
        epilog=locations("data", "cache", "registry"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("model", help="registry reference name[@version|@alias] or artifact directory")
    v.add_argument(
        "--data-dir", help="MNIST IDX directory (default: $AEZOO_DATA_DIR, else the cache)"
    )
    v.add_argument("--split", default="test", choices=["train", "val", "test"])
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(fn=_cmd_evaluate)
