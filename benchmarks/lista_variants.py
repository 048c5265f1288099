"""The four sparse-coding variants of Evtimova & LeCun (arXiv:2112.09214) on MNIST.

SDL, VDL, SDL-NL and VDL-NL from their packaged recipes (the official settings),
trained for the same epoch budget and seeds; for each run, on the 5,000 test
images through the ENCODER's codes (amortised inference, as served):

  - recon PSNR (dB, R = 1, pixels clipped to [0, 1] as ``decode`` returns them) and
    the same unclipped (the official code's convention);
  - sparsity: % of code entries exactly 0; collapsed components (never non-zero);
  - denoising PSNR under Gaussian noise (std 0.3 in pixels, clipped);
  - accuracy of a logistic regression on 100 labelled training images per class, on
    the codes and on raw pixels;
  - seconds per training epoch (1 thread) and mean FISTA steps per batch.

The claims checked (PAPERS.md §3): at matched sparsity (within 2 points) VDL-NL
reconstructs with higher PSNR than SDL; VDL has no collapsed components.

Usage (one process per variant/seed, 1 thread each, then merge):
  OMP_NUM_THREADS=1 python benchmarks/lista_variants.py --data-dir ../shared/data/mnist \\
      --variants vdl --seeds 0 --epochs 10 --json runs/bench-lista-vdl-0.json
  python benchmarks/lista_variants.py --merge runs/bench-lista-*.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aezoo.training.datasets import load_splits
from aezoo.training.evaluate import batched, psnr
from aezoo.training.lista import LISTATrainer
from aezoo.training.pipeline import parse_config
from aezoo.training.recipes import apply_overrides, read_recipe
from aezoo.training.scores import sparse_coding_scores, torch_ops

from bench_io import merge_runs  # benchmarks/bench_io.py (the script directory is on sys.path)

RECIPES = {
    "sdl": "lista-sdl-mnist",
    "vdl": "lista-vdl-mnist",
    "sdl-nl": "lista-sdl-nl-mnist",
    "vdl-nl": "lista-vdl-nl-mnist",
}
COLS = [
    "psnr_db",
    "psnr_unclipped_db",
    "zero_pct",
    "collapsed",
    "gauss_denoised_db",
    "probe100_pct",
    "s_per_epoch",
    "fista_steps",
]


def run(variant: str, seed: int, epochs: int, splits, workdir: Path) -> dict[str, float]:
    overrides = [f"seed={seed}", f"epochs={epochs}"]
    cfg = parse_config(apply_overrides(read_recipe(RECIPES[variant]), overrides))
    trainer = LISTATrainer(cfg, splits, workdir / f"{variant}-{seed}", show_progress=False)
    t0 = time.perf_counter()
    model = trainer.fit()
    wall = time.perf_counter() - t0
    hist = trainer.state["history"]
    ops = torch_ops(model)
    X = splits["test"][0]
    Z = batched(ops.encode, X)
    with torch.no_grad():
        raw = model.reconstruct(torch.from_numpy(Z)) * model.config.input_std
        raw = (raw + model.config.input_mean).numpy()
    s = sparse_coding_scores(ops, splits, seed)
    return {
        "psnr_db": psnr(X, batched(ops.decode, Z)),
        "psnr_unclipped_db": psnr(X, raw),
        "zero_pct": s["code_zero_pct"],
        "collapsed": s["collapsed_components"],
        "gauss_denoised_db": s["gaussian_denoised_psnr_db"],
        "probe100_pct": s["probe100_accuracy_pct"],
        "pixels_probe100_pct": s["pixels_probe100_accuracy_pct"],
        "s_per_epoch": float(np.mean([h["seconds"] for h in hist])),
        "fista_steps": float(np.mean([h["fista_steps"] for h in hist])),
        "wall_s": wall,
    }


def print_table(results: dict[str, list[dict[str, float]]], epochs: int) -> None:
    n = max(len(r) for r in results.values())
    pix = [r["pixels_probe100_pct"] for rows in results.values() for r in rows]
    print(
        f"\nMNIST (train 17,690 / test = first 5,000), 128 codes, {epochs} epochs, "
        f"batch 250, official settings, {n} seed(s); raw-pixel 100-label probe "
        f"{np.mean(pix):.2f}%\n"
    )
    print("| variant | " + " | ".join(COLS) + " |")
    print("|---|" + "---|" * len(COLS))
    for v, rows in results.items():
        cells = []
        for c in COLS:
            vals = [r[c] for r in rows]
            cells.append(f"{np.mean(vals):.4g} ± {np.std(vals):.2g}")
        print(f"| {v} | " + " | ".join(cells) + " |")
    if "sdl" in results and "vdl-nl" in results:
        a, b = results["vdl-nl"], results["sdl"]
        dz = np.mean([r["zero_pct"] for r in a]) - np.mean([r["zero_pct"] for r in b])
        dp = np.mean([r["psnr_db"] for r in a]) - np.mean([r["psnr_db"] for r in b])
        matched = abs(dz) <= 2
        print(
            f"\nVDL-NL - SDL: sparsity {dz:+.2f} points ({'matched' if matched else 'NOT matched'}"
            f" within 2), PSNR {dp:+.2f} dB"
        )
    if "vdl" in results:
        c = [r["collapsed"] for r in results["vdl"]]
        print(f"VDL collapsed components per seed: {c}")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None, help="MNIST IDX directory")
    p.add_argument("--variants", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    args = p.parse_args()
    if args.merge:
        merged, meta = merge_runs(args.merge)
        order = [v for v in RECIPES if v in merged]
        print_table({v: merged[v] for v in order}, meta["_epochs"])
        return
    torch.set_num_threads(1)
    splits = load_splits("mnist", args.data_dir)
    results: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for v in args.variants:
                r = run(v, seed, args.epochs, splits, Path(tmp))
                results[v].append(r)
                print(f"{v} seed {seed}: " + ", ".join(f"{k}={x:.4g}" for k, x in r.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "_epochs": args.epochs}, indent=2))
    print_table(results, args.epochs)


if __name__ == "__main__":
    main()
