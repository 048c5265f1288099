"""Table sources: .npy, .npz, .csv, .parquet, DataFrame, Arrow, (X, y), save_to_disk, ADBench."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aezoo.data.mnist import data_fingerprint as old_import
from aezoo.data.sources import DataDescription, load_source
from aezoo.data.sources.base import slug
from aezoo.data.sources.splits import split_indices
from aezoo.errors import DataError

CLASSES = [str(c) for c in range(10)]


def _check_arrays(loaded) -> None:
    for X, y in loaded.splits.values():
        assert X.dtype == np.float32 and X.flags.c_contiguous and X.shape[1] == 64
        assert y is None or (y.dtype == np.int64 and y.shape == (X.shape[0],))


def test_every_labelled_table_source_gives_identical_data(
    digits, table_files, saved_table_dataset
) -> None:
    import pandas as pd
    import pyarrow as pa

    X, y = digits
    frame = pd.read_csv(table_files["csv"])
    reference = load_source(table_files["npz"])
    sources = {
        "csv": (table_files["csv"], "label"),
        "parquet": (table_files["parquet"], "label"),
        "dataframe": (frame, "label"),
        "arrow": (pa.Table.from_pandas(frame), "label"),
        "tuple": ((X, y), None),
        "save_to_disk": (saved_table_dataset, None),  # the ClassLabel is the label unasked
    }
    for what, (source, label) in sources.items():
        loaded = load_source(source, label_column=label)
        _check_arrays(loaded)
        d = loaded.description
        assert d.content_hash == reference.description.content_hash, what
        assert (d.kind, d.n_features, d.image_shape, d.class_names) == (
            "table",
            64,
            None,
            CLASSES,
        ), what
        for split, (Xs, ys) in loaded.splits.items():
            np.testing.assert_array_equal(Xs, reference.splits[split][0])
            np.testing.assert_array_equal(ys, reference.splits[split][1])
    assert load_source(table_files["csv"], label_column="label").description.columns == [
        f"p{j}" for j in range(64)
    ]
    # the splits hold exactly the file's rows, in file order, where split_indices says
    idx = split_indices(len(X), y, 0, {"val": 0.1, "test": 0.1}, "x")
    for split, (Xs, ys) in reference.splits.items():
        np.testing.assert_array_equal(Xs, X[idx[split]].astype(np.float32))
        np.testing.assert_array_equal(ys, y[idx[split]])


def test_npy_is_unlabelled_and_keeps_every_row(digits, table_files) -> None:
    X, _ = digits
    loaded = load_source(table_files["npy"])
    _check_arrays(loaded)
    d = loaded.description
    assert d.class_names is None and d.columns is None and d.name == "digits"
    assert all(y is None for _, y in loaded.splits.values())
    assert d.rows == {"train": 1437, "val": 180, "test": 180}
    idx = split_indices(len(X), None, 0, {"val": 0.1, "test": 0.1}, "x")
    for split, (Xs, _) in loaded.splits.items():
        np.testing.assert_array_equal(Xs, X[idx[split]].astype(np.float32))
    assert DataDescription.from_json(json.loads(json.dumps(d.to_json()))) == d
    X_full, y_full = loaded.train_full()
    assert X_full.shape == (1437 + 180, 64) and y_full is None
    np.testing.assert_array_equal(X_full[1437:], loaded.splits["val"][0])


def test_feature_columns_label_names_and_skipped_text(tmp_path) -> None:
    path = tmp_path / "sensors.csv"
    path.write_text(
        "id,temp,flag,status\n"
        + "".join(f"r{i},{20 + i}.5,{i % 2},{'ok' if i % 3 else 'bad'}\n" for i in range(12))
    )
    loaded = load_source(path, label_column="status")
    d = loaded.description
    assert d.columns == [
        "temp",
        "flag",
    ]  # the text id column is skipped, the label is not a feature
    assert d.class_names == ["bad", "ok"]
    assert loaded.splits["train"][0].shape[1] == 2
    only = load_source(path, label_column="status", feature_columns=["temp"])
    assert only.description.columns == ["temp"] and only.description.n_features == 1
    with pytest.raises(DataError, match="line 2, column 'id': 'r0' is not a number"):
        load_source(path, feature_columns=["id", "temp"])
    with pytest.raises(DataError, match="no column 'humidity'; columns: id, temp, flag, status"):
        load_source(path, label_column="humidity")


def test_a_column_of_lists_is_not_numeric() -> None:
    import pyarrow as pa

    table = pa.table({"a": [1.0, 2.0, 3.0], "v": [[1], [2], [3]]})
    assert load_source(table).description.columns == ["a"]  # skipped by default
    with pytest.raises(DataError, match="column 'v' is of type list<item: int64>, not numeric"):
        load_source(table, feature_columns=["a", "v"])


def test_adbench_npz_loads_with_its_anomaly_labels(adbench_file) -> None:
    with np.load(adbench_file) as raw:
        X, y = raw["X"], raw["y"]
    loaded = load_source(adbench_file)
    d = loaded.description
    assert d.class_names == ["0", "1"] and d.n_features == X.shape[1]
    assert sum(d.rows.values()) == len(X)
    whole = np.concatenate([s[0] for s in loaded.splits.values()])
    labels = np.concatenate([s[1] for s in loaded.splits.values()])
    rows = sorted(zip(map(bytes, whole), labels, strict=True))
    expected = sorted(zip(map(bytes, X.astype(np.float32)), y.astype(np.int64), strict=True))
    assert rows == expected  # every row once, each anomaly still labelled 1


def test_name_is_a_registry_safe_slug_never_a_bundled_model() -> None:
    assert slug("/data/digits.csv") == "digits"
    assert slug("/data/My Sensor Data (2024)/") == "my-sensor-data-2024"
    assert slug("hf:ylecun/mnist") == "mnist"
    assert slug("hf:nyu-mll/glue:cola") == "glue-cola"
    assert slug("/x/sda-mnist.npz") == "sda-mnist-data"  # a bundled model's name
    assert slug(np.zeros(3)) == "data"


def test_data_fingerprint_moved_and_old_import_still_works() -> None:
    from aezoo.data.fingerprint import data_fingerprint

    assert old_import is data_fingerprint
