"""Anomaly detection on ADBench's tabular datasets: aezoo's families against PyOD (issue 23).

Every ``.npz`` in ``../shared/data/adbench`` (ADBench, Han et al., NeurIPS 2022; the folder's
README gives the format: ``X`` float64 ``(n, d)``, ``y`` 1 = anomaly, 0 = normal), two
protocols, ``--seeds`` seeds (default 3), the median AUCROC over the seeds:

* ``unsupervised`` (ADBench's): fit on all of ``X`` without labels, AUCROC of the scores of
  all of ``X`` against ``y``;
* ``novelty``: fit on a seeded 60% of the normal rows only, AUCROC on the other 40% of the
  normal rows and every anomaly.

Rows: each aezoo family through :class:`aezoo.anomaly.Detector` with its default settings
(the recipe :mod:`aezoo.training.sizing` scales to the data; nothing set per dataset;
``--scaling`` replaces every family's per-feature scaling, to compare scalings), and
PyOD's ``AutoEncoder``, ``IForest`` and ``ECOD`` with their defaults (``random_state`` = the
seed where they take one). Fit seconds (wall clock of ``fit``: for aezoo the whole own-data
training, evaluation and ONNX export) stand beside each AUCROC; they are relative numbers
on a shared machine, not a speed benchmark. The summary gives per method the median over the
datasets of the per-dataset medians, per protocol, and the issue's check: aezoo's best
family >= PyOD's AutoEncoder and within 0.02 of IForest in the novelty protocol.

``--mnist``: MNIST one-class, per digit: the default family trained on that digit's training
images (aezoo's ``train`` split), AUROC on the whole test set with that digit normal and the
other nine anomalies; the reference row is One-Class Deep SVDD's published AUROC (Ruff et
al., "Deep One-Class Classification", ICML 2018, Table 1).

PyOD is a benchmark-only peer, never an aezoo dependency: ``pip install pyod`` (tested with
pyod 3.6.7). Without it the PyOD rows are skipped and the script says so.

    python benchmarks/anomaly_adbench.py                       # all datasets, 3 seeds
    python benchmarks/anomaly_adbench.py --datasets 42_WBC 29_Pima --seeds 1 --methods sda
    python benchmarks/anomaly_adbench.py --mnist --out results.json
    python benchmarks/anomaly_adbench.py --protocols novelty --seeds 1 --methods sda \
        --scaling standard                                     # the scaling before the floor
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bench_io import print_markdown

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO.parent / "shared" / "data" / "adbench"
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
PROTOCOLS = ("unsupervised", "novelty")
NOVELTY_FIT_FRACTION = 0.6
FAMILIES = ("sda", "lista", "drsae")  # what aezoo.anomaly.Detector trains on a table
PYOD = ("pyod AutoEncoder", "pyod IForest", "pyod ECOD")
# One-Class Deep SVDD on MNIST, AUROC (%) per normal digit 0..9 (Ruff et al. 2018, Table 1)
DEEP_SVDD_MNIST = (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5)
NOVELTY_MARGIN = 0.02  # the "within 0.02 of IForest"


def protocol_split(
    y: np.ndarray, protocol: str, seed: int, fit_fraction: float = NOVELTY_FIT_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(fit, evaluate)`` of a protocol (module docstring), int64, sorted.

    ``unsupervised``: both are every row. ``novelty``: a seeded ``fit_fraction`` of the
    normal rows (``y == 0``) to fit; the other normal rows and every anomaly to evaluate.

    Raises:
        ValueError: unknown protocol; ``y`` not 0/1; no normal row to fit on, or an
            evaluation set without both classes.
    """
    y = np.asarray(y)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0 (normal) and 1 (anomaly) only")
    every = np.arange(len(y), dtype=np.int64)
    if protocol == "unsupervised":
        return every, every
    if protocol != "novelty":
        raise ValueError(f"unknown protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    normal = every[y == 0]
    n_fit = round(fit_fraction * len(normal))
    if n_fit < 1 or n_fit >= len(normal) or (y == 1).sum() == 0:
        raise ValueError(
            f"novelty split needs normal rows on both sides and an anomaly: {len(normal)} "
            f"normal rows, {int((y == 1).sum())} anomalies, fit fraction {fit_fraction}"
        )
    chosen = np.random.default_rng(seed).permutation(normal)[:n_fit]
    fit = np.sort(chosen)
    evaluate = np.setdiff1d(every, fit)  # sorted: the other normals and every anomaly
    return fit, evaluate


def aucroc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) against ``y`` (1 =
    anomaly), in [0, 1]; ties count one half (scikit-learn's ``roc_auc_score``).

    Raises:
        ValueError: lengths differ, or ``y`` lacks one of the classes.
    """
    from sklearn.metrics import roc_auc_score

    scores, y = np.asarray(scores, dtype=np.float64), np.asarray(y)
    if scores.shape != y.shape:
        raise ValueError(f"{scores.shape[0] if scores.ndim else 0} scores for {len(y)} labels")
    if len(np.unique(y)) != 2:
        raise ValueError("AUCROC needs both normal (0) and anomalous (1) rows")
    return float(roc_auc_score(y, scores))


def evaluate_protocol(
    make: Callable[[], Any], X: np.ndarray, y: np.ndarray, protocol: str, seed: int
) -> dict[str, float]:
    """Fit ``make()`` (``fit(X)`` / ``decision_function(X)``) on the protocol's fit rows and
    score its evaluation rows: ``{"auc": AUCROC, "fit_s": seconds of fit}``."""
    fit_rows, eval_rows = protocol_split(y, protocol, seed)
    detector = make()
    t0 = time.perf_counter()
    detector.fit(X[fit_rows])
    fit_s = time.perf_counter() - t0
    scores = detector.decision_function(X[eval_rows])
    _cleanup(detector)
    return {"auc": aucroc(scores, y[eval_rows]), "fit_s": fit_s}


def _cleanup(detector: Any) -> None:
    """Remove an aezoo Detector's temporary directory (artifact) now, not at collection."""
    close = getattr(detector, "close", None)
    if close is not None:
        close()


def pyod_available() -> bool:
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


# Keyword arguments every aezoo Detector gets (main sets ``scaling`` from --scaling); none:
# the Detector's defaults.
DETECTOR_OPTIONS: dict[str, Any] = {}


def method_factory(method: str, seed: int) -> Callable[[], Any]:
    """A no-argument constructor of ``method`` (an aezoo family or a :data:`PYOD` row); an
    aezoo family's Detector takes :data:`DETECTOR_OPTIONS`."""
    if method in FAMILIES:
        from aezoo.anomaly import Detector

        options = dict(DETECTOR_OPTIONS)
        return lambda: Detector(family=method, random_state=seed, **options)
    if method == "pyod AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder

        return lambda: AutoEncoder(random_state=seed, verbose=0)
    if method == "pyod IForest":
        from pyod.models.iforest import IForest

        return lambda: IForest(random_state=seed)
    if method == "pyod ECOD":
        from pyod.models.ecod import ECOD

        return lambda: ECOD()
    raise ValueError(f"unknown method {method!r}; methods: {', '.join(FAMILIES + PYOD)}")


def load_dataset(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(X float32 (n, d), y int64 (n,))`` of an ADBench ``.npz``."""
    with np.load(path, allow_pickle=False) as f:
        return f["X"].astype(np.float32), f["y"].astype(np.int64)


def run_tabular(
    paths: Iterable[Path],
    methods: list[str],
    seeds: int,
    out: Path | None,
    protocols: Iterable[str] = PROTOCOLS,
) -> dict[str, Any]:
    """``{dataset: {protocol: {method: [{"seed", "auc", "fit_s"}, ...]}}}``; written to
    ``out`` after every dataset when given (a long run keeps what it finished)."""
    results: dict[str, Any] = {}
    for path in paths:
        X, y = load_dataset(path)
        name = path.stem
        results[name] = {}
        for protocol in protocols:
            results[name][protocol] = {}
            for method in methods:
                rows = []
                for seed in range(seeds):
                    r = evaluate_protocol(method_factory(method, seed), X, y, protocol, seed)
                    rows.append({"seed": seed, **r})
                results[name][protocol][method] = rows
                med = np.median([r["auc"] for r in rows])
                print(f"{name:>18} {protocol:>12} {method:>17}: AUCROC {med:.4f} "
                      f"fit {np.median([r['fit_s'] for r in rows]):.1f} s", flush=True)  # fmt: skip
        if out is not None:
            _write(out, {"tabular": results})
    return results


def median_cell(rows: list[dict[str, float]]) -> tuple[float, float]:
    """Median AUCROC and median fit seconds over seeds."""
    return (
        float(np.median([r["auc"] for r in rows])),
        float(np.median([r["fit_s"] for r in rows])),
    )


def summarise(results: dict[str, Any], methods: list[str]) -> dict[str, dict[str, float]]:
    """``{protocol: {method: median over datasets of the per-dataset median AUCROC}}``
    (a method only where every dataset has it)."""
    return {
        protocol: {
            m: float(np.median([median_cell(d[protocol][m])[0] for d in results.values()]))
            for m in methods
            if all(m in d.get(protocol, {}) for d in results.values())
        }
        for protocol in PROTOCOLS
    }


def novelty_check(summary: dict[str, float]) -> dict[str, Any] | None:
    """The issue's target on the novelty medians, or None without the rows it compares."""
    families = {m: v for m, v in summary.items() if m in FAMILIES}
    if not families or "pyod AutoEncoder" not in summary or "pyod IForest" not in summary:
        return None
    best = max(families, key=families.__getitem__)
    ae, iforest = summary["pyod AutoEncoder"], summary["pyod IForest"]
    return {
        "best_family": best,
        "best": families[best],
        "pyod AutoEncoder": ae,
        "pyod IForest": iforest,
        ">= AutoEncoder": families[best] >= ae,
        "within 0.02 of IForest": families[best] >= iforest - NOVELTY_MARGIN,
    }


def print_tabular(results: dict[str, Any], methods: list[str]) -> None:
    for protocol in PROTOCOLS:
        if not any(protocol in d for d in results.values()):
            continue
        print(f"\n### {protocol}: median AUCROC over seeds (median fit seconds)\n")
        rows = []
        for name, d in results.items():
            cells = [name]
            for m in methods:
                if m in d.get(protocol, {}):
                    auc, fit_s = median_cell(d[protocol][m])
                    cells.append(f"{auc:.3f} ({fit_s:.1f} s)")
                else:
                    cells.append("n/a")
            rows.append(cells)
        print_markdown(["dataset", *methods], rows)
    summary = summarise(results, methods)
    print(f"\n### Median AUCROC over the {len(results)} datasets\n")
    print_markdown(
        ["method", *PROTOCOLS],
        ([m] + [f"{summary[p][m]:.3f}" if m in summary[p] else "n/a" for p in PROTOCOLS]
         for m in methods),
    )  # fmt: skip
    check = novelty_check(summary["novelty"])
    if check is None:
        print("\nNovelty check: needs an aezoo family, pyod AutoEncoder and pyod IForest.")
    else:
        print(
            f"\nNovelty check: best aezoo family {check['best_family']} {check['best']:.3f}; "
            f">= pyod AutoEncoder ({check['pyod AutoEncoder']:.3f}): "
            f"{'yes' if check['>= AutoEncoder'] else 'NO'}; within {NOVELTY_MARGIN} of pyod "
            f"IForest ({check['pyod IForest']:.3f}): "
            f"{'yes' if check['within 0.02 of IForest'] else 'NO'}"
        )


def run_mnist(family: str, seed: int, data_dir: Path) -> list[dict[str, float]]:
    """One-class MNIST per digit (module docstring): ``[{"digit", "auc", "fit_s"}, ...]``."""
    from aezoo.anomaly import Detector
    from aezoo.data.mnist import load_mnist

    X_train, y_train = load_mnist("train", data_dir)
    X_test, y_test = load_mnist("test", data_dir)
    rows = []
    for digit in range(10):
        det = Detector(family=family, random_state=seed, **DETECTOR_OPTIONS)
        t0 = time.perf_counter()
        det.fit(X_train[y_train == digit])
        fit_s = time.perf_counter() - t0
        auc = aucroc(det.decision_function(X_test), (y_test != digit).astype(np.int64))
        _cleanup(det)
        rows.append({"digit": digit, "auc": auc, "fit_s": fit_s})
        print(f"MNIST digit {digit}: AUROC {100 * auc:.1f} fit {fit_s:.1f} s", flush=True)
    return rows


def print_mnist(rows: list[dict[str, float]], family: str) -> None:
    print("\n### MNIST one-class AUROC (%) per normal digit\n")
    ours = [100 * r["auc"] for r in rows]
    ref = DEEP_SVDD_MNIST[: len(rows)]
    print_markdown(
        ["method", *(str(r["digit"]) for r in rows), "mean"],
        [
            [f"aezoo {family}", *(f"{a:.1f}" for a in ours), f"{np.mean(ours):.1f}"],
            [
                "One-Class Deep SVDD (Ruff et al. 2018, Table 1)",
                *(f"{a:.1f}" for a in ref),
                f"{np.mean(ref):.1f}",
            ],
            ["fit seconds (aezoo)", *(f"{r['fit_s']:.0f}" for r in rows), ""],
        ],
    )


def merge_saved(paths: Iterable[Path]) -> tuple[dict[str, Any], list[str], Any]:
    """Tabular results of several ``--out`` files merged per dataset, protocol and method
    (a later file's method replaces an earlier one's), their methods in order of first
    appearance, and the last MNIST part found (or None)."""
    merged: dict[str, Any] = {}
    methods: list[str] = []
    mnist = None
    for path in paths:
        data = json.loads(Path(path).read_text())
        mnist = data.get("mnist", mnist)
        for name, protocols in data.get("tabular", {}).items():
            for protocol, by_method in protocols.items():
                merged.setdefault(name, {}).setdefault(protocol, {}).update(by_method)
                methods += [m for m in by_method if m not in methods]
    return merged, methods, mnist


def print_saved(paths: Iterable[Path]) -> int:
    results, methods, mnist = merge_saved(paths)
    if results:
        print_tabular(results, methods)
    if mnist is not None:
        print_mnist(mnist["digits"], mnist["family"])
    return 0


def limit_threads(n: int) -> None:
    """Torch's intra-op threads (training); BLAS/OpenMP follow ``OMP_NUM_THREADS``."""
    import torch

    torch.set_num_threads(n)


def _write(out: Path, update: dict[str, Any]) -> None:
    data = json.loads(out.read_text()) if out.exists() else {}
    data.update(update)
    out.write_text(json.dumps(data, indent=1))


def main(argv: list[str] | None = None) -> int:
    from aezoo.anomaly import DEFAULT_FAMILY
    from aezoo.data.preprocess import SCALING_METHODS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of ADBench .npz")
    ap.add_argument("--datasets", nargs="*", help="dataset stems (default: every .npz)")
    ap.add_argument("--methods", nargs="*", default=list(FAMILIES + PYOD),
                    help=f"rows (default: all): {', '.join(FAMILIES + PYOD)}")  # fmt: skip
    ap.add_argument("--protocols", nargs="*", choices=PROTOCOLS, default=list(PROTOCOLS))
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3); median")
    ap.add_argument("--no-tabular", action="store_true", help="skip the ADBench part")
    ap.add_argument("--mnist", action="store_true", help="also MNIST one-class per digit")
    ap.add_argument("--mnist-dir", type=Path, default=MNIST_DIR)
    ap.add_argument("--mnist-family", default=DEFAULT_FAMILY)
    ap.add_argument("--scaling", choices=SCALING_METHODS,
                    help="the aezoo Detectors' per-feature scaling, e.g. standard against "
                    "standard-floor (default: each family's default, "
                    "aezoo.anomaly.TABULAR_DEFAULTS)")  # fmt: skip
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="a recipe override for every aezoo Detector (repeatable), as "
                         "`aezoo train --set`, applied after the family's TABULAR_DEFAULTS: "
                         "screens a default change, e.g. --set corruption.level=0.1")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", type=Path, help="write the raw results as JSON here")
    ap.add_argument("--tables-from", nargs="+", type=Path, metavar="JSON",
                    help="print the tables of earlier --out files (merged) and exit")  # fmt: skip
    args = ap.parse_args(argv)
    if args.tables_from:
        return print_saved(args.tables_from)

    limit_threads(args.threads)
    DETECTOR_OPTIONS.clear()
    if args.scaling is not None:
        DETECTOR_OPTIONS["scaling"] = args.scaling
    if args.overrides:
        DETECTOR_OPTIONS["overrides"] = tuple(args.overrides)
    methods = list(args.methods)
    unknown = [m for m in methods if m not in FAMILIES + PYOD]
    if unknown:
        ap.error(f"unknown methods {unknown}; methods: {', '.join(FAMILIES + PYOD)}")
    if any(m in PYOD for m in methods) and not pyod_available():
        print("pyod is not installed (pip install pyod): the PyOD rows are skipped",
              file=sys.stderr)  # fmt: skip
        methods = [m for m in methods if m not in PYOD]
    paths = sorted(args.data_dir.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    if args.datasets:
        paths = [p for p in paths if p.stem in args.datasets]
    if not paths and not args.no_tabular:
        print(f"no datasets in {args.data_dir} matching {args.datasets}", file=sys.stderr)
        return 2
    if args.out is not None and args.out.exists():
        args.out.unlink()
    if not args.no_tabular:
        results = run_tabular(paths, methods, args.seeds, args.out, args.protocols)
        print_tabular(results, methods)
        if args.out is not None:
            _write(args.out, {"summary": summarise(results, methods), "argv": sys.argv[1:]})
    if args.mnist:
        rows = run_mnist(args.mnist_family, 0, args.mnist_dir)
        print_mnist(rows, args.mnist_family)
        if args.out is not None:
            _write(args.out, {"mnist": {"family": args.mnist_family, "digits": rows}})
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
