"""Prometheus metrics of one app, in a registry of its own (several apps per process never
clash). Names follow Prometheus conventions (``_total`` counters, ``_seconds`` units).

- ``aezoo_requests_total{model,operation,status,protocol}``: every inference request by
  outcome (the HTTP status; a gRPC call counts under the HTTP-equivalent status, refusals
  included: 400 ``INVALID_ARGUMENT``, 401 ``UNAUTHENTICATED``, 404 ``NOT_FOUND``, 429
  ``RESOURCE_EXHAUSTED``, 499 cancelled by the client, 503 ``UNAVAILABLE``, 504
  ``DEADLINE_EXCEEDED``) and ``protocol`` (``http``, ``grpc``);
  ``aezoo_request_duration_seconds{model,operation,protocol}``
- ``aezoo_queue_depth_samples{model}``: samples waiting in the model's batcher (at scrape)
- ``aezoo_batch_size{model,operation}``: samples per formed (merged) batch
- ``aezoo_request_samples{model,operation,protocol}``: samples per answered request
- ``aezoo_queue_seconds`` / ``aezoo_compute_seconds{model,operation}``: time a request
  waited in the queue; time each merged run took
- ``aezoo_rejections_total{reason}``: 429s by bound hit (``queue_full``, ``queue_timeout``,
  ``body_budget``, ``connections``), 413s (``too_large``), 401s (``unauthorized``), requests
  whose gRPC deadline passed before they ran (``deadline``); both protocols. A gRPC message
  above ``max_body_bytes`` is refused by grpc itself before aezoo sees it: not counted
- ``aezoo_queue_timeouts_total{model,operation}``: requests refused (429, never run) because
  they waited ``max_queue_time_ms`` (on the event loop before their route ran, then in the
  model's queue)
- ``aezoo_model_loads_total{model,outcome}``, ``aezoo_model_swaps_total{model}``,
  ``aezoo_model_info{model,version}`` (1 for the version serving)
- ``aezoo_anomaly_score{model}``: anomaly scores answered (``score``; decade buckets, since a
  score's unit is the model's), ``aezoo_scored_samples_total{model}`` and
  ``aezoo_outliers_total{model}`` (calibrated models): the outlier rate is
  ``rate(aezoo_outliers_total[5m]) / rate(aezoo_scored_samples_total[5m])``, which drifts
  up from the calibrated false-positive rate when the inputs drift. v1 ``/score`` and OIP
  requests for ``scores`` or ``is_outlier`` (REST and gRPC) feed the same families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from aezoo.runtime.batcher import BatchObserver
from aezoo.runtime.calibration import Calibration
from aezoo.runtime.pool import ModelPool

OP_LABEL = {"predict_proba": "classify", "task": "interpolate"}
"""Batcher op -> the ``operation`` label (the route's name)."""
_SCORES = tuple(10.0**k for k in range(-6, 7))  # 1e-6 .. 1e6, decades
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_SECONDS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
)


class _PoolCollector(Collector):
    def __init__(self, pool: Callable[[], ModelPool | None]) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "aezoo_queue_depth_samples",
            "Samples waiting in each model's batcher.",
            labels=["model"],
        )
        info = GaugeMetricFamily(
            "aezoo_model_info", "1 for the version each model serves.", labels=["model", "version"]
        )
        pool = self._pool()
        for served in pool.all() if pool else []:
            depth.add_metric([served.name], served.batcher.queued_samples)
            info.add_metric([served.name, served.version], 1)
        yield depth
        yield info


