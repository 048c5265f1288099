"""Data sets a recipe can name: natural-image patches, lines splits, dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.data import datasets, lines, patches
from aezoo.errors import ConfigError


def test_lcn_is_zero_mean_locally_and_contrast_invariant() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((64, 64))
    out = patches.local_contrast_normalize(img)
    assert out.shape == (64, 64) and out.dtype == np.float32
    assert abs(float(out.mean())) < 0.05
    # contrast and brightness changes are normalised away
    # computed in float64 (the offset's cancellation costs ~1e-15), returned as float32: the
    # two round to the same float32 or to neighbours, one ulp of the largest value apart
    atol = np.finfo(np.float32).eps * float(np.abs(out).max())
    np.testing.assert_allclose(patches.local_contrast_normalize(3 * img + 7), out, atol=atol)
    assert not np.any(patches.local_contrast_normalize(np.full((32, 32), 0.4)))
    with pytest.raises(ValueError, match="2-D"):
        patches.local_contrast_normalize(img[None])


def test_extract_patches_takes_every_window_on_the_grid() -> None:
    img = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    P = patches.extract_patches(img, size=28, stride=2)
    assert P.shape == (((40 - 28) // 2 + 1) * ((30 - 28) // 2 + 1), 784)
    np.testing.assert_array_equal(P[0], img[:28, :28].ravel())
    np.testing.assert_array_equal(P[1], img[:28, 2:30].ravel())
    assert patches.extract_patches(img[:20]).shape == (0, 784)


def test_patch_splits_are_filtered_in_range_and_disjoint() -> None:
    sizes = {}
    for split in ("train", "val", "test"):
        X, y = patches.load_patches(split)
        sizes[split] = len(X)
        assert X.dtype == np.float32 and X.shape[1] == 784 and len(X) > 1000
        assert (X.std(axis=1) >= patches.MIN_STD).all()  # flat patches dropped
        lo, hi = patches.VALUE_RANGE
        assert X.min() > lo and X.max() < hi  # the clip is a no-op
        assert not y.any()
    # bands are disjoint: no test patch appears among the training patches
    train = {row.tobytes() for row in patches.load_patches("train")[0][::7]}
    assert not any(row.tobytes() in train for row in patches.load_patches("test")[0])
    assert sizes["train"] > sizes["test"] > sizes["val"]
    with pytest.raises(ValueError, match="unknown split"):
        patches.load_patches("dev")


def test_lines_splits_fixed_test_set_and_seeded_training_set() -> None:
    a = datasets.load_splits("lines", seed=0, n_train=64)
    b = datasets.load_splits("lines", seed=1, n_train=64)
    assert a["train"][0].shape == (64, 1024) and a["test"][0].shape == (datasets.LINES_TEST, 1024)
    np.testing.assert_array_equal(a["test"][0], b["test"][0])  # every model, one test set
    assert not np.array_equal(a["train"][1], b["train"][1])
    xs, _, _ = lines.interpolation_pairs(16, seed=0)  # the metric's pairs are not training lines
    assert not np.isin(a["train"][1], lines.make_lines(32, 0)[1]).any()
    assert len(a["train_full"][0]) == 64 + datasets.LINES_VAL and xs.shape == (16, 1024)


def test_unknown_dataset_and_missing_n_train_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'"):
        datasets.load_splits("cifar")
    with pytest.raises(ConfigError, match="n_train"):
        datasets.load_splits("lines")
