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

Sparsity is set by lambda, so "matched sparsity" means sweeping it (``--lams``, as the
paper's PSNR-against-sparsity curves do): every (variant, lambda) is an arm, and the
merged table pairs each VDL-NL arm with every SDL arm whose mean sparsity lies within
2 points, and with SDL's curve interpolated at VDL-NL's sparsity. ``--figure`` draws
PSNR against sparsity for every arm (needs matplotlib: ``pip install -e ".[bench]"``).

Usage (one process per variant/seed, 1 thread each, then merge):
  OMP_NUM_THREADS=1 python benchmarks/lista_variants.py --data-dir ../shared/data/mnist \\
      --variants vdl --seeds 0 --epochs 10 --json runs/bench-lista-vdl-0.json
  OMP_NUM_THREADS=1 python benchmarks/lista_variants.py --data-dir ../shared/data/mnist \\
      --variants sdl --lams 0.003 0.004 --seeds 0 --epochs 50 --json runs/sweep-sdl-0.json
  python benchmarks/lista_variants.py --merge runs/bench-lista-*.json --figure psnr.png
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
from aezoo.evaluation.metrics import batched, psnr
from aezoo.evaluation.scores import sparse_coding_scores
from aezoo.training.lista import LISTATrainer
from aezoo.training.ops import torch_ops
from aezoo.training.pipeline import parse_config
from aezoo.training.recipes import apply_overrides, read_recipe

from bench_io import (  # benchmarks/bench_io.py (the script directory is on sys.path)
    merge_runs,
    print_mean_std_table,
)

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


def arm_name(variant: str, lam: float | None) -> str:
    """``"sdl"`` at the recipe's lambda, ``"sdl lam=0.003"`` otherwise."""
    return variant if lam is None else f"{variant} lam={lam:g}"


def run(
    variant: str,
    seed: int,
    epochs: int,
    splits,
    workdir: Path,
    lam: float | None = None,
    extra: list[str] | None = None,
) -> dict[str, float]:
    overrides = [*(extra or []), f"seed={seed}", f"epochs={epochs}"]
    if lam is not None:
        overrides.append(f"model.lam={lam}")
    cfg = parse_config(apply_overrides(read_recipe(RECIPES[variant]), overrides))
    workdir = workdir / f"{arm_name(variant, lam).replace(' ', '-')}-{seed}"
    trainer = LISTATrainer(cfg, splits, workdir, show_progress=False)
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
        "lam": cfg.model.lam,
        "seed": seed,
        # the epoch whose weights were kept (the last, or the lowest validation energy's)
        "kept_epoch": trainer.state.get("best_epoch", epochs),
    }


def variant_of(arm: str) -> str:
    return arm.split(" ")[0]


def arm_order(arms) -> list[str]:
    """Recipe order, then increasing lambda within a variant."""
    lam = {a: float(a.split("lam=")[1]) if "lam=" in a else -1.0 for a in arms}
    return sorted(arms, key=lambda a: (list(RECIPES).index(variant_of(a)), lam[a]))


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def print_table(results: dict[str, list[dict[str, float]]], epochs: int) -> None:
    n = max(len(r) for r in results.values())
    pix = [r["pixels_probe100_pct"] for rows in results.values() for r in rows]
    print(
        f"\nMNIST (train 17,690 / test = first 5,000), 128 codes, {epochs} epochs, "
        f"batch 250, official settings (lambda: the arm's, else the recipe's), {n} seed(s); "
        f"raw-pixel 100-label probe {np.mean(pix):.2f}%\n"
    )
    print_mean_std_table(results, COLS, "variant")
    print_matched(results)
    vdl = [r["collapsed"] for a, rows in results.items() if variant_of(a) == "vdl" for r in rows]
    if vdl:
        print(f"VDL collapsed components per run: {vdl}")
    kept = {a: [r["kept_epoch"] for r in rows if "kept_epoch" in r] for a, rows in results.items()}
    if any(kept.values()):  # runs that recorded it
        print(
            "epoch whose weights were kept, per run: "
            + "; ".join(f"{a} {v}" for a, v in kept.items() if v)
        )