class Metrics:
    """The app's metrics; ``registry`` is what ``/metrics`` exposes."""

    def __init__(self, max_batch_size: int, pool: Callable[[], ModelPool | None]) -> None:
        r = self.registry = CollectorRegistry()
        labels = ["model", "operation"]
        sizes = [b for b in _SIZES if b < max_batch_size] + [max_batch_size]
        self.requests = Counter(
            "aezoo_requests",
            "Inference requests by outcome and protocol (http, grpc).",
            [*labels, "status", "protocol"],
            registry=r,
        )
        self.latency = Histogram(
            "aezoo_request_duration_seconds",
            "Inference request latency, headers to answer, by protocol (http, grpc).",
            [*labels, "protocol"],
            buckets=_SECONDS,
            registry=r,
        )
        self.request_samples = Histogram(
            "aezoo_request_samples",
            "Samples per answered request, by protocol (http, grpc).",
            [*labels, "protocol"],
            buckets=sizes,
            registry=r,
        )
        self.batch = Histogram(
            "aezoo_batch_size",
            "Samples per formed (merged) batch.",
            labels,
            buckets=sizes,
            registry=r,
        )
        self.queue_time = Histogram(
            "aezoo_queue_seconds", "Time a request waited in its model's queue.", labels,
            buckets=_SECONDS, registry=r,
        )  # fmt: skip
        self.compute_time = Histogram(
            "aezoo_compute_seconds",
            "Time each merged run took.",
            labels,
            buckets=_SECONDS,
            registry=r,
        )
        self.rejections = Counter(
            "aezoo_rejections", "Requests refused by the limits, by reason.", ["reason"], registry=r
        )
        self.queue_timeouts = Counter(
            "aezoo_queue_timeouts",
            "Requests refused (429, not run) after waiting max_queue_time_ms.",
            labels,
            registry=r,
        )
        self.loads = Counter(
            "aezoo_model_loads",
            "Model versions loaded, by outcome.",
            ["model", "outcome"],
            registry=r,
        )
        self.swaps = Counter(
            "aezoo_model_swaps", "Hot swaps to a new version.", ["model"], registry=r
        )
        self.scores = Histogram(
            "aezoo_anomaly_score", "Anomaly scores answered (model units).", ["model"],
            buckets=_SCORES, registry=r,
        )  # fmt: skip
        self.scored = Counter(
            "aezoo_scored_samples", "Samples scored by a calibrated model.", ["model"], registry=r
        )
        self.outliers = Counter(
            "aezoo_outliers", "Samples above the calibrated threshold.", ["model"], registry=r
        )
        r.register(_PoolCollector(pool))
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: prometheus_client's ``labels`` takes a
        lock and builds its key on every call, a few microseconds per metric and request.
        The label values are bounded (served model names or ``_unknown``, operations,
        statuses, protocols), and so is this cache."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def count_refusal(self, status: int, exc: BaseException) -> None:
        """Count a request refused with ``status`` in ``aezoo_rejections_total`` when a limit
        refused it: 413 ``too_large``, 429 ``body_budget`` (the queue's 429s, deadlines and
        401s are counted where they are met: the engine, the API key checks)."""
        if status == 413:
            self.rejections.labels("too_large").inc()
        elif status == 429 and getattr(exc, "reason", "") == "body_budget":
            self.rejections.labels("body_budget").inc()

    def observe_scores(self, model: str, scores: Any, calibration: Calibration | None) -> None:
        """Record a request's scores ``(B,)`` and, when ``calibration`` is given, its outliers
        (``calibration.is_outlier``). Every transport that answers scores calls this: v1
        ``/score``, OIP ``scores``/``is_outlier`` over REST and gRPC."""
        hist = self.scores.labels(model)
        for v in scores.tolist():
            hist.observe(v)
        if calibration is not None:
            is_outlier = calibration.is_outlier(scores)
            self.scored.labels(model).inc(len(is_outlier))
            self.outliers.labels(model).inc(int(is_outlier.sum()))

    def observer(self, model: str) -> BatchObserver:
        """The batcher hook of ``model``: formed batch size, queue and compute times."""

        def observe(op: str, size: int, waits: list[float], compute: float) -> None:
            op = OP_LABEL.get(op, op)
            self.child(self.batch, model, op).observe(size)
            self.child(self.compute_time, model, op).observe(compute)
            queue = self.child(self.queue_time, model, op)
            for w in waits:
                queue.observe(w)

        return observe

    def on_pool_event(
        self, kind: str, model: str, version: str, outcome: str, message: str
    ) -> None:
        if kind == "load":
            self.loads.labels(model, outcome).inc()
        elif kind == "swap":
            self.swaps.labels(model).inc()
