"""Which sigmas a denoiser's BSD68 table scores it at (``table_sigmas``), and a one-level
model (trained at one noise level) end to end: its table, its card, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.errors import InputError
from aezoo.evaluation.denoising import (
    as_sigma_range,
    in_range,
    is_one_level,
    reference_sigma,
    table_sigmas,
)
from aezoo.models.denoiser import CSCDenoiserConfig
from aezoo.registry.store import LocalStore
from aezoo.spec import DenoiserSpec
from aezoo.training.denoiser import DenoiserTrainConfig
from aezoo.training.denoiser_pipeline import card_body, run_denoiser
from tests.denoising_data import make_denoising_dir

TINY = CSCDenoiserConfig(n_filters=8, kernel_size=3, n_iterations=2)


@pytest.mark.parametrize(
    ("sigma_range", "want"),
    [
        ((5.0, 55.0), (15.0, 25.0, 50.0)),  # the bundled model's range: the whole table
        ((15.0, 50.0), (15.0, 25.0, 50.0)),  # the ends are inside (closed interval)
        ((0.0, 30.0), (15.0, 25.0)),
        ((20.0, 60.0), (25.0, 50.0)),
        ((25.0, 25.0), (25.0,)),  # one level: its own sigma only
        ((50.0, 50.0), (50.0,)),
        ((30.0, 30.0), (30.0,)),  # one level off the standard grid: still its own
        (25, (25.0,)),  # one number is a one-level model
        ([40.0, 40.0], (40.0,)),
        ((30.0, 40.0), (30.0, 40.0)),  # no standard level inside: the range's ends
    ],
)
def test_table_sigmas(sigma_range: object, want: tuple[float, ...]) -> None:
    got = table_sigmas(sigma_range)  # type: ignore[arg-type]
    assert got == want
    assert all(in_range(s, sigma_range) for s in got)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [(30.0, 10.0), (-1.0, 10.0), (0.0, 0.0), (1.0, 2.0, 3.0), ()])
def test_malformed_ranges_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="sigma_range"):
        table_sigmas(bad)  # type: ignore[arg-type]


def test_one_level_and_reference_sigma() -> None:
    assert is_one_level((25.0, 25.0)) and is_one_level(50) and not is_one_level((5.0, 55.0))
    assert reference_sigma((5.0, 55.0)) == 25.0
    assert reference_sigma((50.0, 50.0)) == 50.0
    assert reference_sigma((30.0, 60.0)) == 30.0  # 25 moved into the range
    assert as_sigma_range(15) == (15.0, 15.0)


def test_configs_accept_a_one_level_range_and_refuse_reversed_ones() -> None:
    assert DenoiserTrainConfig(sigma_range=25).sigma_range == (25.0, 25.0)  # type: ignore[arg-type]
    assert DenoiserTrainConfig(sigma_range=(15, 15)).sigma_range == (15.0, 15.0)
    with pytest.raises(ValueError, match="sigma_range"):
        DenoiserTrainConfig(sigma_range=(50, 10))
    assert DenoiserSpec(sigma_range=(25, 25), halo=1, min_size=1).sigma_range == (25.0, 25.0)
    for bad in ((50, 10), (0, 0)):
        with pytest.raises(ValueError, match="sigma_range"):
            DenoiserSpec(sigma_range=bad, halo=1, min_size=1)


def _record(sigma_range: list[float], sigmas: list[str]) -> dict:
    cfg = DenoiserTrainConfig(sigma_range=tuple(sigma_range)).model_dump(mode="json")  # type: ignore[arg-type]
    row = {"psnr": 28.0, "ssim": 0.8, "noisy_psnr": 20.2, "seconds_per_image": 0.1}
    return {
        "recipe": cfg,
        "bsd68": {"images": 68, "by_sigma": {s: row for s in sigmas}},
        "eval_seed": 0,
        "steps_done": 10,
        "dictionary_seconds": 1.0,
        "train_seconds": 60.0,
        "cpu": "test",
    }


def test_card_body_of_a_range_model_is_the_standard_table() -> None:
    card = card_body(_record([5.0, 55.0], ["15", "25", "50"]))
    for row in ("| 15 | 28.00", "| 25 | 28.00", "| 50 | 28.00", "28.57", "26.23"):
        assert row in card
    assert "refused" not in card and "sigma 25 every" in card


def test_card_body_of_a_one_level_model_says_other_levels_are_refused() -> None:
    card = card_body(_record([50.0, 50.0], ["50"]))
    assert "| 50 | 28.00" in card and "25.62" in card  # beside BM3D's published sigma 50
    assert "| 15 |" not in card and "| 25 |" not in card
    assert "trained at sigma 50 only" in card and "refused" in card and "[50, 50]" in card
    assert "sigma 50 every" in card  # the validation curve at its own sigma
    # off the standard grid: no published number to stand beside it
    card = card_body(_record([30.0, 30.0], ["30"]))
    assert "| 30 | 28.00 | 0.8000 | 20.20 | - | - |" in card


def test_card_body_of_a_warm_restart_totals_the_chain() -> None:
    record = _record([5.0, 55.0], ["25"])
    record["recipe"]["init_from"] = "aezoo/pretrained/lista-denoiser-bsd"
    assert "base_run" not in card_body(record)  # no record of the start: nothing claimed
    record["base_run"] = {"steps_done": 90, "train_seconds": 1140.0}
    card = card_body(record)
    assert "artifact aezoo/pretrained/lista-denoiser-bsd" in card
    assert "100 steps and 20 min of training in all" in card  # 10 + 90 steps, 1 + 19 min


def test_card_body_of_a_partial_range_names_the_levels_left_out() -> None:
    card = card_body(_record([10.0, 30.0], ["15", "25"]))
    assert "sigma 50 lie outside that range, are refused" in card and "| 50 |" not in card


@pytest.fixture(scope="module")
def one_level(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny denoiser trained at sigma 25 only, packaged and registered."""
    root = tmp_path_factory.mktemp("one-level")
    data = make_denoising_dir(root / "data")
    store = LocalStore(root=root / "registry", bundled=None)
    cfg = DenoiserTrainConfig(
        name="tiny-denoiser-s25",
        model=TINY,
        steps=10,
        batch_size=8,
        crop=24,
        dict_patches=500,
        dict_steps=5,
        val_images=2,
        log_every=5,
        sigma_range=(25.0, 25.0),
    )
    artifact, _ = run_denoiser(cfg, data, root / "run", store=store, show_progress=False)
    return artifact


