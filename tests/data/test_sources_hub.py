"""``hf:NAME[:CONFIG]`` from the local datasets cache in offline mode; the error when absent.

The cache is written as the Hub path writes it (``<cache>/<namespace>___<name>/<config>/
<version>/<hash>/``, Arrow files prepared by datasets' own parquet builder), so
``datasets.load_dataset`` finds it offline exactly as it finds a dataset downloaded once.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from aezoo.data.sources import describe_stream, iter_batches, load_source
from aezoo.errors import DataError

HASH = "0123456789abcdef"


@pytest.fixture
def offline_cache(tmp_path, monkeypatch, table_files):
    """``aezoo-test/digits`` (train = first 1,500 rows of digits, test = the rest) in a
    fresh datasets cache, with offline mode on."""
    import datasets
    import huggingface_hub.constants
    import pandas as pd
    from datasets.packaged_modules.parquet.parquet import Parquet

    frame = pd.read_parquet(table_files["parquet"])
    files = {"train": tmp_path / "train.parquet", "test": tmp_path / "test.parquet"}
    frame.iloc[:1500].to_parquet(files["train"])
    frame.iloc[1500:].to_parquet(files["test"])
    builder = Parquet(
        cache_dir=str(tmp_path / "build"),
        data_files={k: str(v) for k, v in files.items()},
        dataset_name="digits",
        hash=HASH,
    )
    builder.download_and_prepare()
    cache = tmp_path / "hf-datasets"
    shutil.copytree(builder.cache_dir, cache / "aezoo-test___digits" / "default" / "0.0.0" / HASH)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def test_hf_name_resolves_from_the_cache_offline(digits, offline_cache) -> None:
    X, y = digits
    loaded = load_source("hf:aezoo-test/digits", label_column="label", val_fraction=0.1)
    d = loaded.description
    assert (d.source, d.name, d.kind, d.n_features) == (
        "hf:aezoo-test/digits",
        "digits",
        "table",
        64,
    )
    assert d.rows == {"train": 1350, "val": 150, "test": 297}
    assert "own splits (train, test)" in d.split_protocol
    np.testing.assert_array_equal(loaded.splits["test"][0], X[1500:].astype(np.float32))
    np.testing.assert_array_equal(loaded.splits["test"][1], y[1500:])
    whole = np.concatenate([loaded.splits["train"][0], loaded.splits["val"][0]])
    assert sorted(map(bytes, whole)) == sorted(map(bytes, X[:1500].astype(np.float32)))
    assert describe_stream("hf:aezoo-test/digits", label_column="label").rows == len(X)
    streamed = np.concatenate(
        list(iter_batches("hf:aezoo-test/digits", 500, label_column="label", quiet=True))
    )
    np.testing.assert_array_equal(streamed, X.astype(np.float32))


def test_hf_name_not_cached_offline_says_so_and_how_to_fix(offline_cache) -> None:
    with pytest.raises(DataError) as exc:
        load_source("hf:aezoo-test/absent")
    message = str(exc.value)
    assert "\n" not in message and exc.value.__cause__ is None
    assert message.startswith(
        f"hf:aezoo-test/absent: not in the local datasets cache ({offline_cache}) and offline "
        "mode is on"
    )
    assert "load it once with network access" in message and "HF_DATASETS_CACHE" in message


def test_bad_hf_reference() -> None:
    with pytest.raises(DataError, match="expected hf:NAME\\[:CONFIG\\]"):
        load_source("hf:")
