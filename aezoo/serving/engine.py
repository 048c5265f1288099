"""What the HTTP routes (v1 and OIP v2) share: the model pool, the limits, the metrics,
and :meth:`Engine.infer`, the one way a checked batch reaches a model's batcher.

Parsing and serialising run on the event loop when they are small (a thread hop costs more
than parsing one sample) and in worker threads, at most one per core, when they are not;
the model runs in its batcher's thread. So the event loop stays free for health checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio
import numpy as np

from aezoo.errors import OperationNotSupportedError
from aezoo.registry.artifact import CARD, TRAINING
from aezoo.runtime.batcher import (
    BatcherClosedError,
    BatchResult,
    BatchSettings,
    DeadlineExceededError,
    QueueFullError,
    QueueTimeoutError,
)
from aezoo.runtime.delivery import awaitable
from aezoo.runtime.model import BatchOp, OnnxModel, providers_for
from aezoo.runtime.pool import ModelPool, Served
from aezoo.serving import schemas as s
from aezoo.serving.limits import BodyBudget
from aezoo.serving.metrics import OP_LABEL, Metrics
from aezoo.serving.settings import ServeSettings

T = TypeVar("T")
INLINE_BYTES = 64 * 1024  # bodies (and answers) up to this size are handled on the event loop
INLINE_BINARY_BYTES = 4 * 2**20
"""The same for binary bodies and answers (.npy, OIP binary tensors): they are viewed and
copied, never parsed number by number (the input check is one pass, about 0.15 ms per MB),
so a 1,024 x 784 float32 batch (3.2 MB) costs less on the event loop than the two thread
hand-offs of a worker (anyio's queue, the loop's wake-up: 15% of the server's busy samples
on 1,024-sample .npy requests, ``serving_peers.py --profile``)."""
_RETRIES = 3  # a batcher closed by a hot swap between lookup and submit: use the new one


class Engine:
    """Serving state of one app.

    Attributes:
        pool: the served models, ``None`` while loading.
        status: ``"loading"``, ``"ready"`` or ``"failed"`` (then ``error`` says why).
    """

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.pool: ModelPool | None = None
        self.status, self.error = "loading", None
        self.metrics = Metrics(settings.max_batch_size, lambda: self.pool)
        self.budget = BodyBudget(settings.max_inflight_body_bytes)
        self.cpu = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))
        # awaited by the HTTP app's shutdown before it closes the models (another protocol's
        # drain, e.g. gRPC's, whose in-flight calls still need them)
        self.before_close: list[Awaitable[Any]] = []
        self._cards: dict[tuple[str, str], dict[str, Any]] = {}

    def new_pool(self) -> ModelPool:
        """An empty pool with this server's batching, threads, device and metrics hooks."""
        st = self.settings
        return ModelPool(
            batch=BatchSettings(
                max_batch_size=st.max_batch_size,
                max_queue_delay_ms=st.max_queue_delay_ms,
                max_queue=st.max_queue,
                max_queue_time_ms=st.max_queue_time_ms,
            ),
            threads=st.threads,
            providers=providers_for(st.device),
            observer_for=self.metrics.observer,
            on_event=self.metrics.on_pool_event,
        )

    def set_pool(self, pool: ModelPool) -> None:
        self.pool, self.status = pool, "ready"

    # -- lookups -----------------------------------------------------------
    def served(self, name: str, op: str | None = None) -> Served:
        """The ready entry of ``name`` (that offers ``op``, when given).

        Raises:
            NotReadyError, ModelNotFoundError, OperationNotSupportedError.
        """
        if self.pool is None:
            why = f": {self.error}" if self.error else ""
            raise s.NotReadyError(f"models are not ready ({self.status}{why})")
        served = self.pool.get(name)
        if op is not None and op not in served.model.operations:
            raise OperationNotSupportedError(
                f"model {name!r} does not offer {op!r}; it offers {', '.join(served.model.operations)}"
            )
        return served

    def card(self, served: Served) -> dict[str, Any]:
        """Card data of a served version (spec, operations, metrics, README), cached."""
        key = (served.name, served.version)
        if key not in self._cards:
            self._cards[key] = model_card(served.model)
        return self._cards[key]

    # -- work --------------------------------------------------------------
    async def offload(self, big: bool, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` inline when small, else in a worker thread (one per core)."""
        if not big:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.cpu)

    async def infer(
        self,
        name: str,
        served: Served,
        op: BatchOp,
        x: np.ndarray,
        waited_s: float = 0.0,
        label: str | None = None,
        deadline: float | None = None,
        alone: bool = False,
    ) -> tuple[BatchResult, Served]:
        """Submit a checked batch to the model's batcher and await its rows.

        A batcher closed by a hot swap between lookup and submit is replaced by the new
        version's (the batch is checked again against it).

        Args:
            waited_s: seconds the request waited before its route ran (on the event loop);
                counts towards ``max_queue_time_ms`` with its time in the model's queue.
            label: the ``operation`` label of a refusal in the metrics (default: ``op``'s).
            deadline: ``time.perf_counter()`` after which the caller no longer waits (a gRPC
                deadline); the batcher does not run the request once it has passed.
            alone: no other request is in flight in this server: the batcher may run this
                one at once on the calling (event loop) thread when it is idle and the run
                is cheap (``Batcher.submit(inline=True)``), saving two thread hand-offs.

        Raises:
            OverloadedError: the model's queue is full (reason ``queue_full``) or the request
                waited ``max_queue_time_ms`` or longer (``queue_timeout``) (429).
            DeadlineExceededError: ``deadline`` passed before the run began (not run; 504).
            whatever the run raised.
        """

        def submit(entry: Served, retry: bool) -> Future[BatchResult]:
            rows = entry.model.check_inputs(x) if retry else x
            return entry.batcher.submit(op, rows, waited_s, deadline, inline=alone)

        return await self._submit(name, served, submit, label or op)

    async def run_task(
        self,
        name: str,
        served: Served,
        fn: Callable[[OnnxModel], np.ndarray],
        samples: int,
        waited_s: float = 0.0,
        deadline: float | None = None,
    ) -> tuple[BatchResult, Served]:
        """Like :meth:`infer` for a call that runs alone in the batcher (interpolate, a
        whole-image denoise)."""

        def submit(entry: Served, retry: bool) -> Future[BatchResult]:
            return entry.batcher.submit_task(lambda: fn(entry.model), samples, waited_s, deadline)

        return await self._submit(name, served, submit, "interpolate")

    async def _submit(
        self,
        name: str,
        served: Served,
        submit: Callable[[Served, bool], Future[BatchResult]],
        op: str,
    ) -> tuple[BatchResult, Served]:
        for attempt in range(_RETRIES):
            try:
                future = submit(served, attempt > 0)
            except BatcherClosedError:
                served = self.served(name, None)
                continue
            except QueueFullError as e:
                self.metrics.rejections.labels("queue_full").inc()
                raise s.OverloadedError(str(e), "queue_full", e.retry_after_s) from None
            except QueueTimeoutError as e:
                raise self._late(name, op, e) from None
            except DeadlineExceededError:
                self.metrics.rejections.labels("deadline").inc()
                raise
            try:
                if future.done():  # run inline: no hop through the event loop's self-pipe
                    return future.result(), served
                return await awaitable(future), served  # one loop wake-up per batch
            except QueueTimeoutError as e:
                raise self._late(name, op, e) from None
            except DeadlineExceededError:
                self.metrics.rejections.labels("deadline").inc()
                raise
        raise s.NotReadyError(f"model {name!r} is being swapped; retry")

    def check_wait(self, name: str, served: Served, op: str, waited_s: float) -> None:
        """Refuse (429) a request that already waited ``max_queue_time_ms`` before its route
        ran, before its body is read.

        Raises:
            OverloadedError: reason ``queue_timeout``.
        """
        try:
            served.batcher.check_wait(waited_s)
        except QueueTimeoutError as e:
            raise self._late(name, op, e) from None

    def _late(self, name: str, op: str, e: QueueTimeoutError) -> s.OverloadedError:
        """Count a queue-time refusal and turn it into the 429 the routes answer."""
        self.metrics.rejections.labels("queue_timeout").inc()
        self.metrics.queue_timeouts.labels(name, OP_LABEL.get(op, op)).inc()
        return s.OverloadedError(str(e), "queue_timeout", e.retry_after_s)


def model_card(m: OnnxModel) -> dict[str, Any]:
    """A model's listing fields plus training metrics and README (``GET /v1/models/{name}``)."""
    info = s.ModelInfo(
        name=m.name,
        version=m.version,
        family=m.config.family,
        operations=m.operations,
        input=m.config.input,
        n_components=m.config.n_components,
        class_names=m.config.class_names,
    ).model_dump(mode="json")
    spec = m.config.denoiser
    info["denoiser"] = spec.model_dump(mode="json") if spec is not None else None
    training = m.path / TRAINING
    metrics = json.loads(training.read_text()).get("metrics") if training.is_file() else None
    card = (m.path / CARD).read_text() if (m.path / CARD).is_file() else ""
    return {**info, "metrics": metrics, "card": card}


def timing_headers(result: BatchResult, served: Served) -> dict[str, str]:
    """Per-answer timing (TEI's idea): queue and compute time in ms, the formed batch."""
    return {
        "x-queue-time-ms": f"{result.queue_s * 1e3:.3f}",
        "x-compute-time-ms": f"{result.compute_s * 1e3:.3f}",
        "x-batch-size": str(result.batch_size),
        "x-model-version": served.version,
    }
