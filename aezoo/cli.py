"""The ``aezoo`` command line: a thin layer over the subpackages.

Every command prints one clear line and exits non-zero on a known error
(no traceback); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aezoo._version import __version__
from aezoo.errors import AezooError
from aezoo.extract.cli import add_extract_parser
from aezoo.serving.settings import add_serve_arguments

EPILOG = """examples:
  aezoo serve                                   serve every registered and bundled model on 127.0.0.1:8000
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
  aezoo serve hf-hub:ORG/sda-mnist              serve a model straight from the Hub (cached)
  aezoo extract sda-mnist ../shared/data/mnist codes.npy
                                                write the MNIST test codes to a .npy file
"""


HEADLINE = ("test_error_pct", "masking25_denoised_psnr_db", "recon_psnr_db", "probe_accuracy_pct")


def _cmd_train(args: argparse.Namespace) -> int:
    from aezoo.training.pipeline import parse_config, run_recipe
    from aezoo.training.recipes import apply_overrides, list_recipes, read_recipe

    if args.list:
        print("\n".join(list_recipes()))
        return 0
    if not args.recipe:
        raise AezooError("name a recipe (aezoo train --list shows them)")
    cfg = parse_config(apply_overrides(read_recipe(args.recipe), args.set or []))
    run_dir = Path(args.run_dir or f"runs/{cfg.name}")
    artifact, version = run_recipe(
        cfg,
        run_dir,
        data_dir=args.data_dir,
        resume=args.resume,
        register=not args.no_register,
        export_to=Path(args.export_to) if args.export_to else None,
        show_progress=not args.quiet,
    )
    metrics = json.loads((artifact / "training.json").read_text())["metrics"]
    print(f"artifact: {artifact}")
    if version is not None:
        print(f"registered: {version.name}@{version.version} ({version.path})")
    print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
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


def _cmd_models(args: argparse.Namespace) -> int:
    from aezoo.registry.artifact import read_config
    from aezoo.registry.store import LocalStore

    rows = []
    for mv in LocalStore().list():
        cfg = read_config(mv.path)
        training = mv.path / "training.json"
        metrics = json.loads(training.read_text()).get("metrics", {}) if training.is_file() else {}
        rows.append(
            {
                "name": mv.name,
                "version": mv.version,
                "source": mv.source,
                "family": cfg.family,
                "operations": cfg.operations,
                "metrics": metrics,
                "path": str(mv.path),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models (train one with `aezoo train sda-mnist`)")
        return 0
    print(
        f"{'name':<20} {'version':<8} {'source':<8} {'family':<7} {'operations':<38} headline metrics"
    )
    for r in rows:
        keys = [k for k in HEADLINE if k in r["metrics"]] or list(r["metrics"])[:3]
        head = ", ".join(f"{k}={r['metrics'][k]:.3g}" for k in keys)
        print(
            f"{r['name']:<20} {r['version']:<8} {r['source']:<8} {r['family']:<7} "
            f"{','.join(r['operations']):<38} {head}"
        )
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from aezoo.registry.hub import publish

    r = publish(
        args.model,
        args.repo_id,
        private=args.private,
        revision=args.revision,
        create_pr=args.create_pr,
    )
    print(f"published {r.name}@{r.version} to hf-hub:{r.repo_id} (commit {r.commit[:12]})")
    if r.pr_url:
        print(f"pull request: {r.pr_url} (merge it, then tag the merge commit v{r.version})")
    else:
        print(f'load it with: aezoo.load("hf-hub:{r.repo_id}@{r.tag}")')
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from aezoo.registry.hub import pull

    v = pull(args.ref, name=args.name)
    print(f"pulled {args.ref} as {v.name}@{v.version} ({v.path})")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from aezoo.serving.server import run

    args.refs = [*args.refs, *(args.model or [])]
    return run(args, args.parser)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aezoo",
        description="Train, export, register and serve classic representation-learning autoencoders.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"aezoo {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a recipe, export it to ONNX and register it",
        description="Train a named recipe (or a recipe JSON file), evaluate it on the test "
        "split, export the ONNX artifact with its model card and register it in the "
        "local registry. Checkpoints every epoch to RUN_DIR/checkpoint.pt.",
    )
    t.add_argument(
        "recipe", nargs="?", help="packaged recipe name (see --list) or path to a recipe JSON"
    )
    t.add_argument("--list", action="store_true", help="list packaged recipes and exit")
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a recipe key; dotted keys reach nested sections; repeatable",
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
    t.set_defaults(fn=_cmd_train)

    e = sub.add_parser(
        "export",
        help="build an artifact from a run's checkpoint",
        description="Re-export the best weights of RUN_DIR/checkpoint.pt as an artifact "
        "(ONNX graphs with parity check, safetensors, model card).",
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
        description="Run a registered model or artifact directory over an MNIST split and "
        "print its test error, reconstruction PSNR and denoising gain.",
    )
    v.add_argument("model", help="registry reference name[@version|@alias] or artifact directory")
    v.add_argument(
        "--data-dir", help="MNIST IDX directory (default: $AEZOO_DATA_DIR, else the cache)"
    )
    v.add_argument("--split", default="test", choices=["train", "val", "test"])
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(fn=_cmd_evaluate)

    m = sub.add_parser(
        "models",
        help="list models: name, version, family, operations, metrics",
        description="List the latest version of every model in the local registry "
        "($AEZOO_HOME/registry) and the models bundled with the package.",
    )
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(fn=_cmd_models)

    pub = sub.add_parser(
        "publish",
        help="upload a model version to the Hugging Face Hub",
        description="Upload one version of a registered model (or an artifact directory) to a "
        "Hugging Face Hub model repo in one commit, and tag the commit v<version>. Creates the "
        "repo if missing. The token comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT selects "
        "another Hub.",
    )
    pub.add_argument("model", help="registry reference NAME[@VERSION|@ALIAS] or artifact directory")
    pub.add_argument("--repo-id", required=True, metavar="ORG/REPO", help="Hub model repo")
    pub.add_argument("--private", action="store_true", help="create the repo private")
    pub.add_argument(
        "--revision",
        metavar="BRANCH",
        help="branch to commit to (created if missing; default main)",
    )
    pub.add_argument(
        "--create-pr",
        action="store_true",
        help="open a pull request instead of committing (the version is not tagged)",
    )
    pub.set_defaults(fn=_cmd_publish)

    pl = sub.add_parser(
        "pull",
        help="copy a Hugging Face Hub model into the local registry",
        description="Download hf-hub:ORG/REPO[@REVISION] through the Hugging Face cache "
        "(HF_HUB_CACHE; HF_HUB_OFFLINE=1 uses the cache only), verify every file against its "
        "manifest sha256, and add it to the local registry as a new version.",
    )
    pl.add_argument("ref", metavar="hf-hub:ORG/REPO[@REVISION]", help="Hub reference")
    pl.add_argument("--name", help="local model name (default: the name in its manifest)")
    pl.set_defaults(fn=_cmd_pull)

    s = sub.add_parser(
        "serve",
        help="serve models over HTTP (encode, denoise, classify, interpolate)",
        description="Start the HTTP service. Without MODEL it serves every registered "
        "and bundled model. OpenAPI docs at /docs, metrics at /metrics; prints a "
        "ready-to-paste curl call once listening.",
    )
    add_serve_arguments(s)
    s.add_argument(
        "--model", action="append", metavar="MODEL", help="same as a positional MODEL; repeatable"
    )
    s.set_defaults(fn=_cmd_serve, parser=s)
    add_extract_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    try:
        return int(args.fn(args) or 0)
    except (AezooError, FileNotFoundError, FileExistsError, ValueError) as e:
        if args.debug:
            raise
        print(f"aezoo {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
