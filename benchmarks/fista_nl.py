"""FISTA through the NL decoder: closed-form gradient against autograd.

SDL-NL and VDL-NL (Evtimova & LeCun, arXiv:2112.09214) run FISTA through the decoder
``W2 relu(W1 z + b1)`` (1024 hidden units on MNIST) for every training batch.
``NLDecoder.data_term_grad`` gives the data term's gradient in closed form (switching to
the Gram matrix ``W2^T W2`` after 8 steps); the baseline takes it from autograd, as
before. Both run the same FISTA (same step, warm start, stopping rule) on the same
batches of 250 normalised MNIST training images, from the SDL-NL recipe's initial
decoder and encoder after ``--warmup`` images of training (FISTA is degenerate at
initialisation: every code is 0), on 1 thread; the table gives milliseconds per FISTA
call and per step (best of ``--repeats``) and the objective each reaches. (The codes
themselves differ by float32 rounding along the objective's flat directions, ~1e-2 after
200 steps, as float32 autograd does from float64; in float64 the two paths agree to
1e-13, tests/models/test_lista.py.)

Usage:
  python benchmarks/fista_nl.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from aezoo.data.datasets import load_splits
from aezoo.models.lista import fista
from aezoo.training.lista import LISTATrainer
from aezoo.training.pipeline import parse_config
from aezoo.training.recipes import apply_overrides, read_recipe


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default=None, help="MNIST IDX directory")
    p.add_argument("--batches", type=int, default=4, help="batches of 250 images")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--recipe", default="lista-sdl-nl-mnist")
    p.add_argument("--warmup", type=int, default=2500, help="training images seen first")
    args = p.parse_args()
    torch.set_num_threads(1)
    splits = load_splits("mnist", args.data_dir)
    overrides = ["epochs=1", f"max_train_samples={args.warmup}"]
    cfg = parse_config(apply_overrides(read_recipe(args.recipe), overrides))
    with tempfile.TemporaryDirectory() as tmp:
        model = LISTATrainer(cfg, splits, Path(tmp), show_progress=False).fit()
    dec, c = model.decoder, cfg.model
    X = torch.from_numpy(splits["train"][0][-args.batches * 250 :])  # not seen in warm-up
    arms = {"autograd": lambda z: dec(z), "closed form": dec}
    rows: dict[str, list[float]] = {a: [0.0, 0.0, 0.0] for a in arms}
    zeros = 0.0  # % of code entries exactly 0, mean over the batches

    def objective(z: torch.Tensor, y: torch.Tensor) -> float:  # FISTA's, summed over the batch
        with torch.no_grad():
            data = 0.5 * model.data_weight * (dec(z) - y).pow(2).sum()
            return float(data + c.lam * z.sum())

    for b in range(args.batches):
        y = model.normalize(X[b * 250 : (b + 1) * 250])
        with torch.no_grad():
            z0 = model.encoder(y)
        out = {}
        for name, d in arms.items():
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                z, k = fista(y, d, c.lam, c.fista_step, z0, c.fista_max_steps, c.fista_tol,
                             data_weight=model.data_weight)  # fmt: skip
                best = min(best, time.perf_counter() - t0)
            rows[name][0] += best
            rows[name][1] += k
            rows[name][2] += objective(z, y) / len(y) / args.batches
            out[name] = z
        zeros += 100 * float((out["closed form"] == 0).float().mean()) / args.batches
    base = rows["autograd"][0]
    print(
        f"\n{args.recipe} after {args.warmup} training images, {args.batches} batches of 250, "
        f"1 thread; codes {zeros:.1f}% zeros\n"
    )
    print("| gradient | ms per FISTA call | steps per call | ms per step | speed-up | objective |")
    print("|---|---|---|---|---|---|")
    for name, (sec, steps, obj) in rows.items():
        ms = 1e3 * sec / args.batches
        print(
            f"| {name} | {ms:.0f} | {steps / args.batches:.0f} | "
            f"{1e3 * sec / steps:.2f} | {base / sec:.2f}x | {obj:.6f} |"
        )


if __name__ == "__main__":
    main()
