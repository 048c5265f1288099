"""Pieces every trainer shares: seeding, seeded batch order, atomic checkpoints, progress,
the training device.

A checkpoint is a plain dict of tensors and JSON-able values saved with
``torch.save`` and read back with ``weights_only=True`` (no arbitrary unpickling).
It holds what rebuilds the run: the train config, the model and optimizer
state, the stage and epoch reached, the best validation metric and its weights.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aezoo.errors import ConfigError

CHECKPOINT = "checkpoint.pt"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded from a tuple (seed, stage, epoch, ...): resumable randomness."""
    h = 0
    for k in keys:
        h = (h * 1_000_003 + int(k)) % (2**63 - 1)
    return torch.Generator().manual_seed(h)


def batch_indices(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering ``range(n)`` once (last batch may be smaller)."""
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``run_dir/checkpoint.pt`` atomically (temp file + ``os.replace``)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CHECKPOINT
    tmp = run_dir / f".{CHECKPOINT}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


DEVICES = ("auto", "cpu", "cuda")


def training_device(name: str) -> torch.device:
    """The torch device a trainer runs on: ``"cpu"``, ``"cuda"`` (the current GPU) or
    ``"auto"`` (CUDA when torch sees a GPU, else the CPU).

    Raises:
        ConfigError: an unknown name, or ``"cuda"`` where torch sees no GPU (a CPU-only
            torch wheel, or no visible device).
    """
    if name not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device 'cuda' was asked for but torch {torch.__version__} sees no GPU "
            "(a CPU-only wheel, or no visible device); use --device cpu or auto"
        )
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """What a card says the model trained on: the GPU's name, or the CPU and its threads."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def progress(total: int, desc: str, enabled: bool = True) -> tqdm:
    """A tqdm bar on stderr; off when not wanted (tests) and when stderr is not a
    terminal (log files keep only the one line per epoch)."""
    return tqdm(
        total=total,
        desc=desc,
        leave=False,
        disable=None if enabled else True,  # None: tqdm turns itself off on non-TTYs
        file=sys.stderr,
        dynamic_ncols=True,
    )
