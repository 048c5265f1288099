"""A table's per-feature scaling, fitted on the training split (aezoo.data.preprocess)."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.data.preprocess import apply_scaling, fit_scaling


def test_minmax_maps_the_training_split_onto_0_1_and_keeps_constant_columns() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(1e4, 50, 200), rng.uniform(-3, 7, 200), np.full(200, 42.0)])
    offset, scale = fit_scaling(X, "minmax")
    assert offset.dtype == scale.dtype == np.float32 and offset.shape == (3,)
    Z = apply_scaling(X, offset, scale)
    # float32 rounding of x - min and of 1 / (max - min): a few units in the last place of 1e4
    tol = 4 * np.finfo(np.float32).eps * np.abs(X).max(axis=0) / scale
    np.testing.assert_allclose(Z[:, :2].min(axis=0), 0.0, atol=tol[:2].max())
    np.testing.assert_allclose(Z[:, :2].max(axis=0), 1.0, atol=tol[:2].max())
    assert scale[2] == 1.0 and np.all(Z[:, 2] == 0.0)  # constant: offset only, no 0 / 0


def test_standard_gives_mean_0_std_1() -> None:
    X = np.random.default_rng(1).normal([5.0, -200.0], [0.1, 30.0], size=(500, 2))
    Z = apply_scaling(X, *fit_scaling(X, "standard")).astype(np.float64)  # the checks' sums
    # in float64, so only float32 storage is left: offset and scale are rounded (the mean
    # moves by up to u |mean| / std, the std by u relative) and so is each z (u |z|)
    u = np.finfo(np.float32).eps / 2
    tol = 2 * u * float((np.abs(X.mean(axis=0)) / X.std(axis=0) + np.abs(Z).max(axis=0)).max())
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, rtol=0, atol=tol)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=0, atol=tol)


def test_standard_floor_keeps_near_constant_columns_small_and_z_scores_the_rest() -> None:
    rng = np.random.default_rng(2)
    n = 1000
    ordinary = rng.normal([5.0, -200.0, 0.0], [2.0, 30.0, 1.0], size=(n, 3))
    constant = np.full((n, 1), 7.0)
    rare = np.zeros((n, 1))  # optdigits-like: almost always 0, one row 1 (std 0.03)
    rare[3] = 1.0
    X = np.hstack([ordinary, constant, rare])
    offset, scale = fit_scaling(X, "standard-floor")
    Z = apply_scaling(X, offset, scale)
    plain = apply_scaling(X, *fit_scaling(X, "standard"))
    assert np.abs(plain[:, 4]).max() > 30  # what the floor is for: z = sqrt(n - 1) ~ 31.6
    # the floor: 0.1 x the median of the five stds (0 of the constant column included)
    stds = X.std(axis=0)
    floor = 0.1 * np.median(stds)
    np.testing.assert_allclose(scale[4], floor, rtol=1e-5)
    assert np.abs(Z[:, 4]).max() == pytest.approx((1.0 - 1e-3) / floor, rel=1e-5)  # ~10, not 31.6
    assert np.all(Z[:, 3] == 0.0) and scale[3] == pytest.approx(floor)  # constant: offset only
    # ordinary columns (std above the floor): exactly the z-scores of "standard"
    np.testing.assert_array_equal(Z[:, :3], plain[:, :3])
    np.testing.assert_array_equal(offset, fit_scaling(X, "standard")[0])


@pytest.mark.parametrize(
    ("X", "method", "words"),
    [
        (np.array([[1.0, np.nan]]), "minmax", "NaN"),
        (np.zeros((0, 3)), "minmax", "n_samples"),
        (np.zeros(3), "minmax", "n_samples"),
        (np.zeros((2, 2)), "robust", "unknown scaling"),
    ],
)
def test_bad_input_is_refused(X: np.ndarray, method: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        fit_scaling(X, method)  # type: ignore[arg-type]
