"""The ACAI lines benchmark (Berthelot et al., arXiv:1807.07543 §4): Mean Distance and
Smoothness of interpolations, for the conv autoencoder's four variants and for SdAs.

Arms (same training lines, seed and budget within a family):
  - ae, denoising, dropout, acai: the packaged recipes ``<arm>-lines`` (conv-ae family);
  - sda: a joint SdA 1024-256-64 (sigmoid, tied weights, 25% masking) trained on the lines
    mapped to [0, 1] (``(x + 1) / 2``; decoded frames are mapped back), the same number
    of passes over the same ``n_train`` lines as the conv recipes;
  - sda-acai: the same SdA with ACAI at lambda = 0.5 x 1024: the SdA's loss is a
    cross-entropy SUMMED over the 1,024 pixels, the paper's a squared error AVERAGED
    over them, so the paper's lambda = 0.5 corresponds to 512 here (see the MNIST ACAI
    section of RESULTS.md for what lambda = 0.5 does to an SdA: nothing).
Metrics (aezoo.evaluation.scores.lines_scores): 16 pairs (seed 0) x 16 steps; test MSE on
5,000 fixed test lines. Lower is better for all three.

Usage (one process per seed, 1 thread each, then merge):
  for s in 0 1 2; do OMP_NUM_THREADS=1 python benchmarks/acai_lines.py --seeds $s \\
      --json runs/bench-lines-$s.json & done; wait
  python benchmarks/acai_lines.py --merge runs/bench-lines-*.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aezoo.data.datasets import load_splits
from aezoo.evaluation.scores import Ops, lines_scores
from aezoo.training.conv import ConvAETrainer
from aezoo.training.ops import torch_ops
from aezoo.training.pipeline import parse_config
from aezoo.training.recipes import apply_overrides, read_recipe
from aezoo.training.sda import SdATrainConfig, SdATrainer

from bench_io import merge_runs  # benchmarks/bench_io.py (the script directory is on sys.path)

CONV_ARMS = ("ae", "denoising", "dropout", "acai")
SDA_ARMS = ("sda", "sda-acai")
COLS = ("lines_mean_distance", "lines_smoothness", "recon_mse", "lines_undefined_pairs", "seconds")


def run_conv(arm: str, seed: int, splits, tmp: Path):
    cfg = parse_config(apply_overrides(read_recipe(f"{arm}-lines"), [f"seed={seed}"]))
    trainer = ConvAETrainer(cfg, splits, tmp / f"{arm}-{seed}", show_progress=False)
    return trainer.fit(), torch_ops


def run_sda(arm: str, seed: int, splits, tmp: Path, epochs: int):
    unit = {k: ((X + 1) / 2, y) for k, (X, y) in splits.items()}  # lines in [0, 1]
    acai = {"enabled": True, "lam": 0.5 * 1024} if arm == "sda-acai" else {}
    cfg = SdATrainConfig(
        name=arm,
        seed=seed,
        model={
            "n_features": 1024,
            "hidden_sizes": [256, 64],
            "n_classes": None,
            "image_shape": [32, 32],
        },
        pretrain_epochs=epochs,
        finetune_epochs=0,
        batch_size=64,
        acai=acai,
    )
    model = SdATrainer(cfg, unit, tmp / f"{arm}-{seed}", show_progress=False).fit()

    def ops(m) -> Ops:
        inner = torch_ops(m)
        return Ops(
            encode=lambda X: inner.encode((X + 1) / 2),
            decode=lambda Z: 2 * inner.decode(Z) - 1,
            denoise=lambda X: 2 * inner.denoise((X + 1) / 2) - 1,
        )

    return model, ops


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--arms", nargs="+", default=[*CONV_ARMS, *SDA_ARMS], choices=[*CONV_ARMS, *SDA_ARMS]
    )
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    args = p.parse_args()
    if args.merge:
        print_table(merge_runs(args.merge)[0])
        return
    torch.set_num_threads(1)
    results: dict[str, list[dict[str, float]]] = {a: [] for a in args.arms}
    base = parse_config(read_recipe("ae-lines"))  # every arm's data and budget
    n_train, epochs = base.n_train, base.epochs
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            splits = load_splits("lines", seed=seed, n_train=n_train)
            for arm in args.arms:
                t0 = time.perf_counter()
                if arm in CONV_ARMS:
                    model, make_ops = run_conv(arm, seed, splits, Path(tmp))
                else:
                    model, make_ops = run_sda(arm, seed, splits, Path(tmp), epochs)
                r = {**lines_scores(make_ops(model.eval()), splits)}
                r["seconds"] = time.perf_counter() - t0
                results[arm].append(r)
                print(
                    f"{arm} seed {seed}: " + ", ".join(f"{k}={v:.4g}" for k, v in r.items()),
                    flush=True,
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(results: dict[str, list[dict[str, float]]]) -> None:
    n = max(len(r) for r in results.values())
    print(f"\nACAI lines, 16 pairs x 16 steps, {n} seed(s); lower is better\n")
    print("| arm | " + " | ".join(COLS) + " |")
    print("|---|" + "---|" * len(COLS))
    for arm, rows in results.items():
        cells = []
        for c in COLS:
            vals = np.array([r[c] for r in rows], dtype=float)
            ok = ~np.isnan(vals)  # smoothness is NaN when every pair of a run is undefined
            cell = f"{np.mean(vals[ok]):.4g} ± {np.std(vals[ok]):.2g}" if ok.any() else "n/a"
            cells.append(cell + (f" ({ok.sum()} of {len(vals)} runs)" if not ok.all() else ""))
        print(f"| {arm} | " + " | ".join(cells) + " |")
    if "acai" in results:
        best = {
            c: min(results, key=lambda a: np.nanmean([r[c] for r in results[a]])) for c in COLS[:2]
        }
        won = all(best[c] == "acai" for c in COLS[:2])
        print(f"\nbest per metric: {best}; ACAI best on both: {'YES' if won else 'NO'}")


if __name__ == "__main__":
    main()
