"""Image folders: layouts, modes, resizing, channel order; save_to_disk image datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from aezoo.data.sources import DataDescription, load_source
from tests.data.conftest import N_IMAGES

CLASSES = [str(c) for c in range(10)]


def _folder_order(y: np.ndarray) -> np.ndarray:
    """Rows in a class-subfolder folder's order: by class folder, then file name."""
    return np.array(sorted(range(N_IMAGES), key=lambda i: (str(y[i]), i)))


def test_class_subfolders_are_labels_and_pixels_are_uint8_over_255(
    digits, digit_pixels, image_folder
) -> None:
    _, y = digits
    loaded = load_source(image_folder, val_fraction=0.0, test_fraction=0.0, quiet=True)
    d = loaded.description
    assert (d.kind, d.image_shape, d.n_features, d.columns) == ("images", (1, 8, 8), 64, None)
    assert d.class_names == CLASSES and d.name == "digit-pngs"
    assert DataDescription.from_json(json.loads(json.dumps(d.to_json()))) == d
    X, labels = loaded.splits["train"]
    order = _folder_order(y)
    assert X.dtype == np.float32 and X.flags.c_contiguous and X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(X, digit_pixels[order].reshape(N_IMAGES, 64) / np.float32(255))
    np.testing.assert_array_equal(labels, y[order])


def test_default_splits_are_stratified_and_reproducible(image_folder) -> None:
    a = load_source(image_folder, val_fraction=0.2, test_fraction=0.2, quiet=True)
    b = load_source(image_folder, val_fraction=0.2, test_fraction=0.2, quiet=True)
    assert a.description.content_hash == b.description.content_hash
    for split in ("val", "test"):  # 6 images per class, 20%: one or two of each class
        counts = np.bincount(a.splits[split][1], minlength=10)
        assert counts.sum() == 12 and counts.min() >= 1


def test_rgb_mode_is_channel_first_and_resize_is_bilinear(tmp_path) -> None:
    for i in range(4):
        Image.new("RGB", (5, 4), (10, 20, 30 + i)).save(tmp_path / f"{i}.png")
    loaded = load_source(tmp_path, quiet=True, val_fraction=0.25, test_fraction=0.25)
    d = loaded.description
    assert d.image_shape == (3, 4, 5) and d.class_names is None  # flat: unlabelled, RGB found
    X = np.concatenate([s[0] for s in loaded.splits.values()])
    first = X[np.argmin(X[:, -1])].reshape(3, 4, 5)  # the image with blue 30
    np.testing.assert_array_equal(first[0], np.full((4, 5), 10 / np.float32(255)))
    np.testing.assert_array_equal(first[2], np.full((4, 5), 30 / np.float32(255)))
    gray = load_source(tmp_path, image_mode="L", image_size=(8, 6), quiet=True)
    assert gray.description.image_shape == (1, 8, 6) and gray.description.n_features == 48
    expected = np.asarray(
        Image.new("RGB", (5, 4), (10, 20, 30)).convert("L").resize((6, 8), Image.BILINEAR)
    )
    assert np.isclose(gray.splits["train"][0] * 255, expected.ravel()).all(axis=1).any()


def test_hidden_and_other_files_are_left_out(tmp_path) -> None:
    for folder in ("cat", "cat/nested", "dog", "cat/.ipynb_checkpoints"):
        (tmp_path / folder).mkdir()
    for name in ("cat/a.png", "cat/nested/b.PNG", "dog/c.png", "dog/d.png"):
        Image.new("L", (3, 3), 9).save(tmp_path / name)
    Image.new("L", (5, 5)).save(tmp_path / "cat/.ipynb_checkpoints/a-checkpoint.png")
    Image.new("L", (5, 5)).save(tmp_path / "dog/.hidden.png")
    (tmp_path / "dog/notes.txt").write_text("not an image")
    loaded = load_source(tmp_path, quiet=True)
    assert sum(loaded.description.rows.values()) == 4 and loaded.description.image_shape == (
        1,
        3,
        3,
    )


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path) -> None:
    values = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000  # 0..60,000
    for i in range(3):
        Image.fromarray(values).save(tmp_path / f"{i}.png")  # mode I;16
    loaded = load_source(tmp_path, quiet=True)
    assert loaded.description.image_shape == (1, 4, 4)
    expected = (values >> 8).astype(np.uint8).ravel() / np.float32(255)
    np.testing.assert_array_equal(loaded.splits["train"][0][0], expected)


