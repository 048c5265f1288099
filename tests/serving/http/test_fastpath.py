"""The inference fast path's route matching: captures, misses, and a bounded path cache."""

from __future__ import annotations

from typing import Any

from aezoo.serving.http.fastpath import FastRoutes


async def _encode(**kwargs: Any) -> Any:
    return kwargs


async def _infer(**kwargs: Any) -> Any:
    return kwargs


def _routes() -> FastRoutes:
    return FastRoutes(
        app=None,
        routes={
            ("v1", "models", "{name}", "encode"): _encode,
            ("v2", "models", "{name}", "versions", "{version}", "infer"): _infer,
        },
        on_error={},
    )


def test_paths_match_their_endpoint_with_captures_and_others_miss() -> None:
    fast = _routes()
    assert fast._match("/v1/models/sda-mnist/encode") == (_encode, {"name": "sda-mnist"})
    assert fast._match("/v2/models/m/versions/3/infer") == (_infer, {"name": "m", "version": "3"})
    for path in (
        "/v1/models//encode",
        "/v1/models/m/decode",
        "/v1/models/m",
        "/",
        "/v1/models/m/encode/x",
    ):
        assert fast._match(path) is None, path
    # remembered answers are the same answers, misses included
    assert fast._match("/v1/models/sda-mnist/encode") == (_encode, {"name": "sda-mnist"})
    assert fast._match("/v1/models//encode") is None


def test_the_path_cache_stays_bounded_whatever_paths_arrive() -> None:
    fast = _routes()
    for i in range(3 * FastRoutes.MATCH_CACHE + 7):
        found = fast._match(f"/v1/models/m{i}/encode")
        assert found == (_encode, {"name": f"m{i}"})
        assert len(fast._matched) <= FastRoutes.MATCH_CACHE
