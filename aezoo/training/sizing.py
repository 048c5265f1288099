"""A family's recipe sized from the user's data: the packaged recipes as templates.

``aezoo train FAMILY --data SOURCE`` starts from the family's template below, sized by
this rule (``n`` = values per sample, ``N`` = training rows, ``k`` = classes), then applies
``--set`` overrides:

* every family: ``epochs = clip(ceil(STEP_BUDGET * batch / N), MIN_EPOCHS, MAX_EPOCHS)``,
  i.e. about :data:`STEP_BUDGET` optimizer steps per stage, with early stopping
  (patience :data:`PATIENCE` epochs) on the validation reconstruction error in
  reconstruction stages and on the validation classification error in supervised ones
  (LISTA keeps its epoch of lowest validation energy instead); ``batch = min(template
  batch, max(16, N // 32), N // 2)`` (at least 32 steps an epoch on small data); labels
  (k >= 2) give SdA and DrSAE a classifier head named by the
  source's class names; without labels ``classify`` is not offered;
* ``sda``: hidden sizes ``[h, h // 2, h // 4]`` with ``h = clip(2 n, 32, 512)`` (MNIST:
  512-256-128), 25% masking noise, joint pre-training then fine-tuning (labelled data);
* ``drsae``: ``n_components = clip(n, 32, 400)``, 11 unrolled steps, ``pixel_scale`` = mean
  L2 norm of the (scaled) training rows;
* ``lista``: ``n_components = clip(2 n, 32, 128)``, VDL (beta 10), ``input_mean`` /
  ``input_std`` of the (scaled) training values;
* ``conv-ae``: images only; ``scales`` = the most 2x2 poolings (at most 4) that divide height
  and width and leave a latent map of at least 2x2; ``latent_channels`` so that the code
  has about ``n / 16`` values (at least 2 channels, at most 16); refuses sizes not divisible
  by 4, naming sizes that work. ``--set acai.enabled=true`` trains it with the ACAI critic.

The data the template sees is already in [0, 1] (images as ``uint8 / 255``, tables
min-max scaled on the training split), the range every family is built for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aezoo.errors import ConfigError, DataError

FAMILY_NAMES = ("sda", "lista", "drsae", "conv-ae")
STEP_BUDGET = 5_000  # optimizer steps per stage the epoch rule aims at
MIN_EPOCHS, MAX_EPOCHS = 5, 100
BATCHES_PER_EPOCH, MIN_BATCH = 32, 16  # small data: smaller batches, more steps an epoch
PATIENCE = 20  # early-stopping patience in epochs (validated stages)
MIN_TRAIN_ROWS = 8


def _epochs(n_train: int, batch: int) -> int:
    return int(np.clip(math.ceil(STEP_BUDGET * batch / n_train), MIN_EPOCHS, MAX_EPOCHS))


def _batch(template: int, n_train: int) -> int:
    return max(2, min(template, max(MIN_BATCH, n_train // BATCHES_PER_EPOCH), n_train // 2))


def conv_geometry(height: int, width: int) -> tuple[int, int]:
    """``(scales, latent_channels)`` of the convolutional autoencoder for an image size.

    Raises:
        DataError: height or width not a multiple of 4 (the model pools at least twice).
    """
    scales = 0
    while (
        scales < 4
        and height % (2 << scales) == 0
        and width % (2 << scales) == 0
        and (height >> (scales + 1)) >= 2
        and (width >> (scales + 1)) >= 2
    ):
        scales += 1
    if scales < 2:
        h4, w4 = (max(4, 4 * round(s / 4)) for s in (height, width))
        raise DataError(
            f"conv-ae takes images whose height and width are multiples of 4 (16x16, 28x28, "
            f"32x32, 64x64, ...); these are {height}x{width}: pass --image-size {h4}x{w4}"
        )
    cells = (height >> scales) * (width >> scales)
    latent = int(np.clip(round(height * width / 16 / cells), 2, 16))
    return scales, latent


def template(
    family: str,
    *,
    n_features: int,
    n_train: int,
    class_names: list[str] | None,
    image: tuple[int, int, int] | None,
    X_train: np.ndarray,
) -> dict[str, Any]:
    """The recipe dict of ``family`` for this data (module docstring: the rule).

    Args:
        family: one of :data:`FAMILY_NAMES`.
        n_features: values per sample.
        n_train: training rows.
        class_names: label names (None: unlabelled).
        image: ``(channels, height, width)`` for image data, else None.
        X_train: the training rows as the trainer sees them, float32 in [0, 1].

    Raises:
        ConfigError: unknown family.
        DataError: too few rows; conv-ae on a table or on an image size it cannot take.
    """
    if family not in FAMILY_NAMES:
        raise ConfigError(f"unknown family {family!r}; families: {', '.join(FAMILY_NAMES)}")
    if n_train < MIN_TRAIN_ROWS:
        raise DataError(f"{n_train} training rows; training needs at least {MIN_TRAIN_ROWS}")
    k = len(class_names) if class_names else None
    grey_shape = [image[1], image[2]] if image and image[0] == 1 else None
    common = {"family": family, "dataset": "user", "seed": 0, "lr_schedule": "cosine"}
    if family == "sda":
        h = int(np.clip(2 * n_features, 32, 512))
        batch = _batch(128, n_train)
        e = _epochs(n_train, batch)
        return {
            **common,
            "model": {
                "n_features": n_features,
                "hidden_sizes": [h, max(h // 2, 16), max(h // 4, 8)],
                "n_classes": k,
                "class_names": class_names,
                "dropout": 0.2 if k else 0.0,
                "image_shape": grey_shape,
            },
            "corruption": {"kind": "masking", "level": 0.25},
            "pretrain_epochs": e,
            "finetune_epochs": e if k else 0,
            "finetune_recon_weight": 0.02,
            "finetune_max_shift": 0,
            "batch_size": batch,
            "patience": PATIENCE,
            "recon_patience": PATIENCE,
        }
    if family == "drsae":
        batch = _batch(64, n_train)
        e = _epochs(n_train, batch)
        norm = float(np.linalg.norm(X_train, axis=1).mean()) or 1.0
        return {
            **common,
            "model": {
                "n_features": n_features,
                "n_components": int(np.clip(n_features, 32, 400)),
                "n_steps": 11,
                "n_classes": k,
                "class_names": class_names,
                "pixel_scale": norm,
                "image_shape": grey_shape,
            },
            "unsupervised_epochs": e if not k else max(MIN_EPOCHS, e // 10),
            "discriminative_epochs": e if k else 0,
            "input_corruption": {"kind": "masking", "level": 0.3},
            "batch_size": batch,
            "patience": PATIENCE,
            "recon_patience": PATIENCE,
        }
    if family == "lista":
        batch = _batch(250, n_train)
        return {
            **common,
            "model": {
                "n_features": n_features,
                "n_components": int(np.clip(2 * n_features, 32, 128)),
                "n_iterations": 3,
                "input_mean": float(X_train.mean()),
                "input_std": float(X_train.std()) or 1.0,
                "image_shape": grey_shape,
                "lam": 0.02,
                "fista_step": 0.5,
                "fista_max_steps": 200,
            },
            "epochs": _epochs(n_train, batch),
            "batch_size": batch,
            "select_checkpoint": "val_energy",
            "lr_schedule": "constant",
        }
    if image is None:
        raise DataError("conv-ae trains on images: pass a folder of images or an image dataset")
    channels, height, width = image
    scales, latent = conv_geometry(height, width)
    batch = _batch(64, n_train)
    return {
        **common,
        "model": {
            "image_shape": [height, width],
            "channels": channels,
            "depth": 16,
            "scales": scales,
            "latent_channels": latent,
            "value_range": [0.0, 1.0],
            "init_gain": math.sqrt(2.0),
        },
        "epochs": _epochs(n_train, batch),
        "lr": 1e-3,
        "batch_size": batch,
        "val_samples": 256,
        "lr_schedule": "constant",
        "recon_patience": PATIENCE,
    }