def print_matched(
    results: dict[str, list[dict[str, float]]],
    better: str = "vdl-nl",
    than: str = "sdl",
    window: float = 2.0,
) -> None:
    """PSNR of every ``better`` arm against every ``than`` arm within ``window`` points
    of sparsity (mean over seeds), with per-seed wins, and against ``than``'s PSNR curve
    interpolated linearly in sparsity at the ``better`` arm's sparsity."""
    a_arms = [a for a in results if variant_of(a) == better]
    b_arms = sorted(
        (a for a in results if variant_of(a) == than),
        key=lambda a: _mean(results[a], "zero_pct"),
    )
    if not a_arms or not b_arms:
        return
    print(
        f"\n{better.upper()} against {than.upper()} at matched sparsity (within {window:g} points)\n"
    )
    print(f"| {better} arm | {than} arm | % zeros | PSNR dB | difference dB | seeds won |")
    print("|---|---|---|---|---|---|")
    for a in a_arms:
        za, pa = _mean(results[a], "zero_pct"), _mean(results[a], "psnr_db")
        by_seed = {r.get("seed", i): r for i, r in enumerate(results[a])}
        for b in b_arms:
            zb, pb = _mean(results[b], "zero_pct"), _mean(results[b], "psnr_db")
            if abs(za - zb) > window:
                continue
            pairs = [
                (by_seed[r.get("seed", i)]["psnr_db"], r["psnr_db"])
                for i, r in enumerate(results[b])
                if r.get("seed", i) in by_seed
            ]
            won = sum(x > y for x, y in pairs)
            print(
                f"| {a} | {b} | {za:.2f} vs {zb:.2f} | {pa:.2f} vs {pb:.2f} | "
                f"{pa - pb:+.2f} | {won} of {len(pairs)} |"
            )
        zs = [_mean(results[b], "zero_pct") for b in b_arms]
        if zs[0] <= za <= zs[-1]:
            pi = float(np.interp(za, zs, [_mean(results[b], "psnr_db") for b in b_arms]))
            print(
                f"| {a} | {than} curve at {za:.2f}% | {za:.2f} | {pa:.2f} vs {pi:.2f} | "
                f"{pa - pi:+.2f} | (interpolated) |"
            )
        else:
            print(f"| {a} | {than} curve | {za:.2f} outside {zs[0]:.2f}-{zs[-1]:.2f} | | | |")


def plot_curves(results: dict[str, list[dict[str, float]]], path: Path, epochs: int) -> None:
    """PSNR (encoder codes, clipped) against % zeros: one point per arm (mean ± std over
    seeds), arms of a variant joined in order of sparsity and labelled by lambda."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise SystemExit('--figure needs matplotlib: pip install -e ".[bench]"') from err
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for variant in RECIPES:
        arms = sorted(
            (a for a in results if variant_of(a) == variant),
            key=lambda a: _mean(results[a], "zero_pct"),
        )
        if not arms:
            continue
        z = [_mean(results[a], "zero_pct") for a in arms]
        p = [_mean(results[a], "psnr_db") for a in arms]
        ze = [np.std([r["zero_pct"] for r in results[a]]) for a in arms]
        pe = [np.std([r["psnr_db"] for r in results[a]]) for a in arms]
        line = ax.errorbar(z, p, xerr=ze, yerr=pe, marker="o", capsize=3, label=variant.upper())
        for a, x, y in zip(arms, z, p, strict=True):
            lam = results[a][0].get("lam")
            if lam is not None:
                ax.annotate(
                    f"{lam:g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=line[0].get_color(),
                )
    ax.set_xlabel("code entries exactly zero (%), 5,000 MNIST test images")
    ax.set_ylabel("reconstruction PSNR (dB, R = 1), encoder codes")
    n = max(len(rows) for rows in results.values())
    ax.set_title(f"MNIST, {epochs} epochs, {n} seed(s), mean ± std (labels: lambda)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    print(f"figure: {path}")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None, help="MNIST IDX directory")
    p.add_argument("--variants", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument(
        "--lams", type=float, nargs="+", help="sweep these lambdas (default: the recipe's)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key in every run (as `aezoo train --set`); repeatable",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--merge", type=Path, nargs="+", help="print the table of these --json files")
    p.add_argument("--figure", type=Path, help="also draw PSNR against sparsity (PNG)")
    args = p.parse_args()
    if args.merge:
        merged, meta = merge_runs(args.merge)
        results = {a: merged[a] for a in arm_order(merged)}
    else:
        torch.set_num_threads(1)
        splits = load_splits("mnist", args.data_dir)
        lams = args.lams or [None]
        results = {arm_name(v, lam): [] for v in args.variants for lam in lams}
        meta = {"_epochs": args.epochs, "_set": args.set}
        with tempfile.TemporaryDirectory() as tmp:
            for seed in args.seeds:
                for v in args.variants:
                    for lam in lams:
                        r = run(v, seed, args.epochs, splits, Path(tmp), lam, args.set)
                        results[arm_name(v, lam)].append(r)
                        print(
                            f"{arm_name(v, lam)} seed {seed}: "
                            + ", ".join(f"{k}={x:.4g}" for k, x in r.items()),
                            flush=True,
                        )
                        if args.json:  # after every run: a long sweep can be merged while it goes
                            args.json.parent.mkdir(parents=True, exist_ok=True)
                            args.json.write_text(json.dumps({**results, **meta}, indent=2))
    print_table(results, meta["_epochs"])
    if args.figure:
        plot_curves(results, args.figure, meta["_epochs"])


if __name__ == "__main__":
    main()
