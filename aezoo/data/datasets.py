"""The data sets a recipe can name (its ``dataset`` key) and their splits.

* ``mnist``: :func:`aezoo.data.mnist.load_mnist` (train / val / test / train_full),
  pixels in [0, 1], labels 0..9.
* ``lines``: the ACAI lines (:mod:`aezoo.data.lines`), 32x32 in [-1, 1]; the
  "label" of a line is its angle in radians (float64). The training set is drawn
  from the recipe's seed (``n_train`` lines, seed ``1000 + seed``); validation
  (1,000 lines) and test (5,000 lines) come from fixed seeds shared by every model,
  and the interpolation pairs of the metrics from :func:`lines.interpolation_pairs`
  with seed 0 (a fourth independent stream).
* ``patches``: 28x28 natural-image patches (:mod:`aezoo.data.patches`), no labels.

Every loader returns ``{split: (X, y)}`` with ``X`` float32 ``(n, n_features)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aezoo.data import lines, mnist, patches
from aezoo.errors import ConfigError

LINES_VAL, LINES_TEST = 1_000, 5_000  # sizes of the fixed lines splits
_LINES_SEEDS = {"val": 98, "test": 99}  # fixed streams; training uses 1000 + seed


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a data set that evaluation, figures and cards need.

    Attributes:
        name: the recipe's ``dataset`` value.
        protocol: how the splits are made (recorded in training.json and the card).
        value_range: the closed interval inputs lie in.
        labelled: class labels exist (probes, classification error).
        display_range: values mapped to black and white in figures.
        mask_value: what masking noise writes into a dropped input (the background).
        psnr_peak: ``R`` of every PSNR on this data set (the value range's width; for the
            unbounded LCN patches, 8, about their peak-to-peak range).
    """

    name: str
    protocol: str
    value_range: tuple[float, float]
    labelled: bool
    display_range: tuple[float, float]
    mask_value: float = 0.0
    psnr_peak: float = 1.0


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", mnist.SPLIT_PROTOCOL, (0.0, 1.0), True, (0.0, 1.0)),
    "lines": DatasetInfo(
        "lines",
        "ACAI lines (arXiv:1807.07543 §4): 32x32, one line from the centre, 15 px long, "
        f"2 px wide, angle uniform in [0, 2 pi), values in [-1, 1]; train = n_train lines "
        f"from seed 1000 + seed, val = {LINES_VAL:,} and test = {LINES_TEST:,} lines from "
        "fixed seeds; metrics on 16 interpolation pairs (seed 0) x 16 steps",
        (-1.0, 1.0),
        False,
        (-1.0, 1.0),
        mask_value=-1.0,
        psnr_peak=2.0,
    ),
    "patches": DatasetInfo(
        "patches", patches.PROTOCOL, patches.VALUE_RANGE, False, (-3.0, 3.0), psnr_peak=8.0
    ),
    # a user's data (aezoo train FAMILY --data SOURCE), as its trainer sees it: images as
    # uint8 / 255, tables min-max scaled on the training split; splits come from the source
    "user": DatasetInfo(
        "user", "the user's data: see the card's data section", (0.0, 1.0), False, (0.0, 1.0)
    ),
}


def info(dataset: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``dataset``.

    Raises:
        ConfigError: unknown data set.
    """
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}") from None


def load_splits(
    dataset: str, data_dir: str | None = None, seed: int = 0, n_train: int | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All splits of ``dataset``: ``train``, ``val``, ``test`` and ``train_full``.

    Args:
        dataset: ``"mnist"``, ``"lines"`` or ``"patches"``.
        data_dir: MNIST files (see :func:`aezoo.data.mnist.resolve_mnist_dir`); unused
            by the others.
        seed: the recipe's seed (draws the lines training set).
        n_train: number of training lines (lines only; required there).

    Raises:
        ConfigError: unknown data set, or lines without ``n_train``.
        DataError: MNIST files missing or malformed.
    """
    info(dataset)
    if dataset == "user":
        raise ConfigError("a recipe with dataset 'user' reads its data from --data SOURCE")
    if dataset == "mnist":
        return {s: mnist.load_mnist(s, data_dir) for s in mnist.SPLITS}
    if dataset == "patches":
        return {s: patches.load_patches(s) for s in ("train", "val", "test", "train_full")}
    if not n_train:
        raise ConfigError("the lines dataset needs n_train (number of training lines)")
    out = {"train": lines.make_lines(n_train, 1000 + seed)}
    out["val"] = lines.make_lines(LINES_VAL, _LINES_SEEDS["val"])
    out["test"] = lines.make_lines(LINES_TEST, _LINES_SEEDS["test"])
    out["train_full"] = tuple(  # type: ignore[assignment]
        np.concatenate([a, b]) for a, b in zip(out["train"], out["val"], strict=True)
    )
    return out
