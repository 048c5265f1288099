"""Test helpers shared by the trainer tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aezoo.training.trainer import StagedTrainer


@contextlib.contextmanager
def killed_after(n_epochs: int) -> Iterator[None]:
    """Inside the block, every trainer's epoch number ``n_epochs + 1`` raises
    KeyboardInterrupt, as if the job were killed after ``n_epochs`` finished epochs
    (each of which wrote its checkpoint)."""
    real_epoch = StagedTrainer._epoch
    calls = {"n": 0}

    def epoch(self: StagedTrainer, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n_epochs + 1:
            raise KeyboardInterrupt
        return real_epoch(self, *args, **kwargs)

    StagedTrainer._epoch = epoch  # type: ignore[method-assign]
    try:
        yield
    finally:
        StagedTrainer._epoch = real_epoch  # type: ignore[method-assign]
