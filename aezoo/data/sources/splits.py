"""Seeded, reproducible train/val/test splits, stratified by label when there is one.

The same ``(n, y, seed, fractions)`` give the same indices on every machine
(``numpy.random.default_rng(seed)``, PCG64). Each split keeps the source's row order.
Stratification allocates each split's total over the classes by the largest remainder
(as scikit-learn's ``StratifiedShuffleSplit`` does), so every class keeps its share.
"""

from __future__ import annotations

import numpy as np

from aezoo.errors import ConfigError, DataError

MIN_ROWS = 3


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raises ConfigError unless both fractions lie in [0, 1) and sum to less than 1."""
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {f}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction must be < 1 (rows are left to train), got "
            f"{val_fraction} + {test_fraction}"
        )


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes of sizes ``counts`` in proportion, by largest remainder."""
    quota = counts * (total / max(int(counts.sum()), 1))
    base = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return base


def split_indices(
    n: int,
    y: np.ndarray | None,
    seed: int,
    fractions: dict[str, float],
    where: str,
) -> dict[str, np.ndarray]:
    """Row indices of each split: ``fractions`` names the held-out splits, ``"train"`` the rest.

    Args:
        n: rows.
        y: int64 labels ``(n,)`` to stratify by, or None.
        seed: the permutation's seed.
        fractions: e.g. ``{"val": 0.1, "test": 0.1}``; a split with a positive fraction
            gets ``max(1, round(fraction * n))`` rows.
        where: what error messages cite.

    Returns:
        split -> sorted int64 indices; the splits partition ``range(n)``.

    Raises:
        DataError: fewer than 3 rows, or too few for every split to get a row.
    """
    if n < MIN_ROWS:
        raise DataError(f"{where}: {n} row(s); at least {MIN_ROWS} are needed (train, val, test)")
    sizes = {s: (max(1, round(f * n)) if f > 0 else 0) for s, f in fractions.items()}
    if n - sum(sizes.values()) < 1:
        raise DataError(
            f"{where}: {n} rows are too few for splits of {sizes} rows and one training row"
        )
    rng = np.random.default_rng(seed)
    if y is None:
        order = rng.permutation(n)
        out, start = {}, 0
        for s, size in sizes.items():
            out[s] = np.sort(order[start : start + size])
            start += size
        out["train"] = np.sort(order[start:])
        return out
    classes, y_idx = np.unique(y, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(y_idx == c)) for c in range(classes.size)]
    left = np.array([m.size for m in members], dtype=np.int64)
    taken = np.zeros_like(left)
    out = {}
    for s, size in sizes.items():
        share = _allocate(left, size)
        out[s] = np.sort(
            np.concatenate([m[t : t + k] for m, t, k in zip(members, taken, share, strict=True)])
        ).astype(np.int64)
        taken += share
        left -= share
    out["train"] = np.sort(
        np.concatenate([m[t:] for m, t in zip(members, taken, strict=True)])
    ).astype(np.int64)
    return out


def _take(
    part: tuple[np.ndarray, np.ndarray | None], idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    X, y = part
    return X[idx], None if y is None else y[idx]


def make_splits(
    parts: dict[str, tuple[np.ndarray, np.ndarray | None]],
    where: str,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    *,
    stratify: bool,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray | None]], str]:
    """The ``train``/``val``/``test`` splits of a source and the sentence saying how.

    ``parts`` is ``{"all": (X, y)}`` for a source without splits of its own (split by the
    fractions), or the source's own splits; a missing ``val`` or ``test`` is carved from
    ``train`` by the same seeded permutation.

    Raises:
        DataError: no training part, or too few rows (see :func:`split_indices`).
    """
    how = f"seeded {'stratified ' if stratify else ''}permutation (seed {seed})"
    if "all" in parts:
        X, y = parts["all"]
        fractions = {"val": val_fraction, "test": test_fraction}
        idx = split_indices(X.shape[0], y if stratify else None, seed, fractions, where)
        protocol = (
            f"Splits from a {how}: {val_fraction:g} of the rows for validation, "
            f"{test_fraction:g} for test, the rest for training."
        )
        return {s: _take(parts["all"], idx[s]) for s in ("train", "val", "test")}, protocol
    if "train" not in parts:
        raise DataError(f"{where}: the source's splits {sorted(parts)} include no training split")
    missing = {"val": val_fraction, "test": test_fraction}
    missing = {s: f for s, f in missing.items() if s not in parts}
    own = ", ".join(s for s in ("train", "val", "test") if s in parts)
    if not missing:
        return dict(parts), f"The source's own splits ({own})."
    X, y = parts["train"]
    idx = split_indices(X.shape[0], y if stratify else None, seed, missing, where)
    out = dict(parts)
    out["train"] = _take(parts["train"], idx["train"])
    for s in missing:
        out[s] = _take(parts["train"], idx[s])
    carved = ", ".join(f"{s} ({f:g} of train)" for s, f in missing.items())
    return out, f"The source's own splits ({own}); {carved} carved from train by a {how}."
