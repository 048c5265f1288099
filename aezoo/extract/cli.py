"""``aezoo extract``: stream a dataset file through a model's encoder into a ``.npy`` file.

Wired into :mod:`aezoo.cli` with ``add_extract_parser(subparsers)``; the command
raises :class:`~aezoo.errors.AezooError` subclasses, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction

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
  a directory of MNIST IDX files: its test images"""

EXAMPLES = """\
examples:
  aezoo extract sda-mnist X.npy codes.npy                  X float32 in [0, 1]
  aezoo extract sda-mnist pixels_u8.npy codes.npy --scale 1/255
  aezoo extract sda-mnist ../shared/data/mnist test_codes.npy
  aezoo extract sda-mnist@1 X.npy clean.npy --operation denoise --batch-size 4096
  python -c "import numpy as np; Z = np.load('codes.npy', mmap_mode='r'); print(Z.shape)"
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


def _batch_size(text: str) -> int:
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
        type=_batch_size,
        default=1024,
        metavar="N",
        help="rows per model call (default: 1024)",
    )
    e.add_argument(
        "--operation",
        choices=["encode", "denoise"],
        default="encode",
        help="encode: codes (default); denoise: decode(encode(x))",
    )
    e.add_argument(
        "--scale",
        type=parse_scale,
        metavar="S",
        help="multiply inputs by S first, e.g. 1/255 for uint8 pixels "
        "(default: 1 for .npy, 1/255 for IDX)",
    )
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(fn=_cmd_extract)
    return e


def _cmd_extract(args: argparse.Namespace) -> int:
    """Run the extraction and print one summary line; errors propagate as AezooError."""
    from aezoo.extract.features import extract_features

    r = extract_features(
        args.model,
        args.source,
        args.dest,
        batch_size=args.batch_size,
        operation=args.operation,
        progress=not args.quiet,
        scale=args.scale,
    )
    print(
        f"extracted {r.n_samples:,} rows -> {r.dest} ({r.n_samples}, {r.n_features_out}) float32 "
        f"[{args.operation}] in {r.seconds:.2f} s ({r.rows_per_second:,.0f} rows/s)"
    )
    return 0


__all__ = ["add_extract_parser", "parse_scale"]
