"""SDL vs VDL dictionaries as the convolutional LISTA denoiser's initial filters (issue 22).

At equal size (K filters of k x k, T iterations), for each seed: learn the patch
dictionary on Train400 patches with SDL and with VDL
(:mod:`aezoo.training.patch_dictionary`), start the denoiser from it, and score on the
first ``--images`` BSD68 images at sigma 25 (noise seeded, not clipped): once straight
from the dictionary (ISTA with the initial thresholds, no training) and once after
``--steps`` steps of end-to-end training (the recipe of ``aezoo train-denoiser``). A small
budget: the question is whether the dictionary's kind shows through training, not the best
PSNR. Prints a table of mean and per-seed PSNR.

    flock /tmp/aezoo-bench.lock nice -n 10 python benchmarks/denoise_dictionaries.py \\
        --data-dir ../shared/data/denoising --steps 150 --images 8 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from aezoo.data.denoising import TEST, TRAIN, load_images
from aezoo.evaluation.denoising import evaluate
from aezoo.training.denoiser import DenoiserTrainConfig, initial_model, train_denoiser
from aezoo.training.denoiser_pipeline import torch_denoise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--images", type=int, default=8, help="BSD68 images scored")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--kinds", nargs="+", default=["sdl", "vdl"])
    p.add_argument("--sigma", type=float, default=25.0)
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test = load_images(args.data_dir, TEST, args.images)
    train_images = load_images(args.data_dir, TRAIN)
    rows = []
    for seed in args.seeds:  # seed-major: a run cut short still has paired rows
        for kind in args.kinds:
            cfg = DenoiserTrainConfig(dictionary=kind, seed=seed, steps=args.steps, lr=1e-3)
            t0 = time.perf_counter()
            init = initial_model(cfg, train_images[: -cfg.val_images]).eval()
            init_psnr = evaluate(torch_denoise(init), test, (args.sigma,), with_ssim=False)
            with tempfile.TemporaryDirectory() as run_dir:
                model, record = train_denoiser(cfg, args.data_dir, run_dir, show_progress=False)
            trained = evaluate(torch_denoise(model), test, (args.sigma,), with_ssim=False)
            row = {
                "dictionary": kind,
                "seed": seed,
                "init_psnr": init_psnr[f"{args.sigma:g}"]["psnr"],
                "trained_psnr": trained[f"{args.sigma:g}"]["psnr"],
                "train_seconds": record["train_seconds"],
                "wall_seconds": round(time.perf_counter() - t0, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nBSD68 first {args.images} images, sigma {args.sigma:g}, {args.steps} steps")
    print("| dictionary | PSNR from the dictionary (no training) | PSNR after training | seeds |")
    print("|---|---|---|---|")
    for kind in args.kinds:
        sel = [r for r in rows if r["dictionary"] == kind]
        init = [r["init_psnr"] for r in sel]
        tr = [r["trained_psnr"] for r in sel]
        sd = statistics.stdev(tr) if len(tr) > 1 else 0.0
        per = ", ".join(f"{v:.2f}" for v in tr)
        print(
            f"| {kind.upper()} | {statistics.mean(init):.2f} | {statistics.mean(tr):.2f} "
            f"± {sd:.2f} ({per}) | {len(sel)} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
