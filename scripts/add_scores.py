"""Give the bundled models (aezoo/pretrained/*) their scorer graph and a calibration.

Run once from the repository root (needs aezoo[train] and the MNIST files):

    python scripts/add_scores.py --data-dir /work/shared/data/mnist

For each bundled model trained on MNIST or the lines data set, from its own weights (no
retraining): the threshold is set at fpr = 0.01 on the validation split (rows the weights
were never fitted to; a trainer at most picks its best epoch by them) and the card
reports the share of the test split above it. The whole-image denoiser is skipped: its
graph takes images of any size, not rows.
"""

from __future__ import annotations

import argparse
import json

from aezoo.data import datasets
from aezoo.registry.store import BUNDLED_DIR
from aezoo.training.rescore import add_score

SOURCES = {
    "mnist": "MNIST validation split (the last 2,000 images of the training file; "
    "not trained on; at most used to choose the epoch)",
    "lines": f"lines validation split ({datasets.LINES_VAL:,} lines from the fixed "
    "validation seed; not trained on)",
}
TESTS = {
    "mnist": "the MNIST test split (5,000 images, none used in training or calibration)",
    "lines": f"the lines test split ({datasets.LINES_TEST:,} lines from the fixed test seed)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST files (see aezoo.data.mnist)")
    parser.add_argument("--fpr", type=float, default=0.01)
    args = parser.parse_args()
    for root in sorted(BUNDLED_DIR.glob("*/manifest.json")):
        root = root.parent
        training = json.loads((root / "training.json").read_text())
        dataset = training.get("dataset")
        if dataset not in SOURCES:
            print(f"{root.name}: skipped (data set {dataset!r})")
            continue
        n_train = training["recipe"].get("n_train")
        splits = datasets.load_splits(dataset, args.data_dir, training["seed"], n_train)
        cal, flagged = add_score(
            root,
            splits["val"][0],
            SOURCES[dataset],
            (TESTS[dataset], splits["test"][0]),
            fpr=args.fpr,
        )
        n = len(splits["test"][0])
        print(
            f"{root.name}: threshold {cal.threshold:.6g} on {cal.rows} rows; "
            f"test {flagged}/{n} = {100 * flagged / n:.2f}% above"
        )


if __name__ == "__main__":
    main()
