"""Pieces every trainer shares: seeding, seeded batch order, atomic checkpoints, progress.

A checkpoint is a plain dict of tensors and JSON-able values saved with
``torch.save`` and read back with ``weights_only=True`` (no arbitrary unpickling).
It holds what rebuilds the run: the train config, the model and optimizer
state, the stage and epoch reached, the best validation metric and its weights.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

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
