"""samples.json: a few real test inputs shipped in every artifact, listed in its manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.data import lines
from aezoo.export.samples import FORMAT, attach_samples, make_samples
from aezoo.registry.artifact import SAMPLES, read_manifest, verify_artifact
from aezoo.registry.format import read_config
from aezoo.registry.store import BUNDLED_DIR

# whole-image denoisers ship 2-D image samples; tests/export/test_bundled_denoiser.py checks them
BUNDLED = sorted(
    p.name
    for p in BUNDLED_DIR.iterdir()
    if (p / "manifest.json").is_file() and read_config(p).denoiser is None
)


def test_mnist_samples_are_the_first_of_each_class() -> None:
    X = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    y = np.array([3, 1, 3, 0, 2, 1, 0, 2] + [9] * 42)
    record = make_samples(X, y, "mnist")
    assert record["format"] == FORMAT and record["labels"] == ["0", "1", "2", "3", "9"]
    # no arithmetic but np.round to 6 decimals: half a unit of the 6th, plus float64 rounding
    np.testing.assert_allclose(record["inputs"], X[[3, 1, 4, 0, 8]], rtol=0, atol=5e-7 + 1e-15)


def test_lines_samples_keep_their_range_and_name_their_angle() -> None:
    X, angles = lines.make_lines(20, seed=1)
    record = make_samples(X, angles, "lines")
    rows = np.asarray(record["inputs"])
    assert rows.shape == (8, 1024) and rows.min() >= -1.0 and rows.max() <= 1.0
    assert record["labels"][0] == f"angle {np.degrees(angles[0]) % 360:.0f} deg"


def test_attach_keeps_the_version_and_verifies(tmp_path: Path, tiny_artifact: Path) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "a"))
    before = read_manifest(copy)
    X = np.random.default_rng(0).random((10, 784), dtype=np.float32)
    attach_samples(copy, make_samples(X, np.arange(10), "mnist"))
    after = verify_artifact(copy)
    assert SAMPLES in after.files and SAMPLES not in before.files
    assert (after.version, after.created_at) == (before.version, before.created_at)
    assert {k: v for k, v in after.files.items() if k != SAMPLES} == before.files


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_model_ships_real_samples_it_accepts(name: str) -> None:
    model = aezoo.load(BUNDLED_DIR / name)  # verifies samples.json against the manifest too
    record = json.loads((model.path / SAMPLES).read_text())
    X = np.asarray(record["inputs"], dtype=np.float32)
    assert X.shape[1] == model.config.input.n_features and len(X) == len(record["labels"]) >= 8
    assert np.isfinite(model.denoise(X)).all()  # in range, right shape: the runtime checks both
    if "classify" in model.operations:  # real digits, one per class: a good model gets most
        hits = (model.classify(X) == np.arange(10)).sum()
        assert hits >= 9, f"{name} classified {hits}/10 of its own samples"
