"""benchmarks/anomaly_adbench.py's protocol helpers on tiny synthetic labels (no pyod, no
training): seeded splits, normal-only fit rows, AUCROC against the evaluated rows' labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

import anomaly_adbench as bench


def _labels(n_normal: int = 50, n_anomalies: int = 10, seed: int = 0) -> np.ndarray:
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    return np.random.default_rng(seed).permutation(y)


def test_novelty_split_is_seeded_and_fits_on_normals_only() -> None:
    y = _labels()
    fit, ev = bench.protocol_split(y, "novelty", seed=3)
    fit2, ev2 = bench.protocol_split(y, "novelty", seed=3)
    np.testing.assert_array_equal(fit, fit2)
    np.testing.assert_array_equal(ev, ev2)
    assert not np.array_equal(fit, bench.protocol_split(y, "novelty", seed=4)[0])
    assert (y[fit] == 0).all() and len(fit) == 30  # 60% of the 50 normal rows
    # disjoint, together every row: the other 20 normals and all 10 anomalies are evaluated
    assert len(np.intersect1d(fit, ev)) == 0 and len(fit) + len(ev) == len(y)
    assert (y[ev] == 0).sum() == 20 and (y[ev] == 1).sum() == 10


def test_unsupervised_split_is_every_row_twice() -> None:
    y = _labels()
    fit, ev = bench.protocol_split(y, "unsupervised", seed=0)
    np.testing.assert_array_equal(fit, np.arange(len(y)))
    np.testing.assert_array_equal(ev, np.arange(len(y)))


def test_split_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        bench.protocol_split(_labels(), "semi", seed=0)
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        bench.protocol_split(np.array([0, 2, 1]), "novelty", seed=0)
    with pytest.raises(ValueError, match="an anomaly"):
        bench.protocol_split(np.zeros(10, dtype=np.int64), "novelty", seed=0)


def test_aucroc_values_and_errors() -> None:
    y = np.array([0, 0, 1, 1])
    assert bench.aucroc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert bench.aucroc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    # one of the four normal/anomaly pairs inverted; a tie counts one half
    assert bench.aucroc(np.array([0.1, 0.5, 0.4, 0.9]), y) == pytest.approx(0.75)
    assert bench.aucroc(np.array([0.5, 0.5, 0.5, 0.5]), y) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both normal"):
        bench.aucroc(np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(ValueError, match="3 scores for 4 labels"):
        bench.aucroc(np.array([0.1, 0.2, 0.3]), y)


class _Oracle:
    """Fit records its rows; scores are column 0 (the planted label in these tests)."""

    def fit(self, X: np.ndarray) -> _Oracle:
        self.fitted = X.copy()
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X[:, 0]


@pytest.mark.parametrize("protocol", bench.PROTOCOLS)
def test_evaluate_protocol_scores_the_evaluated_rows_against_their_labels(
    protocol: str,
) -> None:
    y = _labels()
    X = np.c_[y.astype(np.float32), np.arange(len(y), dtype=np.float32)]
    made: list[_Oracle] = []

    def make() -> _Oracle:
        made.append(_Oracle())
        return made[-1]

    r = bench.evaluate_protocol(make, X, y, protocol, seed=1)
    # scores equal to the labels of the rows scored: perfect only if the labels line up
    assert r["auc"] == 1.0 and r["fit_s"] >= 0.0
    fit_rows = made[0].fitted[:, 1].astype(int)
    if protocol == "novelty":
        assert (y[fit_rows] == 0).all() and len(fit_rows) == 30
    else:
        np.testing.assert_array_equal(fit_rows, np.arange(len(y)))
    # a detector scoring the reverse of the labels reads 0: the AUCROC is not symmetric
    flip = type("Flip", (_Oracle,), {"decision_function": lambda self, X: -X[:, 0]})
    assert bench.evaluate_protocol(flip, X, y, protocol, seed=1)["auc"] == 0.0


def test_summary_and_novelty_check() -> None:
    def rows(a: float) -> list[dict[str, float]]:
        return [{"seed": s, "auc": a + 0.01 * s, "fit_s": 1.0} for s in range(3)]

    methods = {"sda": 0.80, "pyod AutoEncoder": 0.78, "pyod IForest": 0.82}
    results = {
        f"d{i}": {
            p: {m: rows(a + (i / 100 if m == "sda" else 0)) for m, a in methods.items()}
            for p in bench.PROTOCOLS
        }
        for i in range(3)
    }
    summary = bench.summarise(results, ["sda", "pyod AutoEncoder", "pyod IForest"])
    # per-dataset medians 0.81, 0.82, 0.83 -> median 0.82
    assert summary["novelty"]["sda"] == pytest.approx(0.82)
    check = bench.novelty_check(summary["novelty"])
    assert check is not None and check["best_family"] == "sda"
    assert check[">= AutoEncoder"] and check["within 0.02 of IForest"]
    assert bench.novelty_check({"sda": 0.8}) is None  # without PyOD rows: no verdict


def test_no_pyod_rows_without_pyod(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path) -> None:
    (tmp_path / "1_toy.npz").touch()  # run_tabular is stubbed: the file is listed, never read
    monkeypatch.setattr(bench, "pyod_available", lambda: False)
    monkeypatch.setattr(bench, "limit_threads", lambda n: None)
    monkeypatch.setattr(bench, "run_tabular", lambda paths, methods, seeds, out, protocols: {})
    monkeypatch.setattr(bench, "print_tabular", lambda results, methods: print(methods))
    argv = ["--methods", "sda", "pyod ECOD", "--seeds", "1", "--data-dir", str(tmp_path)]
    assert bench.main(argv) == 0
    captured = capsys.readouterr()
    assert "pyod is not installed" in captured.err
    assert "['sda']" in captured.out


def test_saved_runs_merge_per_dataset_and_method(tmp_path) -> None:
    row = [{"seed": 0, "auc": 0.9, "fit_s": 1.0}]
    a = {"tabular": {"d": {"novelty": {"sda": row, "pyod IForest": row}}}}
    b = {"tabular": {"d": {"novelty": {"lista": row}}}, "mnist": {"family": "sda", "digits": []}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    merged, methods, mnist = bench.merge_saved([tmp_path / "a.json", tmp_path / "b.json"])
    assert set(merged["d"]["novelty"]) == {"sda", "pyod IForest", "lista"}
    assert methods == ["sda", "pyod IForest", "lista"] and mnist["family"] == "sda"


def test_set_overrides_reach_every_aezoo_detector(tmp_path) -> None:
    """`--set KEY=VALUE` (repeatable) screens a recipe default: each aezoo Detector the
    benchmark builds carries the overrides, after its family's TABULAR_DEFAULTS."""
    argv = ["--no-tabular", "--data-dir", str(tmp_path), "--set", "corruption.level=0.1",
            "--set", "pretrain_epochs=3"]  # fmt: skip
    assert bench.main(argv) == 0
    det = bench.method_factory("sda", seed=2)()
    assert det.overrides == ("corruption.level=0.1", "pretrain_epochs=3")
    assert det.random_state == 2
    assert bench.main(["--no-tabular", "--data-dir", str(tmp_path)]) == 0  # and they reset
    assert bench.method_factory("sda", seed=0)().overrides == ()
