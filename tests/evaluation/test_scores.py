"""Scores shared by model cards and 'aezoo evaluate': sparsity, few-label probe, lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aezoo.data import lines
from aezoo.evaluation import scores
from aezoo.evaluation.lines import nearest_lines
from aezoo.models import create_variant
from aezoo.training.ops import torch_ops

torch.set_num_threads(1)


def test_sparse_code_metrics_count_zeros_collapsed_and_negatives() -> None:
    Z = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 2.0, -1.0, 0.0]], np.float32)
    m = scores.sparse_code_metrics(Z)
    assert m["code_zero_pct"] == pytest.approx(100 * 5 / 8)
    assert m["collapsed_components"] == 2  # columns 0 and 3 never non-zero
    assert m["negative_code_entries"] == 1


def test_few_label_indices_pick_exactly_k_per_class() -> None:
    y = np.repeat(np.arange(3), 50)
    idx = scores.few_label_indices(y, 10, seed=0)
    assert np.bincount(y[idx]).tolist() == [10, 10, 10] and len(set(idx)) == 30
    assert not np.array_equal(idx, scores.few_label_indices(y, 10, seed=1))
    with pytest.raises(ValueError, match="fewer than 60"):
        scores.few_label_indices(y, 60)


def test_gaussian_noise_is_seeded_and_clipped() -> None:
    X = np.full((4, 10), 0.5, np.float32)
    a = scores.gaussian_noise_np(X, 2.0, seed=3)
    assert a.min() >= 0.0 and a.max() <= 1.0 and (a == 0).any() and (a == 1).any()
    np.testing.assert_array_equal(a, scores.gaussian_noise_np(X, 2.0, seed=3))


def test_score_of_a_sparse_coder_on_mnist_has_the_issue_metrics(mnist_dir) -> None:
    from aezoo.data.datasets import load_splits

    splits = load_splits("mnist", str(mnist_dir))
    splits["test"] = tuple(a[:500] for a in splits["test"])
    torch.manual_seed(0)
    model = create_variant("lista_mnist_tiny")
    m = scores.score("mnist", "lista", torch_ops(model), splits, probe=False)
    for key in (
        "recon_psnr_db",
        "code_zero_pct",
        "collapsed_components",
        "gaussian_denoised_psnr_db",
        "probe100_accuracy_pct",
        "pixels_probe100_accuracy_pct",
    ):
        assert np.isfinite(m[key]), key
    assert "probe_accuracy_pct" not in m and "test_error_pct" not in m
    # raw pixels with 100 labels per class: a real probe, far above chance
    assert 60 < m["pixels_probe100_accuracy_pct"] < 95


class _Ideal:
    """Ops whose code is the line's angle as a point on the circle: perfect interpolation
    along the short arc is not linear in (cos, sin), but decode renders the nearest line."""

    def encode(self, X: np.ndarray) -> np.ndarray:
        _, ang = nearest_lines(X)
        return np.stack([np.cos(ang), np.sin(ang)], 1).astype(np.float32)

    def decode(self, Z: np.ndarray) -> np.ndarray:
        return lines.render_lines(np.arctan2(Z[:, 1], Z[:, 0]))


def test_lines_scores_reward_a_decoder_that_renders_lines() -> None:
    ideal = _Ideal()
    ops = scores.Ops(ideal.encode, ideal.decode, lambda X: ideal.decode(ideal.encode(X)))
    X, ang = lines.make_lines(64, seed=5)
    m = scores.lines_scores(ops, {"test": (X, ang)})
    assert m["lines_mean_distance"] < 0.01 and m["recon_psnr_db"] > 20
    blur = scores.Ops(lambda X: X, lambda Z: Z, lambda X: X)  # pixel-space cross-fade
    b = scores.lines_scores(blur, {"test": (X, ang)})
    assert b["lines_mean_distance"] > 10 * m["lines_mean_distance"]