def test_a_one_level_model_is_scored_and_documented_at_its_own_sigma(one_level: Path) -> None:
    record = json.loads((one_level / "training.json").read_text())
    assert set(record["bsd68"]["by_sigma"]) == {"25"}
    assert set(record["metrics"]) == {"bsd68_psnr_db_sigma25", "bsd68_ssim_sigma25"}
    config = json.loads((one_level / "config.json").read_text())
    assert config["denoiser"]["sigma_range"] == [25.0, 25.0]
    card = (one_level / "README.md").read_text()
    assert "| 25 |" in card and "| 15 |" not in card and "| 50 |" not in card
    assert "One noise level only" in card and "refuses every other noise level" in card


def test_a_one_level_model_refuses_other_sigmas_naming_the_range(one_level: Path) -> None:
    model = aezoo.load(one_level, intra_op_threads=1)
    image = np.full((16, 16), 128, np.uint8)
    assert model.denoise_image(image, sigma=25).shape == (16, 16)
    for sigma in (15, 24.9, 50):
        with pytest.raises(InputError, match=r"\[25, 25\].*sigma 25 only"):
            model.denoise_image(image, sigma=sigma)


def test_fewer_eval_images_than_card_samples_still_packages(tmp_path: Path) -> None:
    """--eval-images 1 scores one image and shows it alone among the card's samples (it
    crashed when fewer images than the card's samples were scored); training.json says
    what the model trained on."""
    data = make_denoising_dir(tmp_path / "data")
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    cfg = DenoiserTrainConfig(
        name="tiny-one-image", model=TINY, steps=2, batch_size=4, crop=24,
        dict_patches=200, dict_steps=2, val_images=2, log_every=1,
    )  # fmt: skip
    artifact, _ = run_denoiser(
        cfg, data, tmp_path / "run", store=store, show_progress=False, eval_images=1
    )
    record = json.loads((artifact / "training.json").read_text())
    assert record["bsd68"]["images"] == 1
    assert len(json.loads((artifact / "samples.json").read_text())["images"]) == 1
    assert "threads" in record["device"]  # the CPU, as the card's training line says
    assert record["device"] in (artifact / "README.md").read_text()
