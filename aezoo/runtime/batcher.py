"""Dynamic batching: concurrent requests for one model merged into one onnxruntime run.

A :class:`Batcher` owns one worker thread per model. Callers :meth:`~Batcher.submit` a
checked ``(n, n_features)`` batch for one operation and get a
:class:`concurrent.futures.Future`; the worker takes the oldest request, adds every queued
request of the same operation while the merged batch stays within ``max_batch_size``,
runs the model once and hands each caller its rows back. Only one run is in flight per
batcher (and per ``run_lock``, which a server shares between its models), so onnxruntime's
intra-op threads never compete with a second run for the cores.

How long the worker waits for more requests (the policy of Triton's dynamic batcher with
``max_queue_delay_microseconds``, made adaptive): at most ``max_queue_delay_ms`` after the
oldest request arrived, and only while other requests announced with :meth:`Batcher.expect`
are still on their way (being read or parsed, or about to come back from a client whose
answer is being written). A lone client never waits; 64 clients form batches.

The queue is bounded in samples (``max_queue``): beyond it :meth:`~Batcher.submit` raises
:class:`QueueFullError` at once (a server answers 429), so memory stays bounded. It is also
bounded in time (``max_queue_time_ms``, Triton's queue-policy timeout): a request that has
waited that long (in this queue, plus what the caller says it waited before, e.g. on a
server's event loop) is not run; its future raises :class:`QueueTimeoutError` (a server
answers 429), so under overload latency stays bounded and the cores go to requests that
can still be answered in time. Time spent receiving or parsing a request is not waiting
and never counts.

A caller that knows it is alone (a server with no other request in flight) may ask for
an inline run (``submit(..., inline=True)``): when the queue is empty, no other announced
request is on its way, the run lock is free and this operation's last small run (at most
``INLINE_ROWS`` samples) took under ``INLINE_MAX_S``, the model runs at once in the
caller's thread, under the same run lock, limits and metrics, and the returned future is
already done. Two thread hand-offs (to the worker and back) then cost nothing: on a busy
2-core machine they were most of a one-sample request's latency.

A request may also carry its caller's deadline (a gRPC deadline): it is checked once more
after the run lock is taken, the last moment before the model runs, and a request whose
deadline has passed is left out of the run; its future raises :class:`DeadlineExceededError`.

In-process use::

    from aezoo import load
    from aezoo.runtime.batcher import Batcher, BatchSettings

    with Batcher(load("sda-mnist"), BatchSettings(max_queue_delay_ms=2)) as b:
        codes = b.run("encode", x)                 # blocking, x: (n, 784) float32
        future = b.submit("encode", x)             # concurrent.futures.Future[BatchResult]
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aezoo.errors import AezooError
from aezoo.runtime.delivery import settling
from aezoo.runtime.model import BATCH_OPS, BatchOp, OnnxModel

INLINE_ROWS = 16  # most samples of a request run inline (and of the runs that time it)
INLINE_MAX_S = 0.001  # inline only when the op's last small run took less (seconds)


class QueueFullError(AezooError):
    """The model's queue holds ``max_queue`` samples already: try again later.

    Attributes:
        retry_after_s: a hint for ``Retry-After`` (seconds, >= 1).
    """

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueueTimeoutError(AezooError):
    """A request waited ``max_queue_time_ms`` or longer (see :class:`BatchSettings`); it was not
    run. Raised by the request's future.

    Attributes:
        waited_s: seconds it had waited when it was refused.
        retry_after_s: a hint for ``Retry-After`` (seconds, >= 1).
    """

    def __init__(self, message: str, waited_s: float, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.waited_s, self.retry_after_s = waited_s, retry_after_s


class DeadlineExceededError(AezooError):
    """The request's deadline passed while it waited in the queue; it was not run.

    Attributes:
        late_s: seconds past the deadline when it was left out of its run.
    """

    def __init__(self, message: str, late_s: float) -> None:
        super().__init__(message)
        self.late_s = late_s


class BatcherClosedError(AezooError):
    """The batcher was closed (its model was swapped out or the server is stopping)."""


class BatchSettings(BaseModel):
    """Batching limits of one model, validated where they are set (Triton's names).

    Attributes:
        max_batch_size: most samples in one run (and in one request).
        max_queue_delay_ms: longest wait for more requests after the oldest queued one
            arrived, in milliseconds (0 = never wait; requests still merge while a run is
            in flight).
        max_queue: most samples queued (not yet running) per model; more -> QueueFullError.
        max_queue_time_ms: longest a request may wait, in milliseconds: its time in the
            queue plus ``waited_s`` given to :meth:`Batcher.submit`; a request that waited
            that long is refused before it runs (QueueTimeoutError). 0 (the default here) = no
            limit; ``aezoo serve`` sets one (:class:`~aezoo.serving.settings.ServeSettings`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(1024, ge=1, le=1 << 20)
    max_queue_delay_ms: float = Field(2.0, ge=0.0, le=60_000.0)
    max_queue: int = Field(8192, ge=1)
    max_queue_time_ms: float = Field(0.0, ge=0.0, le=3_600_000.0)


@dataclass(frozen=True)
class BatchResult:
    """One request's answer from a merged run.

    Attributes:
        output: this request's rows of the run's output, ``(n, ...)``.
        queue_s: seconds from :meth:`Batcher.submit` to the start of the run.
        compute_s: seconds the merged run took.
        batch_size: samples in the merged run (this request's and the others').
    """

    output: np.ndarray
    queue_s: float
    compute_s: float
    batch_size: int


BatchObserver = Callable[[str, int, list[float], float], None]
"""``(op, batch_size, queue_seconds_per_request, compute_seconds)``, called after each run."""


@dataclass
class _Item:
    op: str
    x: Any  # (n, n_features) float32, or a callable for a solo task
    n: int
    future: Future[BatchResult]
    t_submit: float  # perf_counter() at submit: batching delay and queue_s count from here
    arrived: float  # t_submit - the wait before submit: the queue-time deadline counts from here
    deadline: float | None = None  # perf_counter() after which the caller no longer waits


class Batcher:
    """Per-model dynamic batcher (see the module docstring).

    Args:
        model: the loaded model; :meth:`OnnxModel.compute` runs merged batches.
        settings: limits; default :class:`BatchSettings()`.
        run_lock: held around each run; share one between models so that only one run
            uses the cores at a time (default: a lock of this batcher's own).
        observer: called after each run (metrics); exceptions in it are not caught.

    Raises:
        ValueError: ``settings.max_batch_size`` is not positive (from pydantic).
    """

    def __init__(
        self,
        model: OnnxModel,
        settings: BatchSettings | None = None,
        run_lock: threading.Lock | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self.model = model
        self.settings = settings or BatchSettings()
        self._run_lock = run_lock or threading.Lock()
        self._observer = observer
        self._cond = threading.Condition()
        self._queue: collections.deque[_Item] = collections.deque()
        self._queued_samples = 0
        self._op_samples: collections.Counter[str] = collections.Counter()  # queued, per op
        self._expected = 0  # requests announced with expect() and not yet finished
        self._small_run_s: dict[str, float] = {}  # op -> seconds of its last run <= INLINE_ROWS
        self._closed = False
        self._thread = threading.Thread(
            target=self._work, name=f"aezoo-batcher-{model.name}", daemon=True
        )
        self._thread.start()

    # -- public ------------------------------------------------------------
    @property
    def queued_samples(self) -> int:
        """Samples waiting (not yet running)."""
        return self._queued_samples

    @contextlib.contextmanager
    def expect(self) -> Iterator[None]:
        """Announce a request that will :meth:`submit` soon (held until it is answered).

        While announced requests are not all in the queue, the worker waits (up to
        ``max_queue_delay_ms``) for them before it runs.
        """
        with self._cond:
            self._expected += 1
        try:
            yield
        finally:
            with self._cond:
                self._expected -= 1
                if self._queue:  # a worker may be waiting for this one (an empty queue's
                    self._cond.notify()  # worker waits for submit: waking it costs a switch)

    def submit(
        self,
        op: BatchOp,
        x: np.ndarray,
        waited_s: float = 0.0,
        deadline: float | None = None,
        inline: bool = False,
    ) -> Future[BatchResult]:
        """Queue a checked batch for ``op`` (see :meth:`OnnxModel.compute`).

        Args:
            op: ``"encode"``, ``"denoise"`` or ``"predict_proba"``.
            x: float32 ``(n, n_features)`` from :meth:`OnnxModel.check_inputs`,
                ``1 <= n <= max_batch_size``.
            waited_s: seconds the request already waited before this call (a server passes
                the time it sat on the event loop before its route ran); counts towards
                ``max_queue_time_ms`` with its time in this queue.
            deadline: ``time.perf_counter()`` value after which the caller no longer wants
                the answer (``None``: none); checked after the run lock is taken.
            inline: the caller has no other request in flight: run at once in this thread
                when the batcher is idle and the run is cheap (module docstring); the
                future is then done on return. Otherwise queued as usual.

        Returns:
            A future of this request's :class:`BatchResult`; it raises what the run raised,
            :class:`QueueTimeoutError` when the request waited more than
            ``max_queue_time_ms``, or :class:`DeadlineExceededError` when its deadline
            passed before its run began (then it was not run).

        Raises:
            ValueError: unknown op, or ``n`` outside ``[1, max_batch_size]``.
            QueueFullError: the queue would exceed ``max_queue`` samples.
            QueueTimeoutError: the request already waited ``max_queue_time_ms`` or longer.
            DeadlineExceededError: ``deadline`` has passed already.
            BatcherClosedError: :meth:`close` was called.
        """
        if op not in BATCH_OPS:
            raise ValueError(f"op must be one of {BATCH_OPS}, got {op!r}")
        n = int(x.shape[0])
        if not 1 <= n <= self.settings.max_batch_size:
            raise ValueError(f"batch of {n} samples; expected 1..{self.settings.max_batch_size}")
        item = _Item(op, x, n, Future(), *_times(waited_s), deadline)
        if inline and self._may_inline(op, n) and self._run_lock.acquire(blocking=False):
            try:
                self._check_item(item)
                self._run([item], locked=True)
            finally:
                self._run_lock.release()
            return item.future
        return self._put(item)

    def submit_task(
        self,
        fn: Callable[[], np.ndarray],
        samples: int = 1,
        waited_s: float = 0.0,
        deadline: float | None = None,
    ) -> Future[BatchResult]:
        """Queue a call that runs alone in the worker (e.g. interpolate), under the same
        queue bounds (samples, time, deadline) and run lock as batched operations."""
        return self._put(_Item("task", fn, samples, Future(), *_times(waited_s), deadline))

    def check_wait(self, waited_s: float) -> None:
        """Refuse a request that has already waited ``max_queue_time_ms`` or longer.

        :meth:`submit` calls it; a server also calls it before reading a request's body, so
        that a late request is refused before it costs a parse.

        Args:
            waited_s: seconds the request has waited so far.

        Raises:
            QueueTimeoutError: it waited that long (never with ``max_queue_time_ms=0``).
        """
        limit = self.settings.max_queue_time_ms
        if limit > 0 and waited_s * 1e3 >= limit:
            raise self._timeout(waited_s)

    def run(self, op: BatchOp, x: Any) -> np.ndarray:
        """Blocking: check ``x`` (any form :meth:`OnnxModel.check_inputs` accepts), submit
        it and return its output rows."""
        return self.submit(op, self.model.check_inputs(x)).result().output

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def __enter__(self) -> Batcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _may_inline(self, op: str, n: int) -> bool:
        """Whether a request of ``n`` samples may run in its caller's thread now: nothing
        queued, no other announced request on its way, and a cheap run (unlocked reads: a
        wrong guess only costs a queued run or one short inline run)."""
        last = self._small_run_s.get(op)
        return (
            n <= INLINE_ROWS
            and last is not None
            and last < INLINE_MAX_S
            and not self._queue
            and self._expected <= 1
            and not self._closed
        )

    def _check_item(self, item: _Item) -> None:
        """The checks of every submit: queue time, deadline, closed batcher."""
        self.check_wait(item.t_submit - item.arrived)
        if item.deadline is not None and item.deadline <= item.t_submit:
            raise self._past_deadline(item.t_submit - item.deadline)
        if self._closed:
            raise BatcherClosedError(f"the batcher of {self.model.name!r} is closed")

    def _put(self, item: _Item) -> Future[BatchResult]:
        self._check_item(item)
        with self._cond:
            if self._closed:
                raise BatcherClosedError(f"the batcher of {self.model.name!r} is closed")
            if self._queued_samples + item.n > self.settings.max_queue:
                raise QueueFullError(
                    f"model {self.model.name!r} is overloaded: {self._queued_samples} samples "
                    f"queued, max_queue={self.settings.max_queue}; retry shortly"
                )
            self._queue.append(item)
            self._queued_samples += item.n
            self._op_samples[item.op] += item.n
            self._cond.notify()
        return item.future

    def _take(self) -> list[_Item] | None:
        """The next batch: the oldest item and the queued items of its op that fit.

        Items that waited ``max_queue_time_ms`` or longer are refused, never run.
        """
        while True:
            with self._cond:
                while not self._queue:
                    if self._closed:
                        return None
                    self._cond.wait()
                batch = self._form()
            expired = self._expired(batch)
            if expired:
                self._refuse(expired)
                gone = {id(i) for i in expired}
                batch = [i for i in batch if id(i) not in gone]
            if batch:
                return batch

    def _expired(self, batch: list[_Item]) -> list[_Item]:
        """The items of ``batch`` that waited ``max_queue_time_ms`` or longer."""
        limit = self.settings.max_queue_time_ms / 1e3
        if limit <= 0:
            return []
        cutoff = time.perf_counter() - limit
        return [i for i in batch if i.arrived <= cutoff]

    def _timeout(self, waited: float) -> QueueTimeoutError:
        return QueueTimeoutError(
            f"model {self.model.name!r} is overloaded: the request waited {waited * 1e3:.0f} ms "
            f"in the queue, max_queue_time_ms={self.settings.max_queue_time_ms:g}; retry shortly",
            waited,
        )

    def _past_deadline(self, late: float) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"the request's deadline passed {late * 1e3:.0f} ms before model "
            f"{self.model.name!r} could run it; it was not run",
            late,
        )

    def _within_deadline(self, batch: list[_Item]) -> list[_Item]:
        """``batch`` less the items whose deadline has passed (their futures raise
        :class:`DeadlineExceededError`); called with the run lock held."""
        if all(i.deadline is None for i in batch):
            return batch
        now = time.perf_counter()
        live = []
        for item in batch:
            if item.deadline is not None and item.deadline <= now:
                item.future.set_exception(self._past_deadline(now - item.deadline))
            else:
                live.append(item)
        return live

    def _refuse(self, expired: list[_Item]) -> None:
        now = time.perf_counter()
        for item in expired:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(self._timeout(now - item.arrived))

    def _form(self) -> list[_Item]:
        """Wait (up to ``max_queue_delay_ms``) for announced requests, then remove and
        return the oldest item and the queued items of its op that fit (hold ``_cond``;
        the queue is not empty)."""
        limit, delay = self.settings.max_batch_size, self.settings.max_queue_delay_ms / 1e3
        first = self._queue[0]
        if first.op != "task":
            deadline = first.t_submit + delay
            if self.settings.max_queue_time_ms > 0:  # never wait past the oldest's deadline
                deadline = min(deadline, first.arrived + self.settings.max_queue_time_ms / 1e3)
            while not self._closed:
                same = self._op_samples[first.op]
                on_the_way = self._expected - len(self._queue)
                left = deadline - time.perf_counter()
                if same >= limit or on_the_way <= 0 or left <= 0:
                    break
                self._cond.wait(left)
        batch, size, keep = [first], first.n, collections.deque()
        full = first.op == "task"  # a task runs alone
        for item in list(self._queue)[1:]:
            if not full and item.op == first.op and size + item.n <= limit:
                batch.append(item)
                size += item.n
            else:
                full = full or item.op == first.op  # keep FIFO order within an op
                keep.append(item)
        self._queue = keep
        self._queued_samples -= size
        self._op_samples[first.op] -= size
        return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            live = [i for i in batch if i.future.set_running_or_notify_cancel()]
            if live:
                self._run(live)

    def _run(self, batch: list[_Item], locked: bool = False) -> None:
        """Run ``batch`` and settle its futures (``locked``: the caller holds the run lock)."""
        op, start = batch[0].op, time.perf_counter()
        try:
            with contextlib.nullcontext() if locked else self._run_lock:
                batch = self._within_deadline(batch)  # the last moment before the run
                if not batch:
                    return
                start = time.perf_counter()
                if op == "task":
                    outputs = [batch[0].x()]
                else:
                    x = batch[0].x if len(batch) == 1 else np.concatenate([i.x for i in batch])
                    out = self.model.compute(op, x)  # type: ignore[arg-type]
                    outputs = (
                        np.split(out, np.cumsum([i.n for i in batch[:-1]]))
                        if len(batch) > 1
                        else [out]
                    )
            compute = time.perf_counter() - start
        except BaseException as e:  # every waiting caller learns why
            with settling():
                for item in batch:
                    item.future.set_exception(e)
            return
        size = sum(i.n for i in batch)
        if op != "task" and size <= INLINE_ROWS:
            self._small_run_s[op] = compute
        waits = [start - i.t_submit for i in batch]
        with settling():  # one wake-up per awaiting event loop, not one per request
            for item, rows, wait in zip(batch, outputs, waits, strict=True):
                item.future.set_result(BatchResult(rows, wait, compute, size))
        if self._observer is not None:
            self._observer(op, size, waits, compute)


def _times(waited_s: float) -> tuple[float, float]:
    """``(t_submit, arrived)`` of an item submitted now after ``waited_s`` of waiting."""
    now = time.perf_counter()
    return now, now - max(0.0, waited_s)
