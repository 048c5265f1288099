"""Every family trained on a user's data, from every kind of source, then served (issue 21).

Each test trains for a few epochs only (tiny, fast): what is checked is that the whole path
holds (source -> sized model with its preprocessing -> artifact -> registry -> aezoo.load,
the HTTP server and extraction give the same numbers), not the models' quality.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import aezoo
from aezoo.errors import DataError
from aezoo.extract.features import extract_features
from aezoo.registry.store import LocalStore
from tests.conftest import REPO_ROOT
from tests.serving.conftest import npy_bytes, running_server
from tests.tolerance import sum_atol

pytest.importorskip("torch")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
ADBENCH = REPO_ROOT.parent / "shared" / "data" / "adbench" / "29_Pima.npz"
QUICK = {"sda": ["pretrain_epochs=2", "finetune_epochs=2"],
         "drsae": ["unsupervised_epochs=2", "discriminative_epochs=2"],
         "lista": ["epochs=2"], "conv-ae": ["epochs=2"]}  # fmt: skip


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-learn's digits (1,797 x 64, 10 classes) as every kind of source."""
    import pandas as pd

    d = sklearn_datasets.load_digits(as_frame=True)
    root = tmp_path_factory.mktemp("digits")
    frame = d.frame.rename(columns={"target": "digit"})
    frame.to_csv(root / "digits.csv", index=False)
    frame.to_parquet(root / "digits.parquet")
    X = d.data.to_numpy(np.float32)
    np.save(root / "digits.npy", X)
    images = root / "digit-images"
    for i, (img, label) in enumerate(zip(d.images[:400], d.target[:400], strict=True)):
        (images / str(label)).mkdir(parents=True, exist_ok=True)
        pixels = Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((16, 16))
        pixels.save(images / str(label) / f"{i:04d}.png")
    assert isinstance(frame, pd.DataFrame)
    return {
        "csv": root / "digits.csv",
        "parquet": root / "digits.parquet",
        "npy": root / "digits.npy",
        "images": images,
    }


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(root=tmp_path / "registry", bundled=None)


def _train(family: str, source: object, store: LocalStore, **kw: object):
    overrides = [*QUICK[family], *kw.pop("overrides", [])]  # type: ignore[misc]
    return aezoo.train(family, source, store=store, overrides=overrides, show_progress=False, **kw)


def test_sda_on_a_csv_table_takes_raw_units_and_names_its_classes(
    digits: dict[str, Path], store: LocalStore, tmp_path: Path
) -> None:
    art, version = _train("sda", str(digits["csv"]), store, label_column="digit")
    assert version is not None and version.name == "digits" and version.version == "1"
    model = aezoo.load(art)
    cfg = model.config
    assert cfg.class_names == [str(i) for i in range(10)] and "classify" in cfg.operations
    assert cfg.input.columns == [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    record = json.loads((art / "training.json").read_text())
    assert record["data"]["rows"]["test"] > 0 and record["data"]["content_hash"]
    assert {"recon_mse", "recon_r2", "test_error_pct", "probe_accuracy_pct"} <= set(
        record["metrics"]
    )
    card = (art / "README.md").read_text()
    assert "## Data" in card and "digits.csv" in card
    # raw pixel values 0..16 go in, reconstructions come back in the same units
    X = np.loadtxt(digits["csv"], delimiter=",", skiprows=1, dtype=np.float32)[:, :64]
    out = model.denoise(X[:32])
    assert out.min() >= -1e-4 and out.max() <= 16 + 1e-3 and out.max() > 1.5
    # extraction streams the same CSV (the model's own columns; the label column ignored)
    report = extract_features(
        art, digits["csv"], tmp_path / "f.npy", batch_size=500, progress=False
    )
    assert report.n_samples == len(X)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy")[:500], model.encode(X[:500]))


@pytest.mark.slow  # over 8 s: the README test command stays under 6 minutes
def test_lista_on_parquet_and_drsae_on_npy_without_labels(
    digits: dict[str, Path], store: LocalStore
) -> None:
    art, _ = _train("lista", str(digits["parquet"]), store, label_column="digit")
    model = aezoo.load(art)
    assert model.config.family == "lista" and "classify" not in model.config.operations
    X = np.load(digits["npy"])[:16]
    assert (model.encode(X) >= 0).all()  # non-negative sparse codes
    art, version = _train("drsae", str(digits["npy"]), store, name="digits-drsae")
    model = aezoo.load(art)
    assert version.name == "digits-drsae" and "classify" not in model.config.operations
    assert model.config.class_names is None


def test_drsae_on_an_adbench_file_classifies_normal_and_anomaly(store: LocalStore) -> None:
    if not ADBENCH.is_file():
        pytest.skip(f"{ADBENCH} not found (the shared ADBench copy)")
    art, _version = _train("drsae", str(ADBENCH), store)
    model = aezoo.load(art)
    assert model.config.class_names == ["0", "1"] and model.config.input.n_features == 8
    X = np.load(ADBENCH)["X"][:5].astype(np.float32)
    assert model.predict_proba(X).shape == (5, 2)


def test_conv_ae_on_an_image_folder_serves_png_bodies(
    digits: dict[str, Path], store: LocalStore, tmp_path: Path
) -> None:
    art, version = _train("conv-ae", str(digits["images"]), store)
    model = aezoo.load(art)
    spec = model.config.input
    assert spec.image is not None and (spec.image.height, spec.image.width) == (16, 16)
    png = (digits["images"] / "3").iterdir().__next__().read_bytes()
    with running_server(
        [version.name, "--threads", "1"],
        {"AEZOO_HOME": str(store.root.parent)},
        tmp_path / "server.log",
    ) as server:
        url = f"{server.url}/v1/models/{version.name}"
        got = httpx.post(f"{url}/encode", content=png, headers={"content-type": "image/png"})
        assert got.status_code == 200, got.text
        row = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32).reshape(1, -1)
        want = model.encode(row / np.float32(255))
        np.testing.assert_array_equal(np.asarray(got.json()["codes"], np.float32), want)
        as_npy = httpx.post(
            f"{url}/encode",
            content=npy_bytes(row / 255),
            headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
        )
        np.testing.assert_array_equal(np.load(io.BytesIO(as_npy.content)), want)
        denoised = httpx.post(
            f"{url}/denoise",
            content=png,
            headers={"content-type": "image/png", "accept": "image/png"},
        )
        assert denoised.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(denoised.content)).size == (16, 16)
    # extraction over the folder decodes as the model says, every class subfolder in order
    files = sorted(digits["images"].rglob("*.png"))
    extract_features(art, digits["images"], tmp_path / "f.npy", batch_size=64, progress=False)
    rows = np.stack([np.asarray(Image.open(f).convert("L"), np.float32).ravel() for f in files])
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), model.encode(rows / np.float32(255)))


