"""Ray Data: the :class:`Extractor` callable class and ``aezoo extract --engine ray``.

The first tests call the class as a Ray actor would, without a cluster. The tests
marked slow run a real local Ray cluster (the session's ``ray_cluster``) on real MNIST
test images through the bundled ``sda-mnist``.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.errors import ConfigError, DataError, InputError, OperationNotSupportedError
from aezoo.extract.ray_data import Extractor
from aezoo.extract.ray_job import find_sources
from aezoo.runtime.model import OnnxModel
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def sda() -> OnnxModel:
    return aezoo.load("sda-mnist")


def _images(directory: Path, pixels: np.ndarray) -> list[str]:
    """Write (n, 28, 28) uint8 as 8-bit grayscale PNGs; return their paths in name order."""
    from PIL import Image

    directory.mkdir()
    for i, image in enumerate(pixels):
        Image.fromarray(image, mode="L").save(directory / f"{i:05d}.png")
    return sorted(str(p) for p in directory.glob("*.png"))


# -- the class, called as an actor calls it -------------------------------------------------
def test_extractor_maps_a_from_numpy_batch_as_load_does(
    sda: OnnxModel, mnist_1000: np.ndarray
) -> None:
    extractor = Extractor(model="sda-mnist")  # fn_constructor_kwargs={"model": "sda-mnist"}
    out = extractor({"data": mnist_1000[:256], "id": np.arange(256)})
    assert sorted(out) == ["codes", "id"]  # the input column is dropped, others pass through
    assert out["codes"].dtype == np.float32 and out["codes"].shape == (256, 200)
    np.testing.assert_array_equal(out["codes"], sda.encode(mnist_1000[:256]))
    np.testing.assert_array_equal(out["id"], np.arange(256))
    split = Extractor(model="sda-mnist", batch_size=100)({"data": mnist_1000[:256]})
    np.testing.assert_array_equal(split["codes"], out["codes"])  # 100 + 100 + 56 rows per call


def test_extractor_images_with_scale_classify_and_denoise(
    sda: OnnxModel, mnist_u8: np.ndarray, mnist_1000: np.ndarray
) -> None:
    batch = {"image": mnist_u8[:100], "path": np.array([f"{i}.png" for i in range(100)])}
    out = Extractor(model="sda-mnist", operation="classify", scale=1 / 255)(batch)
    assert sorted(out) == ["labels", "path", "probabilities"]
    np.testing.assert_array_equal(out["labels"], sda.classify(mnist_1000[:100]))
    np.testing.assert_array_equal(out["probabilities"], sda.predict_proba(mnist_1000[:100]))
    denoiser = Extractor(model="sda-mnist", operation="denoise", scale=1 / 255, output_column="x")
    np.testing.assert_array_equal(denoiser(batch)["x"], sda.denoise(mnist_1000[:100]))


def test_extractor_stacks_per_row_arrays_of_a_parquet_list_column(
    sda: OnnxModel, mnist_1000: np.ndarray
) -> None:
    rows = np.empty(50, dtype=object)
    rows[:] = list(mnist_1000[:50])  # how pyarrow hands a list<float> column to numpy
    out = Extractor(model="sda-mnist")({"pixels": rows, "label": np.arange(50)})
    np.testing.assert_array_equal(out["codes"], sda.encode(mnist_1000[:50]))
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(784, np.float32), np.zeros(783, np.float32)]
    with pytest.raises(InputError, match="different shapes"):
        Extractor(model="sda-mnist")({"pixels": ragged})


def test_extractor_column_choice(sda: OnnxModel, mnist_1000: np.ndarray) -> None:
    x, y = mnist_1000[:10], mnist_1000[10:20]
    with pytest.raises(ConfigError, match=r"several tensor columns \['a', 'b'\].*column="):
        Extractor(model="sda-mnist")({"a": x, "b": y})
    out = Extractor(model="sda-mnist", column="b")({"a": x, "b": y})
    assert sorted(out) == ["a", "codes"]
    np.testing.assert_array_equal(out["codes"], sda.encode(y))
    with pytest.raises(ConfigError, match=r"no tensor column \(columns \['id'\]\)"):
        Extractor(model="sda-mnist")({"id": np.arange(3)})
    with pytest.raises(ConfigError, match="no column 'pixels'"):
        Extractor(model="sda-mnist", column="pixels")({"data": x})
    with pytest.raises(ConfigError, match="'codes' is already a column"):
        Extractor(model="sda-mnist")({"data": x, "codes": np.arange(10)})


def test_extractor_bad_arguments_and_inputs(mnist_u8: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="'reconstruct'"):
        Extractor(model="sda-mnist", operation="reconstruct")
    with pytest.raises(OperationNotSupportedError, match="'ae-lines' does not offer 'classify'"):
        Extractor(model="ae-lines", operation="classify")
    with pytest.raises(ConfigError, match="scale"):
        Extractor(model="sda-mnist", scale=0.0)
    with pytest.raises(ConfigError, match="got int"):
        Extractor(model=3)
    with pytest.raises(InputError, match=r"\[0, 255\].*scale=1/255"):  # 8-bit pixels, no scale
        Extractor(model="sda-mnist")({"image": mnist_u8[:4]})
    with pytest.raises(InputError, match=r"column 'data' has shape \(4, 27, 28\)"):
        Extractor(model="sda-mnist")({"data": np.zeros((4, 27, 28), np.float32)})
    with pytest.raises(ConfigError, match="batch_format='numpy'"):
        Extractor(model="sda-mnist")([np.zeros(784)])


def test_find_sources_one_kind_per_directory(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", np.zeros((2, 784), np.float32))
    np.save(tmp_path / "a.npy", np.zeros((2, 784), np.float32))
    assert find_sources(tmp_path) == ("npy", [tmp_path / "a.npy", tmp_path / "b.npy"])
    (tmp_path / "c.PNG").write_bytes(b"")
    with pytest.raises(DataError, match="mixes images and npy files"):
        find_sources(tmp_path)
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(DataError, match=r"unsupported file 'notes.txt'.*--engine local"):
        find_sources(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files"):
        find_sources(tmp_path / "empty")
    with pytest.raises(DataError, match="not found"):
        find_sources(tmp_path / "missing")


def test_cli_refuses_ray_flags_without_the_ray_engine(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((2, 784), np.float32))
    out = run_cli(
        "extract", "sda-mnist", str(tmp_path / "x.npy"), str(tmp_path / "z.npy"), "--actors", "2",
        env={"PATH": "/usr/bin:/bin", "AEZOO_HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip() == "aezoo extract: error: --actors: only with --engine ray"


# -- a real Ray cluster ------------------------------------------------------------------------
@pytest.fixture
def ordered(ray_cluster: str):
    """Ray Data keeps row order only when told to (``preserve_order``)."""
    import ray

    ctx = ray.data.DataContext.get_current()
    before, ctx.execution_options.preserve_order = ctx.execution_options.preserve_order, True
    yield ray
    ctx.execution_options.preserve_order = before


@pytest.mark.slow
def test_from_numpy_map_batches_equals_load(
    ordered, sda: OnnxModel, mnist_1000: np.ndarray
) -> None:
    ray = ordered
    ds = ray.data.from_numpy(mnist_1000).map_batches(
        Extractor, fn_constructor_kwargs={"model": "sda-mnist"}, concurrency=1, batch_size=256
    )
    codes = np.stack([row["codes"] for row in ds.take_all()])
    np.testing.assert_array_equal(codes, sda.encode(mnist_1000))

    from aezoo.extract.ray_data import ship_model  # shipped once through the object store

    two = ray.data.from_numpy(mnist_1000).map_batches(
        Extractor,
        fn_constructor_kwargs={"model": ship_model("sda-mnist"), "operation": "denoise"},
        compute=ray.data.ActorPoolStrategy(size=2),
        batch_size=300,
    )
    outputs = np.stack([row["outputs"] for row in two.take_all()])
    np.testing.assert_array_equal(outputs, sda.denoise(mnist_1000))


@pytest.mark.slow
def test_read_images_and_parquet_through_the_extractor(
    ordered, sda: OnnxModel, mnist_u8: np.ndarray, mnist_1000: np.ndarray, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ray = ordered
    paths = _images(tmp_path / "png", mnist_u8[:200])
    ds = ray.data.read_images(paths, mode="L", include_paths=True).map_batches(
        Extractor, fn_constructor_kwargs={"model": "sda-mnist", "scale": 1 / 255}, batch_size=64
    )
    rows = sorted(ds.take_all(), key=lambda r: r["path"])
    assert [r["path"] for r in rows] == paths
    np.testing.assert_array_equal(
        np.stack([r["codes"] for r in rows]), sda.encode(mnist_1000[:200])
    )

    table = pa.table({"label": np.arange(200), "x": pa.array(list(mnist_1000[:200]))})
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=64)
    ds = ray.data.read_parquet(str(tmp_path / "x.parquet")).map_batches(
        Extractor, fn_constructor_kwargs={"model": "sda-mnist", "operation": "classify"}
    )
    rows = sorted(ds.take_all(), key=lambda r: r["label"])
    np.testing.assert_array_equal([r["labels"] for r in rows], sda.classify(mnist_1000[:200]))


@pytest.mark.slow
def test_extract_with_ray_npy_directory_to_parquet_and_npy(
    ray_cluster: str, sda: OnnxModel, mnist_u8: np.ndarray, mnist_1000: np.ndarray, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from aezoo.extract.ray_job import extract_with_ray

    src = tmp_path / "src"
    src.mkdir()
    np.save(src / "part-0.npy", mnist_1000[:600])
    np.save(src / "part-1.npy", mnist_1000[600:].reshape(400, 28, 28))
    report = extract_with_ray("sda-mnist", src, tmp_path / "out", batch_size=256, actors=2)
    assert (report.n_samples, report.dest) == (1000, tmp_path / "out")
    table = pq.read_table(tmp_path / "out")
    assert table.column_names == ["id", "codes"]
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(1000))
    codes = np.stack(table.column("codes").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(codes, sda.encode(mnist_1000))
    assert not list(tmp_path.glob(".*.tmp"))

    extract_with_ray("sda-mnist", src, tmp_path / "npy", output_format="npy", progress=False)
    shards = sorted(glob.glob(str(tmp_path / "npy" / "*.npy")))
    np.testing.assert_array_equal(np.concatenate([np.load(s) for s in shards]), codes)

    with pytest.raises(DataError, match="dest exists"):
        extract_with_ray("sda-mnist", src, tmp_path / "out")
    np.save(tmp_path / "u8.npy", mnist_u8[:300])
    with pytest.raises(
        InputError, match=r"\[0, 255\].*1/255"
    ):  # raised in an actor, re-raised here
        extract_with_ray("sda-mnist", tmp_path / "u8.npy", tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_cli_engine_ray_classifies_a_png_directory(
    ray_cluster: str, sda: OnnxModel, mnist_u8: np.ndarray, mnist_1000: np.ndarray, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    paths = _images(tmp_path / "png", mnist_u8[:300])
    dest = tmp_path / "labels"
    out = run_cli(
        "extract", "sda-mnist", str(tmp_path / "png"), str(dest), "--engine", "ray",
        "--operation", "classify", "--address", ray_cluster, "--actors", "2", "--quiet",
        env={**os.environ, "AEZOO_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert (
        out.stdout.startswith(f"extracted 300 rows -> {dest}/")
        and "[classify, 2 actors]" in out.stdout
    )
    table = pq.read_table(dest)
    assert table.column("path").to_pylist() == paths  # input order kept
    np.testing.assert_array_equal(table.column("labels").to_numpy(), sda.classify(mnist_1000[:300]))
