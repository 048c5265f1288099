"""Layer-wise vs joint SdA pre-training (Zhou et al., arXiv:1405.1380, claims a-c), plus an
MLP of the same shape from random initialisation.

Same architecture, budget (pre-training passes over the data), fine-tuning
settings and seeds for every arm. Prints a markdown table of mean ± std over
seeds:
  - test reconstruction error of the pre-trained stack (clean test images, MSE per pixel
    and cross-entropy per image), claim (a);
  - linear-probe accuracy of the pre-trained top codes (scikit-learn logistic
    regression trained on the 17,690 training images), claim (b);
  - test error after supervised fine-tuning (early-stopped on validation), claim (c).

Usage (one process per seed in parallel, then merge the tables):
  for s in 0 1 2; do OMP_NUM_THREADS=1 python benchmarks/sda_joint_vs_layerwise.py \
      --data-dir ../shared/data/mnist --seeds $s --json runs/bench-sda-$s.json & done; wait
  python benchmarks/sda_joint_vs_layerwise.py --merge runs/bench-sda-*.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aezoo.data.mnist import load_mnist
from aezoo.evaluation.metrics import classification_error, reconstruction_metrics
from aezoo.training.sda import SdATrainConfig, SdATrainer, top_code_probe

from bench_io import (  # benchmarks/bench_io.py (the script directory is on sys.path)
    merge_runs,
    print_mean_std_table,
)


def recon_errors(model, X: np.ndarray) -> tuple[float, float]:
    with torch.no_grad():
        x = torch.from_numpy(X)
        x_hat = model(x)
        mse = reconstruction_metrics(lambda a: model(torch.from_numpy(a)).numpy(), X)["recon_mse"]
        ce = float(F.binary_cross_entropy(x_hat.clamp(1e-7, 1 - 1e-7), x, reduction="sum")) / len(x)
    return mse, ce


def run_arm(scheme: str, seed: int, args, splits, tmp: Path) -> dict[str, float]:
    base = dict(
        seed=seed,
        scheme="joint" if scheme == "mlp" else scheme,
        pretrain_epochs=0 if scheme == "mlp" else args.pretrain_epochs,
        model={"hidden_sizes": args.hidden_sizes},
        batch_size=args.batch_size,
        finetune_epochs=args.finetune_epochs,
        patience=args.patience,
    )
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    pre = SdATrainer(
        SdATrainConfig(**{**base, "finetune_epochs": 0}),
        splits,
        tmp / f"{scheme}{seed}p",
        show_progress=False,
    )
    pretrained = pre.fit()
    if scheme != "mlp":
        out["recon_mse"], out["recon_ce"] = recon_errors(pretrained, splits["test"][0])
        out["probe_acc_pct"] = 100 * top_code_probe(
            pretrained, splits["train"], splits["test"], seed
        )
    ft = SdATrainer(
        SdATrainConfig(**{**base, "pretrain_epochs": 0}),
        splits,
        tmp / f"{scheme}{seed}f",
        show_progress=False,
    )
    ft.model.load_state_dict(pretrained.state_dict())
    model = ft.fit()
    fn = lambda a: model.classify(torch.from_numpy(a)).detach().numpy()  # noqa: E731
    out["test_error_pct"] = 100 * classification_error(fn, *splits["test"])
    out["minutes"] = (time.perf_counter() - t0) / 60
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[500, 300, 200])
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--finetune-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--arms", nargs="+", default=["layerwise", "joint", "mlp"])
    p.add_argument("--json", type=Path, help="also write raw per-seed results here")
    p.add_argument("--workdir", type=Path, default=Path("runs/bench-sda"))
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    args = p.parse_args()
    if args.merge:
        merged, meta = merge_runs(args.merge)
        print_table(merged, argparse.Namespace(**meta["_args"]))
        return
    splits = {s: load_mnist(s, args.data_dir) for s in ("train", "val", "test")}
    results: dict[str, list[dict[str, float]]] = {a: [] for a in args.arms}
    for seed in args.seeds:
        for arm in args.arms:
            r = run_arm(arm, seed, args, splits, args.workdir)
            results[arm].append(r)
            print(
                f"seed {seed} {arm}: " + ", ".join(f"{k}={v:.4g}" for k, v in r.items()), flush=True
            )
    if args.json:
        meta = {
            k: v
            for k, v in vars(args).items()
            if k in ("hidden_sizes", "pretrain_epochs", "finetune_epochs", "patience", "seeds")
        }
        args.json.write_text(json.dumps({**results, "_args": meta}, indent=2))
    print_table(results, args)


def print_table(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    """Markdown table: mean ± std over seeds of every column, one row per arm."""
    n_seeds = max(len(rows) for rows in results.values())
    cols = ["recon_mse", "recon_ce", "probe_acc_pct", "test_error_pct", "minutes"]
    arch = "-".join(map(str, args.hidden_sizes))
    print(
        f"\nMNIST (train 17,690 / val 2,000 / test = first 5,000), 784-{arch}-10 sigmoid, "
        f"masking 25%, {args.pretrain_epochs} pre-training passes, fine-tuning <= "
        f"{args.finetune_epochs} epochs (patience {args.patience}), {n_seeds} seeds\n"
    )
    print_mean_std_table(results, cols)


if __name__ == "__main__":
    main()
