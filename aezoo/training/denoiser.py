"""Trainer for the convolutional LISTA denoiser (:class:`aezoo.models.denoiser.CSCDenoiser`).

Recipe (CSCNet, Simon & Elad 2019, §4, scaled to a CPU): Train400 (``<data_dir>/train400``;
its last ``val_images`` images are held out for the validation curve), random ``crop x
crop`` crops with a random flip and quarter turn, additive white Gaussian noise with
``sigma ~ U(sigma_range)`` drawn per crop (0-255 scale, not clipped), mean squared error
against the clean crop, Adam with a cosine learning-rate decay and gradient-norm clipping.
The filters start from a ``k x k`` patch dictionary learned on Train400 patches
(:mod:`aezoo.training.patch_dictionary`: SDL, VDL, or random atoms), or, with
``init_from``, from the weights of an earlier denoiser artifact (a warm restart: the cosine
schedule starts again from ``lr``, as in SGDR, Loshchilov & Hutter 2017). Every random draw
comes from generators seeded by ``seed``.

The history (``history`` in the checkpoint and ``training.json``) holds, every
``log_every`` steps: the step, wall seconds so far, the mean training loss and its PSNR
(dB, 0-1 scale), and the validation PSNR on fixed 96 x 96 centre crops at sigma 25, or
at the sigma of the range nearest 25 (a one-level model's own: ``sigma_range`` of width 0).
A checkpoint (``run_dir/checkpoint.pt``) is written every ``checkpoint_every`` steps, so
a run stopped early leaves a usable model, and a run restarted on the same ``run_dir``
resumes from it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from safetensors.torch import load_file

from aezoo.data.denoising import TRAIN, load_images
from aezoo.evaluation.denoising import as_sigma_range, reference_sigma
from aezoo.models.denoiser import CSCDenoiser, CSCDenoiserConfig
from aezoo.registry.artifact import WEIGHTS
from aezoo.training.loop import (
    device_label,
    load_checkpoint,
    progress,
    save_checkpoint,
    seed_everything,
    training_device,
)
from aezoo.training.patch_dictionary import Kind, learn_patch_dictionary, sample_patches


class DenoiserTrainConfig(BaseModel):
    """Recipe for a convolutional LISTA denoiser (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "lista-denoiser-bsd"
    model: CSCDenoiserConfig = CSCDenoiserConfig()
    dictionary: Kind = "vdl"  # initial filters: a patch dictionary learned by SDL or VDL
    dict_patches: int = Field(20_000, ge=100)  # Train400 patches the dictionary learns on
    dict_steps: int = Field(300, ge=1)  # alternating FISTA / Adam steps
    dict_lam: float = Field(0.05, gt=0.0)
    init_lam: float = Field(1.0, gt=0.0)  # first thresholds: lam / L per unit of sigma
    # an artifact folder (same model shape) whose weights start the run instead of a dictionary
    init_from: str | None = None
    seed: int = 0
    steps: int = Field(3000, ge=1)
    batch_size: int = Field(16, ge=1)
    crop: int = Field(48, ge=8)  # square training crops, pixels
    lr: float = Field(5e-4, gt=0.0)
    min_lr_ratio: float = Field(0.05, ge=0.0, le=1.0)  # cosine decays to lr * this
    grad_clip: float = Field(1.0, gt=0.0)
    # noise levels (0-255) drawn uniformly per crop; (s, s) trains a one-level model at s
    sigma_range: tuple[float, float] = (5.0, 55.0)
    val_images: int = Field(8, ge=1)  # last Train400 images held out for the curve
    log_every: int = Field(50, ge=1)
    checkpoint_every: int = Field(200, ge=1)

    @field_validator("sigma_range", mode="before")
    @classmethod
    def _sigma_range(cls, v: Any) -> tuple[float, float]:
        return as_sigma_range(v)  # ValueError unless 0 <= low <= high, high > 0


def _augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.rot90(crop, int(rng.integers(0, 4)))


def training_batch(
    images: list[np.ndarray], cfg: DenoiserTrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(clean, noisy, sigma)``: ``(B, 1, crop, crop)`` twice on the 0-1 scale and ``(B,)``
    on the 0-255 scale; noise ``N(0, (sigma/255)^2)`` per pixel, not clipped."""
    B, p = cfg.batch_size, cfg.crop
    clean = np.empty((B, 1, p, p), np.float32)
    for i in range(B):
        im = images[int(rng.integers(0, len(images)))]
        r, c = rng.integers(0, im.shape[0] - p + 1), rng.integers(0, im.shape[1] - p + 1)
        clean[i, 0] = _augment(im[r : r + p, c : c + p], rng) / 255.0
    lo, hi = cfg.sigma_range
    sigma = rng.uniform(lo, hi, B).astype(np.float32)
    noise = rng.standard_normal(clean.shape).astype(np.float32) * (
        sigma[:, None, None, None] / 255.0
    )
    return torch.from_numpy(clean), torch.from_numpy(clean + noise), torch.from_numpy(sigma)


def validation_set(images: list[np.ndarray], size: int = 96, sigma: float = 25.0, seed: int = 0):
    """Fixed centre crops of held-out images with fixed noise: ``(clean, noisy, sigma)``."""
    crops = []
    for im in images:
        r, c = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
        crops.append(im[r : r + size, c : c + size] / 255.0)
    clean = torch.tensor(np.stack(crops)[:, None], dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    noisy = clean + torch.randn(clean.shape, generator=gen) * (sigma / 255.0)
    return clean, noisy, torch.full((len(images),), sigma)


def psnr01(mse: float) -> float:
    """PSNR in dB of a mean squared error on the 0-1 scale."""
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def initial_model(cfg: DenoiserTrainConfig, train: list[np.ndarray]) -> CSCDenoiser:
    """The model with its filters set from a patch dictionary of ``cfg.dictionary``, or
    with the weights of the artifact ``cfg.init_from``.

    Raises:
        ValueError: ``init_from`` lacks ``model.safetensors`` or its weights do not fit
            ``cfg.model``.
    """
    if cfg.init_from is not None:
        return model_from_artifact(cfg.model, Path(cfg.init_from))
    k = cfg.model.kernel_size
    patches = sample_patches(train, k, cfg.dict_patches, seed=cfg.seed)
    atoms = learn_patch_dictionary(
        patches,
        cfg.model.n_filters,
        cfg.dictionary,
        lam=cfg.dict_lam,
        steps=cfg.dict_steps,
        seed=cfg.seed,
    )
    model = CSCDenoiser(cfg.model)
    model.init_from_dictionary(atoms, lam=cfg.init_lam)
    return model


def base_run_of(init_from: str | None) -> dict[str, Any] | None:
    """The training record (``training.json``) of the artifact a warm restart starts from,
    its own ``base_run`` nested inside, so a card can trace every run back to the first;
    None without ``init_from`` or when the artifact has no record."""
    if init_from is None or not (Path(init_from) / "training.json").is_file():
        return None
    return json.loads((Path(init_from) / "training.json").read_text())


def chain_totals(record: dict[str, Any]) -> tuple[int, float]:
    """``(steps, seconds)`` summed over a record and every ``base_run`` nested in it."""
    steps, seconds = 0, 0.0
    run: dict[str, Any] | None = record
    while run is not None:
        steps += int(run.get("steps_done", 0))
        seconds += float(run.get("train_seconds", 0.0))
        run = run.get("base_run")
    return steps, seconds


def model_from_artifact(config: CSCDenoiserConfig, path: Path) -> CSCDenoiser:
    """A :class:`CSCDenoiser` of shape ``config`` holding the weights of artifact ``path``."""
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ValueError(f"init_from: {path} has no {WEIGHTS}")
    model = CSCDenoiser(config)
    try:
        model.load_state_dict(load_file(str(weights)))
    except RuntimeError as e:
        raise ValueError(f"init_from: the weights of {path} do not fit {config}: {e}") from None
    return model


def train_denoiser(
    cfg: DenoiserTrainConfig,
    data_dir: Path | str,
    run_dir: Path | str,
    *,
    show_progress: bool = True,
    max_seconds: float | None = None,
    device: str = "cpu",
) -> tuple[CSCDenoiser, dict[str, Any]]:
    """Train (or resume from ``run_dir/checkpoint.pt``) and return ``(model, record)``.

    Args:
        cfg: the recipe.
        data_dir: folder holding ``train400/`` (see :mod:`aezoo.data.denoising`).
        run_dir: where checkpoints go.
        show_progress: a tqdm bar on stderr.
        max_seconds: stop after this much training time (the checkpoint is written).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (:func:`~aezoo.training.loop.training_device`).
            Crops and noise are drawn on the CPU from the same seeded generators either way;
            a checkpoint resumes on any device.

    Returns:
        The model (eval mode, on the CPU) and ``{"config", "history", "train_seconds",
        "steps_done", "dictionary_seconds", "device", "base_run"}`` (``device``: what it
        trained on, for the card; ``base_run``: :func:`base_run_of` the ``init_from``
        artifact, read when the run started).

    Raises:
        DataError: ``data_dir`` lacks the Train400 images.
        ValueError: fewer Train400 images than ``val_images + 1``, or crops larger than them.
        ConfigError: ``device`` is unknown, or CUDA where torch sees no GPU.
    """
    dev = training_device(device)
    run_dir = Path(run_dir)
    images = load_images(data_dir, TRAIN)
    if len(images) <= cfg.val_images:
        raise ValueError(f"need more than {cfg.val_images} training images, found {len(images)}")
    train, val = images[: -cfg.val_images], images[-cfg.val_images :]
    if min(min(im.shape) for im in images) < max(cfg.crop, 96):
        raise ValueError(f"crops of {cfg.crop} (and 96 for validation) exceed the smallest image")
    seed_everything(cfg.seed)
    val_clean, val_noisy, val_sigma = (
        t.to(dev)
        for t in validation_set(val, sigma=reference_sigma(cfg.sigma_range), seed=cfg.seed)
    )

    t0 = time.perf_counter()
    model = initial_model(cfg, train).to(dev)
    dict_seconds = time.perf_counter() - t0
    base_run = base_run_of(cfg.init_from)  # read now: the artifact may be replaced later
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def lr_at(step: int) -> float:
        frac = 0.5 * (1 + math.cos(math.pi * min(step / cfg.steps, 1.0)))
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * frac)

    start, history, spent = 0, [], 0.0
    if (run_dir / "checkpoint.pt").is_file():
        state = load_checkpoint(run_dir)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, history, spent = state["step"], state["history"], state["train_seconds"]
        dict_seconds = state["dictionary_seconds"]
        base_run = state.get("base_run", base_run)

    def checkpoint(step: int, seconds: float) -> None:
        save_checkpoint(
            run_dir,
            {
                "config": cfg.model_dump(mode="json"),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "history": history,
                "train_seconds": seconds,
                "dictionary_seconds": dict_seconds,
                "base_run": base_run,
            },
        )

    def val_psnr() -> float:
        model.eval()
        with torch.no_grad():
            out = model(val_noisy, val_sigma)
        model.train()
        return psnr01(float(F.mse_loss(out, val_clean)))

    if not history:
        history.append({"step": 0, "seconds": 0.0, "val_psnr": val_psnr()})
    rng = np.random.default_rng([cfg.seed, start])  # a resumed run draws fresh, seeded batches
    bar = progress(cfg.steps - start, f"{cfg.name} ({cfg.dictionary})", show_progress)
    t_start, losses, step = time.perf_counter() - spent, [], start
    model.train()
    for step in range(start + 1, cfg.steps + 1):
        clean, noisy, sigma = (t.to(dev) for t in training_batch(train, cfg, rng))
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1)
        loss = F.mse_loss(model(noisy, sigma), clean)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss became {float(loss)} at step {step}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        elapsed = time.perf_counter() - t_start
        if step % cfg.log_every == 0 or step == cfg.steps:
            mse = float(np.mean(losses))
            rec = {
                "step": step,
                "seconds": round(elapsed, 1),
                "loss": mse,
                "train_psnr": psnr01(mse),
                "val_psnr": val_psnr(),
                "lr": lr_at(step - 1),
            }
            history.append(rec)
            bar.set_postfix(val=f"{rec['val_psnr']:.2f}dB", train=f"{rec['train_psnr']:.2f}dB")
            losses = []
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            checkpoint(step, elapsed)
        if max_seconds is not None and elapsed >= max_seconds:
            checkpoint(step, elapsed)
            break
    bar.close()
    model.cpu().eval()
    record = {
        "config": cfg.model_dump(mode="json"),
        "history": history,
        "train_seconds": round(time.perf_counter() - t_start, 1),
        "steps_done": step,
        "dictionary_seconds": round(dict_seconds, 1),
        "device": device_label(dev),
        "base_run": base_run,
    }
    return model, record
