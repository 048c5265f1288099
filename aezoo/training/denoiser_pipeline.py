"""Train, evaluate on BSD68, package and register the convolutional LISTA denoiser.

``run_denoiser`` is what ``aezoo train-denoiser`` runs: :func:`train_denoiser`
(resuming from ``run_dir/checkpoint.pt`` when there is one), the BSD68 table at sigma
15 / 25 / 50 inside the model's range, or at its own sigma for a one-level model
(:func:`aezoo.evaluation.denoising.table_sigmas`; whole images through the torch model),
the card's figures (training curve, filters, a denoised crop), ``samples.json`` (small
BSD68 crops) and the artifact (:func:`aezoo.export.denoiser.build_denoiser_artifact`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aezoo.data.denoising import TEST, image_paths, read_gray
from aezoo.evaluation.denoising import (
    STANDARD_SIGMAS,
    evaluate,
    is_one_level,
    noisy_image,
    reference_sigma,
    table_sigmas,
)
from aezoo.export.denoiser import build_denoiser_artifact, load_denoiser
from aezoo.export.figures import curves_figure, tile
from aezoo.models.denoiser import CSCDenoiser
from aezoo.registry.artifact import SAMPLES, TRAINING, read_config, read_manifest
from aezoo.registry.store import LocalStore, ModelVersion
from aezoo.training.denoiser import DenoiserTrainConfig, chain_totals, train_denoiser
from aezoo.training.loop import device_label
from aezoo.training.pipeline import provenance, publish

SAMPLE_CROP = 64  # samples.json: centre crops of this many pixels a side
N_SAMPLES = 3
PUBLISHED = {"BM3D": (31.07, 28.57, 25.62), "DnCNN": (31.73, 29.23, 26.23)}  # dB, 15/25/50


def torch_denoise(model: CSCDenoiser):
    """``(noisy (H, W) 0-255, sigma) -> (H, W) 0-255`` through the torch model, one pass,
    clipped to [0, 255] as the runtime's ``denoise_image`` answers (the card scores what a
    user gets)."""

    def fn(noisy: np.ndarray, sigma: float) -> np.ndarray:
        x = torch.as_tensor(noisy / 255.0, dtype=torch.float32)[None, None]
        with torch.no_grad():
            out = model(x, torch.tensor([sigma], dtype=torch.float32))
        return out[0, 0].clamp(0.0, 1.0).double().numpy() * 255.0

    return fn


def centre_crop(im: np.ndarray, size: int) -> np.ndarray:
    r, c = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
    return im[r : r + size, c : c + size]


def make_samples(names: list[str], crops: list[np.ndarray]) -> dict[str, Any]:
    """``samples.json`` for a whole-image denoiser, in the gallery's photo format
    (:mod:`aezoo.serving.http.gallery`): no row ``inputs``; ``images``, clean grey crops as
    ``[H][W]`` uint8 pixel rows with their BSD68 names; the gallery adds the noise."""
    return {
        "format": "aezoo-samples/1",
        "source": f"BSD68 test images: {SAMPLE_CROP}x{SAMPLE_CROP} centre crops, clean "
        "(add noise of the chosen sigma before denoising)",
        "inputs": [],
        "images": [
            {"label": name, "pixels": np.clip(np.round(c), 0, 255).astype(int).tolist()}
            for name, c in zip(names, crops, strict=True)
        ],
    }


def figures(
    model: CSCDenoiser, history: list[dict], crop: np.ndarray, sigma: float = 25.0
) -> dict[str, bytes]:
    """``training_curve.png``, ``filters.png`` (the dictionary ``C``) and ``denoised.png``
    (a BSD68 crop: clean, noisy at ``sigma``, denoised)."""
    out: dict[str, bytes] = {}
    curve = curves_figure([{"loss": r.get("loss"), "val_psnr": r["val_psnr"]} for r in history])
    if curve is not None:
        out["training_curve.png"] = curve
    out["filters.png"] = tile(
        model.C.weight.detach()[0].numpy(), ncols=16, scale=4, per_image_norm=True
    )
    noisy = noisy_image(crop, sigma, 0, seed=1)
    den = torch_denoise(model)(noisy, sigma)
    out["denoised.png"] = tile(np.stack([crop, noisy, den]) / 255.0, ncols=3, scale=2)
    return out


def _published(method: str, sigma: str) -> str:
    table = dict(zip((f"{s:g}" for s in STANDARD_SIGMAS), PUBLISHED[method], strict=True))
    return str(table.get(sigma, "-"))


def _warm_restart(cfg: dict[str, Any], record: dict[str, Any]) -> str:
    """The card's sentence on where a warm restart's weights came from."""
    text = (
        f"weights started from the artifact {cfg['init_from']} (a warm restart of an earlier "
        f"run whose filters started from a {cfg['dictionary'].upper()} patch dictionary"
    )
    if record.get("base_run") is None:
        return text + "). "
    steps, seconds = chain_totals(record)
    return (
        text + "; that run's record, and those of the runs it started from, are under "
        f"base_run in training.json: {steps} steps and {seconds / 60:.0f} min of training in "
        "all, this run included). "
    )


def card_body(record: dict[str, Any]) -> str:
    """The recipe, the time it took, and the BSD68 table beside the published numbers.

    The table has a row per sigma the model was scored at (:func:`table_sigmas` of its
    range); a one-level model's card says that every other noise level is refused."""
    cfg, m = record["recipe"], record["bsd68"]["by_sigma"]
    n = record["bsd68"]["images"]
    lo, hi = cfg["sigma_range"]
    val_sigma = reference_sigma(cfg["sigma_range"])
    lines = ["## BSD68", ""]
    if is_one_level(cfg["sigma_range"]):
        lines += [
            f"A one-level model: trained at sigma {lo:g} only, and scored only there. Requests "
            f"at any other noise level are refused (HTTP 422, `InputError` in Python, both "
            f"naming the range [{lo:g}, {hi:g}]); sigma 15 / 25 / 50 other than {lo:g} "
            "are not in this table for that reason.",
            "",
        ]
    else:
        outside = [f"{s:g}" for s in STANDARD_SIGMAS if f"{s:g}" not in m]
        if outside:
            lines += [
                f"Trained for sigma {lo:g}-{hi:g}: sigma {' / '.join(outside)} "
                "lie outside that range, are refused, and are not in this table.",
                "",
            ]
    lines += [
        f"Average over {n} BSD68 images, noise seeded (seed {record['eval_seed']}), not clipped; "
        "whole images in one pass; PSNR in dB, SSIM (scikit-image, data_range 255).",
        "",
        "| sigma | this model PSNR | SSIM | noisy PSNR | BM3D (published) | DnCNN (published) |",
        "|---|---|---|---|---|---|",
    ]
    for s in sorted(m, key=float):
        r = m[s]
        lines.append(
            f"| {s} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['noisy_psnr']:.2f} | "
            f"{_published('BM3D', s)} | {_published('DnCNN', s)} |"
        )
    lines += [
        "",
        "## Training",
        "",
        f"Train400 ({cfg['val_images']} images held out for the validation curve), "
        f"{record['steps_done']} Adam steps of {cfg['batch_size']} random {cfg['crop']}x"
        f"{cfg['crop']} crops (flips, quarter turns), sigma ~ U{tuple(cfg['sigma_range'])} per "
        f"crop, MSE; learning rate {cfg['lr']:g} with cosine decay to "
        f"{cfg['lr'] * cfg['min_lr_ratio']:g}; "
        + (
            _warm_restart(cfg, record)
            if cfg.get("init_from")
            else f"filters started from a {cfg['dictionary'].upper()} patch dictionary "
            f"({cfg['dict_patches']} patches, {cfg['dict_steps']} steps, "
            f"{record['dictionary_seconds']} s). "
        )
        + f"Seed {cfg['seed']}. Training time "
        f"{record['train_seconds'] / 60:.1f} min on {record.get('device', record['cpu'])}. The curve "
        "(figures/training_curve.png) plots the training loss and the validation PSNR at "
        f"sigma {val_sigma:g} every {cfg['log_every']} steps; training.json holds the numbers.",
    ]
    return "\n".join(lines)


