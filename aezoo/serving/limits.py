"""Bounded memory: how long a body may be, how many numbers it may hold, and how many body
bytes the whole server holds at once.

Every inference body is refused *before* it is parsed when it is longer than its model
can need (:func:`body_cap`), and before it is read when the declared ``Content-Length`` is;
bytes are counted as they stream in, so a chunked body is cut off at the cap too. Bodies
being read or parsed reserve their bytes from one :class:`BodyBudget`; a request that
finds the budget spent gets 429 at once rather than waiting, so a burst of large bodies
costs at most ``max_inflight_body_bytes`` (plus the parse's expansion, a small constant
multiple: numbers become float64 then float32 arrays) whatever clients send.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

from starlette.requests import ClientDisconnect, Request

from aezoo.runtime.model import OnnxModel
from aezoo.serving.schemas import BodyTooLargeError, OverloadedError
from aezoo.serving.settings import ServeSettings

JSON_BYTES_PER_NUMBER = 32
"""Bytes a JSON body may spend per number it must carry: the longest shortest-round-trip
float64 (``-2.2250738585072014e-308``, 24 characters) with ``", "`` and room for nesting."""
JSON_OVERHEAD_BYTES = 64 * 1024
NPY_HEADER_BYTES = 4096  # numpy's header is padded to 64 bytes; 4 KiB leaves room for any shape
INTERPOLATE_SAMPLES = 2  # a and b


def samples_allowed(op: str, settings: ServeSettings) -> int:
    """Most samples one request body of ``op`` carries."""
    return INTERPOLATE_SAMPLES if op == "interpolate" else settings.max_batch_size


def body_cap(model: OnnxModel, op: str, npy: bool, settings: ServeSettings) -> tuple[int, str]:
    """Longest body accepted for ``op`` on ``model`` (bytes), never above ``max_body_bytes``,
    and a phrase saying where the number comes from.

    JSON: ``samples x n_features x JSON_BYTES_PER_NUMBER + 64 KiB``; npy: float64 samples
    plus a header.
    """
    samples, n = samples_allowed(op, settings), model.config.input.n_features
    need = (
        samples * n * 8 + NPY_HEADER_BYTES
        if npy
        else samples * n * JSON_BYTES_PER_NUMBER + JSON_OVERHEAD_BYTES
    )
    if need >= settings.max_body_bytes:
        return settings.max_body_bytes, f"max_body_bytes={settings.max_body_bytes}"
    per = "8 bytes (float64)" if npy else f"{JSON_BYTES_PER_NUMBER} bytes of JSON"
    return (
        need,
        f"{samples} samples x {n} numbers x {per} (max_batch_size={settings.max_batch_size})",
    )


def max_json_numbers(model: OnnxModel, op: str, settings: ServeSettings) -> int:
    """Most commas a JSON body of ``op`` may hold (numbers + row separators), so that a body
    is never expanded into more values than ``max_batch_size`` samples hold."""
    spec = model.config.input
    rows = spec.shape[0] if spec.shape and len(spec.shape) > 1 else 0
    return samples_allowed(op, settings) * (spec.n_features + rows + 1) + 8


def check_json_numbers(body: bytes, model: OnnxModel, op: str, settings: ServeSettings) -> None:
    """Refuse a JSON body holding more numbers than its model can accept, before parsing.

    Counting commas is one C pass over the bytes; a JSON array of k numbers has k - 1.

    Raises:
        BodyTooLargeError: more numbers than ``max_batch_size`` samples hold.
    """
    allowed = max_json_numbers(model, op, settings)
    commas = body.count(b",")
    if commas > allowed:
        n = model.config.input.n_features
        raise BodyTooLargeError(
            f"request body holds more than {allowed:,} numbers and separators; "
            f"{samples_allowed(op, settings)} samples of {n} features "
            f"(max_batch_size={settings.max_batch_size}) need at most that"
        )


class BodyBudget:
    """Request body bytes the server holds at once (read, being parsed, or parsed).

    Used from the event loop only (no lock needed).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @contextlib.contextmanager
    def hold(self, nbytes: int, what: str = "this request") -> Iterator[None]:
        """Reserve ``nbytes`` (a message already received over gRPC, a decoded image and its
        answer) until the block exits.

        Raises:
            OverloadedError: the reservation does not fit in the budget (reason ``body_budget``).
        """
        if self.used + nbytes > self.limit:
            raise OverloadedError(
                f"server is holding {self.used:,} bytes of request bodies, "
                f"max_inflight_body_bytes={self.limit:,}, and {what} needs {nbytes:,} more; "
                "retry shortly",
                "body_budget",
            )
        self.used += nbytes
        try:
            yield
        finally:
            self.used -= nbytes

    @contextlib.asynccontextmanager
    async def read(self, request: Request, cap: int, why: str = "") -> AsyncIterator[bytes]:
        """Reserve, read and yield the body; the reservation lasts until the block exits.

        Raises:
            BodyTooLargeError: ``Content-Length`` or the bytes received exceed ``cap``.
            OverloadedError: the reservation does not fit in the budget (reason ``body_budget``).
            ClientDisconnect: the client went away (or was dropped by the body timeout).
        """
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise BodyTooLargeError(
                f"request body is {declared} bytes, above the limit of {cap:,} bytes ({why})"
            )
        reserve = int(declared) if declared.isdigit() else cap  # chunked: the worst case
        with self.hold(reserve, "this request body"):
            yield await _read(request, cap, why)


async def _read(request: Request, cap: int, why: str) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLargeError(f"request body is above the limit of {cap:,} bytes ({why})")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


__all__ = ["BodyBudget", "ClientDisconnect", "body_cap", "check_json_numbers"]
