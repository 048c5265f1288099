"""The training loop every family shares: stages of epochs, resumable to the epoch.

A family's trainer subclasses :class:`StagedTrainer` and supplies only what is
its own: the stages (``make_stages``), the optimizer of a stage
(``make_optimizer``), the loss of a batch (``batch_loss``) and, if any, what
must hold after each step (``after_step``, e.g. norm constraints). The base
class owns the epoch loop, seeded shuffling, the cosine schedule, early
stopping on the validation error for stages marked ``"validate"`` and, when the recipe
sets ``recon_patience``, on the validation reconstruction error for a family's
reconstruction stages (those marked ``"acai"``), per-epoch
checkpoints (``run_dir/checkpoint.pt``) and ``resume``.

A stage is a dict: ``{"kind": str, "layer": int, "epochs": int, "validate": bool,
"acai": bool}``. When the recipe has an enabled ``acai`` field
(:class:`~aezoo.training.acai.ACAIConfig`), stages marked ``"acai"`` (a family's
reconstruction stages) add the ACAI autoencoder term to ``batch_loss`` and take
one critic step after every optimizer step (on the batch and the updated
model's reconstruction); the critic's state is checkpointed with the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from aezoo.evaluation.metrics import classification_error
from aezoo.models.base import AutoEncoder
from aezoo.training import loop
from aezoo.training.acai import ACAIRegularizer
from aezoo.training.disk_rows import DiskRows

VAL_RECON_ROWS = 10_000  # validation rows of a reconstruction stage's early stopping


class StagedTrainer:
    """Base trainer; see the module docstring for the contract.

    Args:
        cfg: the recipe; must have ``model``, ``seed``, ``batch_size``, ``patience``, and
            may have ``lr_schedule`` ("constant" | "cosine"), ``train_split`` ("train" |
            "train_full") and ``max_train_samples``.
        data: ``{"train": (X, y), "val": (X, y)}`` float32 ``(n, n_features)`` / int64
            (plus ``"train_full"`` when ``cfg.train_split == "train_full"``); a training X
            that is a ``numpy.memmap`` (data larger than memory) is read by chunks
            (:class:`~aezoo.training.disk_rows.DiskRows`).
        run_dir: where ``checkpoint.pt`` is written after every epoch.
        resume: continue from ``run_dir/checkpoint.pt`` (same recipe only).
        show_progress: tqdm bars and one line per epoch.

    Raises:
        ValueError: ``resume`` with a checkpoint written by a different recipe.
        FileNotFoundError: ``resume`` without a checkpoint.
    """

    model_class: ClassVar[type[AutoEncoder]]

    def __init__(
        self,
        cfg: Any,
        data: dict[str, tuple[np.ndarray, np.ndarray]],
        run_dir: Path,
        resume: bool = False,
        show_progress: bool = True,
        device: str = "cpu",
    ) -> None:
        self.cfg, self.run_dir, self.show_progress = cfg, Path(run_dir), show_progress
        self.device = torch.device(device)
        X, y = data[getattr(cfg, "train_split", "train")]
        if getattr(cfg, "max_train_samples", None):
            X, y = X[: cfg.max_train_samples], y[: cfg.max_train_samples]
        # a training split on disk (data larger than memory) is read by chunks
        self.X = DiskRows(X) if isinstance(X, np.memmap) else torch.from_numpy(X).to(self.device)
        self.y = torch.from_numpy(np.asarray(y)).to(self.device)
        self.X_val, self.y_val = data["val"]
        loop.seed_everything(cfg.seed)
        self.model = self.model_class(cfg.model).to(self.device)
        self.stages = self.make_stages()
        acai_cfg = getattr(cfg, "acai", None)
        self.acai = ACAIRegularizer(self.model, acai_cfg) if acai_cfg and acai_cfg.enabled else None
        self.state: dict[str, Any] = {"stage": 0, "epoch": 0, "best_val_error": None, "history": []}
        self.best_state: dict[str, torch.Tensor] | None = None
        self._opt_state: dict[str, Any] | None = None
        if resume:
            ckpt = loop.load_checkpoint(self.run_dir)
            if ckpt["train_config"] != cfg.model_dump(mode="json"):
                raise ValueError("checkpoint was written by a different recipe; refusing to resume")
            self.model.load_state_dict(ckpt["model"])
            self.state = ckpt["progress"]
            self.best_state = ckpt.get("best_model")
            self._opt_state = ckpt.get("optimizer")
            if self.acai is not None and "acai" in ckpt:
                self.acai.load_state_dict(ckpt["acai"])

    # -- what a family supplies ------------------------------------------------
    def make_stages(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """The loss to minimise on one batch: a scalar, or ``{"loss": total, name: term, ...}``
        whose other terms are averaged over the epoch and logged with it."""
        raise NotImplementedError

    def epoch_metrics(self, stage: dict[str, Any]) -> dict[str, float]:
        """Extra numbers logged after each epoch (e.g. a validation loss); default none."""
        return {}

    def after_step(self, stage: dict[str, Any]) -> None:
        """Called after every optimizer step (projections, constraints); default nothing."""

    def lr_factors(self, stage: dict[str, Any], epoch: int, n_groups: int) -> list[float] | None:
        """Learning-rate multipliers of the optimizer's groups for ``epoch`` (0-based) of
        ``stage``; None keeps the rates as they are. Default: the recipe's
        ``lr_schedule``, "cosine" = ``0.5 (1 + cos(pi epoch / epochs))`` for every group."""
        if getattr(self.cfg, "lr_schedule", "constant") != "cosine":
            return None
        return [0.5 * (1 + math.cos(math.pi * epoch / stage["epochs"]))] * n_groups

    def val_error(self) -> float:
        """Classification error in [0, 1] of ``model.classify`` on the validation split."""
        self.model.eval()
        with torch.no_grad():
            fn = lambda a: self.model.classify(torch.from_numpy(a).to(self.device)).cpu().numpy()  # noqa: E731
            return classification_error(fn, self.X_val, self.y_val)

    # -- the loop ----------------------------------------------------------------
    def fit(self) -> AutoEncoder:
        """Run the remaining stages; returns the model (best validated weights) in eval mode."""
        cfg = self.cfg
        while self.state["stage"] < len(self.stages):
            si = self.state["stage"]
            stage = self.stages[si]
            opt = self.make_optimizer(stage)
            if self._opt_state is not None:
                opt.load_state_dict(self._opt_state)
                self._opt_state = None
            base_lr = [g.get("initial_lr", g["lr"]) for g in opt.param_groups]
            stop = False
            while self.state["epoch"] < stage["epochs"] and not stop:
                ep = self.state["epoch"]
                factors = self.lr_factors(stage, ep, len(opt.param_groups))
                if factors is not None:
                    for g, lr, f in zip(opt.param_groups, base_lr, factors, strict=True):
                        g["initial_lr"], g["lr"] = lr, lr * f
                t0 = time.perf_counter()
                record: dict[str, Any] = {
                    "stage": stage["kind"],
                    "layer": stage["layer"],
                    "epoch": ep + 1,
                }
                record.update(self._epoch(stage, opt, loop.generator(cfg.seed, si, ep)))
                record.update(self.epoch_metrics(stage))
                if self.acai is not None and stage.get("acai"):
                    record["critic_loss"] = self._critic_loss
                record["seconds"] = time.perf_counter() - t0
                if stage.get("validate"):
                    stop = self._validate(record, ep)
                elif stage.get("acai") and getattr(cfg, "recon_patience", 0):
                    stop = self._validate_recon(record, ep)
                self.state["history"].append(record)
                self.state["epoch"] = stage["epochs"] if stop else ep + 1
                if self.show_progress:
                    loop.tqdm.write(describe(record, len(self.stages), si))
                self._checkpoint(opt)
            self.state["stage"], self.state["epoch"] = si + 1, 0
            self._checkpoint(None)
        if self.best_state is not None and getattr(cfg, "train_split", "train") == "train":
            self.model.load_state_dict(self.best_state)  # early stopping's choice
        return self.model.eval()

    def _validate(self, record: dict[str, Any], ep: int) -> bool:
        """Record the validation error, keep the best weights; True when patience ran out."""
        err = record["val_error"] = self.val_error()
        if self.keep_if_best("best_val_error", err, ep):
            return False
        return bool(self.cfg.patience) and ep + 1 - self.state["best_epoch"] >= self.cfg.patience

    def _validate_recon(self, record: dict[str, Any], ep: int) -> bool:
        """A reconstruction stage's early stopping (``cfg.recon_patience`` > 0): record the
        mean squared error of ``model(x)`` on (at most :data:`VAL_RECON_ROWS`) validation
        rows, keep the best weights; True when ``recon_patience`` epochs passed without a
        lower one. No validation rows: never stops."""
        X = np.asarray(self.X_val[:VAL_RECON_ROWS], dtype=np.float32)
        if len(X) == 0:
            return False
        self.model.eval()
        with torch.no_grad():
            x = torch.from_numpy(X).to(self.device)
            mse = record["val_recon_mse"] = float(((self.model(x) - x) ** 2).mean())
        self.model.train()
        if self.keep_if_best("best_val_recon_mse", mse, ep):
            return False
        return ep + 1 - self.state["best_epoch"] >= self.cfg.recon_patience

    def keep_if_best(self, key: str, value: float, ep: int) -> bool:
        """When ``value`` is the lowest of ``state[key]`` so far, remember it, the epoch
        (``ep`` 0-based) and a copy of the weights, which ``fit`` restores at the end
        (checkpointed with the run); returns whether it was."""
        best = self.state.get(key)
        if best is not None and value >= best:
            return False
        self.state[key], self.state["best_epoch"] = value, ep + 1
        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return True

    def _epoch(
        self, stage: dict[str, Any], opt: torch.optim.Optimizer, gen: torch.Generator
    ) -> dict[str, float]:
        """One pass over the training set; returns the epoch means of the loss and its terms."""
        self.model.train()
        n = len(self.X)
        desc = f"{stage['kind']} ep {self.state['epoch'] + 1}/{stage['epochs']}"
        last = self.state["history"][-1] if self.state["history"] else {}
        if "val_error" in last:
            desc += f" (val err {100 * last['val_error']:.2f}%)"
        bar = loop.progress(n, desc, self.show_progress)
        acai = self.acai if stage.get("acai") else None
        totals: dict[str, float] = {}
        critic_total, seen = 0.0, 0
        for idx, x in self._batches(gen):
            out = self.batch_loss(stage, x, self.y[idx], gen)
            terms = out if isinstance(out, dict) else {"loss": out}
            loss = terms["loss"]
            if acai is not None:
                loss = loss + acai.autoencoder_term(x, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            self.after_step(stage)
            if acai is not None:
                with torch.no_grad():
                    x_hat = self.model.decode(self.model.encode(x))  # (B, n_features)
                critic_total += acai.critic_step(x, x_hat, gen) * len(idx)
            seen += len(idx)
            totals["loss"] = totals.get("loss", 0.0) + loss.item() * len(idx)
            for k, v in terms.items():
                if k != "loss":
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) * len(idx)
            bar.update(len(idx))
            bar.set_postfix({k: f"{v / seen:.4f}" for k, v in totals.items()})
        bar.close()
        self._critic_loss = critic_total / max(seen, 1)
        return {k: v / max(seen, 1) for k, v in totals.items()}

    def _batches(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(indices, rows)`` of one epoch: shuffled batches (by chunks for rows on disk)."""
        if isinstance(self.X, DiskRows):
            for idx, x in self.X.batches(self.cfg.batch_size, gen):
                yield idx, x.to(self.device)
            return
        for idx in loop.batch_indices(len(self.X), self.cfg.batch_size, gen):
            yield idx, self.X[idx]

    def _checkpoint(self, opt: torch.optim.Optimizer | None) -> None:
        state: dict[str, Any] = {
            "train_config": self.cfg.model_dump(mode="json"),
            "model": self.model.state_dict(),
            "progress": self.state,
        }
        if opt is not None:
            state["optimizer"] = opt.state_dict()
        if self.best_state is not None:
            state["best_model"] = self.best_state
        if self.acai is not None:
            state["acai"] = self.acai.state_dict()
        loop.save_checkpoint(self.run_dir, state)


def describe(r: dict[str, Any], n_stages: int, si: int) -> str:
    """One log line per epoch: stage, loss and its terms, validation error, seconds."""
    where = f" layer {r['layer'] + 1}" if r.get("layer", -1) >= 0 else ""
    skip = {"stage", "layer", "epoch", "seconds", "val_error"}
    terms = ", ".join(
        f"{k} {v:.4f}" for k, v in r.items() if k not in skip and isinstance(v, float)
    )
    s = f"[{si + 1}/{n_stages}] {r['stage']}{where} epoch {r['epoch']}: {terms}"
    if "val_error" in r:
        s += f", val error {100 * r['val_error']:.2f}%"
    return s + f" ({r['seconds']:.1f}s)"