def package_denoiser(
    model: CSCDenoiser,
    record: dict[str, Any],
    data_dir: Path | str,
    out: Path,
    *,
    eval_images: int | None = None,
    eval_seed: int = 0,
) -> Path:
    """Evaluate on BSD68 at the model's :func:`table_sigmas`, draw the figures and write the
    artifact at ``out`` (replaced)."""
    cfg = DenoiserTrainConfig.model_validate(record["config"])
    paths = image_paths(data_dir, TEST)
    images = [read_gray(p) for p in paths[:eval_images]]
    sigmas = table_sigmas(cfg.sigma_range)
    metrics = evaluate(torch_denoise(model), images, sigmas, seed=eval_seed)
    crops = [centre_crop(im, SAMPLE_CROP) for im in images[:N_SAMPLES]]
    training = {
        "recipe": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "dataset": "train400",
        "protocol": "BSD68, AWGN seeded per image, not clipped; PSNR per image averaged",
        "eval_seed": eval_seed,
        "metrics": {
            f"bsd68_{m}_sigma{s}": round(metrics[s][k], 4)
            for s in metrics
            for m, k in (("psnr_db", "psnr"), ("ssim", "ssim"))
        },
        "bsd68": {"images": len(images), "by_sigma": metrics},
        "history": record["history"],
        "train_seconds": record["train_seconds"],
        "dictionary_seconds": record["dictionary_seconds"],
        "steps_done": record["steps_done"],
        "cpu": device_label(torch.device("cpu")),  # where the table was scored
        "device": record["device"],  # where it trained
        **({"base_run": record["base_run"]} if record.get("base_run") is not None else {}),
        **provenance(),
    }
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    return build_denoiser_artifact(
        model,
        out,
        name=cfg.name,
        sigma_range=cfg.sigma_range,
        training=training,
        figures=figures(model, record["history"], crops[0], sigma=reference_sigma(cfg.sigma_range)),
        card_text=card_body(training),
        samples=make_samples([p.stem for p in paths[: len(crops)]], crops),
    )


