"""The gallery against ``aezoo serve --api-key``: the page asks for the key once, keeps it in
sessionStorage only (this tab, until it closes) and sends it on every API call, figures
included; a refused key asks again; a new tab asks anew."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import running_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("keyed-home")
    args = ["sda-mnist", "--api-key", KEY]
    with running_server(
        args, {"AEZOO_HOME": str(home)}, home / "serve.log", command=("-m", "aezoo", "serve")
    ) as server:
        yield server.url


def new_page(browser, url: str, answers: list[str]):  # type: ignore[no-untyped-def]
    """A page in a fresh context (a new tab's session) answering prompts from ``answers``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, base_url=url)
    page = context.new_page()
    page.dialogs, page.api_calls, page.errors = [], [], []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        page.dialogs.append(dialog.message)
        dialog.accept(answers.pop(0)) if answers else dialog.dismiss()

    def on_request(request) -> None:  # type: ignore[no-untyped-def]
        if "/v1/" in request.url:
            page.api_calls.append((request.url, request.headers.get("authorization")))

    page.on("dialog", on_dialog)
    page.on("request", on_request)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def test_the_page_asks_for_the_key_once_and_sends_it(  # type: ignore[no-untyped-def]
    browser, keyed_server: str, shots, tmp_path: Path
) -> None:
    context, page = new_page(browser, keyed_server, ["wrong-key", KEY])
    try:
        page.goto("/")
        tile = page.get_by_test_id("model-sda-mnist")
        tile.wait_for(timeout=30_000)
        assert len(page.dialogs) == 2, page.dialogs  # asked, refused, asked again
        assert "needs an API key" in page.dialogs[0] and "refused" in page.dialogs[1]
        # the figure came through the files route with the key (a blob: URL)
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=model-sda-mnist] img');"
            " return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'); }",
            timeout=30_000,
        )
        page.get_by_test_id("open-sda-mnist").click()
        page.get_by_test_id("sample-7").click()  # samples.json, fetched with the key
        page.get_by_test_id("tab-classify").click()
        page.get_by_test_id("run-classify").click()
        panel = page.get_by_test_id("panel-classify")
        panel.and_(page.locator("[data-state=done]")).wait_for(timeout=30_000)
        shots(page, "api-key-classify")
        assert len(page.dialogs) == 2  # once per tab: the model page did not ask again
        stored = page.evaluate(
            "() => [sessionStorage.getItem('aezoo-api-key'), localStorage.length]"
        )
        assert stored == [KEY, 0] and context.cookies() == []
        sent = [auth for url, auth in page.api_calls]
        assert sent.count(f"Bearer {KEY}") >= 5  # models, card, files, figure, classify
        assert set(sent) <= {None, "Bearer wrong-key", f"Bearer {KEY}"}
        after = sent[sent.index(f"Bearer {KEY}") :]
        assert set(after) == {f"Bearer {KEY}"}, after  # every call once the key was given
        assert page.errors == []
    finally:
        context.close()
    other, fresh = new_page(browser, keyed_server, [])  # a new tab: no key, and cancelled
    try:
        fresh.goto("/")
        fresh.get_by_role("alert").wait_for(timeout=30_000)
        assert len(fresh.dialogs) == 1
        assert "unauthorized" in fresh.get_by_role("alert").inner_text()
    finally:
        other.close()
