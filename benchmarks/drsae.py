"""DrSAE vs a deep rectifier MLP on the same data (Rolfe & LeCun, arXiv:1301.3775, Table 1).

Arms (every one early-stopped on the same 2,000 validation images, seeds alike):
  drsae-400-T11  DrSAE 784-400(x11)-10, the bundled recipe's model
  drsae-200-T11  DrSAE 784-200(x11)-10
  drsae-200-T2   DrSAE 784-200(x2)-10  (shrinking T; the paper's 1.49% vs 1.21%)
  mlp            784-1000-1000-1000-10 ReLU net trained from scratch (Adam, cross-entropy)
  mlp-masked     the same MLP with the recipe's input corruption (masking noise) while training,
                 so that the regulariser the DrSAE recipe uses is not what separates the arms

DrSAE arms take the packaged ``drsae-mnist`` recipe with the model width and T
overridden (and the epoch budget from the flags). Prints a markdown table of mean
± std over seeds: test error on MNIST test (first 5,000 images), validation error,
parameter count (all parameters; for DrSAE also the ones ``classify`` uses,
without the decoder D) and training minutes.

Usage:
  python benchmarks/drsae.py --data-dir ../shared/data/mnist --seeds 0 1 2
  # one process per seed, then one table:
  for s in 0 1 2; do OMP_NUM_THREADS=1 python benchmarks/drsae.py --data-dir ../shared/data/mnist \
      --seeds $s --json runs/bench-drsae-$s.json & done; wait
  python benchmarks/drsae.py --merge runs/bench-drsae-0.json runs/bench-drsae-1.json runs/bench-drsae-2.json
  python benchmarks/drsae.py --arms drsae-200-T11 drsae-200-T2 --discriminative-epochs 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aezoo.data.mnist import load_mnist
from aezoo.evaluation.metrics import classification_error
from aezoo.training import loop
from aezoo.training.corruptions import corrupt
from aezoo.training.drsae import DrSAETrainConfig, DrSAETrainer
from aezoo.training.recipes import read_recipe

from bench_io import merge_runs  # benchmarks/bench_io.py (the script directory is on sys.path)

DRSAE_ARMS = {"drsae-400-T11": (400, 11), "drsae-200-T11": (200, 11), "drsae-200-T2": (200, 2)}
ARMS = [*DRSAE_ARMS, "mlp", "mlp-masked"]


def _error(fn, split: tuple[np.ndarray, np.ndarray]) -> float:
    def logits(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return fn(torch.from_numpy(a)).numpy()

    return 100 * classification_error(logits, *split)


def run_drsae(arm: str, seed: int, args: argparse.Namespace, splits, workdir: Path) -> dict:
    n_components, n_steps = DRSAE_ARMS[arm]
    recipe = read_recipe("drsae-mnist")
    recipe["model"] = {**recipe["model"], "n_components": n_components, "n_steps": n_steps}
    recipe.update(seed=seed, name=arm)
    for key in ("unsupervised_epochs", "discriminative_epochs", "patience"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    cfg = DrSAETrainConfig.model_validate(recipe)
    t0 = time.perf_counter()
    trainer = DrSAETrainer(cfg, splits, workdir / f"{arm}-{seed}", show_progress=False)
    model = trainer.fit()
    minutes = (time.perf_counter() - t0) / 60
    n_all = sum(p.numel() for p in model.parameters())
    return {
        "test_error_pct": _error(model.classify, splits["test"]),
        "val_error_pct": _error(model.classify, splits["val"]),
        "params": n_all,
        "params_classify": n_all - model.D.numel(),
        "minutes": minutes,
        "epochs": len(trainer.state["history"]),
    }


def mlp(seed: int, hidden: int = 1000, depth: int = 3) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = 784
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, 10))


def run_mlp(seed: int, args: argparse.Namespace, splits, masked: bool) -> dict:
    """784-1000x3-10 ReLU MLP from scratch: Adam, batch 64, early stopping on validation."""
    corruption = DrSAETrainConfig.model_validate(read_recipe("drsae-mnist")).input_corruption
    net = mlp(seed)
    opt = torch.optim.Adam(net.parameters(), lr=args.mlp_lr)
    X, y = (torch.from_numpy(a) for a in splits["train"])
    best, best_state, best_epoch, epochs = None, None, 0, 0
    t0 = time.perf_counter()
    for ep in range(args.mlp_epochs):
        net.train()
        gen = loop.generator(seed, 0, ep)
        for idx in loop.batch_indices(len(X), 64, gen):
            x = corrupt(X[idx], corruption, gen) if masked else X[idx]
            loss = F.cross_entropy(net(x), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        err, epochs = _error(net, splits["val"]), ep + 1
        if best is None or err < best:
            best, best_epoch = err, ep + 1
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        elif ep + 1 - best_epoch >= args.mlp_patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    n_all = sum(p.numel() for p in net.parameters())
    return {
        "test_error_pct": _error(net, splits["test"]),
        "val_error_pct": _error(net, splits["val"]),
        "params": n_all,
        "params_classify": n_all,
        "minutes": (time.perf_counter() - t0) / 60,
        "epochs": epochs,
    }


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    cols = ["test_error_pct", "val_error_pct", "params", "params_classify", "minutes", "epochs"]
    lines = ["| arm | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for arm, rows in results.items():
        cells = []
        for c in cols:
            v = np.array([r[c] for r in rows], dtype=float)
            if c.startswith("params"):
                cells.append(f"{int(v[0]):,}")
            else:
                cells.append(f"{v.mean():.2f} ± {v.std():.2f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=ARMS, choices=ARMS)
    p.add_argument("--unsupervised-epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--discriminative-epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--patience", type=int, default=None, help="default: the recipe's")
    p.add_argument("--mlp-epochs", type=int, default=100)
    p.add_argument("--mlp-patience", type=int, default=15)
    p.add_argument("--mlp-lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--json", type=Path, help="also write raw per-seed results here")
    p.add_argument("--workdir", type=Path, default=Path("runs/bench-drsae"))
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    args = p.parse_args()
    if args.merge:
        print(table(merge_runs(args.merge)[0]))  # an arm still running has no rows: left out
        return
    torch.set_num_threads(args.threads)
    splits = {s: load_mnist(s, args.data_dir) for s in ("train", "val", "test")}
    results: dict[str, list[dict[str, Any]]] = {a: [] for a in args.arms}
    for seed in args.seeds:
        for arm in args.arms:
            if arm.startswith("mlp"):
                r = run_mlp(seed, args, splits, masked=arm == "mlp-masked")
            else:
                r = run_drsae(arm, seed, args, splits, args.workdir)
            results[arm].append(r)
            print(
                f"seed {seed} {arm}: " + ", ".join(f"{k}={v:.4g}" for k, v in r.items()), flush=True
            )
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    print(
        "\nMNIST (train 17,690 / val 2,000 / test = first 5,000 of the official test set), "
        f"seeds {args.seeds}, epochs: unsupervised {args.unsupervised_epochs or 'recipe'}, "
        f"discriminative {args.discriminative_epochs or 'recipe'} (max, early-stopped), "
        f"mlp {args.mlp_epochs} (max, early-stopped)\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
