"""The photo playground of a whole-image denoiser (static/js/photo.js) in headless Chromium,
against a real server started with --api-key: a shipped sample (PNG and pixel-row forms),
seeded noise, the denoise call with the key, before/after PSNR; an upload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser.test_api_key import new_page
from tests.serving.conftest import running_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]
KEY = "photo-key"


@pytest.fixture(scope="module")
def photo_server(
    denoiser_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("photo-ui") / "serve.log"
    with running_server([str(denoiser_artifact), "--api-key", KEY], {}, log) as server:
        yield server.url


def _psnr(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    stat = page.get_by_test_id("photo-psnr")
    stat.wait_for(timeout=30_000)
    return float(stat.get_attribute("data-before")), float(stat.get_attribute("data-after"))


def test_photo_playground_denoises_with_the_key(  # type: ignore[no-untyped-def]
    browser, photo_server: str, shots, tmp_path: Path
) -> None:
    context, page = new_page(browser, photo_server, [KEY])
    try:
        page.goto("/#/models/tiny-denoiser")
        panel = page.get_by_test_id("panel-photo")
        panel.wait_for(timeout=30_000)
        page.wait_for_function("() => document.querySelector('[data-testid=panel-photo]').dataset.state === 'done'",
                               timeout=30_000)  # fmt: skip
        before, after = _psnr(page)
        assert 15 < before < 25  # sigma 25 on the 0-255 scale: about 20.2 dB
        assert after > before + 1.0, (before, after)
        for testid in ("photo-clean", "photo-noisy", "photo-denoised"):
            assert page.get_by_test_id(testid).is_visible()
        # the pixel-rows sample, then a higher sigma
        page.get_by_test_id("photo-sample-1").click()
        page.wait_for_function("() => document.querySelector('[data-testid=photo-clean] figcaption').textContent.includes('ramp')",
                               timeout=30_000)  # fmt: skip
        page.get_by_test_id("photo-sigma").fill("50")
        page.get_by_test_id("photo-sigma").dispatch_event("change")
        page.wait_for_function("() => document.querySelector('[data-testid=photo-noisy] figcaption').textContent.includes('sigma 50')",
                               timeout=30_000)  # fmt: skip
        b50, a50 = _psnr(page)
        assert b50 < before and a50 > b50
        # an upload (a colour PNG: turned grey by the page)
        rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
        path = tmp_path / "upload.png"
        Image.fromarray(rgb).save(path)
        page.get_by_test_id("photo-upload").set_input_files(str(path))
        page.wait_for_function("() => document.querySelector('[data-testid=photo-clean] figcaption').textContent.includes('upload.png')",
                               timeout=30_000)  # fmt: skip
        shots(page, "photo-playground", full_page=True)
        calls = [(u, a) for u, a in page.api_calls if "/denoise" in u]
        assert len(calls) >= 3 and all(a == f"Bearer {KEY}" for _, a in calls)
        assert page.errors == [], page.errors
    finally:
        context.close()
