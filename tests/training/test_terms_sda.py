"""The terms that make SdA training what it is, each pinned by a test that fails without it:
the corruption of every layer's input (Vincent et al. 2010, §2.3), and the joint objective
``L_global + alpha * sum_l L_local_l`` with clean, detached local targets and gradients
reaching every layer below each term (Zhou et al., arXiv:1405.1380, §3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aezoo.models.sda import SdAConfig, StackedDenoisingAutoencoder
from aezoo.training.corruptions import CorruptionConfig
from aezoo.training.sda import (
    SdATrainConfig,
    finetune_loss,
    joint_loss,
    layer_loss,
    recon_loss,
)

torch.set_num_threads(1)
TINY = SdAConfig(hidden_sizes=[24, 12, 8])
MASK = CorruptionConfig(kind="masking", level=0.25)


def model_and_batch() -> tuple[StackedDenoisingAutoencoder, torch.Tensor]:
    """In float64: these tests check algebra against by-hand formulas that sum in another
    order; float64's gamma_784 ~ 1e-13 keeps assert_close's float64 defaults (1e-7) safe."""
    torch.manual_seed(0)
    x = 0.05 + 0.9 * torch.rand(16, 784, dtype=torch.float64)  # no exact zeros: 0 is masked
    return StackedDenoisingAutoencoder(TINY).double(), x


def encoder_inputs(model: StackedDenoisingAutoencoder, fn) -> tuple[torch.Tensor, list]:
    """Run ``fn()``; return its result and what each layer's encoder was fed."""
    seen: list[torch.Tensor] = []
    hooks = [
        layer.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        for layer in model.layers
    ]
    try:
        return fn(), seen
    finally:
        for h in hooks:
            h.remove()


def check_masked(seen: torch.Tensor, clean: torch.Tensor, level: float) -> None:
    """``seen`` is ``clean`` with exactly round(level * width) entries per row set to 0."""
    k = round(level * clean.shape[1])
    masked = seen == 0
    assert masked.sum(1).eq(k).all(), masked.sum(1)
    torch.testing.assert_close(seen[~masked], clean[~masked], rtol=0, atol=0)  # kept as is


def test_joint_loss_is_global_plus_weighted_local_denoising_terms() -> None:
    model, x = model_and_batch()
    alpha = 0.7
    cfg = SdATrainConfig(model=TINY, corruption=MASK, local_weight=alpha)
    loss, seen = encoder_inputs(
        model, lambda: joint_loss(model, x, cfg, torch.Generator().manual_seed(3))
    )
    assert len(seen) == 3  # each layer encodes once, from its corrupted input
    # by hand: layer l encodes its corrupted input; its code is layer l+1's clean input
    codes = [layer.encode(xt) for layer, xt in zip(model.layers, seen, strict=True)]
    clean_inputs = [x, *codes[:-1]]
    for xt, h in zip(seen, clean_inputs, strict=True):
        check_masked(xt.detach(), h.detach(), 0.25)
    local = sum(
        recon_loss(layer, code, h.detach())
        for layer, code, h in zip(model.layers, codes, clean_inputs, strict=True)
    )
    z = codes[-1]
    for layer in reversed(model.layers[1:]):
        z = layer.decode(z)
    by_hand = recon_loss(model.layers[0], z, x) + alpha * local
    torch.testing.assert_close(loss, by_hand)
    # the same gradients: local targets detached, every term reaching the layers below it
    params = [p for layer in model.layers for p in layer.parameters()]
    grads = torch.autograd.grad(loss, params, retain_graph=True)
    want = torch.autograd.grad(by_hand, params, retain_graph=True)
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w)
    top_local = recon_loss(model.layers[2], codes[2], clean_inputs[2].detach())
    (g_bottom,) = torch.autograd.grad(top_local, [model.layers[0].encoder.weight])
    assert float(g_bottom.abs().sum()) > 0  # the top layer's local term trains layer 1


def test_joint_loss_scales_the_local_terms_by_local_weight() -> None:
    model, x = model_and_batch()

    def loss(alpha: float) -> float:
        cfg = SdATrainConfig(model=TINY, corruption=MASK, local_weight=alpha)
        return float(joint_loss(model, x, cfg, torch.Generator().manual_seed(3)).detach())

    l0, l1, l2 = loss(0.0), loss(1.0), loss(2.0)
    assert l1 > l0 > 0
    assert l2 - l0 == pytest.approx(2 * (l1 - l0), rel=1e-5)  # float64 losses: ample


def test_layerwise_loss_denoises_one_layer_from_frozen_clean_codes() -> None:
    model, x = model_and_batch()
    cfg = SdATrainConfig(model=TINY, scheme="layerwise", corruption=MASK)
    loss, seen = encoder_inputs(
        model, lambda: layer_loss(model, 1, x, cfg, torch.Generator().manual_seed(5))
    )
    with torch.no_grad():
        h1 = model.layers[0].encode(x)  # clean code of the frozen layer below
    assert torch.equal(seen[0], x)  # the frozen layer sees the clean input
    check_masked(seen[1], h1, 0.25)  # layer 2 sees its input masked
    by_hand = recon_loss(model.layers[1], model.layers[1].encode(seen[1]), h1)
    torch.testing.assert_close(loss, by_hand)
    loss.backward()
    assert model.layers[0].encoder.weight.grad is None  # frozen below


