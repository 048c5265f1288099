"""Recipe -> trained model -> evaluated -> artifact -> local registry.

One entry point for every family: ``run_recipe`` picks the trainer from the
recipe's ``family`` key, trains (resumable), evaluates on the test split,
draws the figures, exports the artifact and registers it.
"""

from __future__ import annotations

import math
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aezoo._version import __version__
from aezoo.data import datasets
from aezoo.data.fingerprint import data_fingerprint
from aezoo.evaluation import scores
from aezoo.evaluation.metrics import MASKING_LEVEL, masking_noise_np
from aezoo.export import figures
from aezoo.export.samples import make_samples
from aezoo.export.torch_io import build_artifact
from aezoo.models.base import AutoEncoder
from aezoo.registry.store import LocalStore, ModelVersion
from aezoo.training.conv import ConvAETrainConfig, ConvAETrainer
from aezoo.training.drsae import DrSAETrainConfig, DrSAETrainer
from aezoo.training.lista import LISTATrainConfig, LISTATrainer
from aezoo.training.ops import torch_ops
from aezoo.training.recipes import validate
from aezoo.training.rescore import calibrate_after_training
from aezoo.training.sda import SdATrainConfig, SdATrainer

FAMILIES: dict[str, tuple[type, type]] = {
    "sda": (SdATrainConfig, SdATrainer),
    "drsae": (DrSAETrainConfig, DrSAETrainer),
    "lista": (LISTATrainConfig, LISTATrainer),
    "conv-ae": (ConvAETrainConfig, ConvAETrainer),
}


def parse_config(data: dict[str, Any]) -> Any:
    """Typed trainer config for a raw recipe dict (dispatch on ``family``)."""
    from aezoo.errors import ConfigError

    family = data.get("family")
    if family not in FAMILIES:
        raise ConfigError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return validate(FAMILIES[family][0], data)


def evaluate_model(
    model: AutoEncoder,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int = 0,
    dataset: str = "mnist",
) -> dict[str, float]:
    """The card's metrics: :func:`aezoo.evaluation.scores.score` of the torch model, with
    the full-training-set linear probe."""
    return scores.score(dataset, model.family, torch_ops(model), splits, seed, probe=True)


def make_figures(
    model: AutoEncoder,
    X: np.ndarray,
    shape: tuple[int, int],
    seed: int = 0,
    y: np.ndarray | None = None,
    dataset: str = "mnist",
) -> dict[str, bytes]:
    """filters.png, reconstructions.png (clean / 25% masked / denoised), interpolation.png.

    Plus the family's own analysis figures when its trainer class offers
    ``extra_figures(model, X, y, shape) -> {name: png_bytes}`` and labels ``y`` are given.
    Masked inputs take the data set's ``mask_value`` (MNIST and patches 0, lines -1:
    the background); images are drawn over its ``display_range``.
    """
    info = datasets.info(dataset)
    out: dict[str, bytes] = {}
    with torch.no_grad():
        w = model.filters()
        if w is not None and w.shape[-1] == math.prod(shape):
            out["filters.png"] = figures.filters_figure(w.detach().cpu().numpy(), shape)
        x = torch.from_numpy(X[:10])
        noisy = masking_noise_np(X[:10], MASKING_LEVEL, seed, fill=info.mask_value)
        rows = [x.numpy(), noisy, model(torch.from_numpy(noisy)).numpy()]
        out["reconstructions.png"] = figures.rows_figure(rows, shape, info.display_range)
        z = model.encode(torch.from_numpy(X[10:18]))  # 4 pairs
        alphas = torch.linspace(0, 1, 10)[:, None]
        strips = [
            model.decode((1 - alphas) * z[2 * i] + alphas * z[2 * i + 1]).numpy() for i in range(4)
        ]
        out["interpolation.png"] = figures.rows_figure(strips, shape, info.display_range)
    family = FAMILIES.get(model.family)
    extra = getattr(family[1], "extra_figures", None) if family else None
    if extra is not None and y is not None and info.labelled:
        out.update(extra(model, X, y, shape))
    return out


