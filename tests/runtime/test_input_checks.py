"""OnnxModel.check_inputs: every non-finite or out-of-range value is caught wherever it
sits, on the float32 fast path and on the converting path, and good inputs pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aezoo.errors import InputError
from aezoo.runtime.model import OnnxModel


@pytest.fixture(scope="module")
def model(tiny_artifact: Path) -> OnnxModel:
    return OnnxModel(tiny_artifact, intra_op_threads=1)


BAD = [
    (np.nan, "NaN or Inf"),
    (np.inf, "NaN or Inf"),
    (-np.inf, "NaN or Inf"),
    (1.01, "must lie in"),
    (-0.01, "must lie in"),
]


@pytest.mark.parametrize("value, message", BAD)
@pytest.mark.parametrize("where", [(0, 0), (2, 400), (4, 783)])
@pytest.mark.parametrize("form", ["float32", "float64 list"])
def test_bad_values_are_refused_anywhere(model, value, message, where, form) -> None:
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    x[where] = value
    batch = x if form == "float32" else x.astype(np.float64).tolist()
    with pytest.raises(InputError, match=message):
        model.check_inputs(batch)


def test_nan_beside_an_out_of_range_value_is_named_as_nan(model) -> None:
    x = np.zeros((2, 784), dtype=np.float32)
    x[0, 5], x[1, 9] = 7.0, np.nan  # argmax may land on either; the error names the NaN
    with pytest.raises(InputError, match=r"sample 1, feature 9"):
        model.check_inputs(x)


def test_range_edges_pass(model) -> None:
    x = np.zeros((3, 784), dtype=np.float32)
    x[1] = 1.0
    assert model.check_inputs(x) is x
    assert model.check_inputs(x[1].tolist()).shape == (1, 784)
