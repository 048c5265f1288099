"""Families sized from the data (aezoo.training.sizing)."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.errors import ConfigError, DataError
from aezoo.training.pipeline import parse_config
from aezoo.training.sizing import MAX_EPOCHS, MIN_EPOCHS, STEP_BUDGET, conv_geometry, template

X64 = np.random.default_rng(0).random((1000, 64), dtype=np.float32)


def _sized(family: str, **kw):  # the template must be a valid recipe of its family
    args = {"n_features": 64, "n_train": 1000, "class_names": None, "image": None, "X_train": X64}
    return parse_config(template(family, **{**args, **kw}))


def test_conv_geometry_pools_as_often_as_the_size_allows() -> None:
    assert conv_geometry(32, 32) == (4, 16)  # the lines model: latent 2x2x16
    assert conv_geometry(28, 28) == (2, 2)  # 7x7 latent, 2 channels: 98 values
    assert conv_geometry(64, 48) == (4, 16)  # 4x3 latent x 16 = 192 = 64 * 48 / 16 values
    with pytest.raises(DataError, match=r"30x30.*--image-size 32x32"):
        conv_geometry(30, 30)


def test_mlp_families_size_from_n_features_and_labels() -> None:
    names = [str(i) for i in range(10)]
    sda = _sized("sda", class_names=names)
    assert sda.model.hidden_sizes == [128, 64, 32] and sda.model.n_classes == 10
    assert sda.model.class_names == names and sda.finetune_epochs == sda.pretrain_epochs
    unlabelled = _sized("sda")
    assert unlabelled.model.n_classes is None and unlabelled.finetune_epochs == 0
    assert _sized("drsae").model.n_components == 64
    assert _sized("drsae", class_names=names).discriminative_epochs > 0
    lista = _sized("lista")
    assert lista.model.n_components == 128
    assert lista.model.input_mean == float(X64.mean())  # the same call on the same array


def test_epochs_follow_the_step_budget_within_bounds() -> None:
    small = _sized("sda", n_train=1000)  # batch 31: 32 steps an epoch; capped at MAX
    assert small.batch_size == 1000 // 32
    assert small.pretrain_epochs == min(MAX_EPOCHS, -(-STEP_BUDGET * 31 // 1000))
    big = _sized("sda", n_train=10_000_000)
    assert big.batch_size == 128 and big.pretrain_epochs == MIN_EPOCHS
    assert _sized("sda", n_train=100).batch_size == 16  # MIN_BATCH
    assert _sized("sda", n_train=20).batch_size == 10  # half the rows: at least two steps


def test_conv_ae_takes_images_only_and_sizes_from_them() -> None:
    cfg = _sized("conv-ae", n_features=3 * 32 * 32, image=(3, 32, 32))
    assert cfg.model.channels == 3 and cfg.model.image_shape == [32, 32]
    assert cfg.model.value_range == (0.0, 1.0)
    with pytest.raises(DataError, match="images"):
        _sized("conv-ae")


def test_unknown_family_and_too_few_rows() -> None:
    with pytest.raises(ConfigError, match="families: sda"):
        _sized("pca")
    with pytest.raises(DataError, match="at least 8"):
        _sized("sda", n_train=5)
