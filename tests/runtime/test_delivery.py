"""Batch results reach the event loop with one wake-up per batch, with wrap_future's contract."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from aezoo.runtime.delivery import LoopInbox, awaitable, settling


class CountingLoop(asyncio.SelectorEventLoop):
    """Counts the cross-thread wake-ups (``call_soon_threadsafe``)."""

    wakeups = 0

    def call_soon_threadsafe(self, *args: Any, **kwargs: Any) -> Any:
        self.wakeups += 1
        return super().call_soon_threadsafe(*args, **kwargs)


def _run(coro: Any) -> tuple[Any, int]:
    loop = CountingLoop()
    try:
        return loop.run_until_complete(coro), loop.wakeups
    finally:
        loop.close()


def _settle_in_a_thread(batched: bool) -> tuple[list[int], int]:
    async def main() -> list[int]:
        futures: list[Future[int]] = [Future() for _ in range(64)]
        waiters = [awaitable(f) for f in futures]

        def settle() -> None:  # the batcher's worker, one batch
            with settling() if batched else contextlib.nullcontext():
                for i, f in enumerate(futures):
                    f.set_result(i)

        threading.Thread(target=settle).start()
        return list(await asyncio.gather(*waiters))

    return _run(main())


def test_a_batch_settled_in_another_thread_wakes_the_loop_once() -> None:
    for _ in range(50):  # the GIL hand-off made it 2 or 64 from run to run without settling()
        results, wakeups = _settle_in_a_thread(batched=True)
        assert results == list(range(64)) and wakeups == 1, wakeups


def test_futures_settled_outside_a_batch_are_still_delivered() -> None:
    results, wakeups = _settle_in_a_thread(batched=False)  # e.g. a batcher closing
    assert results == list(range(64)) and 1 <= wakeups <= 64


def test_exceptions_and_cancellation_follow_wrap_futures_contract() -> None:
    async def main() -> None:
        inbox = LoopInbox(asyncio.get_running_loop())
        failed: Future[int] = Future()
        waiter = inbox.awaitable(failed)
        threading.Thread(target=failed.set_exception, args=(ValueError("bad row"),)).start()
        with pytest.raises(ValueError, match="bad row"):
            await waiter

        queued: Future[int] = Future()  # the client leaves: the request is not run
        task = asyncio.ensure_future(inbox.awaitable(queued))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)  # the waiter's done callbacks run on the next iteration
        assert queued.cancelled()

        dropped: Future[int] = Future()  # the batcher drops it (closed): the waiter says so
        waiter = inbox.awaitable(dropped)
        dropped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

        done: Future[int] = Future()  # settled before it is awaited
        done.set_result(7)
        assert await inbox.awaitable(done) == 7

    _run(main())


def test_the_per_loop_registry_does_not_keep_closed_loops_alive() -> None:
    import gc
    import weakref

    from aezoo.runtime import delivery

    async def main() -> int:
        future: Future[int] = Future()
        future.set_result(3)
        return await awaitable(future)

    loop = CountingLoop()
    assert loop.run_until_complete(main()) == 3 and loop in delivery._INBOXES
    gone = weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert gone() is None
