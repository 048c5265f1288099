"""``aezoo denoise-images`` over a folder, as a subprocess: every PNG/JPEG denoised into a PNG
of the same size, bad files listed by name with exit status 1, bad sigma refused up front."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from aezoo.runtime.model import OnnxModel
from tests.conftest import run_cli


def _image(h: int, w: int, seed: int, channels: int = 1) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _folder(root: Path) -> dict[str, np.ndarray]:
    root.mkdir()
    images = {"a.png": _image(30, 41, 0), "b.jpg": _image(17, 9, 1, 3), "c.PNG": _image(5, 5, 2)}
    for name, arr in images.items():
        Image.fromarray(arr).save(root / name, format="JPEG" if name.endswith("jpg") else "PNG")
    (root / "notes.txt").write_text("not an image")
    return images


def test_a_folder_is_denoised(tmp_path: Path, denoiser_artifact: Path) -> None:
    images = _folder(tmp_path / "in")
    r = run_cli("denoise-images", str(denoiser_artifact), str(tmp_path / "in"),
                str(tmp_path / "out"), "--sigma", "25", "--quiet", env=dict(os.environ))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "denoised 3 images" in r.stdout
    model = OnnxModel(denoiser_artifact)
    for name in images:
        out = np.asarray(Image.open(tmp_path / "out" / (Path(name).stem + ".png")))
        src = np.asarray(Image.open(tmp_path / "in" / name))  # as decoded (JPEG is lossy)
        assert out.shape == src.shape
        np.testing.assert_array_equal(out, model.denoise_image(src, 25))


def test_bad_files_are_listed_and_fail_the_run(tmp_path: Path, denoiser_artifact: Path) -> None:
    _folder(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    buf = io.BytesIO()
    Image.fromarray(_image(2, 8, 3)).save(buf, format="PNG")  # below min_size 3
    (tmp_path / "in" / "tiny.png").write_bytes(buf.getvalue())
    r = run_cli("denoise-images", str(denoiser_artifact), str(tmp_path / "in"),
                str(tmp_path / "out"), "--sigma", "25", "--quiet", env=dict(os.environ))  # fmt: skip
    assert r.returncode == 1
    assert "broken.png: body is not a readable image" in r.stderr
    assert "tiny.png:" in r.stderr and "at least 3" in r.stderr
    assert "denoised 3 images" in r.stdout and "2 failed" in r.stdout
    assert (tmp_path / "out" / "a.png").exists()


def test_sigma_outside_the_range_exits_before_reading(
    tmp_path: Path, denoiser_artifact: Path
) -> None:
    _folder(tmp_path / "in")
    r = run_cli("denoise-images", str(denoiser_artifact), str(tmp_path / "in"),
                str(tmp_path / "out"), "--sigma", "80", env=dict(os.environ))  # fmt: skip
    assert r.returncode == 1
    assert "[5, 55]" in r.stderr
    assert not (tmp_path / "out").exists()
