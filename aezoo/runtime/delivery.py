"""A batch's results back on the event loop with one wake-up, not one per request.

The batcher settles one :class:`concurrent.futures.Future` per request from its worker
thread. ``asyncio.wrap_future`` would hand each of them to the event loop on its own
(``loop.call_soon_threadsafe``: a write to the loop's self-pipe and a wake-up per request),
so a merged batch of 32 requests woke the loop 32 times (each wake-up's socket write also
releases the GIL, which the loop thread takes at once: the worker and the loop then take
turns per request). :class:`LoopInbox` queues settled futures, and the batcher's worker
settles a batch inside :func:`settling`, which wakes each loop once when the batch is done.
Futures settled anywhere else (a closed batcher, a deadline) wake their loop at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopInbox:
    """Awaitables on ``loop`` of futures settled in other threads (one per event loop).

    Same contract as ``asyncio.wrap_future``: the awaitable takes the future's result or
    exception, and cancelling the awaitable cancels the future (a request whose client
    left is not run if it has not started).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # weak: the per-loop registry must not keep it alive
        self._lock = threading.Lock()
        self._pending: list[tuple[asyncio.Future[Any], Future[Any]]] = []
        self._scheduled = False

    def awaitable(self, future: Future[T]) -> asyncio.Future[T]:
        """An ``asyncio.Future`` on this inbox's loop settled like ``future``; call it on
        that loop."""
        loop = self._loop()
        assert loop is not None, "awaitable() is called on the inbox's running loop"
        waiter: asyncio.Future[T] = loop.create_future()
        waiter.add_done_callback(lambda w: future.cancel() if w.cancelled() else None)
        future.add_done_callback(lambda f: self._push(waiter, f))
        return waiter

    def _push(self, waiter: asyncio.Future[Any], future: Future[Any]) -> None:
        with self._lock:
            self._pending.append((waiter, future))
        deferred = getattr(_settling, "inboxes", None)
        if deferred is not None:  # inside settling(): woken once when the batch is done
            deferred.add(self)
        else:
            self._wake()

    def _wake(self) -> None:
        with self._lock:
            if self._scheduled or not self._pending:
                return
            self._scheduled = True
        loop = self._loop()
        if loop is None:  # the loop is gone, and with it everyone awaiting these
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these any more
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            settled, self._pending = self._pending, []
            self._scheduled = False
        for waiter, future in settled:
            if waiter.done():
                continue
            if future.cancelled():
                waiter.cancel()
            elif (exc := future.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(future.result())


_settling = threading.local()


@contextlib.contextmanager
def settling() -> Iterator[None]:
    """Settle a batch's futures in this block: the loops awaiting them are woken once each,
    when the block ends (also when it raises), instead of once per future."""
    if getattr(_settling, "inboxes", None) is not None:  # nested: the outer block wakes
        yield
        return
    _settling.inboxes = inboxes = set()
    try:
        yield
    finally:
        _settling.inboxes = None
        for inbox in inboxes:
            inbox._wake()


_INBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInbox] = (
    weakref.WeakKeyDictionary()
)
_INBOXES_LOCK = threading.Lock()


def awaitable(future: Future[T]) -> asyncio.Future[T]:
    """``future`` as an awaitable of the running loop, through that loop's inbox."""
    loop = asyncio.get_running_loop()
    inbox = _INBOXES.get(loop)
    if inbox is None:
        with _INBOXES_LOCK:
            inbox = _INBOXES.setdefault(loop, LoopInbox(loop))
    return inbox.awaitable(future)