def test_gray_images_are_replicated_in_rgb_mode(image_folder) -> None:
    gray = load_source(image_folder, quiet=True)
    rgb = load_source(image_folder, image_mode="RGB", quiet=True)
    assert rgb.description.image_shape == (3, 8, 8)
    X1, X3 = gray.splits["train"][0], rgb.splits["train"][0].reshape(-1, 3, 64)
    for c in range(3):
        np.testing.assert_array_equal(X3[:, c], X1)


def test_train_val_test_folders_are_the_splits(tmp_path, digit_pixels) -> None:
    sizes = {"train": 8, "validation": 3, "test": 2}  # "validation" is accepted for val
    k = 0
    for split, n in sizes.items():
        for i in range(n):
            folder = tmp_path / split / ("odd" if i % 2 else "even")
            folder.mkdir(parents=True, exist_ok=True)
            suffix = ".bmp" if i == 0 else ".jpg" if i == 1 else ".png"
            Image.fromarray(digit_pixels[k], "L").save(folder / f"{i}{suffix}")
            k += 1
    loaded = load_source(tmp_path, quiet=True)
    d = loaded.description
    assert d.rows == {"train": 8, "val": 3, "test": 2} and d.class_names == ["even", "odd"]
    assert list(loaded.splits) == ["train", "val", "test"]
    assert "own splits" in d.split_protocol
    # BMP is lossless: the train split's first image (even/0.bmp) is digit 0 exactly
    np.testing.assert_array_equal(
        loaded.splits["train"][0][0], digit_pixels[0].ravel() / np.float32(255)
    )
    (tmp_path / "validation").rename(tmp_path / "spare")  # no val folder: carved from train
    carved = load_source(tmp_path, quiet=True, val_fraction=0.25)
    assert carved.description.rows == {"train": 6, "val": 2, "test": 2}
    assert "carved from train" in carved.description.split_protocol


def test_saved_image_dataset_matches_the_pixels(digits, digit_pixels, saved_image_dataset) -> None:
    _, y = digits
    loaded = load_source(saved_image_dataset, val_fraction=0.0, quiet=True)
    d = loaded.description
    assert (d.kind, d.image_shape, d.class_names) == ("images", (1, 8, 8), CLASSES)
    assert d.rows == {"train": 50, "val": 0, "test": 10}
    flat = digit_pixels.reshape(N_IMAGES, 64) / np.float32(255)
    np.testing.assert_array_equal(loaded.splits["train"][0], flat[:50])
    np.testing.assert_array_equal(loaded.splits["test"][0], flat[50:])
    np.testing.assert_array_equal(loaded.splits["test"][1], y[50:N_IMAGES])


def test_the_same_pngs_through_a_folder_and_a_dataset_agree(
    digits, image_folder, saved_image_dataset
) -> None:
    _, y = digits
    folder = load_source(image_folder, val_fraction=0.0, test_fraction=0.0, quiet=True)
    saved = load_source(saved_image_dataset, val_fraction=0.0, quiet=True)
    by_folder = folder.splits["train"][0]
    by_dataset = np.concatenate([saved.splits["train"][0], saved.splits["test"][0]])
    np.testing.assert_array_equal(by_folder, by_dataset[_folder_order(y)])


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_images_progress_and_quiet_agree(image_folder, mode) -> None:
    loud = load_source(image_folder, image_mode=mode, quiet=False)
    quiet = load_source(image_folder, image_mode=mode, quiet=True)
    assert loud.description == quiet.description
