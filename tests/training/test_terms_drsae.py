"""The terms that make DrSAE training what it is (Rolfe & LeCun, arXiv:1301.3775), each
pinned by a test that fails without it: the two phases' losses, back-propagation through
all T unrolled steps, and the norm bounds projected after every step."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from aezoo.models.drsae import DrSAE, DrSAEConfig, unit_norm
from aezoo.training.drsae import (
    DrSAETrainConfig,
    DrSAETrainer,
    losses,
    project_norm_bounds,
    stages,
)

torch.set_num_threads(1)
SMALL = DrSAEConfig(n_features=6, n_components=4, n_steps=3, n_classes=3, image_shape=None)


def test_phase_losses_by_hand(tmp_path) -> None:
    """Phase 1: ||x/||x|| - D z_T||^2 / 2 + lambda ||z_T||_1 (labels unused);
    phase 2: the same + class_weight * cross-entropy of C z_T / ||z_T||."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.random((8, 784)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    cfg = DrSAETrainConfig(model=DrSAEConfig(n_components=16, n_steps=4), sparsity=0.3,
                           class_weight=0.7)  # fmt: skip
    trainer = DrSAETrainer(cfg, {"train": (X, y), "val": (X, y)}, tmp_path, show_progress=False)
    model, x, labels = trainer.model, torch.from_numpy(X), torch.from_numpy(y)
    z = model.encode(x)
    recon = 0.5 * (unit_norm(x, 1e-6) - z @ model.D.t()).pow(2).sum(1).mean()
    l1 = 0.3 * z.abs().sum(1).mean()
    cls = F.cross_entropy(unit_norm(z, 1e-6) @ model.C.t(), labels)
    gen = torch.Generator().manual_seed(0)
    phase1 = trainer.batch_loss({"kind": "unsupervised"}, x, labels, gen)
    # the by-hand terms are aezoo.training.drsae.losses' own operations on the same tensors
    # (|z| = z for z >= 0): the same bits, so a dropped or re-weighted term cannot hide
    phase2 = trainer.batch_loss({"kind": "discriminative"}, x, labels, gen)
    torch.testing.assert_close(phase1["loss"], recon + l1, rtol=0, atol=0)
    assert "cls" not in phase1
    torch.testing.assert_close(phase2["loss"], recon + l1 + 0.7 * cls, rtol=0, atol=0)
    phase1["loss"].backward()
    assert model.C.grad is None  # the classifier is not trained in phase 1
    assert [s["kind"] for s in stages(cfg)] == ["unsupervised", "discriminative"]
    assert [bool(s.get("validate")) for s in stages(cfg)] == [False, True]


def test_gradients_are_back_propagated_through_every_unrolled_step() -> None:
    """Autograd's gradient of the phase-2 loss equals central finite differences of the
    loss itself (float64): no step of the recurrence is cut from the gradient."""
    torch.manual_seed(0)
    model = DrSAE(SMALL).double()
    with torch.no_grad():
        model.S.add_(0.3 * torch.randn_like(model.S))  # make the recurrence matter
        model.b.fill_(-0.05)
    x = torch.rand(5, 6, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1])

    def total() -> torch.Tensor:
        t = losses(model, x, y, 0.1)
        return t["recon"] + t["l1"] + t["cls"]

    total().backward()
    for name in ("E", "S", "b"):
        p = getattr(model, name)
        analytic = p.grad.clone()
        numeric = torch.zeros_like(p)
        with torch.no_grad():
            for i in itertools.product(*(range(n) for n in p.shape)):
                old = p[i].item()
                p[i] = old + 1e-6
                up = total()
                p[i] = old - 1e-6
                down = total()
                p[i] = old
                numeric[i] = (up - down) / 2e-6
        # float64: central differences err by O(h^2) ~ 1e-12 from truncation and by
        # eps |loss| / h ~ 1e-10 from rounding, far inside 1e-4 relative / 1e-7 absolute
        torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-7, msg=name)
        assert float(analytic.abs().sum()) > 0, name