def test_conv_ae_with_acai_on_a_datasets_directory(store: LocalStore, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    d = sklearn_datasets.load_digits()
    images = [
        Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((16, 16))
        for img in d.images[:300]
    ]
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=[f"d{i}" for i in range(10)]),
        }
    )
    ds = datasets.Dataset.from_dict({"image": images, "label": d.target[:300].tolist()}, features)
    ds.save_to_disk(str(tmp_path / "hf-digits"))
    art, _version = _train(
        "conv-ae", str(tmp_path / "hf-digits"), store, overrides=["acai.enabled=true"]
    )
    record = json.loads((art / "training.json").read_text())
    assert record["recipe"]["acai"]["enabled"] is True
    assert any("critic_loss" in h for h in record["history"])
    assert record["data"]["class_names"] == [f"d{i}" for i in range(10)]
    assert aezoo.load(art).config.input.image is not None


def test_http_json_and_npy_answer_like_aezoo_load_for_a_table(
    digits: dict[str, Path], store: LocalStore, tmp_path: Path
) -> None:
    art, _version = _train("sda", str(digits["csv"]), store, label_column="digit", name="tab")
    model = aezoo.load(art)
    X = np.load(digits["npy"])[:8]  # raw units, 0..16
    with running_server(
        ["tab", "--threads", "1"], {"AEZOO_HOME": str(store.root.parent)}, tmp_path / "log"
    ) as server:
        url = f"{server.url}/v1/models/tab"
        js = httpx.post(f"{url}/encode", json={"inputs": X.tolist()}).json()["codes"]
        npy = httpx.post(
            f"{url}/denoise",
            content=npy_bytes(X),
            headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
        )
        labels = httpx.post(f"{url}/classify", json={"inputs": X.tolist()}).json()["labels"]
    # the server may batch differently from one in-process call: a 64-input layer's sums
    np.testing.assert_allclose(js, model.encode(X), atol=sum_atol(np.float32, 128, 64, 3))
    np.testing.assert_allclose(  # the same sums through 6 layers, then raw units up to 16
        np.load(io.BytesIO(npy.content)),
        model.denoise(X),
        rtol=0,
        atol=16 * sum_atol(np.float32, 128, 64, 6),
    )
    assert labels == [model.config.class_names[i] for i in model.classify(X)]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("a,b,label\n1,2,x\n3\n", "line 3"),
        ("a,b,label\n1,oops,x\n" + "1,2,y\n" * 20, "oops"),
        ("a,b,label\n" + "1,2,x\n" * 20, "one class"),
    ],
)
def test_bad_tables_get_one_line_and_register_nothing(
    tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "aezoo", "train", "sda", "--data", str(path),
         "--label-column", "label", "--quiet"],
        capture_output=True, text=True, env={**os.environ, "AEZOO_HOME": str(home)}, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not (home / "registry").exists() or not any((home / "registry").iterdir())


