"""``aezoo extract``: stream a dataset through a model into features, in one process or on Ray.

Wired into :mod:`aezoo.cli` with ``add_extract_parser(subparsers)``; the command
raises :class:`~aezoo.errors.AezooError` subclasses, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction

from aezoo.errors import ConfigError, missing_extra

DESCRIPTION = """\
Stream SOURCE through MODEL in batches and write the features to DEST, a float32
.npy file: (n, n_components) codes for encode, (n, n_features) for denoise. Memory
stays at a few batches whatever the size of SOURCE (a .npy source is memory-mapped).
DEST is written to a temporary file and renamed into place, so it is never
half-written.

SOURCE is one of:
  a .npy array (n, n_features) or (n, 28, 28), any numeric dtype, used as it is:
      uint8 pixels are NOT rescaled; pass --scale 1/255 for them
  an MNIST IDX image file (t10k-images-idx3-ubyte[.gz]): scaled by 1/255 automatically
  a directory of MNIST IDX files: its test images

With --engine ray, the same runs on a Ray cluster (a local one unless --address
joins another) through --actors copies of the model, and DEST is a new directory of
Parquet files (or .npy shards with --format npy), rows in input order. SOURCE is
then a .npy, Parquet or image file, or a directory of one kind of them; images
(28x28 PNG and the like) are read as grayscale and scaled by 1/255.
Needs the [ray] extra."""

EXAMPLES = """\
examples:
  aezoo extract sda-mnist X.npy codes.npy                  X float32 in [0, 1]
  aezoo extract sda-mnist pixels_u8.npy codes.npy --scale 1/255
  aezoo extract sda-mnist ../shared/data/mnist test_codes.npy
  aezoo extract sda-mnist@1 X.npy clean.npy --operation denoise --batch-size 4096
  python -c "import numpy as np; Z = np.load('codes.npy', mmap_mode='r'); print(Z.shape)"
  aezoo extract sda-mnist X.npy codes/ --engine ray --actors 2     -> codes/*.parquet
  aezoo extract sda-mnist pngs/ labels/ --engine ray --operation classify
  aezoo extract sda-mnist shards/ codes/ --engine ray --address auto --format npy
  python -c "import pyarrow.parquet as pq; print(pq.read_table('codes').num_rows)"
"""


def parse_scale(text: str) -> float:
    """``"0.5"``, ``"1e-3"`` or a fraction ``"1/255"`` -> a finite float > 0.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    try:
        value = float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"expected a number or a fraction like 1/255, got {text!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"scale must be a finite number > 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_extract_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``extract`` subcommand to ``subparsers``; returns its parser (fn=_cmd_extract)."""
    e = subparsers.add_parser(
        "extract",
        help="write a dataset's codes to a .npy file (batched, bounded memory)",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process, one .npy file (default); ray: Ray Data actors, a directory",
    )
    e.add_argument(
        "model",
        metavar="MODEL",
        help="registry reference name[@version|@alias] or artifact directory",
    )
    e.add_argument(
        "source", metavar="SOURCE", help=".npy file, MNIST IDX file, or MNIST IDX directory"
    )
    e.add_argument("dest", metavar="DEST", help="output .npy file (replaced if it exists)")
    e.add_argument(
        "--batch-size",
        type=_count,
        default=1024,
        metavar="N",
        help="rows per model call (default: 1024)",
    )
    e.add_argument(
        "--operation",
        choices=["encode", "denoise", "classify", "score"],
        default="encode",
        help="encode: codes (default); denoise: decode(encode(x)); score: anomaly scores, "
        "one column (n, 1); "
        "classify (ray engine): labels and probabilities",
    )
    e.add_argument(
        "--scale",
        type=parse_scale,
        metavar="S",
        help="multiply inputs by S first, e.g. 1/255 for uint8 pixels "
        "(default: 1 for .npy, 1/255 for IDX)",
    )
    e.add_argument(
        "--threads",
        type=_count,
        default=None,
        metavar="N",
        help="onnxruntime threads (local: default one per core; ray: per actor, default 1)",
    )
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    r = e.add_argument_group("--engine ray")
    r.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT (default: start a local one)",
    )
    r.add_argument(
        "--actors", type=_count, default=1, metavar="N", help="model actors (default: 1)"
    )
    r.add_argument(
        "--format",
        choices=["parquet", "npy"],
        default="parquet",
        help="parquet: every column (default); npy: the output column only, as shards",
    )
    r.add_argument("--column", metavar="NAME", help="input column (default: the only tensor one)")
    r.add_argument(
        "--output-column",
        metavar="NAME",
        help="output column (default: codes, outputs or labels by operation)",
    )
    e.set_defaults(fn=_cmd_extract)
    return e


def add_denoise_images_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add ``aezoo denoise-images`` (:mod:`aezoo.extract.photos`) to ``subparsers``."""
    d = subparsers.add_parser(
        "denoise-images",
        help="denoise a folder of PNG/JPEG photographs with a whole-image denoiser",
        description="Denoise every .png/.jpg/.jpeg directly in INPUT_DIR with MODEL (a "
        "whole-image denoiser) and write NAME.png files to OUTPUT_DIR. Colour images are "
        "denoised per channel. Files that fail are listed; the exit status is 1 if any did.",
        epilog="example:\n  aezoo denoise-images lista-denoiser-bsd photos/ clean/ --sigma 25",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("model", help="registry name[@version|alias], hf-hub:..., or artifact path")
    d.add_argument("input_dir", help="folder of PNG/JPEG images")
    d.add_argument("output_dir", help="folder for the denoised PNGs (created)")
    d.add_argument("--sigma", type=float, required=True,
                   help="noise standard deviation on the 0-255 scale (in the model's range)")  # fmt: skip
    d.add_argument("--max-image-pixels", type=_count, default=16 * 2**20,
                   help="largest width x height read (default %(default)s)")  # fmt: skip
    d.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = default)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(fn=_cmd_denoise_images)
    return d


def _cmd_denoise_images(args: argparse.Namespace) -> int:
    """Run :func:`aezoo.extract.photos.denoise_folder`; list failures; 1 if any."""
    import sys

    import PIL  # noqa: F401  (decodes the images: without the [data] extra, say so first)

    from aezoo.extract.photos import denoise_folder

    run = denoise_folder(
        args.model, args.input_dir, args.output_dir, args.sigma,
        max_pixels=args.max_image_pixels, progress=not args.quiet, threads=args.threads,
    )  # fmt: skip
    for path, why in run.failed:
        print(f"{path}: {why}", file=sys.stderr)
    print(
        f"denoised {len(run.written)} images -> {args.output_dir} in {run.seconds:.2f} s"
        + (f"; {len(run.failed)} failed" if run.failed else "")
    )
    return 1 if run.failed else 0


def _common(args: argparse.Namespace) -> dict[str, object]:
    """The options both engines take, as keyword arguments."""
    return {
        "batch_size": args.batch_size,
        "operation": args.operation,
        "progress": not args.quiet,
        "scale": args.scale,
    }


def _cmd_extract(args: argparse.Namespace) -> int:
    """Run the extraction and print one summary line; errors propagate as AezooError."""
    if args.engine == "ray":
        return _cmd_extract_ray(args)
    ray_only = {
        "--address": args.address,
        "--column": args.column,
        "--output-column": args.output_column,
    }
    ray_only["--actors"] = args.actors if args.actors != 1 else None
    ray_only["--format"] = args.format if args.format != "parquet" else None
    ray_only["--operation classify"] = args.operation == "classify" or None
    given = [flag for flag, value in ray_only.items() if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only with --engine ray")
    from aezoo.extract.features import extract_features

    r = extract_features(
        args.model, args.source, args.dest, **_common(args), threads=args.threads or 0
    )
    print(
        f"extracted {r.n_samples:,} rows -> {r.dest} ({r.n_samples}, {r.n_features_out}) float32 "
        f"[{args.operation}] in {r.seconds:.2f} s ({r.rows_per_second:,.0f} rows/s)"
    )
    return 0


def _cmd_extract_ray(args: argparse.Namespace) -> int:
    try:  # here, not deep in a worker: a missing [ray] extra is one line and exit 2
        import ray  # noqa: F401

        from aezoo.extract.ray_job import extract_with_ray
    except ModuleNotFoundError as e:
        raise (missing_extra(e, "--engine ray") or e) from None
    r = extract_with_ray(
        args.model,
        args.source,
        args.dest,
        **_common(args),
        actors=args.actors,
        cpus_per_actor=args.threads or 1,
        column=args.column,
        output_column=args.output_column,
        output_format=args.format,
        address=args.address,
    )
    print(
        f"extracted {r.n_samples:,} rows -> {r.dest}/ ({r.files} {args.format} files) "
        f"[{args.operation}, {args.actors} actor{'s' * (args.actors > 1)}] in {r.seconds:.2f} s "
        f"(cluster start {r.start_seconds:.2f} s; {r.rows_per_second:,.0f} rows/s after it)"
    )
    return 0


__all__ = ["add_extract_parser", "parse_scale"]
