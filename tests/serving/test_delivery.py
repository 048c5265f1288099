"""Batch results reach the event loop with one wake-up per batch, with wrap_future's contract."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from aezoo.serving.delivery import LoopInbox, awaitable


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


def test_a_batch_settled_in_another_thread_wakes_the_loop_far_fewer_times() -> None:
    async def main() -> list[int]:
        futures: list[Future[int]] = [Future() for _ in range(64)]
        waiters = [awaitable(f) for f in futures]

        def settle() -> None:  # the batcher's worker, one batch
            for i, f in enumerate(futures):
                f.set_result(i)

        threading.Thread(target=settle).start()
        return list(await asyncio.gather(*waiters))

    results, wakeups = _run(main())
    assert results == list(range(64))
    # asyncio.wrap_future: 64. Fewer than a quarter of that even when the settling thread
    # is preempted (each extra wake-up needs a forced GIL switch, every 5 ms)
    assert 1 <= wakeups <= 16, wakeups


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
