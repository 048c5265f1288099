"""``aezoo train-denoiser``: the convolutional LISTA image denoiser on Train400 / BSD68."""

from __future__ import annotations

import argparse
from pathlib import Path

from aezoo.errors import AezooError

EPILOG = """examples:
  aezoo train-denoiser --data-dir ../shared/data/denoising --register lista-denoiser-bsd
        the bundled recipe: VDL-initialised filters, 3000 steps (about 30 min on 2 cores)
  aezoo train-denoiser --data-dir ../shared/data/denoising --dictionary sdl --seed 1 \\
        --steps 150 --eval-images 8 --no-artifact
        a short run of the SDL-vs-VDL comparison (benchmarks/denoise_dictionaries.py)
  aezoo train-denoiser --data-dir ../shared/data/denoising --device cuda --batch-size 64 \
        --steps 50000 --init-from aezoo/pretrained/lista-denoiser-bsd --lr 3e-4
        a long warm restart of the bundled model on a GPU (needs a CUDA build of torch)

--data-dir holds train400/ (training) and bsd68/ (the card's table), 8-bit grayscale PNG,
as in ../shared/data/denoising (its README gives the protocol). A run stopped early keeps
RUN_DIR/checkpoint.pt; the same command resumes from it.
"""


DEVICE_HELP = (
    "where training runs: a CUDA GPU when torch sees one (auto, the default), or cpu / cuda; "
    "the BSD68 table and the ONNX export always run on the CPU"
)


def _cmd(args: argparse.Namespace) -> int:
    from aezoo.data.denoising import TEST, TRAIN, image_paths

    image_paths(args.data_dir, TRAIN)  # a wrong folder answers before torch is imported
    if args.init_from and not (Path(args.init_from) / "model.safetensors").is_file():
        raise AezooError(f"--init-from {args.init_from}: no model.safetensors there")
    if not args.no_artifact:
        image_paths(args.data_dir, TEST)
    if len(args.sigma_range) not in (1, 2):
        raise AezooError(f"--sigma-range takes LOW [HIGH], got {len(args.sigma_range)} values")
    lo, hi = args.sigma_range[0], args.sigma_range[-1]
    if not (0 <= lo <= hi and hi > 0):
        raise AezooError(
            f"--sigma-range must satisfy 0 <= LOW <= HIGH, HIGH > 0, got {lo:g} {hi:g}"
        )

    import torch

    from aezoo.models.denoiser import CSCDenoiserConfig
    from aezoo.training.denoiser import DenoiserTrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = DenoiserTrainConfig(
        name=args.register or "lista-denoiser",
        model=CSCDenoiserConfig(
            n_filters=args.filters, kernel_size=args.kernel_size, n_iterations=args.iterations
        ),
        dictionary=args.dictionary,
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        crop=args.crop,
        lr=args.lr,
        sigma_range=(lo, hi),
        init_from=str(args.init_from) if args.init_from else None,
    )
    run_dir = Path(args.run_dir or f"runs/{cfg.name}-{cfg.dictionary}-s{cfg.seed}")
    max_seconds = args.max_minutes * 60 if args.max_minutes else None
    if args.no_artifact:
        from aezoo.training.denoiser import train_denoiser

        _, record = train_denoiser(
            cfg, args.data_dir, run_dir, show_progress=not args.quiet, max_seconds=max_seconds,
            device=args.device,
        )  # fmt: skip
        last = record["history"][-1]
        print(
            f"steps: {record['steps_done']}, {record['train_seconds']:.0f} s; "
            f"validation PSNR at sigma 25: {last['val_psnr']:.2f} dB"
        )
        return 0
    from aezoo.training.denoiser_pipeline import run_denoiser

    artifact, version = run_denoiser(
        cfg,
        args.data_dir,
        run_dir,
        register=bool(args.register),
        export_to=Path(args.export_to) if args.export_to else None,
        eval_images=args.eval_images,
        show_progress=not args.quiet,
        max_seconds=max_seconds,
        device=args.device,
    )
    print(f"artifact: {artifact}")
    if version is not None:
        print(f"registered: {version.name}@{version.version} ({version.path})")
    import json

    metrics = json.loads((artifact / "training.json").read_text())["bsd68"]["by_sigma"]
    print("BSD68 PSNR: " + ", ".join(f"sigma {s}: {r['psnr']:.2f} dB" for s, r in metrics.items()))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    t = sub.add_parser(
        "train-denoiser",
        help="train the convolutional LISTA image denoiser (Train400, BSD68 table)",
        description="Train a convolutional LISTA (CSCNet) Gaussian denoiser for grayscale "
        "photographs on Train400, its filters started from an SDL or VDL patch dictionary; "
        "score it on BSD68 at sigma 15/25/50 inside its range, export onnx/denoiser.onnx and "
        "(with --register) add it to the local registry. One model covers --sigma-range (one "
        "value: a one-level model, scored at that sigma only). Needs the [train] extra.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--data-dir", required=True, help="folder with train400/ and bsd68/ (PNG)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=DEVICE_HELP)
    t.add_argument("--steps", type=int, default=3000, help="Adam steps (default 3000)")
    t.add_argument(
        "--dictionary",
        choices=["sdl", "vdl", "random"],
        default="vdl",
        help="initial filters: a patch dictionary learned by SDL (unit-norm atoms) or VDL "
        "(variance-regularised codes), or random atoms (default vdl)",
    )
    t.add_argument("--seed", type=int, default=0, help="seeds dictionary, crops and noise")
    t.add_argument("--register", metavar="NAME", help="register the artifact under NAME")
    t.add_argument("--run-dir", help="checkpoints and artifact (default runs/NAME-DICT-sSEED)")
    t.add_argument("--export-to", metavar="DIR", help="also copy the artifact to DIR")
    t.add_argument("--filters", type=int, default=64, help="K, filters per convolution (64)")
    t.add_argument("--kernel-size", type=int, default=7, help="k, odd filter width (7)")
    t.add_argument("--iterations", type=int, default=8, help="T, unrolled iterations (8)")
    t.add_argument("--batch-size", type=int, default=16, help="crops per step (16)")
    t.add_argument("--crop", type=int, default=48, help="training crop size in pixels (48)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, cosine decay (1e-3)")
    t.add_argument(
        "--sigma-range",
        type=float,
        nargs="+",
        default=[5.0, 55.0],
        metavar="LOW [HIGH]",
        help="noise levels (0-255 scale) drawn uniformly in training, and accepted (5 55); "
        "one value trains a one-level model, scored and served at that sigma only",
    )
    t.add_argument(
        "--init-from",
        metavar="ARTIFACT",
        help="start from the weights of this denoiser artifact (same --filters, --kernel-size, "
        "--iterations) instead of a patch dictionary: a warm restart of the cosine schedule",
    )
    t.add_argument("--max-minutes", type=float, help="stop training after this long")
    t.add_argument("--eval-images", type=int, help="BSD68 images for the card (default all 68)")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    t.add_argument(
        "--no-artifact", action="store_true", help="train only: no BSD68 table, no artifact"
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=_cmd)
