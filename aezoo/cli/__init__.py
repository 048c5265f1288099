"""The ``aezoo`` command line: a thin layer over the subpackages.

One module per group of commands (:mod:`~aezoo.cli.train`, :mod:`~aezoo.cli.models`,
:mod:`~aezoo.cli.serve`; ``extract`` lives with its package), each with ``add_parsers(sub)``.

Every command prints one clear line and exits non-zero on a known error
(no traceback); ``--debug`` shows the traceback. A command whose optional
dependencies are missing names the extra to install and exits 2.
"""

from __future__ import annotations

import argparse
import sys

from aezoo._version import __version__
from aezoo.cli import calibrate, denoiser, models, registry, serve, train
from aezoo.cli.locations import locations
from aezoo.errors import AezooError, MissingExtraError, missing_extra
from aezoo.extract.cli import add_denoise_images_parser, add_extract_parser
from aezoo.integrations.mlflow.errors import MlflowUnreachableError

EPILOG = """examples:
  aezoo serve                                   serve every registered and bundled model on 127.0.0.1:8000,
                                                with the gallery and playground at http://127.0.0.1:8000/
  aezoo train --list                            packaged recipes: family, data set, purpose, time
  aezoo train sda-mnist --help-recipe           a recipe's keys with their values, defaults, meaning
  aezoo models                                  list models with their versions and headline metrics
  aezoo train sda-mnist --data-dir ../shared/data/mnist
                                                train the recipe, export to ONNX, register as sda-mnist
  aezoo train sda-mnist --set seed=1 --set model.hidden_sizes=[500,500]
                                                override recipe keys (unknown keys are rejected)
  aezoo evaluate sda-mnist --data-dir ../shared/data/mnist
                                                test metrics of a registered model (onnxruntime)
  aezoo export runs/sda-mnist --to my-artifact  re-export a run's checkpoint as an artifact directory
  aezoo publish sda-mnist --repo-id ORG/sda-mnist
                                                upload the latest version to the Hub, tagged v<version>
  aezoo pull hf-hub:ORG/sda-mnist@v1            copy a Hub model into the local registry
  aezoo register path/to/artifact --alias production
                                                add an artifact directory as the next version
  aezoo alias sda-mnist production 2            point an alias at a version (recorded)
  aezoo calibrate sda-mnist --data normal.npy --fpr 0.005
                                                anomaly threshold at 0.5% false positives (new version)
  aezoo models sda-mnist                        every version, alias and alias move of a model
  aezoo serve hf-hub:ORG/sda-mnist              serve a model straight from the Hub (cached)
  aezoo export-torchserve sda-mnist --to model-store
                                                pack sda-mnist as a TorchServe archive (.mar)
  aezoo extract sda-mnist ../shared/data/mnist codes.npy
                                                write the MNIST test codes to a .npy file
  aezoo denoise-images lista-denoiser-bsd photos/ clean/ --sigma 25
                                                denoise a folder of PNG/JPEG photographs
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aezoo",
        description="Train, export, register and serve classic representation-learning autoencoders.",
        epilog=EPILOG + "\n" + locations("data", "cache", "registry", "hub"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"aezoo {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    train.add_parsers(sub)
    denoiser.add_parsers(sub)
    models.add_parsers(sub)
    registry.add_parsers(sub)
    calibrate.add_parsers(sub)
    serve.add_parsers(sub)
    add_extract_parser(sub)
    add_denoise_images_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    try:
        return int(args.fn(args) or 0)
    except (MissingExtraError, ModuleNotFoundError) as e:
        missing = e if isinstance(e, MissingExtraError) else missing_extra(e, "this command")
        if missing is None or args.debug:
            raise
        print(f"aezoo {args.command}: error: {missing}", file=sys.stderr)
        return 2
    except MlflowUnreachableError as e:  # no tracking server: one line, exit 2
        if args.debug:
            raise
        print(f"aezoo {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (AezooError, FileNotFoundError, FileExistsError, ValueError) as e:
        if args.debug:
            raise
        print(f"aezoo {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