def provenance() -> dict[str, Any]:
    """``command`` (the ``aezoo`` command line that runs, or "") and library ``versions``."""
    return {
        "command": "aezoo " + shlex.join(sys.argv[1:])
        if Path(sys.argv[0]).name in ("aezoo", "__main__.py")
        else "",
        "versions": {
            "aezoo": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def package(
    model: AutoEncoder,
    cfg: Any,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    out: Path,
    history: list[dict[str, Any]] | None = None,
    train_seconds: float | None = None,
) -> Path:
    """Evaluate ``model``, draw its figures and write its artifact to ``out`` (replaced)."""
    dataset = getattr(cfg, "dataset", "mnist")
    metrics = evaluate_model(model, splits, cfg.seed, dataset)
    shape = tuple(cfg.model.image_shape or (28, 28))
    record = {
        "recipe": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "dataset": dataset,
        "protocol": datasets.info(dataset).protocol,
        "data_fingerprint": data_fingerprint(*splits["train"], *splits["val"], *splits["test"]),
        "metrics": metrics,
        "history": history or [],
        "train_seconds": None if train_seconds is None else round(train_seconds, 1),
        **provenance(),
    }
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    return build_artifact(
        model,
        out,
        name=cfg.name,
        training=record,
        figures=make_figures(
            model,
            splits["test"][0],
            shape,  # type: ignore[arg-type]
            cfg.seed,
            splits["test"][1],
            dataset,
        ),
        samples=make_samples(*splits["test"], dataset),
    )


def load_splits(cfg: Any, data_dir: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The splits of the recipe's data set (:func:`aezoo.data.datasets.load_splits`)."""
    return datasets.load_splits(
        getattr(cfg, "dataset", "mnist"), data_dir, cfg.seed, getattr(cfg, "n_train", None)
    )


def run_recipe(
    cfg: Any,
    run_dir: Path,
    data_dir: str | None = None,
    resume: bool = False,
    register: bool = True,
    export_to: Path | None = None,
    show_progress: bool = True,
    store: LocalStore | None = None,
    calibrate_fpr: float | None = None,
) -> tuple[Path, ModelVersion | None]:
    """Train, evaluate, export and (optionally) register the model of a recipe.

    ``calibrate_fpr``: before registering, set the anomaly threshold at this false-positive
    rate on the data set's test split (:func:`aezoo.training.rescore.calibrate_after_training`;
    what cannot be calibrated is said on stderr); None (default): no calibration.

    Returns:
        The artifact directory ``run_dir/artifact`` and the registered version (or None).
    """
    run_dir = Path(run_dir)
    splits = load_splits(cfg, data_dir)
    trainer_cls = FAMILIES[cfg.family][1]
    t0 = time.perf_counter()
    trainer = trainer_cls(cfg, splits, run_dir, resume=resume, show_progress=show_progress)
    model = trainer.fit()
    artifact = package(
        model, cfg, splits, run_dir / "artifact", trainer.state["history"], time.perf_counter() - t0
    )
    if calibrate_fpr is not None:
        X_test = splits["test"][0]
        dataset = getattr(cfg, "dataset", "mnist")
        calibrate_after_training(
            artifact, X_test, calibrate_fpr,
            source=f"the {dataset} test split ({len(X_test):,} rows)", model=model.eval(),
        )  # fmt: skip
    return artifact, publish(artifact, cfg.name, register, export_to, store)


def publish(
    artifact: Path,
    name: str,
    register: bool,
    export_to: Path | None,
    store: LocalStore | None = None,
) -> ModelVersion | None:
    """Register ``artifact`` as the next version of ``name`` (when ``register``) and copy it
    to ``export_to`` (replaced; e.g. ``aezoo/pretrained/NAME``). Returns the version."""
    version = (store or LocalStore()).add(artifact, name) if register else None
    if export_to is not None:
        export_to = Path(export_to)
        if export_to.exists():
            shutil.rmtree(export_to)
        shutil.copytree(artifact, export_to)
    return version


def export_run(run_dir: Path, out: Path | None = None, data_dir: str | None = None) -> Path:
    """Re-build the artifact of a run from the best weights in its checkpoint."""
    from aezoo.training import loop

    ckpt = loop.load_checkpoint(run_dir)
    cfg = parse_config(ckpt["train_config"])
    model = FAMILIES[cfg.family][1].model_class(cfg.model)
    model.load_state_dict(ckpt.get("best_model") or ckpt["model"])
    progress = ckpt["progress"]
    return package(
        model.eval(),
        cfg,
        load_splits(cfg, data_dir),
        Path(out or Path(run_dir) / "artifact"),
        progress.get("history"),
    )
