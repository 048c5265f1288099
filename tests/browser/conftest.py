"""A real ``aezoo serve`` process serving the bundled models, and a headless Chromium.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright's Python
package; Playwright's own browser download is not used. ``AEZOO_CHROMIUM`` names
another executable. Screenshots go to the test's tmp dir, and also to
``$AEZOO_SCREENSHOT_DIR`` when set (CI keeps that folder as an artifact).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import running_server

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """``$AEZOO_CHROMIUM``, else the first Chromium on PATH, else None."""
    env = os.environ.get("AEZOO_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "Chromium not found (apt-get install chromium, or set AEZOO_CHROMIUM to its path)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def aezoo_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``aezoo serve`` on 127.0.0.1, a free port, an empty AEZOO_HOME: the bundled models.

    Yields the base URL once ``/health/ready`` answers 200 (at most 60 s).
    """
    home = tmp_path_factory.mktemp("browser-home")
    with running_server(
        [], {"AEZOO_HOME": str(home)}, home / "serve.log", command=("-m", "aezoo", "serve")
    ) as server:
        yield server.url


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[object]:
    """``shots(page, name[, full_page])``: a PNG under tmp_path (and $AEZOO_SCREENSHOT_DIR)."""
    extra = os.environ.get("AEZOO_SCREENSHOT_DIR")

    def take(page, name: str, full_page: bool = False) -> Path:  # type: ignore[no-untyped-def]
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    yield take
