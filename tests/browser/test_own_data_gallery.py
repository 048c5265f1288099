"""The playground of models trained on a user's data, in a real browser: a table model
(no drawing: a row of numbers, editable; denoise compares columns) and a colour-image model
(the sample shown in colour), each answering through the v1 API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from tests.browser.test_gallery import page, run  # noqa: F401 - the page fixture
from tests.serving.conftest import running_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def aezoo_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``aezoo serve sensors rgb-tiles``: a table model and an RGB image model, trained here."""
    pytest.importorskip("torch")
    from PIL import Image

    import aezoo
    from aezoo.registry.store import LocalStore

    home = tmp_path_factory.mktemp("own-gallery")
    store = LocalStore(root=home / "registry", bundled=None)
    rng = np.random.default_rng(0)
    X = rng.normal([20.0, 1013.0, 0.4], [5.0, 8.0, 0.1], size=(200, 3))
    rows = [f"{a:.3f},{b:.3f},{c:.3f},{'warm' if a > 20 else 'cold'}" for a, b, c in X]
    (home / "sensors.csv").write_text("temp,pressure,humidity,state\n" + "\n".join(rows))
    aezoo.train("sda", str(home / "sensors.csv"), label_column="state", store=store,
                show_progress=False, overrides=["pretrain_epochs=2", "finetune_epochs=2"])  # fmt: skip
    for i in range(40):
        colour = (rng.integers(0, 256, 3) * np.ones((16, 16, 3))).astype(np.uint8)
        folder = home / "rgb-tiles" / ("red" if colour[0, 0, 0] > 127 else "dark")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(colour).save(folder / f"{i}.png")
    aezoo.train("conv-ae", str(home / "rgb-tiles"), store=store, show_progress=False,
                overrides=["epochs=1"])  # fmt: skip
    with running_server(
        ["sensors", "rgb-tiles"], {"AEZOO_HOME": str(home)}, home / "serve.log",
        command=("-m", "aezoo", "serve"),
    ) as server:  # fmt: skip
        yield server.url


def test_a_table_model_takes_a_row_of_numbers(page, shots) -> None:  # noqa: F811
    page.goto("/")
    page.get_by_test_id("open-sensors").click()
    text = page.get_by_test_id("row-input")
    text.wait_for()
    assert page.get_by_test_id("sketchpad").count() == 0  # nothing to draw on a table
    panel = run(page, "classify")
    assert panel.get_by_test_id("label").inner_text() in ("cold", "warm")

    text.fill("25, 1000, 0.5")
    text.dispatch_event("change")
    page.posts.clear()
    panel = run(page, "denoise")
    sent = [r for r in page.posts if r.url.endswith("/v1/models/sensors/denoise")][-1]
    noisy = json.loads(sent.post_data)["inputs"][0]
    assert len(noisy) == 3 and abs(noisy[1] - 1000) < 1000 * 0.5  # relative noise, raw units
    compare = panel.get_by_test_id("compare").inner_text()
    assert "temp" in compare and "pressure" in compare and "humidity" in compare
    shots(page, "table-denoise")

    panel = run(page, "score")  # trained here, never calibrated: a score, no threshold
    verdict = panel.get_by_test_id("score-verdict")
    assert verdict.get_attribute("data-verdict") == "none"
    assert verdict.inner_text().startswith("no threshold")
    assert float(panel.get_by_test_id("score-value").get_attribute("data-score")) >= 0.0
    assert panel.get_by_test_id("score-gauge").count() == 0

    text.fill("1, 2")
    text.dispatch_event("change")
    assert "3 comma-separated numbers, got 2" in page.get_by_role("alert").first.inner_text()


def test_a_colour_image_model_shows_its_sample_in_colour(page, shots) -> None:  # noqa: F811
    page.goto("/")
    page.get_by_test_id("open-rgb-tiles").click()
    preview = page.get_by_test_id("input-preview").locator("canvas")
    preview.wait_for()
    rgb = preview.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data)"
    )
    assert not rgb[0] == rgb[1] == rgb[2]  # a colour pixel, not grey
    page.posts.clear()
    panel = run(page, "encode")
    sent = [r for r in page.posts if r.url.endswith("/v1/models/rgb-tiles/encode")][-1]
    assert len(json.loads(sent.post_data)["inputs"][0]) == 3 * 16 * 16
    assert "code units" in panel.get_by_test_id("sparsity").inner_text()
    shots(page, "rgb-encode")