def test_recon_loss_is_cross_entropy_against_the_clean_target() -> None:
    model, x = model_and_batch()
    layer = model.layers[0]
    h = layer.encode(x)
    x_hat = layer.decode(h)
    by_hand = -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum(1).mean()
    torch.testing.assert_close(recon_loss(layer, h, x), by_hand)  # float64 (model_and_batch)


def test_finetune_loss_is_the_softmax_cross_entropy_of_the_labels() -> None:
    model, x = model_and_batch()
    y = torch.arange(16) % 10
    cfg = SdATrainConfig(model=TINY)
    model.eval()  # no dropout: the value is deterministic
    got = finetune_loss(model, x, y, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, F.cross_entropy(model.classify(x), y))


def test_each_stage_trains_its_own_loss_with_its_own_optimizer(tmp_path) -> None:
    """The trainer's dispatch: joint -> joint_loss on every layer, layerwise l -> layer l's dA
    loss and only its parameters, finetune -> the labels at finetune_lr."""
    import numpy as np

    from aezoo.training.sda import SdATrainer

    X = np.random.default_rng(0).random((16, 784)).astype(np.float32)
    y = np.arange(16) % 10
    cfg = SdATrainConfig(model=TINY, corruption=MASK, pretrain_lr=0.01, finetune_lr=0.002)
    trainer = SdATrainer(cfg, {"train": (X, y), "val": (X, y)}, tmp_path, show_progress=False)
    model, x, labels = trainer.model.eval(), torch.from_numpy(X), torch.from_numpy(y)
    cases = {
        "joint": (lambda g: joint_loss(model, x, cfg, g), {"kind": "joint", "layer": -1}),
        "layer": (lambda g: layer_loss(model, 2, x, cfg, g), {"kind": "layerwise", "layer": 2}),
        "finetune": (lambda g: finetune_loss(model, x, labels, cfg, g), {"kind": "finetune"}),
    }
    for name, (fn, stage) in cases.items():
        got = trainer.batch_loss(stage, x, labels, torch.Generator().manual_seed(1))
        # the same loss function, the same seed, the same tensors: the same bits
        want = fn(torch.Generator().manual_seed(1))
        torch.testing.assert_close(got, want, rtol=0, atol=0, msg=name)
    layer_opt = trainer.make_optimizer({"kind": "layerwise", "layer": 2})
    want = {id(p) for p in model.layers[2].parameters()}
    assert {id(p) for g in layer_opt.param_groups for p in g["params"]} == want
    assert layer_opt.param_groups[0]["lr"] == 0.01
    fine = trainer.make_optimizer({"kind": "finetune", "layer": -1})
    assert fine.param_groups[0]["lr"] == 0.002
    assert len(fine.param_groups[0]["params"]) == len(list(model.parameters()))


def test_losses_draw_their_noise_from_the_given_generator() -> None:
    model, x = model_and_batch()
    cfg = SdATrainConfig(model=TINY, corruption=MASK, finetune_recon_weight=1.0,
                         finetune_corruption=MASK)  # fmt: skip
    y = torch.arange(16) % 10
    model.eval()
    fns = {
        "joint": lambda g: joint_loss(model, x, cfg, g),
        "layer": lambda g: layer_loss(model, 1, x, cfg, g),
        "finetune": lambda g: finetune_loss(model, x, y, cfg, g),
    }
    with torch.no_grad():
        for name, fn in fns.items():
            a, b = fn(torch.Generator().manual_seed(7)), fn(torch.Generator().manual_seed(7))
            assert float(a) == float(b), name  # reproducible from the seed alone
            assert float(fn(torch.Generator().manual_seed(8))) != float(a), name


def test_finetune_loss_adds_shifts_and_the_weighted_reconstruction() -> None:
    from aezoo.training.augment import random_shift
    from aezoo.training.corruptions import corrupt

    model, x = model_and_batch()
    model.eval()
    y = torch.arange(16) % 10
    cfg = SdATrainConfig(model=TINY, corruption=MASK, finetune_recon_weight=0.3,
                         finetune_max_shift=2)  # fmt: skip
    got = finetune_loss(model, x, y, cfg, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    xs = random_shift(x, (28, 28), 2, g)  # the shift draws first, then the corruption
    z = model.encode(corrupt(xs, MASK, g))
    for layer in reversed(model.layers[1:]):
        z = layer.decode(z)
    by_hand = F.cross_entropy(model.classify(xs), y) + 0.3 * recon_loss(model.layers[0], z, xs)
    torch.testing.assert_close(got, by_hand)


def test_recon_loss_is_half_squared_error_for_real_valued_inputs() -> None:
    torch.manual_seed(0)  # float64, as in model_and_batch
    model = StackedDenoisingAutoencoder(TINY.model_copy(update={"output_activation": "linear"}))
    layer, x = model.double().layers[0], torch.randn(8, 784, dtype=torch.float64)
    h = layer.encode(x)
    by_hand = 0.5 * (layer.decode(h) - x).pow(2).sum(1).mean()
    torch.testing.assert_close(recon_loss(layer, h, x), by_hand)


def test_gaussian_corruption_adds_sigma_times_the_generators_normal() -> None:
    """The additive isotropic Gaussian corruption (Vincent et al. 2010, §4.2), by value."""
    from aezoo.training.corruptions import corrupt

    x = torch.rand(4, 784)
    got = corrupt(x, CorruptionConfig(kind="gaussian", level=0.3), torch.Generator().manual_seed(4))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(got, x + 0.3 * noise, rtol=0, atol=0)  # the same two roundings
