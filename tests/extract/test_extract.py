"""Batch extraction: ``extract_features``, ``aezoo extract``, the sklearn transformer (Ray: test_ray_data.py).

Every test runs the real tiny SdA artifact (784 -> 16, classifier head) with onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aezoo.data.mnist import load_mnist, read_idx
from aezoo.errors import AezooError, ConfigError, DataError, InputError
from aezoo.extract.cli import add_extract_parser
from aezoo.extract.features import extract_features
from aezoo.runtime.model import OnnxModel

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tiny_artifact: Path) -> OnnxModel:
    return OnnxModel(tiny_artifact)


@pytest.fixture(scope="module")
def mnist_small(mnist_dir: Path) -> dict[str, np.ndarray]:
    """Real MNIST: 1,500 training and 500 test images, (n, 784) float32 in [0, 1], labels."""
    xs = {}
    for split, n in (("train", 1500), ("t10k", 500)):
        images = read_idx(mnist_dir / f"{split}-images-idx3-ubyte.gz")[:n]
        xs[split] = images.reshape(n, 784).astype(np.float32) / np.float32(255)
        xs[f"{split}_y"] = read_idx(mnist_dir / f"{split}-labels-idx1-ubyte.gz")[:n]
    return xs


def _random(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 784), dtype=np.float32)


def _leftovers(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


# -- extract_features ---------------------------------------------------------------
def test_npy_source_equals_encode_with_ragged_last_batch(model: OnnxModel, tmp_path: Path) -> None:
    X = _random(2500)
    np.save(tmp_path / "x.npy", X)
    report = extract_features(model, tmp_path / "x.npy", tmp_path / "z.npy", batch_size=1000)
    Z = np.load(tmp_path / "z.npy")
    assert (report.n_samples, report.n_features_out, report.dest) == (2500, 16, tmp_path / "z.npy")
    assert report.rows_per_second > 0 and report.seconds > 0
    assert Z.dtype == np.float32 and Z.shape == (2500, 16)
    np.testing.assert_array_equal(Z, model.encode(X))
    assert _leftovers(tmp_path) == []


def test_image_shaped_float64_source_and_denoise(model: OnnxModel, tmp_path: Path) -> None:
    X = _random(300, seed=1).astype(np.float64).reshape(300, 28, 28)
    np.save(tmp_path / "img.npy", X)
    extract_features(
        model, tmp_path / "img.npy", tmp_path / "z.npy", batch_size=128, progress=False
    )
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), model.encode(X))
    report = extract_features(
        model, tmp_path / "img.npy", tmp_path / "d.npy", operation="denoise", progress=False
    )
    assert report.n_features_out == 784
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), model.denoise(X))


def test_idx_directory_and_file_are_scaled_like_training(
    model: OnnxModel, mnist_dir: Path, tmp_path: Path
) -> None:
    report = extract_features(model, mnist_dir, tmp_path / "dir.npy", progress=False)
    assert (report.n_samples, report.n_features_out) == (5000, 16)
    Z = np.load(tmp_path / "dir.npy")
    assert Z.shape == (5000, 16)
    X_test, _ = load_mnist("test", mnist_dir)  # uint8 / 255, as in training
    np.testing.assert_array_equal(Z, model.encode(X_test))
    extract_features(model, mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path / "f.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), Z)


def test_uint8_npy_is_not_rescaled_silently(
    model: OnnxModel, mnist_dir: Path, tmp_path: Path
) -> None:
    pixels = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:300]  # (300, 28, 28) uint8
    src = tmp_path / "pixels_u8.npy"
    np.save(src, pixels)
    with pytest.raises(InputError) as err:
        extract_features(model, src, tmp_path / "z.npy", batch_size=100, progress=False)
    msg = str(err.value)
    for words in (str(src), "rows 0-99", "[0, 255]", "expects [0, 1]", "--scale 1/255"):
        assert words in msg, (words, msg)
    assert not (tmp_path / "z.npy").exists() and _leftovers(tmp_path) == []

    extract_features(model, src, tmp_path / "z.npy", scale=1 / 255, progress=False)
    X_test, _ = load_mnist("test", mnist_dir)
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), model.encode(X_test[:300]))


def test_memory_stays_bounded_on_a_large_memmapped_source(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    """200,000 x 784 float32 (627 MB) in a fresh process: peak RSS grows by a few batches.

    Slicing one memmap of the whole file would grow RSS by the whole file (~600 MiB
    measured), since every page read stays mapped; the bound is 10% of the source.
    """
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux /proc/self/status (VmHWM)")
    n, src = 200_000, tmp_path / "big.npy"
    big = np.lib.format.open_memmap(src, mode="w+", dtype=np.float32, shape=(n, 784))
    rng = np.random.default_rng(0)
    for start in range(0, n, 20_000):
        big[start : start + 20_000] = rng.random((20_000, 784), dtype=np.float32)
    big.flush()
    del big
    child = textwrap.dedent(f"""
        import json
        import numpy as np
        from aezoo.extract.features import extract_features
        from aezoo.runtime.model import OnnxModel

        def peak_rss_kib():  # VmHWM: this process's own peak (ru_maxrss would include pytest's)
            with open("/proc/self/status") as f:
                return int(next(ln for ln in f if ln.startswith("VmHWM")).split()[1])

        m = OnnxModel({str(tiny_artifact)!r})
        m.encode(np.zeros((1024, 784), np.float32))  # warm onnxruntime's arena
        before = peak_rss_kib()
        extract_features(m, {str(src)!r}, {str(tmp_path / "z.npy")!r}, progress=False)
        print(json.dumps({{"growth_kib": peak_rss_kib() - before, "before_kib": before}}))
    """)
    try:  # the 627 MB source is removed even when the test fails
        out = subprocess.run(
            [sys.executable, "-c", child],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout.strip().splitlines()[-1])
        source_mib, growth_mib = src.stat().st_size / 2**20, stats["growth_kib"] / 1024
        print(
            f"peak RSS {stats['before_kib'] / 1024:.0f} MiB + {growth_mib:.1f} MiB, source {source_mib:.0f} MiB"
        )
        assert growth_mib < 0.1 * source_mib, (growth_mib, source_mib)
        Z = np.load(tmp_path / "z.npy", mmap_mode="r")
        assert Z.shape == (n, 16)
        tail = np.asarray(np.load(src, mmap_mode="r")[-1000:])
        np.testing.assert_array_equal(Z[-1000:], OnnxModel(tiny_artifact).encode(tail))
    finally:
        src.unlink()


def test_failure_midway_leaves_dest_untouched(
    model: OnnxModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.save(tmp_path / "x.npy", _random(1000))
    calls = {"n": 0}
    real_encode = model.encode

    def flaky_encode(x: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost")
        return real_encode(x)

    monkeypatch.setattr(model, "encode", flaky_encode)
    dest = tmp_path / "z.npy"
    with pytest.raises(RuntimeError, match="worker lost"):
        extract_features(model, tmp_path / "x.npy", dest, batch_size=100, progress=False)
    assert not dest.exists() and _leftovers(tmp_path) == []

    np.save(dest, np.arange(3.0))  # an older features file survives a failed run
    calls["n"] = 0
    with pytest.raises(RuntimeError, match="worker lost"):
        extract_features(model, tmp_path / "x.npy", dest, batch_size=100, progress=False)
    np.testing.assert_array_equal(np.load(dest), np.arange(3.0))
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("source", "dest", "kwargs", "error", "words"),
    [
        ("missing.npy", "z.npy", {}, DataError, ("missing.npy", "not found")),
        ("x.txt", "z.npy", {}, DataError, ("unsupported source", ".csv")),
        ("objects.npy", "z.npy", {}, DataError, ("objects.npy", "not a readable .npy")),
        ("narrow.npy", "z.npy", {}, InputError, ("(10, 783)", "(n, 784)")),
        ("empty.npy", "z.npy", {}, InputError, ("no rows",)),
        ("nan.npy", "z.npy", {}, InputError, ("nan.npy", "rows 0-9", "NaN")),
        ("x.npy", "z.csv", {}, DataError, ("z.csv", ".npy file path")),
        ("x.npy", "no/such/dir/z.npy", {}, DataError, ("does not exist",)),
        ("x.npy", "x.npy", {}, DataError, ("dest is the source",)),
        ("x.npy", "z.npy", {"operation": "classify"}, ConfigError, ("'classify'",)),
        ("x.npy", "z.npy", {"batch_size": 0}, ConfigError, ("batch_size", ">= 1")),
        ("x.npy", "z.npy", {"scale": -1.0}, ConfigError, ("scale", "> 0")),
    ],
)
def test_bad_arguments_raise_one_line_errors(
    model: OnnxModel, tmp_path: Path, source, dest, kwargs, error, words
) -> None:
    np.save(tmp_path / "x.npy", _random(10))
    np.save(tmp_path / "narrow.npy", np.zeros((10, 783), np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 784), np.float32))
    np.save(tmp_path / "nan.npy", np.full((10, 784), np.nan, np.float32))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "x.txt").write_text("0,1\n")
    with pytest.raises(error) as err:
        extract_features(model, tmp_path / source, tmp_path / dest, progress=False, **kwargs)
    assert "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert not (tmp_path / "z.npy").exists() and _leftovers(tmp_path) == []


# -- the CLI --------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aezoo")
    add_extract_parser(parser.add_subparsers(dest="command"))
    return parser


def test_cli_prints_one_summary_line(
    tiny_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "x.npy", _random(2500))
    argv = ["extract", str(tiny_artifact), str(tmp_path / "x.npy"), str(tmp_path / "z.npy")]
    args = _parser().parse_args([*argv, "--batch-size", "300", "--quiet"])
    assert args.fn(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    for words in ("2,500 rows", str(tmp_path / "z.npy"), "(2500, 16) float32", "rows/s"):
        assert words in lines[0], (words, lines[0])
    assert _parser().parse_args([*argv, "--scale", "1/255"]).scale == pytest.approx(1 / 255)
    with pytest.raises(SystemExit):
        _parser().parse_args([*argv, "--scale", "a/b"])


def test_cli_bad_source_is_an_aezoo_error(tiny_artifact: Path, tmp_path: Path) -> None:
    args = _parser().parse_args(
        ["extract", str(tiny_artifact), str(tmp_path / "nope.npy"), str(tmp_path / "z.npy")]
    )
    with pytest.raises(AezooError) as err:  # aezoo.cli.main prints it as one line, exit 1
        args.fn(args)
    assert str(err.value) == f"{tmp_path / 'nope.npy'}: source not found"


def test_cli_subprocess_without_torch_or_sklearn(tiny_artifact: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", _random(100).reshape(100, 28, 28))
    script = (
        "import argparse, sys\n"
        "from aezoo.extract.cli import add_extract_parser\n"
        "p = argparse.ArgumentParser(prog='aezoo')\n"
        "add_extract_parser(p.add_subparsers(dest='command'))\n"
        "args = p.parse_args(sys.argv[1:])\n"
        "rc = args.fn(args)\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, 'heavy import'\n"
        "sys.exit(rc)\n"
    )
    argv = ["extract", str(tiny_artifact), str(tmp_path / "x.npy"), str(tmp_path / "z.npy")]
    out = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "100 rows" in out.stdout
    assert "100/100" in out.stderr  # the progress bar, on stderr
    assert np.load(tmp_path / "z.npy").shape == (100, 16)


# -- scikit-learn ------------------------------------------------------------------------
def test_transformer_in_a_pipeline_on_real_mnist(
    tiny_artifact: Path, mnist_small: dict[str, np.ndarray]
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from aezoo.extract.sklearn import EncoderTransformer

    clf = make_pipeline(EncoderTransformer(str(tiny_artifact)), LogisticRegression(max_iter=200))
    clf.fit(mnist_small["train"], mnist_small["train_y"])
    pred = clf.predict(mnist_small["t10k"])
    assert pred.shape == (500,)
    accuracy = float((pred == mnist_small["t10k_y"]).mean())
    assert accuracy > 0.3, accuracy  # untrained 16-unit encoder: ~0.55; chance is 0.1
    enc = clf[0]
    assert enc.n_features_in_ == 784 and enc.n_features_out_ == 16
    assert list(enc.get_feature_names_out()) == [f"code{i}" for i in range(16)]


def test_transformer_clone_pickle_and_parallel_cv(
    tiny_artifact: Path, mnist_small: dict[str, np.ndarray]
) -> None:
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    from aezoo.extract.sklearn import EncoderTransformer

    X, y = mnist_small["train"][:600], mnist_small["train_y"][:600]
    enc = EncoderTransformer(str(tiny_artifact), batch_size=128)
    fresh = clone(enc)
    assert fresh.get_params() == enc.get_params() and not hasattr(fresh, "model_")
    codes = enc.fit_transform(X)
    assert codes.shape == (600, 16) and codes.dtype == np.float32
    assert not hasattr(clone(enc), "n_features_in_")

    blob = pickle.dumps(enc)
    assert len(blob) < 4096  # no onnxruntime session inside
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.transform(X), codes)
    assert isinstance(again.model_, OnnxModel)

    pipe = make_pipeline(EncoderTransformer(str(tiny_artifact)), LogisticRegression(max_iter=200))
    scores = cross_val_score(pipe, X, y, cv=2, n_jobs=2)
    assert scores.shape == (2,) and (scores > 0.2).all()

    with pytest.raises(ValueError, match="783"):  # InputError is a ValueError, as sklearn expects
        enc.transform(np.zeros((3, 783), np.float32))
