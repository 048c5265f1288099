"""The lines benchmark of ACAI: rendering and the two interpolation metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aezoo.data.lines import SIZE, interpolation_pairs, make_lines, render_lines
from aezoo.evaluation.lines import lines_metrics, nearest_lines, smoothness
from tests.tolerance import sum_atol

torch.set_num_threads(1)
N_STEPS = 16


def _even_frames(angles: np.ndarray) -> np.ndarray:
    """True lines at evenly spaced angles along the shorter arc: the perfect interpolation."""
    start, end = angles[:, 0], angles[:, 1]
    delta = (end - start + np.pi) % (2 * np.pi) - np.pi  # (P,) in [-pi, pi)
    theta = start[:, None] + np.linspace(0, 1, N_STEPS)[None] * delta[:, None]  # (P, N)
    return render_lines(theta.ravel()).reshape(len(angles), N_STEPS, -1)


def test_rendered_lines_have_the_right_range_and_ink() -> None:
    X, angles = make_lines(64, seed=1)
    assert X.shape == (64, 1024) and X.dtype == np.float32 and angles.shape == (64,)
    assert X.min() == -1.0 and X.max() == 1.0
    assert ((angles >= 0) & (angles < 2 * np.pi)).all()
    ink = ((X + 1) / 2).sum(axis=1)  # 15 x 2 px plus two rounded ends
    assert np.all((ink > 30) & (ink < 37))
    lit = (X > 0).sum(axis=1)
    assert np.all((lit >= 26) & (lit <= 40))
    img = render_lines(np.array([0.0])).reshape(32, 32)  # angle 0 points right from the centre
    assert (img[15:17, 17:31] == 1).all() and (img[:, :14] == -1).all()
    np.testing.assert_array_equal(make_lines(8, seed=3)[0], make_lines(8, seed=3)[0])


def test_true_lines_are_their_own_nearest() -> None:
    angles = 2 * np.pi * np.array([0, 1234, 5000, 9999]) / 10_000
    dist, found = nearest_lines(render_lines(angles))
    # float32: a 1,024-term norm then a 1,024-term dot product of unit vectors (sum |x_i| <= 1)
    np.testing.assert_allclose(dist, 0.0, atol=sum_atol(np.float32, SIZE * SIZE, depth=2))
    np.testing.assert_allclose(found, angles)


def test_even_interpolation_scores_zero_and_a_cross_fade_scores_badly() -> None:
    x_start, x_end, angles = interpolation_pairs(16, seed=0)
    assert x_start.shape == x_end.shape == (16, 1024) and angles.shape == (16, 2)
    perfect = lines_metrics(_even_frames(angles))
    assert perfect["mean_distance"] < sum_atol(np.float32, SIZE * SIZE, depth=2)  # as above
    assert abs(perfect["smoothness"]) < 0.01 and perfect["n_undefined"] == 0

    t = np.linspace(0, 1, N_STEPS)[None, :, None]
    fade = lines_metrics((1 - t) * x_start[:, None] + t * x_end[:, None])  # pixel space
    assert fade["smoothness"] > 0.5  # one big jump instead of 15 even steps
    assert fade["mean_distance"] > 100 * max(perfect["mean_distance"], 1e-6)


def test_smoothness_edge_cases() -> None:
    n = 5
    even = np.linspace(0.0, 1.0, n)
    jump = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    wrap = np.mod(np.linspace(6.0, 6.8, n), 2 * np.pi)  # crosses 2 pi: unwrapped, still even
    out = smoothness(np.stack([even, jump, wrap, np.zeros(n)]))
    # float64 on 5 angles (the wrap subtracts 2 pi ~ 6.3): a few eps * 6.3 ~ 1e-15, and 1e-9
    np.testing.assert_allclose(out[:3], [0.0, 1 - 1 / (n - 1), 0.0], atol=1e-9)
    assert np.isnan(out[3])  # theta_end == theta_start: undefined

    frames = render_lines(np.zeros(2 * n)).reshape(2, n, 1024)  # both pairs constant
    m = lines_metrics(frames)
    assert np.isnan(m["smoothness"]) and m["n_undefined"] == 2
    with pytest.raises(ValueError, match="n_pairs"):
        lines_metrics(np.zeros((2, 16, 100)))
