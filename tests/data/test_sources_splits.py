"""Splits: seeded and reproducible, stratified by label, the source's own where it has them."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.data.sources import load_source
from aezoo.data.sources.splits import split_indices
from aezoo.errors import ConfigError, DataError


def test_same_seed_same_splits_other_seed_other_splits(digits) -> None:
    X, y = digits
    a, b = load_source((X, y), seed=3), load_source((X, y), seed=3)
    c = load_source((X, y), seed=4)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a.splits[split][0], b.splits[split][0])
    assert a.description.content_hash == b.description.content_hash
    assert a.description.content_hash != c.description.content_hash
    assert "seed 3" in a.description.split_protocol


def test_splits_partition_the_rows_and_keep_each_class_share(digits) -> None:
    _, y = digits
    idx = split_indices(len(y), y, 0, {"val": 0.2, "test": 0.1}, "x")
    together = np.concatenate(list(idx.values()))
    assert np.array_equal(np.sort(together), np.arange(len(y)))  # disjoint and complete
    assert (len(idx["val"]), len(idx["test"])) == (round(0.2 * len(y)), round(0.1 * len(y)))
    for c in range(10):
        n_c = int((y == c).sum())
        assert abs(int((y[idx["val"]] == c).sum()) - 0.2 * n_c) <= 1
        assert abs(int((y[idx["test"]] == c).sum()) - 0.1 * n_c) <= 1
    # an unstratified permutation of skewed labels would not keep the rare class's share
    skewed = np.array([1] * 10 + [0] * 90)
    strat = split_indices(100, skewed, 1, {"val": 0.1, "test": 0.1}, "x")
    assert all(int(skewed[strat[s]].sum()) == 1 for s in ("val", "test"))


def test_fractions_are_checked_and_zero_gives_an_empty_split(digits) -> None:
    X, _ = digits
    loaded = load_source(X[:100], val_fraction=0.0, test_fraction=0.25)
    assert loaded.description.rows == {"train": 75, "val": 0, "test": 25}
    assert loaded.splits["val"][0].shape == (0, 64)
    with pytest.raises(ConfigError, match="val_fraction \\+ test_fraction must be < 1"):
        load_source(X, val_fraction=0.6, test_fraction=0.4)
    with pytest.raises(ConfigError, match="test_fraction must be in"):
        load_source(X, test_fraction=-0.1)


def test_too_few_rows_for_the_splits() -> None:
    with pytest.raises(DataError, match="2 row\\(s\\); at least 3"):
        load_source(np.ones((2, 4)))
    with pytest.raises(DataError, match="4 rows are too few"):
        load_source(np.ones((4, 4)), val_fraction=0.5, test_fraction=0.4)
    assert load_source(np.arange(12.0).reshape(3, 4)).description.rows == {
        "train": 1,
        "val": 1,
        "test": 1,
    }