def test_norm_bounds_by_hand() -> None:
    """Columns of D to norm <= 1, rows of E to <= 1.25 / (T - 1), rows of C to <= 5:
    rescaled along their direction, and untouched when inside."""
    model = DrSAE(SMALL)
    cfg = DrSAETrainConfig(model=SMALL)
    with torch.no_grad():
        model.D.copy_(torch.zeros(6, 4))
        model.D[:, 0], model.D[0, 1] = 3.0, 0.5  # column norms sqrt(6)*3 and 0.5
        model.E.copy_(torch.zeros(4, 6))
        model.E[0, :2], model.E[1, 0] = torch.tensor([3.0, 4.0]), 0.2  # row norms 5, 0.2
        model.C.copy_(torch.zeros(3, 4))
        model.C[0, 0], model.C[1, 1] = -10.0, 4.0
        before = {k: getattr(model, k).clone() for k in "DEC"}
    project_norm_bounds(model, cfg)
    d, e, c = model.D.detach(), model.E.detach(), model.C.detach()
    # float32 rescaling of vectors of at most 6 terms: gamma_6 ~ 4e-7, inside approx's 1e-6
    assert d[:, 0].norm() == pytest.approx(1.0) and d[0, 1] == pytest.approx(0.5)
    bound = 1.25 / (SMALL.n_steps - 1)  # 0.625
    torch.testing.assert_close(e[0, :2], torch.tensor([3.0, 4.0]) * bound / 5.0)
    assert e[1, 0] == pytest.approx(0.2)
    assert c[0, 0] == pytest.approx(-5.0) and c[1, 1] == pytest.approx(4.0)
    for k, w, dim in (("D", d, 0), ("E", e, 1), ("C", c, 1)):  # each vector's direction kept
        torch.testing.assert_close(F.normalize(w, dim=dim), F.normalize(before[k], dim=dim))


def test_phase_two_denoises_its_input_and_phase_one_sees_it_clean(tmp_path) -> None:
    """``input_corruption``: the encoder sees a corrupted copy in phase 2 only; the target
    stays the clean image."""
    import numpy as np

    from aezoo.training.corruptions import CorruptionConfig, corrupt

    X = np.random.default_rng(1).random((8, 784)).astype(np.float32)
    y = np.arange(8) % 10
    mask = CorruptionConfig(kind="masking", level=0.3)
    cfg = DrSAETrainConfig(model=DrSAEConfig(n_components=16, n_steps=3), input_corruption=mask)
    trainer = DrSAETrainer(cfg, {"train": (X, y), "val": (X, y)}, tmp_path, show_progress=False)
    model, x, labels = trainer.model, torch.from_numpy(X), torch.from_numpy(y)
    x_in = corrupt(x, mask, torch.Generator().manual_seed(3))
    want2 = losses(model, x, labels, cfg.sparsity, x_in)
    got2 = trainer.batch_loss(
        {"kind": "discriminative"}, x, labels, torch.Generator().manual_seed(3)
    )
    for k in ("recon", "l1", "cls"):  # the same function, seed and tensors: the same bits
        torch.testing.assert_close(got2[k], want2[k], rtol=0, atol=0, msg=k)
    got1 = trainer.batch_loss({"kind": "unsupervised"}, x, labels, torch.Generator().manual_seed(3))
    want1 = losses(model, x, None, cfg.sparsity)["recon"]
    torch.testing.assert_close(got1["recon"], want1, rtol=0, atol=0)


def test_learning_rates_divided_by_appearances_for_adam_and_sgd(tmp_path) -> None:
    from aezoo.training.drsae import appearances

    assert appearances(11) == {"E": 11, "b": 11, "S": 10, "D": 1, "C": 1}
    assert appearances(1) == {"E": 1, "b": 1, "S": 1, "D": 1, "C": 1}  # S unused: no division
    import numpy as np

    X = np.random.default_rng(1).random((8, 784)).astype(np.float32)
    data = {"train": (X, np.zeros(8, np.int64)), "val": (X, np.zeros(8, np.int64))}
    cfg = DrSAETrainConfig(model=DrSAEConfig(n_components=16, n_steps=5), optimizer="sgd",
                           momentum=0.8, discriminative_lr=0.05)  # fmt: skip
    opt = DrSAETrainer(cfg, data, tmp_path, show_progress=False).make_optimizer(
        {"kind": "discriminative"}
    )
    assert isinstance(opt, torch.optim.SGD)
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == pytest.approx({"E": 0.01, "b": 0.01, "S": 0.0125, "D": 0.05, "C": 0.05})
    assert {g["momentum"] for g in opt.param_groups} == {0.8}
    adam = cfg.model_copy(update={"optimizer": "adam", "unsupervised_lr": 0.02})
    trainer = DrSAETrainer(adam, data, tmp_path / "adam", show_progress=False)
    for kind, lr in (("unsupervised", 0.02), ("discriminative", 0.05)):
        opt = trainer.make_optimizer({"kind": kind})
        assert isinstance(opt, torch.optim.Adam)
        assert {g["name"]: g["lr"] for g in opt.param_groups}["D"] == pytest.approx(lr), kind
