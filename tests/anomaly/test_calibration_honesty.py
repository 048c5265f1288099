"""A threshold calibrated at fpr = 0.01 holds its false-positive rate on fresh normal rows
(issue 23: between 0.5% and 2%), on MNIST and on two ADBench tables.

Tolerances. MNIST: calibration on the 2,000 validation images, the rate measured on the
5,000 test images (other writers' digits: a real distribution check, not only a split of
one pool). Its spread from sampling alone is about 0.26 points (binomial on 5,000 rows,
0.14, plus the Beta(21, 1980) coverage of a threshold set on 2,000 rows, 0.22), so
[0.5%, 2%] is -1.9 to +3.8 of those around 1%; the weights and rows are fixed, so the
numbers do not vary between runs. ADBench: the held-out normals (40%, none seen in
training) are split in halves R = 40 times; on each split the threshold is calibrated on one
half and the rate measured on the other. With n calibration rows the split-conformal rate
has mean (n + 1 - k) / (n + 1), k = ceil(0.99 (n + 1)) (0.90% for 6_cardio's 331 rows,
0.95% for 38_thyroid's 736), but one split's rate on a few hundred rows has a standard
deviation of 0.5-0.7 points, so the issue's [0.5%, 2%] is asserted on the mean over the R
splits (standard error below 0.15 points); every split's rate must stay under 5%, a gross
error check (measured: 6_cardio mean 0.81%, splits 0-2.1%; 38_thyroid 1.06%, 0.27-3.4%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.data.mnist import load_mnist
from aezoo.runtime.calibrate import calibrate_model
from aezoo.runtime.calibration import calibrate, data_hash
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

FPR = 0.01
LOW, HIGH = 0.005, 0.02
ADBENCH = REPO_ROOT.parent / "shared" / "data" / "adbench"


@pytest.mark.parametrize("name", ["sda-mnist", "drsae-mnist", "lista-vdl-mnist"])
def test_mnist_threshold_holds_its_rate_on_the_test_split(name: str, mnist_dir: Path) -> None:
    model = aezoo.load(name)
    val, test = load_mnist("val", mnist_dir)[0], load_mnist("test", mnist_dir)[0]
    cal = calibrate_model(model, val, fpr=FPR)
    assert model.calibration is not None  # the bundled threshold is this very one
    assert cal.threshold == model.calibration.threshold
    assert cal.data_sha256 == model.calibration.data_sha256
    rate = float(model.score(test)["is_outlier"].mean())
    print(f"{name}: {rate:.4f} of the test split above the threshold")
    assert LOW <= rate <= HIGH, f"{name}: {rate:.4f} of the test split above the threshold"


@pytest.mark.parametrize("dataset", ["6_cardio", "38_thyroid"])
def test_adbench_threshold_holds_its_rate_on_held_out_normals(dataset: str) -> None:
    path = ADBENCH / f"{dataset}.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found (ADBench copy, ../shared/data/adbench)")
    from aezoo.anomaly import Detector

    with np.load(path, allow_pickle=False) as data:
        X, y = data["X"].astype(np.float32), data["y"]
    normal = X[y == 0]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(normal))
    n_fit = int(0.6 * len(normal))
    fit, held = normal[order[:n_fit]], normal[order[n_fit:]]
    det = Detector(
        family="sda",
        random_state=0,
        overrides=("pretrain_epochs=10", "finetune_epochs=20"),
    ).fit(fit)
    scores = det.decision_function(held)  # the exported scorer graph, on onnxruntime
    half = len(held) // 2
    rates = []
    for _ in range(40):
        split = rng.permutation(len(held))
        cal_rows, test_rows = split[:half], split[half:]
        cal = calibrate(scores[cal_rows], data_hash(held[cal_rows]), fpr=FPR)
        rates.append(float(cal.is_outlier(scores[test_rows]).mean()))
    mean = float(np.mean(rates))
    print(f"{dataset}: mean {mean:.4f}, min {min(rates):.4f}, max {max(rates):.4f}")
    assert LOW <= mean <= HIGH, f"{dataset}: mean rate {mean:.4f} over {len(rates)} splits"
    assert max(rates) < 0.05, f"{dataset}: one split's rate {max(rates):.4f}"