def repackage_denoiser(src: Path | str, out: Path | str) -> Path:
    """Write the artifact ``src`` again at ``out`` (replaced) with this version's exporter:
    same weights, training record, figures, samples and card; a new graph (and manifest).
    Used when the exported graph's form changes (:mod:`aezoo.export.denoiser_graph`).

    Raises:
        ArtifactError: ``src`` is not a valid denoiser artifact.
        ExportError: the new graph fails the ONNX checker or the parity check.
    """
    src, out = Path(src), Path(out)
    model = load_denoiser(src)
    config = read_config(src)
    training = json.loads((src / TRAINING).read_text())
    figs = {p.name: p.read_bytes() for p in sorted((src / "figures").glob("*.png"))}
    samples = json.loads((src / SAMPLES).read_text()) if (src / SAMPLES).is_file() else None
    manifest = read_manifest(src)
    assert config.denoiser is not None  # load_denoiser checked the architecture
    tmp = out.with_name(f".{out.name}-repackaged")
    if tmp.exists():
        shutil.rmtree(tmp)
    build_denoiser_artifact(
        model,
        tmp,
        name=manifest.name,
        version=manifest.version,
        sigma_range=config.denoiser.sigma_range,
        training=training,
        figures=figs,
        card_text=card_body(training),
        samples=samples,
    )
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def run_denoiser(
    cfg: DenoiserTrainConfig,
    data_dir: Path | str,
    run_dir: Path | str,
    *,
    register: bool = True,
    export_to: Path | None = None,
    eval_images: int | None = None,
    show_progress: bool = True,
    max_seconds: float | None = None,
    store: LocalStore | None = None,
    device: str = "cpu",
) -> tuple[Path, ModelVersion | None]:
    """Train (or resume) on ``device``, package as ``run_dir/artifact`` (evaluated and
    exported on the CPU), register as ``cfg.name``.

    Returns:
        The artifact directory and the registered version (None without ``register``).
    """
    run_dir = Path(run_dir)
    model, record = train_denoiser(
        cfg, data_dir, run_dir, show_progress=show_progress, max_seconds=max_seconds,
        device=device,
    )  # fmt: skip
    artifact = package_denoiser(
        model, record, data_dir, run_dir / "artifact", eval_images=eval_images
    )
    return artifact, publish(artifact, cfg.name, register, export_to, store)
