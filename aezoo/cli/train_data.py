"""``aezoo train FAMILY --data SOURCE``: train a family on the user's own data."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from aezoo.errors import ConfigError

# Recipe keys that the data decides when a packaged recipe is used as a template.
SIZED_KEYS = frozenset(
    {
        "model",
        "dataset",
        "name",
        "n_train",
        "n_val",
        "batch_size",
        "epochs",
        "pretrain_epochs",
        "finetune_epochs",
        "unsupervised_epochs",
        "discriminative_epochs",
        "finetune_max_shift",
        "max_train_samples",
        "train_split",
    }
)


def _image_size(text: str) -> tuple[int, int]:
    try:
        h, _, w = text.lower().partition("x")
        size = (int(h), int(w or h))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--image-size takes HxW (e.g. 32x32), got {text!r}"
        ) from None
    if min(size) <= 0:
        raise argparse.ArgumentTypeError(f"--image-size must be positive, got {text!r}")
    return size


def add_data_arguments(t: argparse.ArgumentParser) -> None:
    """The options of training on one's own data (``--data`` and what reads it)."""
    g = t.add_argument_group(
        "your own data (aezoo train FAMILY --data SOURCE)",
        "FAMILY is sda, lista, drsae or conv-ae (or a packaged recipe, used as a template "
        "for its training settings); sizes and epochs follow the data (see "
        "aezoo.training.sizing). SOURCE: a .npy/.npz file (X, optional y), a .csv or "
        ".parquet table, a folder of PNG/JPEG/BMP images (one subfolder per class, "
        "optional train/ val/ test/), a Hugging Face dataset (hf:NAME[:CONFIG], read "
        "through the datasets cache, or a save_to_disk directory).",
    )
    g.add_argument("--data", metavar="SOURCE", help="train on this data (see above)")
    g.add_argument("--name", help="registry name (default: derived from the source)")
    g.add_argument("--label-column", help="tables: the column holding class labels")
    g.add_argument(
        "--feature-columns",
        metavar="A,B,...",
        help="tables: the feature columns, comma-separated (default: every numeric column "
        "but the label)",
    )
    g.add_argument(
        "--image-size", type=_image_size, metavar="HxW", help="images: resize every image to HxW"
    )
    g.add_argument("--image-mode", choices=["L", "RGB"], help="images: grayscale or colour")
    g.add_argument(
        "--scaling",
        choices=["minmax", "standard", "standard-floor"],
        default="minmax",
        help="tables: per-feature scaling fitted on the training split, kept inside the "
        "model's graphs: minmax to [0, 1], standard z-scores, standard-floor z-scores with "
        "each scale at least 0.1 x the median per-feature std, so near-constant columns "
        "are not blown up (default %(default)s)",
    )
    g.add_argument("--seed", type=int, default=0, help="splits and training seed (default 0)")
    g.add_argument(
        "--memory-limit",
        type=int,
        default=512,
        metavar="MIB",
        help="a file or hf: source whose float32 rows take more MiB than this is streamed "
        "once to disk and trained by chunks, in bounded memory (labels are not used then); "
        "default %(default)s",
    )
    g.add_argument(
        "--allow-missing",
        action="store_true",
        help="tables: impute missing values (NaN, empty cells, infinity) with their column's "
        "mean on the training split instead of refusing the file; the model keeps the means "
        "and imputes NaN it is sent the same way",
    )


def calibrate_fpr(args: argparse.Namespace) -> float | None:
    """The false-positive rate ``aezoo train`` calibrates at, None with --no-calibrate.

    Raises:
        ConfigError: --calibrate-fpr outside (0, 0.5] (said before any training).
    """
    if args.no_calibrate:
        return None
    if not 0.0 < args.calibrate_fpr <= 0.5:
        raise ConfigError(f"--calibrate-fpr = {args.calibrate_fpr}; expected (0, 0.5]")
    return float(args.calibrate_fpr)


def print_calibration(artifact: Path) -> None:
    """One line on the artifact's threshold, when it has one."""
    path = artifact / "calibration.json"
    if path.is_file():
        cal = json.loads(path.read_text())
        print(
            f"calibrated: threshold {cal['threshold']:.6g} at fpr={cal['fpr']} on "
            f"{cal['rows']:,} held-out test rows (calibration.json)"
        )


def _template_keys(recipe: str | None) -> tuple[str, list[str]]:
    """The family of ``recipe`` and its training settings as ``--set`` overrides."""
    from aezoo.training.recipes import read_recipe
    from aezoo.training.sizing import FAMILY_NAMES

    if recipe is None:
        raise ConfigError("name a family (sda, lista, drsae, conv-ae) to train on --data")
    if recipe in FAMILY_NAMES:
        return recipe, []
    data = read_recipe(recipe)
    keep = {k: v for k, v in data.items() if k not in SIZED_KEYS and k != "family"}
    return data["family"], [f"{k}={json.dumps(v)}" for k, v in keep.items()]


def run_own_data(args: argparse.Namespace) -> int:
    """Train, evaluate, export and register; print where it went and its metrics."""
    family, template_sets = _template_keys(args.recipe)
    options: dict[str, Any] = {"seed": args.seed}
    for key in ("label_column", "image_size", "image_mode"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.feature_columns:
        options["feature_columns"] = [c.strip() for c in args.feature_columns.split(",")]
    if args.allow_missing:
        options["allow_missing"] = True

    from aezoo.training.own_data import train_on_data  # torch from here on

    artifact, version = train_on_data(
        family,
        args.data,
        name=args.name,
        overrides=[*template_sets, *(args.set or [])],
        scaling=args.scaling,
        run_dir=args.run_dir,
        register=not args.no_register,
        show_progress=not args.quiet,
        command="aezoo " + shlex.join(sys.argv[1:]),
        in_memory_bytes=args.memory_limit * 2**20,
        calibrate_fpr=calibrate_fpr(args),
        **options,
    )
    metrics = json.loads((artifact / "training.json").read_text())["metrics"]
    print(f"artifact: {artifact}")
    if version is not None:
        print(f"registered: {version.name}@{version.version} ({version.path})")
        print(f"  serve: aezoo serve {version.name}")
    print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    print_calibration(artifact)
    return 0
