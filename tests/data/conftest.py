"""Fixtures of the data-source tests: scikit-learn's digits written as every kind of source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ADBENCH_DIR = REPO_ROOT.parent / "shared" / "data" / "adbench"
N_IMAGES = 60  # images written per folder: 6 per class (digits' first 60 rows cover 0-9)


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``load_digits``: X float64 (1797, 64) in 0..16, y int (1797,) in 0..9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def digit_pixels(digits: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The first ``N_IMAGES`` digits as uint8 8x8 images (``value * 16``, clipped to 255)."""
    X, _ = digits
    return np.clip(X[:N_IMAGES] * 16, 0, 255).astype(np.uint8).reshape(-1, 8, 8)


@pytest.fixture(scope="session")
def table_files(tmp_path_factory: pytest.TempPathFactory, digits) -> dict[str, Path]:
    """digits as .npy (X), .npz (X, y), .csv and .parquet (64 columns ``p0``.. + ``label``)."""
    import pandas as pd

    X, y = digits
    root = tmp_path_factory.mktemp("tables")
    paths = {k: root / f"digits.{k}" for k in ("npy", "npz", "csv", "parquet")}
    np.save(paths["npy"], X)
    np.savez(paths["npz"], X=X, y=y)
    frame = pd.DataFrame(X, columns=[f"p{j}" for j in range(64)])
    frame["label"] = y
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], row_group_size=256)  # several row groups to stream
    return paths


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory, digits, digit_pixels) -> Path:
    """``N_IMAGES`` digits as 8x8 grayscale PNGs in one subfolder per class (``003.png``...)."""
    from PIL import Image

    _, y = digits
    root = tmp_path_factory.mktemp("pngs") / "digit-pngs"
    for i, pixels in enumerate(digit_pixels):
        folder = root / str(y[i])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, "L").save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def saved_image_dataset(tmp_path_factory: pytest.TempPathFactory, digits, digit_pixels) -> Path:
    """The same images as a ``datasets`` DatasetDict (train = first 50, test = last 10) with
    an ``Image`` column and a ``ClassLabel``, written by ``save_to_disk``."""
    import datasets
    from PIL import Image

    _, y = digits
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=[str(c) for c in range(10)])}
    )
    images = [Image.fromarray(p, "L") for p in digit_pixels]
    ds = datasets.Dataset.from_dict({"image": images, "label": y[:N_IMAGES]}, features=features)
    out = tmp_path_factory.mktemp("hf") / "digit-images"
    datasets.DatasetDict(
        {"train": ds.select(range(50)), "test": ds.select(range(50, N_IMAGES))}
    ).save_to_disk(str(out))
    return out


def _table_dataset(digits):
    import datasets

    X, y = digits
    features = datasets.Features(
        {
            **{f"p{j}": datasets.Value("float64") for j in range(64)},
            "label": datasets.ClassLabel(names=[str(c) for c in range(10)]),
        }
    )
    columns = {f"p{j}": X[:, j] for j in range(64)}
    return datasets.Dataset.from_dict({**columns, "label": y}, features=features)


@pytest.fixture(scope="session")
def saved_table_dataset(tmp_path_factory: pytest.TempPathFactory, digits) -> Path:
    """digits as one numeric ``datasets.Dataset`` (64 float columns + ClassLabel), on disk."""
    out = tmp_path_factory.mktemp("hf") / "digit-table"
    _table_dataset(digits).save_to_disk(str(out))
    return out


@pytest.fixture
def adbench_file() -> Path:
    path = ADBENCH_DIR / "42_WBC.npz"
    if not path.is_file():
        pytest.skip(f"ADBench data not found at {path} (see ../shared/data/adbench/README.md)")
    return path
