"""``aezoo train-denoiser``: its help, and a wrong --data-dir answered before torch loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_messages import aezoo


def test_help_names_the_options_and_the_data_layout() -> None:
    r = aezoo("train-denoiser", "--help")
    assert r.returncode == 0, r.stderr
    for word in (
        "--dictionary",
        "{sdl,vdl,random}",
        "--register",
        "--steps",
        "--sigma-range",
        "--device",
        "train400/",
        "bsd68/",
        "resumes",
    ):
        assert word in r.stdout, word


def test_a_folder_without_the_images_is_one_clear_line(tmp_path: Path) -> None:
    # torch hidden: the check runs before torch is imported
    r = aezoo("train-denoiser", "--data-dir", str(tmp_path), without="torch")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0
    assert "train400" in r.stderr and str(tmp_path) in r.stderr and "Traceback" not in r.stderr


def test_a_reversed_sigma_range_is_refused(tmp_path: Path) -> None:
    for split in ("train400", "bsd68"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "a.png").write_bytes(b"")
    r = aezoo(
        "train-denoiser", "--data-dir", str(tmp_path), "--sigma-range", "50", "10", without="torch"
    )
    assert r.returncode == 1 and "--sigma-range" in r.stderr


def test_cuda_without_a_gpu_is_one_clear_line_before_any_work(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU torch can use")
    for split in ("train400", "bsd68"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "a.png").write_bytes(b"")  # never read: refused before
    r = aezoo("train-denoiser", "--data-dir", str(tmp_path), "--device", "cuda")
    assert r.returncode == 1, r.stderr
    assert "cuda" in r.stderr and "no GPU" in r.stderr and "Traceback" not in r.stderr
