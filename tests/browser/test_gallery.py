"""The gallery and playground in a real browser against a real ``aezoo serve``.

Opens the gallery, opens sda-mnist, draws a stroke, classifies it (a label and ten
probabilities summing to 1, computed from the drawn input the page sent to the v1
API), interpolates (N frames), runs encode and denoise, scores a sample and a drawing
against the calibrated threshold, and opens a lines model at its own 32x32 frame. Every request must stay on the server: the page is offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlparse

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BUNDLED = ("acai-lines", "ae-lines", "drsae-mnist", "lista-vdl-mnist", "sda-mnist")


@pytest.fixture
def page(browser, aezoo_serve: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh page that refuses every request off the server and records page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, base_url=aezoo_serve)
    page = context.new_page()
    page.off_server, page.errors, page.posts = [], [], []
    server = urlparse(aezoo_serve).netloc

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).netloc == server or route.request.url.startswith("data:"):
            route.continue_()
        else:
            page.off_server.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("request", lambda r: r.method == "POST" and page.posts.append(r))
    yield page
    assert page.off_server == [], f"the page fetched from other hosts: {page.off_server}"
    assert page.errors == [], f"errors in the page: {page.errors}"
    context.close()


def draw_stroke(page, points: list[tuple[float, float]]) -> None:  # type: ignore[no-untyped-def]
    """Drag the mouse over the sketchpad through points given as fractions of its size."""
    box = page.get_by_test_id("sketchpad").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def run(page, op: str) -> object:  # type: ignore[no-untyped-def]
    """Open op's tab, press its button, wait for its reply; returns the panel."""
    page.get_by_test_id(f"tab-{op}").click()
    page.get_by_test_id(f"run-{op}").click()
    panel = page.get_by_test_id(f"panel-{op}")
    panel.and_(page.locator("[data-state=done]")).wait_for(timeout=30_000)
    return panel


def test_gallery_lists_every_served_model(page, shots) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_test_id("model-list").wait_for()
    for name in BUNDLED:
        tile = page.get_by_test_id(f"model-{name}")
        assert tile.is_visible()
        assert tile.locator("img").count() == 1  # a figure, through the files route
    sda = page.get_by_test_id("model-sda-mnist").inner_text()
    assert "classify" in sda and "test error" in sda
    assert "-1.2 dB" in page.get_by_test_id("model-lista-vdl-mnist").inner_text()
    page.wait_for_load_state("networkidle")
    shots(page, "gallery", full_page=True)


def test_sda_mnist_playground(page, shots) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_test_id("open-sda-mnist").click()
    page.get_by_test_id("sketchpad").wait_for()
    assert page.get_by_test_id("model-name").inner_text().startswith("sda-mnist")
    assert page.locator("article.card h1").inner_text() == "sda-mnist"  # the rendered card

    page.get_by_test_id("clear").click()
    draw_stroke(page, [(0.5, 0.2), (0.52, 0.5), (0.5, 0.8)])  # a "1"
    page.posts.clear()
    panel = run(page, "classify")
    sent = [r for r in page.posts if r.url.endswith("/v1/models/sda-mnist/classify")][-1]
    pixels = np.asarray(json.loads(sent.post_data)["inputs"][0])
    assert pixels.shape == (784,) and pixels.min() >= 0.0 and pixels.max() == 1.0
    assert 20 <= np.count_nonzero(pixels) <= 200  # the stroke, not a blank or a sample

    label = panel.get_by_test_id("label").inner_text()
    bars = panel.get_by_test_id("proba")
    names = bars.evaluate_all("els => els.map(e => e.dataset.label)")
    probabilities = np.asarray(bars.evaluate_all("els => els.map(e => Number(e.dataset.p))"))
    assert names == [str(i) for i in range(10)]
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert label == names[int(probabilities.argmax())]
    shots(page, "sda-mnist-classify")

    page.get_by_test_id("tab-interpolate").click()
    page.get_by_test_id("steps").fill("6")
    panel = run(page, "interpolate")
    assert panel.get_by_test_id("frame").count() == 6
    shots(page, "sda-mnist-interpolate")

    panel = run(page, "encode")
    text = panel.get_by_test_id("sparsity").inner_text()
    assert re.match(r"\d+ of 200 code units are exactly 0", text), text

    page.get_by_test_id("sample-7").click()
    panel = run(page, "denoise")
    psnr = panel.get_by_test_id("psnr").inner_text()
    noisy, denoised = map(float, re.findall(r"(?:noisy|denoised) (-?[\d.]+) dB", psnr))
    assert denoised > noisy, psnr  # sda-mnist removes 25% masking noise from a real 7
    shots(page, "sda-mnist-denoise")


def test_lines_model_draws_in_its_32x32_frame(page, shots) -> None:  # type: ignore[no-untyped-def]
    page.goto("/#/models/acai-lines")
    pad = page.get_by_test_id("sketchpad")
    pad.wait_for()
    width = pad.evaluate("c => c.width")
    assert width % 32 == 0 and width // 32 >= 4  # 32 input pixels, enlarged
    assert "32x32, values in [-1, 1]" in page.locator(".pg-input h3").inner_text()
    assert page.get_by_test_id("tab-classify").count() == 0  # not offered by this model
    panel = run(page, "interpolate")
    assert panel.get_by_test_id("frame").count() == 8
    shots(page, "acai-lines-interpolate")


def test_score_is_shown_against_the_threshold(page, shots) -> None:  # type: ignore[no-untyped-def]
    import aezoo
    from tests.tolerance import sum_atol

    model = aezoo.load("sda-mnist")
    page.goto("/#/models/sda-mnist")
    page.get_by_test_id("sketchpad").wait_for()
    verdicts = []
    for pick in ("sample-7", "stroke"):
        if pick == "stroke":
            page.get_by_test_id("clear").click()
            draw_stroke(page, [(0.2, 0.2), (0.8, 0.8), (0.2, 0.8), (0.8, 0.2)])
        else:
            page.get_by_test_id(pick).click()
        page.posts.clear()
        panel = run(page, "score")
        sent = [r for r in page.posts if r.url.endswith("/v1/models/sda-mnist/score")][-1]
        x = np.asarray(json.loads(sent.post_data)["inputs"], np.float32)
        want = model.score(x)
        shown = float(panel.get_by_test_id("score-value").get_attribute("data-score"))
        # the page shows the server's float32 score: the same graph on the same one row
        assert shown == pytest.approx(float(want["scores"][0]), rel=sum_atol(np.float32, 784))
        # toPrecision(4) on the page: 4 significant digits, trailing zeros kept
        assert f"anomaly score {shown:#.4g}" in panel.get_by_test_id("score-value").inner_text()
        verdict = panel.get_by_test_id("score-verdict")
        assert float(verdict.get_attribute("data-threshold")) == want["threshold"]
        flag = verdict.get_attribute("data-verdict")
        assert flag == ("outlier" if want["is_outlier"][0] else "normal")
        assert verdict.inner_text().startswith(flag)
        assert panel.get_by_test_id("score-gauge").is_visible()
        assert float(panel.get_by_test_id("score-p").get_attribute("data-p")) == pytest.approx(
            float(want["p_values"][0])
        )
        verdicts.append(flag)
        shots(page, f"sda-mnist-score-{pick}")
    assert verdicts[0] == "normal"  # a real test digit; the card: 1% of them are flagged
