"""``aezoo models [NAME]``, ``aezoo publish``, ``aezoo pull``: the local registry and the Hub."""

from __future__ import annotations

import argparse
import json

from aezoo.cli.locations import locations

HEADLINE = ("test_error_pct", "masking25_denoised_psnr_db", "recon_psnr_db", "probe_accuracy_pct")


def _cmd_models(args: argparse.Namespace) -> int:
    from aezoo.registry.artifact import read_config
    from aezoo.registry.store import LocalStore

    if args.name:
        return _one_model(args.name, args.json)

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


def _one_model(name: str, as_json: bool) -> int:
    """Every version of ``name`` with its aliases, then the alias history."""
    from aezoo.registry.artifact import read_manifest
    from aezoo.registry.store import LocalStore

    store = LocalStore()
    versions = [
        {
            "version": mv.version,
            "source": mv.source,
            "aliases": list(mv.aliases),
            "created_at": read_manifest(mv.path).created_at,
            "path": str(mv.path),
        }
        for mv in store.versions(name)
    ]
    out = {
        "name": name,
        "versions": versions,
        "aliases": store.aliases(name),
        "history": store.alias_history(name),
    }
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{name}: {len(versions)} version(s)")
    print(f"  {'version':<8} {'source':<8} {'aliases':<28} {'created':<26} path")
    for v in versions:
        tags = ", ".join(v["aliases"]) or "-"
        print(f"  {v['version']:<8} {v['source']:<8} {tags:<28} {v['created_at']:<26} {v['path']}")
    print("alias history (oldest first):" if out["history"] else "alias history: none")
    for h in out["history"]:
        if "alias" not in h:  # a note: moves no alias
            print(f"  {h['time']}  note on {h['to']}: {h['note']}  by {h['user']}: {h['command']}")
            continue
        print(
            f"  {h['time']}  {h['alias']}: {h['from'] or '(new)'} -> {h['to']}  "
            f"by {h['user']} (pid {h['pid']}): {h['command']}"
        )
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    if args.to == "mlflow":
        return _publish_mlflow(args)
    if not args.repo_id:
        raise ValueError("--repo-id ORG/REPO is required (or --to mlflow)")
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


def _publish_mlflow(args: argparse.Namespace) -> int:
    from aezoo.integrations.mlflow import publish as to_mlflow

    mv = to_mlflow(
        args.model,
        tracking_uri=args.tracking_uri,
        registered_model=args.registered_model,
        alias=args.alias,
    )
    print(f"published {mv.source} to MLflow as models:/{mv.name}/{mv.version} (run {mv.run_id})")
    print(f'load it with: mlflow.pyfunc.load_model("{mv.uri}")')
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    if args.ref.startswith("mlflow:"):
        from aezoo.integrations.mlflow import pull as from_mlflow

        v = from_mlflow(args.ref, tracking_uri=args.tracking_uri, name=args.name)
        print(f"pulled {args.ref} as {v.name}@{v.version} ({v.path})")
        return 0
    from aezoo.registry.hub import pull

    v = pull(args.ref, name=args.name)
    print(f"pulled {args.ref} as {v.name}@{v.version} ({v.path})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``models``, ``publish`` and ``pull`` to the ``aezoo`` subcommands."""
    m = sub.add_parser(
        "models",
        help="list models; with NAME, every version, alias and alias move of one model",
        description="List the latest version of every model in the local registry "
        "($AEZOO_HOME/registry) and the models bundled with the package. With NAME: every "
        "version of that model (bundled and local), its aliases, and the history of alias "
        "moves (who, what, from which version, when).",
        epilog=locations("registry"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("name", nargs="?", metavar="NAME", help="one model's versions and aliases")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(fn=_cmd_models)

    pub = sub.add_parser(
        "publish",
        help="upload a model version to the Hugging Face Hub or an MLflow registry",
        description="Upload one version of a registered model (or an artifact directory) to a "
        "Hugging Face Hub model repo in one commit, and tag the commit v<version>. Creates the "
        "repo if missing. The token comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT selects "
        "another Hub. With --to mlflow: log the version to an MLflow run and register it "
        "(needs aezoo[mlflow]).",
    )
    pub.add_argument("model", help="registry reference NAME[@VERSION|@ALIAS] or artifact directory")
    pub.add_argument("--repo-id", metavar="ORG/REPO", help="Hub model repo (required for the Hub)")
    pub.add_argument("--to", choices=("hub", "mlflow"), default="hub", help="where (default hub)")
    pub.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI, e.g. sqlite:///mlflow.db (default: MLFLOW_TRACKING_URI)",
    )
    pub.add_argument("--registered-model", metavar="NAME", help="MLflow model name (default NAME)")
    pub.add_argument("--alias", metavar="ALIAS", help="MLflow alias to move to the new version")
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
        epilog=locations("registry", "hub"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pl.add_argument(
        "ref",
        metavar="REF",
        help="hf-hub:ORG/REPO[@REVISION], mlflow:models:/NAME@ALIAS or mlflow:models:/NAME/VERSION",
    )
    pl.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI for mlflow: references (default: MLFLOW_TRACKING_URI)",
    )
    pl.add_argument("--name", help="local model name (default: the name in its manifest)")
    pl.set_defaults(fn=_cmd_pull)
