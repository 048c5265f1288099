"""K-means accuracy with Hungarian matching (ACAI clustering protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.evaluation.clustering import hungarian_accuracy, kmeans_accuracy


def _blobs(n_per: int, k: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = 20.0 * rng.standard_normal((k, dim))
    y = np.repeat(np.arange(k), n_per)
    return centres[y] + rng.standard_normal((len(y), dim)), y


def test_separated_blobs_with_permuted_labels_score_one() -> None:
    Z, y = _blobs(60, 10, 8, seed=0)
    perm = np.random.default_rng(1).permutation(10)
    assert kmeans_accuracy(Z, perm[y], n_clusters=10, seed=0) == pytest.approx(1.0)
    # fitted on one sample, scored on another from the same blobs
    Z2, y2 = _blobs(30, 10, 8, seed=0)
    assert kmeans_accuracy(Z2, perm[y2], seed=0, Z_fit=Z) == pytest.approx(1.0)


def test_random_labels_score_about_chance() -> None:
    Z, _ = _blobs(200, 10, 8, seed=2)
    y = np.random.default_rng(3).integers(0, 10, len(Z))
    acc = kmeans_accuracy(Z, y, n_clusters=10, seed=0)
    assert 0.08 < acc < 0.15  # chance is 0.10; the best matching of noise sits a little above


def test_matching_is_one_to_one() -> None:
    # two clusters hold label 0, one holds label 1: a majority-vote map would score 1.0,
    # a permutation can give label 0 to only one of them.
    clusters = np.array([0, 0, 1, 1, 2, 2])
    labels = np.array([0, 0, 0, 0, 1, 1])
    assert hungarian_accuracy(clusters, labels) == pytest.approx(4 / 6)
    # and a relabelling of the clusters changes nothing
    assert hungarian_accuracy(np.array([2, 2, 0, 0, 1, 1]), labels) == pytest.approx(4 / 6)


def test_hungarian_accuracy_picks_the_best_permutation() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([1, 1, 2, 2, 2, 0, 0, 0])  # best map 1->0, 2->1, 0->2: 7/8 right
    assert hungarian_accuracy(clusters, labels) == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="equal"):
        hungarian_accuracy(clusters[:3], labels)


def test_whitening_rescues_a_badly_scaled_code() -> None:
    # the class lives in a low-variance direction; a huge-variance nuisance direction
    # dominates raw Euclidean K-means, whitening equalises them
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], 200)
    Z = np.stack([1000.0 * rng.standard_normal(400), 4.0 * y + 0.2 * rng.standard_normal(400)], 1)
    assert kmeans_accuracy(Z, y, n_clusters=2, seed=0) > 0.95
    assert kmeans_accuracy(Z, y, n_clusters=2, seed=0, whiten=False) < 0.7
