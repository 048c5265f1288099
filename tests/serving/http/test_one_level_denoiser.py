"""A one-level denoiser (``sigma_range`` of width 0: trained at one noise level) over HTTP:
its own sigma is denoised, every other one is a 422 naming the range and the one level."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from tests.denoiser_fixture import write_denoiser_artifact

NAME = "tiny-denoiser-s25"
URL = f"/v1/models/{NAME}/denoise"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = write_denoiser_artifact(
        tmp_path_factory.mktemp("one-level") / NAME, name=NAME, sigma_range=(25.0, 25.0)
    )
    with TestClient(create_app({NAME: OnnxModel(path)}, ServeSettings())) as c:
        yield c


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((12, 10), 100, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_its_own_sigma_is_denoised(client: TestClient) -> None:
    r = client.post(
        URL, params={"sigma": 25}, content=_png(), headers={"content-type": "image/png"}
    )
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (10, 12)


@pytest.mark.parametrize("sigma", ["15", "24.9", "50"])
def test_other_sigmas_are_422_naming_the_range(client: TestClient, sigma: str) -> None:
    r = client.post(
        URL, params={"sigma": sigma}, content=_png(), headers={"content-type": "image/png"}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_input"
    assert "[25, 25]" in error["message"] and "sigma 25 only" in error["message"]


def test_a_missing_sigma_names_the_range(client: TestClient) -> None:
    r = client.post(URL, content=_png(), headers={"content-type": "image/png"})
    assert r.status_code == 422 and "[25, 25]" in r.json()["error"]["message"]


def test_model_info_states_the_one_level(client: TestClient) -> None:
    info = client.get(f"/v1/models/{NAME}").json()
    assert info["denoiser"]["sigma_range"] == [25.0, 25.0]


def test_the_card_says_other_levels_are_refused(tmp_path: Path) -> None:
    from aezoo.export.card import render_card
    from aezoo.registry.format import read_config

    path = write_denoiser_artifact(tmp_path / NAME, name=NAME, sigma_range=(25.0, 25.0))
    card = render_card(NAME, read_config(path), {}, {}, [])
    assert "One noise level only" in card and "[25, 25]" in card
    assert "sigma=25)" in card
    wide = render_card(NAME, read_config(write_denoiser_artifact(tmp_path / "wide")), {}, {}, [])
    assert "One noise level only" not in wide
