"""The dynamic batcher: merged runs give each caller exactly its own rows, the queue is
bounded in samples and in time, announced requests are waited for, and checked inputs skip
a second check."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aezoo.runtime.batcher import (
    Batcher,
    BatcherClosedError,
    BatchSettings,
    DeadlineExceededError,
    QueueFullError,
    QueueTimeoutError,
)
from aezoo.runtime.model import OnnxModel
from tests.tolerance import sda_atol


@pytest.fixture(scope="module")
def model(tiny_artifact: Path) -> OnnxModel:
    return OnnxModel(tiny_artifact, intra_op_threads=1)


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).random((40, 784), dtype=np.float32)


def test_merged_requests_get_their_own_rows(model: OnnxModel, x: np.ndarray) -> None:
    sizes: list[int] = []
    lock = threading.Lock()
    with Batcher(model, BatchSettings(max_batch_size=16), lock, lambda *a: sizes.append(a[1])) as b:
        with lock:  # hold the run: every request queues, so batches must be merged
            futures = [b.submit("encode", x[i : i + 2]) for i in range(0, 40, 2)]
            probas = b.submit("predict_proba", x[:3])
        results = [f.result(timeout=30) for f in futures]
        proba = probas.result(timeout=30).output
    got = np.concatenate([r.output for r in results])
    # merged batches of 16 against one batch of 40: onnxruntime may block the sums otherwise
    np.testing.assert_allclose(got, model.encode(x), rtol=0, atol=sda_atol("tiny", "encode"))
    atol = sda_atol("tiny", "predict_proba")
    np.testing.assert_allclose(proba, model.predict_proba(x[:3]), rtol=0, atol=atol)
    assert max(sizes) == 16  # 8 requests of 2 merged, never above max_batch_size
    assert sum(sizes) == 43 and all(r.batch_size <= 16 for r in results)
    assert all(r.queue_s >= 0 and r.compute_s > 0 for r in results)


def test_blocking_run_accepts_any_input_form(model: OnnxModel, x: np.ndarray) -> None:
    with Batcher(model) as b:
        # one sample through the same session at batch 1, one thread: the same computation
        np.testing.assert_array_equal(b.run("denoise", x[0].reshape(28, 28)), model.denoise(x[:1]))
        with pytest.raises(Exception, match="784"):
            b.run("encode", x[:, :10])


def test_queue_is_bounded_in_samples(model: OnnxModel, x: np.ndarray) -> None:
    lock = threading.Lock()
    with Batcher(model, BatchSettings(max_batch_size=8, max_queue=10), lock) as b:
        with lock:
            first = b.submit("encode", x[:8])  # taken by the worker, which waits on the lock
            while b.queued_samples:
                threading.Event().wait(0.001)
            queued = b.submit("encode", x[:8])
            with pytest.raises(QueueFullError, match="max_queue=10"):
                b.submit("encode", x[:3])
            b.submit("encode", x[:2])  # fits: 8 + 2 = 10
        assert first.result(timeout=30).output.shape == (8, 16)
        assert queued.result(timeout=30).output.shape == (8, 16)


def test_requests_past_the_queue_time_deadline_are_refused_not_run(
    model: OnnxModel, x: np.ndarray
) -> None:
    """The deadline counts time in the queue plus the wait the caller reports; a request
    past it fails with QueueTimeoutError and is never part of a run."""
    sizes: list[int] = []
    lock = threading.Lock()
    settings = BatchSettings(max_queue_time_ms=2000)
    with Batcher(model, settings, lock, lambda *a: sizes.append(a[1])) as b:
        with pytest.raises(QueueTimeoutError, match="max_queue_time_ms=2000"):
            b.submit("encode", x[:1], waited_s=2.5)  # late already: refused at submit
        with lock:
            first = b.submit("encode", x[:1])  # taken by the worker, which waits on the lock
            while b.queued_samples:
                time.sleep(0.001)
            submitted = time.perf_counter()
            late = b.submit("encode", x[1:3], waited_s=1.9)  # 0.1 s left: it will expire queued
            task = b.submit_task(lambda: x[:4], samples=4, waited_s=1.9)
            while time.perf_counter() - submitted <= 0.1:  # until both are past the deadline
                time.sleep(0.01)
            on_time = b.submit("encode", x[3:6])  # 2 s left
        with pytest.raises(QueueTimeoutError, match=r"waited \d+ ms") as refused:
            late.result(timeout=30)
        assert refused.value.retry_after_s >= 1 and refused.value.waited_s >= 2.0
        with pytest.raises(QueueTimeoutError):
            task.result(timeout=30)
        assert first.result(timeout=30).output.shape == (1, 16)
        assert on_time.result(timeout=30).output.shape == (3, 16)
        assert b.queued_samples == 0
    assert sizes == [1, 3]  # the late request and task never ran


def test_a_request_whose_deadline_passes_in_the_queue_is_left_out_of_its_run(
    model: OnnxModel, x: np.ndarray
) -> None:
    sizes: list[int] = []
    lock = threading.Lock()
    with Batcher(model, BatchSettings(max_batch_size=64), lock, lambda *a: sizes.append(a[1])) as b:
        with lock:  # the run is held: both wait in the queue (then for the lock)
            late = b.submit("encode", x[:3], deadline=time.perf_counter() + 0.05)
            on_time = b.submit("encode", x[3:5], deadline=time.perf_counter() + 60)
            time.sleep(0.2)  # the first deadline passes while it waits
        with pytest.raises(DeadlineExceededError, match="not run") as e:
            late.result(10)
        assert e.value.late_s > 0
        np.testing.assert_allclose(
            on_time.result(10).output, model.encode(x[3:5]), rtol=0, atol=sda_atol("tiny", "encode")
        )
        with pytest.raises(DeadlineExceededError):  # already past: refused at submit
            b.submit("encode", x[:1], deadline=time.perf_counter() - 0.01)
    assert sizes == [2]  # the run held only the request still on time


def test_no_queue_time_deadline_by_default(model: OnnxModel, x: np.ndarray) -> None:
    with Batcher(model) as b:
        assert b.submit("encode", x[:1], waited_s=3600.0).result(timeout=30).batch_size == 1


def test_the_batching_wait_ends_at_the_oldest_deadline(model: OnnxModel, x: np.ndarray) -> None:
    """An announced request that never comes does not hold a queued one past its deadline
    (the batching wait alone would be 30 s)."""
    settings = BatchSettings(max_queue_delay_ms=30_000, max_queue_time_ms=200)
    with Batcher(model, settings) as b, b.expect(), b.expect():
        waiting = b.submit("encode", x[:1])
        with pytest.raises(QueueTimeoutError):
            waiting.result(timeout=20)  # a bound so a broken deadline fails, not a speed check


def test_announced_requests_are_waited_for(model: OnnxModel, x: np.ndarray) -> None:
    sizes: list[int] = []
    settings = BatchSettings(max_queue_delay_ms=30_000)
    with Batcher(model, settings, observer=lambda *a: sizes.append(a[1])) as b:
        with b.expect(), b.expect():
            one = b.submit("encode", x[:1])  # the other announced request is still coming
            assert not one.done()
            two = b.submit("encode", x[1:3])
            one.result(timeout=30), two.result(timeout=30)
        lone = b.submit("encode", x[:1]).result(timeout=30)  # nobody announced: no wait
    assert sizes == [3, 1] and lone.batch_size == 1


def test_closed_batcher_refuses_but_finishes_its_queue(model: OnnxModel, x: np.ndarray) -> None:
    lock = threading.Lock()
    b = Batcher(model, run_lock=lock)
    with lock:
        pending = [b.submit("encode", x[i : i + 1]) for i in range(5)]
        closer = threading.Thread(target=b.close)
        closer.start()
        while not b._closed:
            threading.Event().wait(0.001)
        with pytest.raises(BatcherClosedError):
            b.submit("encode", x[:1])
    closer.join(30)
    assert all(f.result(timeout=1).output.shape == (1, 16) for f in pending)


def test_a_task_runs_alone_and_errors_reach_the_caller(model: OnnxModel, x: np.ndarray) -> None:
    with Batcher(model) as b:
        rows = b.submit_task(lambda: model.interpolate(x[0], x[1], steps=5), samples=5)
        assert rows.result(timeout=30).output.shape == (5, 784)
        with pytest.raises(ValueError, match="op must be one of"):
            b.submit("classify", x[:1])  # type: ignore[arg-type]
        boom = b.submit_task(lambda: model.interpolate(x[0], x[1], steps=1))
        with pytest.raises(Exception, match="steps must be an integer"):
            boom.result(timeout=30)


def test_settings_are_validated() -> None:
    for bad in (
        {"max_batch_size": 0},
        {"max_queue_delay_ms": -1},
        {"max_queue": 0},
        {"max_queue_time_ms": -1},
        {"x": 1},
    ):
        with pytest.raises(ValueError):
            BatchSettings(**bad)


def test_checked_float32_batches_are_not_copied(model: OnnxModel, x: np.ndarray) -> None:
    assert model.check_inputs(x) is x  # the fast path: no conversion, no copy
    bad = x.copy()
    bad[3, 7] = np.nan
    with pytest.raises(Exception, match="sample 3, feature 7"):
        model.check_inputs(bad)
    bad[3, 7] = 1.5
    with pytest.raises(Exception, match=r"max 1\.5"):
        model.check_inputs(bad)


class _ThreadOf:
    """An OnnxModel stand-in that records the thread of each compute call."""

    def __init__(self, model: OnnxModel) -> None:
        self.model, self.name, self.threads = model, model.name, []

    def compute(self, op: str, x: np.ndarray) -> np.ndarray:
        self.threads.append(threading.get_ident())
        return self.model.compute(op, x)  # type: ignore[arg-type]


def test_a_lone_request_runs_inline_only_when_the_batcher_is_idle(
    model: OnnxModel, x: np.ndarray
) -> None:
    seen: list[tuple[str, int]] = []
    spy = _ThreadOf(model)
    lock = threading.Lock()
    here = threading.get_ident()
    with Batcher(spy, BatchSettings(), lock, lambda op, n, w, c: seen.append((op, n))) as b:  # type: ignore[arg-type]
        # no small run timed yet: queued, run by the worker (which times it)
        assert b.submit("encode", x[:1], inline=True).result(timeout=30)
        assert spy.threads[-1] != here
        with b.expect():  # the caller's own announcement does not count against it
            f = b.submit("encode", x[:1], inline=True)
        assert f.done() and spy.threads[-1] == here  # run here, before submit returned
        want = model.encode(x[:1])
        np.testing.assert_allclose(f.result().output, want, rtol=0, atol=sda_atol("tiny", "encode"))
        assert f.result().batch_size == 1 and 0 <= f.result().queue_s < 1.0
        assert seen[-1] == ("encode", 1)  # the metrics hook saw the inline run
        # without inline=True, too many rows, another request announced, or the run lock
        # busy: queued as always
        assert b.submit("encode", x[:1]).result(timeout=30) and spy.threads[-1] != here
        assert b.submit("encode", x[:17], inline=True).result(timeout=30)
        assert spy.threads[-1] != here
        with b.expect(), b.expect():
            assert b.submit("encode", x[:1], inline=True).result(timeout=30)
        assert spy.threads[-1] != here
        with lock:
            f = b.submit("encode", x[:1], inline=True)
            assert not f.done()
        assert f.result(timeout=30) and spy.threads[-1] != here
        # the limits hold inline as queued: queue time and deadline are checked first
        late = BatchSettings(max_queue_time_ms=10)
    with Batcher(spy, late, lock) as b:  # type: ignore[arg-type]
        b.submit("encode", x[:1]).result(timeout=30)
        with pytest.raises(QueueTimeoutError):
            b.submit("encode", x[:1], waited_s=0.05, inline=True)
        with pytest.raises(DeadlineExceededError):
            b.submit("encode", x[:1], deadline=time.perf_counter() - 1, inline=True)
        f = b.submit("encode", x[:1], inline=True)
        assert f.done() and spy.threads[-1] == here
