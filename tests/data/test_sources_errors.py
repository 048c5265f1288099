"""Bad data: one DataError line naming the file, line, column; never a library traceback."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from aezoo.data.sources import iter_batches, load_source
from aezoo.errors import ConfigError, DataError, MissingExtraError


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and exc.value.__cause__ is None
    return message


def test_ragged_csv_names_file_line_and_column(tmp_path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n")
    for read in (load_source, lambda p: list(iter_batches(p, 2, quiet=True))):
        with pytest.raises(DataError) as exc:
            read(path)
        assert _one_line(exc) == (
            f"{path}: line 4: 2 field(s) where the header has 3; column 'c' is missing"
        )


def test_non_numeric_csv_names_file_line_and_column(tmp_path) -> None:
    path = tmp_path / "words.csv"
    path.write_text("a,b\n1,2\n3,4\n5,six\n7,8\n")
    for read in (load_source, lambda p: list(iter_batches(p, 2, quiet=True))):
        with pytest.raises(DataError) as exc:
            read(path)
        assert _one_line(exc) == f"{path}: line 4, column 'b': 'six' is not a number"
    with pytest.raises(DataError, match="line 4, column 'b'"):  # asked for by name
        load_source(path, feature_columns=["a", "b"])


def test_nan_and_inf_are_refused_split_independently_unless_allowed(tmp_path) -> None:
    path = tmp_path / "gaps.csv"
    rows = [f"{i},{i * 2}" for i in range(20)]
    rows[6] = "6,"  # empty cell: missing
    rows[11] = "11,inf"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    messages = set()
    for seed in (0, 1):
        with pytest.raises(DataError) as exc:
            load_source(path, seed=seed)
        messages.add(_one_line(exc))
    with pytest.raises(DataError) as exc:
        list(iter_batches(path, 4, quiet=True))
    messages.add(_one_line(exc))
    assert messages == {
        f"{path}: 2 NaN/infinite value(s); the first at row 6 (line 8), column 'y' (value nan); "
        "pass allow_missing=True to keep them for an imputer fitted on the training split"
    }
    kept = load_source(path, allow_missing=True)
    assert kept.description.n_missing == 2
    assert sum(int(np.isnan(X).sum()) for X, _ in kept.splits.values()) == 1
    arr = np.ones((10, 3))
    arr[4, 2] = np.inf
    with pytest.raises(DataError, match="row 4, column 2 \\(value inf\\)"):
        load_source(arr)


def test_one_class_only_and_unknown_type_and_missing_file(tmp_path) -> None:
    with pytest.raises(DataError, match="one class only \\('7'\\)"):
        load_source((np.ones((10, 2)), np.full(10, 7)))
    odd = tmp_path / "data.txt"
    odd.write_text("1 2 3\n")
    with pytest.raises(DataError) as exc:
        load_source(odd)
    assert "unknown file type '.txt'; accepted: .npy, .npz, .csv, .parquet" in _one_line(exc)
    with pytest.raises(DataError, match="no such file"):
        load_source(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="no array 'X' \\(holds A\\)"):
        np.savez(tmp_path / "wrong.npz", A=np.ones(3))
        load_source(tmp_path / "wrong.npz")


def test_a_damaged_saved_dataset_is_named(tmp_path) -> None:
    (tmp_path / "dataset_dict.json").write_text('{"splits": ["train"]}')
    for read in (load_source, lambda p: iter_batches(p, 4)):
        with pytest.raises(DataError) as exc:
            read(tmp_path)
        assert _one_line(exc).startswith(f"{tmp_path}: not a readable datasets directory")


def test_options_a_source_cannot_use_are_refused(table_files, image_folder) -> None:
    with pytest.raises(ConfigError, match=r"label_column cannot apply to a \.npz file"):
        load_source(table_files["npz"], label_column="y")
    with pytest.raises(ConfigError, match="image_size cannot apply to a table"):
        load_source(table_files["csv"], image_size=(8, 8))
    with pytest.raises(ConfigError, match="feature_columns cannot apply to an image folder"):
        load_source(image_folder, feature_columns=["p0"])
    with pytest.raises(ConfigError, match="image_mode must be one of L, RGB, got 'CMYK'"):
        load_source(image_folder, image_mode="CMYK")


def test_empty_folder(tmp_path) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError) as exc:
        load_source(tmp_path)
    assert _one_line(exc).startswith(f"{tmp_path}: no images")


def test_mixed_sizes_name_two_files_and_their_sizes(tmp_path) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (10, 6)).save(tmp_path / "b.png")
    Image.new("L", (8, 8)).save(tmp_path / "c.png")
    with pytest.raises(DataError) as exc:
        load_source(tmp_path, quiet=True)
    assert _one_line(exc) == (
        f"images differ in size: {tmp_path / 'a.png'} is 8x8 and {tmp_path / 'b.png'} is 6x10 "
        "(height x width); pass image_size=(H, W) to resize"
    )
    assert load_source(tmp_path, image_size=(8, 8), quiet=True).description.image_shape == (1, 8, 8)


def test_corrupt_image_is_named(tmp_path) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "good.png")
    Image.new("L", (8, 8)).save(tmp_path / "good2.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError) as exc:
        load_source(tmp_path, quiet=True)
    assert _one_line(exc).startswith(f"{tmp_path / 'broken.png'}: corrupt or unreadable image")
    good = (tmp_path / "good.png").read_bytes()
    (tmp_path / "broken.png").write_bytes(good[: len(good) // 2])  # header fine, data cut
    with pytest.raises(DataError, match=r"broken\.png: corrupt or unreadable image"):
        load_source(tmp_path, quiet=True)


def test_decompression_bombs_are_refused_from_the_header(tmp_path) -> None:
    Image.new("1", (9_000, 8_000)).save(tmp_path / "bomb.png")  # 72 Mpx in a few kB
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(DataError) as exc:
        load_source(tmp_path, quiet=True)
    assert "bomb.png: 9000x8000 = 72,000,000 pixels exceeds max_image_pixels=64,000,000" in (
        _one_line(exc)
    )
    Image.new("L", (20, 20)).save(tmp_path / "bomb.png")
    with pytest.raises(DataError, match="exceeds max_image_pixels=100 "):
        load_source(tmp_path, max_image_pixels=100, quiet=True)


def test_a_missing_library_names_the_data_extra(tmp_path, monkeypatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n2\n3\n")
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match=r"aezoo\[data\]") as exc:
        load_source(path)
    assert exc.value.extra == "data" and exc.value.module == "pyarrow"


def test_importing_the_sources_loads_no_optional_library() -> None:
    import subprocess

    code = (
        "import sys, aezoo.data.sources; "
        "print(sorted(m for m in ('pyarrow', 'PIL', 'datasets', 'pandas', 'torch') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
