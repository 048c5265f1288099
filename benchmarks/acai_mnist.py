"""ACAI-regularised vs plain joint SdA on MNIST (Berthelot et al., arXiv:1807.07543; PAPERS.md §5):
does the adversarial interpolation regulariser hurt the linear probe?

Both arms train the same joint SdA (Zhou et al., PAPERS.md §2; 784-500-300-200
sigmoid, tied weights, 25% masking at every layer's input, Adam 1e-3, batch 128)
for the same number of unsupervised passes, without a classifier head and
without fine-tuning. The "acai" arm adds the ACAI term (lambda 0.5, gamma 0.2,
critic Adam 1e-4: the paper's official values) to every pre-training step.
A third arm, "acai-x784", multiplies lambda by 784: aezoo's SdA loss is a
cross-entropy SUMMED over the 784 pixels (plus the local terms), the paper's a
squared error AVERAGED over pixels, so this arm moves the ratio of adversarial to
reconstruction term back towards the paper's.

On the top codes of the pre-trained stack, per arm and seed:
  - linear probe accuracy (aezoo.evaluation.metrics.linear_probe: logistic regression on
    standardised codes, fit on the 17,690 training codes, scored on the 5,000 test codes);
  - K-means accuracy (aezoo.evaluation.clustering.kmeans_accuracy: PCA whitening and K-means,
    K = 10, fitted on the training codes as in the official cluster.py, Hungarian-matched
    accuracy on the test codes);
  - test reconstruction MSE per pixel; training seconds.

Each trained stack is saved under --workdir (state dict + recipe + history), so a
later call with --figure / --register reuses it instead of retraining.

Budget: 20 passes (defaults). Measured on the 2-core machine shared with other jobs,
1 thread: one pass takes ~4.8 s plain and ~12 s with ACAI (per step: the critic's
passes, two more encode/decode of the mixes and one of the batch), so one seed of
plain + acai trains in ~6 minutes (+ ~4 for acai-x784), evaluation ~10 s per arm.

Usage (one process at a time on 1 thread, then merge; figure and registry from seed 0,
reusing the saved stacks):
  for s in 0 1 2; do OMP_NUM_THREADS=1 python benchmarks/acai_mnist.py \
      --data-dir ../shared/data/mnist --seeds $s --json /tmp/bench-acai-mnist/seed-$s.json; done
  python benchmarks/acai_mnist.py --merge /tmp/bench-acai-mnist/seed-*.json
  OMP_NUM_THREADS=1 python benchmarks/acai_mnist.py --data-dir ../shared/data/mnist --seeds 0 \
      --figure benchmarks/figures/acai_mnist_interpolation.png --register
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aezoo.data.mnist import load_mnist
from aezoo.evaluation.clustering import kmeans_accuracy
from aezoo.evaluation.metrics import batched, linear_probe, reconstruction_metrics
from aezoo.export import figures
from aezoo.models.sda import StackedDenoisingAutoencoder
from aezoo.training.ops import torch_ops
from aezoo.training.sda import SdATrainConfig, SdATrainer

from bench_io import merge_runs  # benchmarks/bench_io.py (the script directory is on sys.path)

PIXELS = 784
REGISTRY_NAMES = {"plain": "sda-mnist-unsupervised", "acai": "sda-acai-mnist-unsupervised"}
FIGURE_PAIRS = slice(10, 18)  # the 4 test pairs the model card's interpolation.png uses
N_STEPS = 10


def arm_config(arm: str, seed: int, args: argparse.Namespace) -> SdATrainConfig:
    """The recipe of one arm: identical but for the ``acai`` field."""
    if arm not in ("plain", "acai", "acai-x784"):
        raise ValueError(f"unknown arm {arm!r}")
    acai: dict[str, Any] = {"enabled": arm != "plain", "lam": args.acai_lam, "gamma": args.gamma}
    if arm == "acai-x784":
        acai["lam"] = args.acai_lam * PIXELS
    return SdATrainConfig(
        name=REGISTRY_NAMES.get(arm, f"sda-{arm}-mnist-unsupervised"),
        seed=seed,
        scheme="joint",
        model={"hidden_sizes": args.hidden_sizes, "n_classes": None},
        pretrain_epochs=args.pretrain_epochs,
        finetune_epochs=0,
        batch_size=args.batch_size,
        acai=acai,
    )


def trained(
    arm: str, seed: int, args: argparse.Namespace, splits: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[StackedDenoisingAutoencoder, SdATrainConfig, dict[str, Any]]:
    """The arm's pre-trained stack: loaded from ``--workdir`` when saved there by the same
    recipe, else trained (and saved). Returns the model (eval mode), recipe and record."""
    cfg = arm_config(arm, seed, args)
    path = args.workdir / f"{arm}-seed{seed}.pt"
    if path.exists() and not args.retrain:
        saved = torch.load(path, weights_only=False)
        if saved["recipe"] == cfg.model_dump(mode="json"):
            model = StackedDenoisingAutoencoder(cfg.model)
            model.load_state_dict(saved["model"])
            print(f"seed {seed} {arm}: reusing {path}", flush=True)
            return model.eval(), cfg, saved
    t0 = time.perf_counter()
    trainer = SdATrainer(cfg, splits, args.workdir / f"run-{arm}-seed{seed}", show_progress=False)
    model = trainer.fit()
    record = {
        "recipe": cfg.model_dump(mode="json"),
        "model": model.state_dict(),
        "history": trainer.state["history"],
        "train_seconds": time.perf_counter() - t0,
    }
    args.workdir.mkdir(parents=True, exist_ok=True)
    torch.save(record, path)
    return model, cfg, record


def evaluate(
    model: StackedDenoisingAutoencoder,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int,
    kmeans_n_init: int,
) -> dict[str, float]:
    """Probe and K-means accuracy (%) of the top codes, test reconstruction MSE per pixel."""
    (Xtr, ytr), (Xte, yte) = splits["train"], splits["test"]

    ops = torch_ops(model)
    t0 = time.perf_counter()
    Z_tr, Z_te = batched(ops.encode, Xtr), batched(ops.encode, Xte)  # (n, 200)
    out = {
        "probe_acc_pct": 100 * linear_probe(Z_tr, ytr, Z_te, yte, seed),
        "kmeans_acc_pct": 100
        * kmeans_accuracy(Z_te, yte, 10, seed, Z_fit=Z_tr, n_init=kmeans_n_init),
        "recon_mse": reconstruction_metrics(ops.denoise, Xte)["recon_mse"],
    }
    out["eval_seconds"] = time.perf_counter() - t0
    return out


def interpolation_figure(
    models: dict[str, StackedDenoisingAutoencoder], X: np.ndarray, path: Path
) -> None:
    """4 test pairs x ``N_STEPS`` decoded mixes, one block of 4 rows per arm (in the given
    order, plain first), blocks separated by a gray row; written as PNG to ``path``."""
    alphas = torch.linspace(0, 1, N_STEPS)[:, None]  # (N_STEPS, 1)
    gap = np.full((N_STEPS, X.shape[1]), 0.5, np.float32)
    rows: list[np.ndarray] = []
    with torch.no_grad():
        for i, model in enumerate(models.values()):
            if i:
                rows.append(gap)
            z = model.encode(torch.from_numpy(X[FIGURE_PAIRS]))  # (8, n_components)
            for p in range(4):
                mix = (1 - alphas) * z[2 * p] + alphas * z[2 * p + 1]  # (N_STEPS, n_components)
                rows.append(model.decode(mix).numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figures.rows_figure(rows, (28, 28)))


def register(
    model: StackedDenoisingAutoencoder,
    cfg: SdATrainConfig,
    record: dict[str, Any],
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    workdir: Path,
) -> str:
    """Build the artifact with :func:`aezoo.training.pipeline.package` (no classifier head)
    and add it to the local registry; returns ``name@version``."""
    from aezoo.registry.store import LocalStore
    from aezoo.training.pipeline import package

    artifact = package(
        model,
        cfg,
        splits,
        workdir / f"artifact-{cfg.name}",
        record["history"],
        record["train_seconds"],
    )
    version = LocalStore().add(artifact, cfg.name)
    return f"{version.name}@{version.version}"


def diagnose(args: argparse.Namespace, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """The RESULTS.md diagnostics, from the runs' checkpoints under ``--workdir``: the ACAI
    term's share of the loss and how well the critic tracks alpha (1,024 test images), and
    the K-means spread of one fixed plain stack over K-means seeds."""
    from aezoo.training import loop
    from aezoo.training.acai import ACAIRegularizer
    from aezoo.training.sda import joint_loss

    x = torch.from_numpy(splits["test"][0][:1024])
    for arm in [a for a in args.arms if a != "plain"]:
        for seed in args.seeds:
            ckpt = loop.load_checkpoint(args.workdir / f"run-{arm}-seed{seed}")
            cfg = SdATrainConfig(**ckpt["train_config"])
            model = StackedDenoisingAutoencoder(cfg.model)
            model.load_state_dict(ckpt["model"])
            reg = ACAIRegularizer(model.eval(), cfg.acai)
            reg.load_state_dict(ckpt["acai"])
            with torch.no_grad():
                recon = float(joint_loss(model, x, cfg, torch.Generator().manual_seed(1)))
                z_mix, alpha = reg.mix(model.encode(x), torch.Generator().manual_seed(0))
                d = reg.critic.eval()(model.decode(z_mix))  # (1024,)
            adv = cfg.acai.lam * float(d.pow(2).mean())
            corr = np.corrcoef(alpha.numpy(), d.numpy())[0, 1]
            print(
                f"{arm} seed {seed}: ACAI term {adv:.4f} = {100 * adv / recon:.3f}% of the "
                f"reconstruction loss {recon:.1f}; critic vs alpha on mixes: corr {corr:.2f}"
            )
    if "plain" in args.arms:
        model, _, _ = trained("plain", args.seeds[0], args, splits)
        enc = torch_ops(model).encode
        Z_tr, Z_te = batched(enc, splits["train"][0]), batched(enc, splits["test"][0])
        accs = [100 * kmeans_accuracy(Z_te, splits["test"][1], 10, k, Z_fit=Z_tr) for k in range(5)]
        print(
            f"plain seed {args.seeds[0]}: K-means accuracy over K-means seeds 0-4: "
            f"{np.round(accs, 2).tolist()} (std {np.std(accs):.2f})"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=["plain", "acai", "acai-x784"])
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[500, 300, 200])
    p.add_argument("--pretrain-epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--acai-lam", type=float, default=0.5, help="lambda of the acai arm")
    p.add_argument("--gamma", type=float, default=0.2)
    p.add_argument("--kmeans-n-init", type=int, default=10)
    p.add_argument("--workdir", type=Path, default=Path("runs/bench-acai-mnist"))
    p.add_argument("--retrain", action="store_true", help="ignore stacks saved in --workdir")
    p.add_argument("--json", type=Path, help="also write raw per-seed results here")
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    p.add_argument("--figure", type=Path, help="interpolation strips of the first seed, PNG")
    p.add_argument(
        "--register",
        action="store_true",
        help="package the first seed's plain and acai stacks into the local registry",
    )
    p.add_argument(
        "--register-acai-arm",
        choices=["acai", "acai-x784"],
        default="acai",
        help="which ACAI arm --register publishes as sda-acai-mnist-unsupervised",
    )
    p.add_argument(
        "--diagnose",
        action="store_true",
        help="print the loss-share, critic and K-means diagnostics of the saved runs",
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.merge:
        merged, meta = merge_runs(args.merge)
        print_table(merged, argparse.Namespace(**meta["_args"]))
        return
    splits = {s: load_mnist(s, args.data_dir) for s in ("train", "val", "test")}
    if args.diagnose:
        diagnose(args, splits)
        return
    results: dict[str, list[dict[str, float]]] = {a: [] for a in args.arms}
    first: dict[str, tuple[StackedDenoisingAutoencoder, SdATrainConfig, dict[str, Any]]] = {}
    for seed in args.seeds:
        for arm in args.arms:
            model, cfg, record = trained(arm, seed, args, splits)
            r = {"seed": seed, **evaluate(model, splits, seed, args.kmeans_n_init)}
            r["train_seconds"] = record["train_seconds"]
            last = record["history"][-1]
            r["final_loss"] = last["loss"]
            if "critic_loss" in last:
                r["final_critic_loss"] = last["critic_loss"]
            results[arm].append(r)
            if seed == args.seeds[0]:
                first[arm] = (model, cfg, record)
            print(
                f"seed {seed} {arm}: " + ", ".join(f"{k}={v:.4g}" for k, v in r.items()), flush=True
            )
    if args.json:
        keys = (
            "hidden_sizes",
            "pretrain_epochs",
            "batch_size",
            "acai_lam",
            "gamma",
            "kmeans_n_init",
        )
        meta = {k: v for k, v in vars(args).items() if k in keys}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "_args": meta}, indent=2))
    print_table(results, args)
    if args.figure:
        interpolation_figure(
            {a: m for a, (m, _, _) in first.items()}, splits["test"][0], args.figure
        )
        print(f"\nwrote {args.figure} (rows: " + ", then ".join(first) + ")")
    if args.register:
        for arm in ("plain", args.register_acai_arm):
            if arm not in first:
                raise SystemExit(f"--register needs the {arm!r} arm in --arms")
            model, cfg, record = first[arm]
            cfg = cfg.model_copy(update={"name": REGISTRY_NAMES[arm.split("-")[0]]})
            print(f"registered {register(model, cfg, record, splits, args.workdir)}", flush=True)


def _cell(vals: list[float], fmt: str) -> str:
    return f"{np.mean(vals):{fmt}} ± {np.std(vals):{fmt}}" if vals else "n/a"


def print_table(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    """Markdown table (mean ± std over seeds), the per-seed probe differences to plain,
    and whether the regulariser cost more than 0.5 probe points on average."""
    n_seeds = max(len(rows) for rows in results.values())
    arch = "-".join(map(str, args.hidden_sizes))
    print(
        f"\nMNIST (train 17,690 / test = first 5,000), joint SdA 784-{arch} sigmoid, masking 25%, "
        f"{args.pretrain_epochs} unsupervised passes, no fine-tuning; ACAI lambda "
        f"{args.acai_lam:g} (x784 in acai-x784), gamma {args.gamma:g}; K-means n_init "
        f"{args.kmeans_n_init}; {n_seeds} seeds\n"
    )
    cols = [
        ("probe_acc_pct", ".2f"),
        ("kmeans_acc_pct", ".2f"),
        ("recon_mse", ".4f"),
        ("train_seconds", ".0f"),
    ]
    print(
        "| arm | probe acc % | K-means acc % | test recon MSE / pixel | seconds (training, 1 thread) |"
    )
    print("|---|---|---|---|---|")
    for arm, rows in results.items():
        cells = [_cell([r[c] for r in rows if c in r], f) for c, f in cols]
        print(f"| {arm} | " + " | ".join(cells) + " |")
    plain = {r["seed"]: r["probe_acc_pct"] for r in results.get("plain", [])}
    for arm, rows in results.items():
        if arm == "plain" or not plain:
            continue
        diffs = {
            r["seed"]: r["probe_acc_pct"] - plain[r["seed"]] for r in rows if r["seed"] in plain
        }
        if not diffs:
            continue
        per_seed = ", ".join(f"seed {s}: {d:+.2f}" for s, d in sorted(diffs.items()))
        mean = float(np.mean(list(diffs.values())))
        print(f"\n{arm} minus plain, probe accuracy (points): {per_seed}; mean {mean:+.2f}")
        verdict = "YES" if mean < -0.5 else "NO"
        print(f"Did {arm} cost more than 0.5 points of probe accuracy on average? {verdict}")


if __name__ == "__main__":
    main()