def test_bundled_names_are_refused(digits: dict[str, Path], store: LocalStore) -> None:
    bundled = LocalStore(root=store.root)  # with the bundled fallback
    with pytest.raises(Exception, match="bundled"):
        aezoo.train("sda", str(digits["npy"]), name="sda-mnist", store=bundled)
    with pytest.raises(DataError, match="conv-ae"):
        _train("conv-ae", str(digits["npy"]), store)


def test_data_above_the_memory_limit_trains_from_disk_by_chunks(
    digits: dict[str, Path], store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aezoo.training.trainer as trainer_module
    from aezoo.training.disk_rows import DiskRows

    used = []
    real = DiskRows.batches
    monkeypatch.setattr(DiskRows, "batches", lambda self, *a: used.append(self) or real(self, *a))
    assert trainer_module.DiskRows is DiskRows
    art, _version = _train(
        "sda", str(digits["parquet"]), store, label_column="digit", in_memory_bytes=1
    )
    record = json.loads((art / "training.json").read_text())
    assert used and "streamed once to disk" in record["protocol"]
    rows = record["data"]["rows"]
    assert sum(rows.values()) == 1797 and rows["test"] > 0 and rows["val"] > 0
    model = aezoo.load(art)
    assert "classify" not in model.config.operations  # labels are not streamed
    X = np.load(digits["npy"])[:4]
    assert model.denoise(X).shape == (4, 64) and model.denoise(X).min() >= 0


def test_spilled_splits_partition_the_rows_reproducibly(
    digits: dict[str, Path], tmp_path: Path
) -> None:
    from aezoo.data.sources.spill import spill_source

    a = spill_source(str(digits["npy"]), tmp_path, seed=3, max_eval_rows=50)
    X = np.load(digits["npy"])
    parts = [np.asarray(a.splits[k][0]) for k in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(X) and len(parts[1]) < 100 and len(parts[2]) < 100
    assert isinstance(a.splits["train"][0], np.memmap)
    together = np.concatenate(parts)
    assert sorted(map(bytes, together)) == sorted(map(bytes, X))  # every row once
    (tmp_path / "b").mkdir()
    b = spill_source(str(digits["npy"]), tmp_path / "b", seed=3, max_eval_rows=50)
    np.testing.assert_array_equal(b.splits["test"][0], a.splits["test"][0])
    assert a.description.content_hash == b.description.content_hash


def test_missing_values_are_imputed_with_training_means_in_the_graph(
    store: LocalStore, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal([10.0, -5.0, 0.0, 100.0], [1.0, 2.0, 0.5, 10.0], size=(400, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    path = tmp_path / "gaps.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c,d", comments="", fmt="%.6g")
    with pytest.raises(DataError, match="NaN"):
        _train("sda", str(path), store)
    art, _ = _train("sda", str(path), store, allow_missing=True)
    model = aezoo.load(art)
    assert model.config.input.missing == "impute"
    fill = np.asarray(aezoo.from_pretrained(art).fill)
    from aezoo.data.sources import load_source

    X_train = load_source(str(path), allow_missing=True).splits["train"][0]  # same seed
    # fitted in float64 (another summation order: ~1e-16 relative), stored as float32: an ulp
    want = np.nanmean(X_train.astype(np.float64), axis=0)
    np.testing.assert_allclose(fill, want, rtol=np.finfo(np.float32).eps)
    row = X[~np.isnan(X).any(axis=1)][:1].astype(np.float32)
    gap = row.copy()
    gap[0, 1] = np.nan
    filled = row.copy()
    filled[0, 1] = fill[1]
    np.testing.assert_array_equal(model.encode(gap), model.encode(filled))
    with pytest.raises(Exception, match="Inf"):
        model.encode(np.where(np.isnan(gap), np.inf, gap))
    record = json.loads((art / "training.json").read_text())
    assert record["preprocessing"]["impute_missing"] is True
    assert np.isfinite(list(record["metrics"].values())).all()


def test_artifacts_name_the_source_file_not_the_training_machines_folders(
    digits: dict[str, Path], store: LocalStore
) -> None:
    art, _ = _train("lista", str(digits["npy"].resolve()), store)
    folder = str(digits["npy"].resolve().parent)
    for f in ("training.json", "samples.json", "README.md"):
        assert folder not in (art / f).read_text(), f
    assert json.loads((art / "training.json").read_text())["data"]["source"] == "digits.npy"
