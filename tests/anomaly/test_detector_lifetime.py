"""aezoo.anomaly.Detector's temporary files: removed by close, a with-block and garbage
collection; a fitted Detector survives pickling (the artifact travels as bytes)."""

from __future__ import annotations

import gc
import pickle
from pathlib import Path

import numpy as np
import pytest

from aezoo.anomaly import Detector, DetectorClosedError

TINY = ("pretrain_epochs=1", "finetune_epochs=1")  # the files matter here, not the fit


def _rows(n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2)) @ rng.standard_normal((2, 5))).astype(np.float32)


def _fitted(X: np.ndarray) -> Detector:
    return Detector(random_state=0, overrides=TINY).fit(X)


def test_close_removes_the_temp_dir_and_later_use_raises() -> None:
    X = _rows()
    det = _fitted(X)
    run_dir = det.artifact_.parent
    assert (
        run_dir.name.startswith("aezoo-detector-") and (det.artifact_ / "manifest.json").is_file()
    )
    assert [p.name for p in run_dir.iterdir()] == ["artifact"]  # checkpoints already gone
    det.close()
    assert not run_dir.exists()
    det.close()  # idempotent
    with pytest.raises(DetectorClosedError, match="closed"):
        det.decision_function(X)
    with pytest.raises(DetectorClosedError):
        det.predict(X)
    assert det.decision_scores_.shape == (len(X),)  # learned arrays stay


def test_with_block_and_garbage_collection_remove_the_temp_dir() -> None:
    X = _rows()
    with Detector(random_state=0, overrides=TINY) as det:
        det.fit(X)
        in_block = det.artifact_.parent
        assert in_block.is_dir()
    assert not in_block.exists()

    det = _fitted(X)
    collected = det.artifact_.parent
    del det
    gc.collect()
    assert not collected.exists()


def test_refit_replaces_the_previous_temp_dir() -> None:
    X = _rows()
    det = _fitted(X)
    first = det.artifact_.parent
    det.fit(X)
    assert not first.exists() and det.artifact_.parent.is_dir()
    det.close()


def test_pickle_round_trip_scores_identically_in_its_own_dir() -> None:
    X, fresh = _rows(), _rows(30, seed=1)
    det = _fitted(X)
    copy = pickle.loads(pickle.dumps(det))
    assert copy.artifact_ != det.artifact_ and copy.artifact_.is_dir()
    np.testing.assert_allclose(copy.decision_function(fresh), det.decision_function(fresh),
                               rtol=1e-6, atol=1e-7)  # fmt: skip
    np.testing.assert_array_equal(copy.predict(fresh), det.predict(fresh))
    assert copy.threshold_ == det.threshold_ and copy.get_params() == det.get_params()
    copy_dir = copy.artifact_.parent
    det.close()  # the copy owns its own files
    np.testing.assert_array_equal(copy.decision_scores_, det.decision_scores_)
    assert copy.decision_function(fresh).shape == (30,)
    del copy
    gc.collect()
    assert not copy_dir.exists()


def test_unfitted_and_closed_detectors_pickle_without_files() -> None:
    blank = pickle.loads(pickle.dumps(Detector(scaling="standard")))
    assert blank.scaling == "standard" and not hasattr(blank, "artifact_")
    det = _fitted(_rows())
    det.close()
    closed = pickle.loads(pickle.dumps(det))
    with pytest.raises(DetectorClosedError):
        closed.decision_function(_rows(5))
    assert not any(Path(p).name == "artifact" for p in vars(closed).values() if isinstance(p, Path))
