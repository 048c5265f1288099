"""LISTA sparse coding: FISTA against scikit-learn, the variance hinge, LISTA, ONNX parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import Lasso

from aezoo.export.onnx import export_onnx
from aezoo.models import create_variant
from aezoo.models.lista import (
    LISTAConfig,
    LISTAEncoder,
    NLDecoder,
    SparseCodingAutoencoder,
    fista,
    sparse_coding_energy,
    variance_hinge,
)
from aezoo.registry.artifact import ENCODER
from tests.tolerance import sum_atol


def _objective(y: np.ndarray, D: np.ndarray, z: np.ndarray, lam: float) -> float:
    return float(0.5 * np.sum((y - D @ z) ** 2) + lam * np.abs(z).sum())


def test_fista_reaches_the_nonnegative_lasso_optimum_of_sklearn() -> None:
    rng = np.random.default_rng(0)
    n_features, n_components, lam = 30, 12, 0.3
    D = rng.standard_normal((n_features, n_components))
    Y = rng.standard_normal((3, n_features))
    Z, n_steps = fista(torch.from_numpy(Y), torch.from_numpy(D), lam, max_steps=20000, tol=1e-12)
    assert n_steps > 1 and float(Z.min()) >= 0.0
    for y, z in zip(Y, Z.numpy(), strict=True):
        # sklearn minimises 1/(2 n) ||y - D w||^2 + alpha ||w||_1, n = len(y)
        lasso = Lasso(
            alpha=lam / n_features, positive=True, fit_intercept=False, tol=1e-12, max_iter=100000
        ).fit(D, y)
        want = _objective(y, D, lasso.coef_, lam)
        assert _objective(y, D, z, lam) == pytest.approx(want, abs=1e-4)
        assert np.abs(z - lasso.coef_).max() < 1e-3
        assert (z == 0).any()  # sparse: the prox sets some codes exactly to zero


def test_fista_with_a_callable_decoder_matches_the_dictionary_path() -> None:
    torch.manual_seed(0)
    D = torch.randn(20, 8, dtype=torch.float64)
    y = torch.randn(4, 20, dtype=torch.float64)
    step = 1.0 / float(torch.linalg.matrix_norm(D, ord=2)) ** 2
    z_a, _ = fista(y, D, 0.1, max_steps=3000, tol=1e-12)
    z_b, _ = fista(
        y, lambda z: z @ D.T, 0.1, step, torch.zeros(4, 8, dtype=torch.float64), 3000, 1e-12
    )
    # float64: 3,000 steps of two evaluations that differ by ~1e-16 each; 1e-8 is safe
    torch.testing.assert_close(z_a, z_b, atol=1e-8, rtol=0)
    with pytest.raises(ValueError, match="step and z0"):
        fista(y, lambda z: z @ D.T, 0.1)


@pytest.mark.parametrize("gram_after", [0, 8, 10**6])
def test_nl_decoder_closed_form_fista_gradient_matches_autograd(gram_after: int) -> None:
    torch.manual_seed(0)
    dec = NLDecoder(n_features=20, n_components=6, n_hidden=16).double()
    with torch.no_grad():
        dec.fc1.bias.uniform_(-0.5, 0.5)  # some hidden units inactive
    y = torch.randn(5, 20, dtype=torch.float64)
    grad = dec.data_term_grad(y, data_weight=0.1, gram_after=gram_after)
    for _ in range(12):  # both sides of the switch to the Gram matrix
        z = torch.rand(5, 6, dtype=torch.float64)
        zz = z.clone().requires_grad_(True)
        (want,) = torch.autograd.grad(0.05 * (dec(zz) - y).pow(2).sum(), zz)
        # float64 algebra: 20-term sums of O(10) through 3 layers, 2 * 3 * gamma_20 * 10 ~ 1e-13
        torch.testing.assert_close(grad(z), want, atol=1e-12, rtol=1e-10)
    # FISTA through the NL decoder takes the closed form and lands where autograd does
    z0 = torch.rand(5, 6, dtype=torch.float64)
    z_a, k_a = fista(y, dec, 0.05, 0.5, z0, 300, 1e-10, data_weight=0.1)
    z_b, k_b = fista(y, lambda z: dec(z), 0.05, 0.5, z0, 300, 1e-10, data_weight=0.1)
    # float64: 300 steps whose gradients differ by ~1e-13 (above); 1e-9 is safe
    torch.testing.assert_close(z_a, z_b, atol=1e-9, rtol=0)
    assert k_a == k_b > 1


def test_fista_stops_early_and_warm_start_helps() -> None:
    torch.manual_seed(1)
    D = F.normalize(torch.randn(50, 16), dim=0)
    y = torch.randn(8, 50)
    z_star, n_cold = fista(y, D, 0.1, tol=1e-3)
    assert n_cold < 200  # stopped on the relative change, not on max_steps
    _, n_warm = fista(y, D, 0.1, z0=z_star, tol=1e-3)
    assert n_warm < n_cold
    E0 = sparse_coding_energy(y, torch.zeros(8, 50), torch.zeros(8, 16), 0.1).sum()
    E = sparse_coding_energy(y, z_star @ D.T, z_star, 0.1).sum()
    assert E < E0


def test_variance_hinge() -> None:
    Z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 0.6]])
    # unbiased std: component 0 = 2.0 (above T = 0.5), component 1 = sqrt(0.12) ~ 0.3464
    want = (0.5 - 0.12**0.5) ** 2
    assert float(variance_hinge(Z, 0.5)) == pytest.approx(want, rel=1e-6)
    assert float(variance_hinge(Z, threshold=0.3)) == 0.0  # every std above the threshold
    assert float(variance_hinge(3.0 * torch.randn(64, 5))) == 0.0
    assert float(variance_hinge(torch.zeros(4, 3))) == pytest.approx(3 * 0.25)
    z = torch.zeros(4, 3, requires_grad=True)  # collapsed codes: finite gradient with eps
    variance_hinge(z, eps=1e-8).backward()
    assert torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="B >= 2"):
        variance_hinge(torch.zeros(1, 3))


def test_lista_with_zero_iterations_is_one_relu_layer() -> None:
    # float64: the by-hand recurrence may sum in another order (mm against linear); float64's
    # gamma_10 ~ 1e-15 keeps assert_close's float64 defaults (1e-7) far above it
    torch.manual_seed(0)
    enc = LISTAEncoder(10, 6, n_iterations=0).double()
    y = torch.randn(5, 10, dtype=torch.float64)
    torch.testing.assert_close(enc(y), F.relu(enc.W(y)))
    enc3 = LISTAEncoder(10, 6, n_iterations=3).double()
    b = enc3.W(y)
    z = F.relu(b)
    for _ in range(3):
        z = F.relu(b + z @ enc3.S.weight.T)
    torch.testing.assert_close(enc3(y), z)
    assert float(enc3(y).detach().min()) >= 0.0


def test_model_normalises_inside_encode_and_clamps_decode() -> None:
    # float64, as above: (x - mean) / std by hand against the model's own
    model = create_variant("lista_mnist_tiny").eval().double()
    assert isinstance(model, SparseCodingAutoencoder)
    x = torch.rand(4, 784, dtype=torch.float64)
    y = (x - 0.1307) / 0.3081
    torch.testing.assert_close(model.encode(x), model.encoder(y))
    z = model.encode(x)
    torch.testing.assert_close(
        model.decode(z), (model.reconstruct(z) * 0.3081 + 0.1307).clamp(0, 1)
    )
    assert model.filters().shape == (16, 784)
    assert "classify" not in model.operations
    sdl = create_variant("lista_sdl_mnist", n_components=8)
    # float32 norms of unit columns: a 784-term sum of squares adding up to 1
    norms = sdl.decoder.weight.norm(dim=0)
    torch.testing.assert_close(norms, torch.ones(8), rtol=0, atol=sum_atol(np.float32, 784))
    nl = create_variant("lista_vdl_nl_mnist", nl_hidden=32)
    assert nl.filters().shape == (32, 784)


def test_sparse_code_lowers_the_energy_of_the_encoder_prediction() -> None:
    torch.manual_seed(0)
    for name, kw in [("lista_mnist_tiny", {}), ("lista_vdl_nl_mnist", {"nl_hidden": 32})]:
        model = create_variant(name, **kw)
        y = model.normalize(torch.rand(6, 784))
        with torch.no_grad():
            z0 = model.encoder(y)
            e0 = sparse_coding_energy(y, model.reconstruct(z0), z0, model.config.lam).sum()
            z, n = model.sparse_code(y)
            e = sparse_coding_energy(y, model.reconstruct(z), z, model.config.lam).sum()
        assert 1 <= n <= model.config.fista_max_steps
        assert float(z.min()) >= 0.0 and e < e0


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="extra"):
        LISTAConfig(n_atoms=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="image_shape"):
        LISTAConfig(n_features=100)
    with pytest.raises(ValueError, match="decoder"):
        LISTAConfig(decoder="deep")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "kwargs"), [("lista_mnist_tiny", {}), ("lista_vdl_nl_mnist", {"nl_hidden": 64})]
)
def test_onnx_export_parity_on_pixels(name: str, kwargs: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_variant(name, **kwargs).eval()
    record = export_onnx(model, tmp_path)  # raises ExportError on parity failure
    assert set(record["parity_max_abs_error"]) == {
        "onnx/encoder.onnx",
        "onnx/decoder.onnx",
        "onnx/scorer.onnx",
    }
    sess = ort.InferenceSession(str(tmp_path / ENCODER), providers=["CPUExecutionProvider"])
    x = torch.rand(5, 784)  # pixels in [0, 1]: normalisation is inside the graph
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = model.encode(x).numpy()
        atol = _lista_atol(model, x)
    np.testing.assert_array_less(np.abs(got - want), atol)


def _lista_atol(model: SparseCodingAutoencoder, x: torch.Tensor) -> np.ndarray:
    """Componentwise bound on |onnxruntime - torch| of the LISTA encoder on pixels ``x``.

    B = W y + b sums 784 products (two more roundings each for y = (x - mean) / std), so it
    errs by gamma_787 |W| |y| + |b| per side; each of the K steps relu(B + S z) adds
    gamma_17 (|B| + |S| |z|) per side and passes the earlier error on through |S| (relu is
    1-Lipschitz). Two evaluations: twice that (sum_atol's factor 2).
    """
    enc = model.encoder
    W, bias, S = (t.detach().double().abs() for t in (enc.W.weight, enc.W.bias, enc.S.weight))
    y = model.normalize(x).double()
    b = enc.W(model.normalize(x)).double()
    err_b = sum_atol(np.float32, 787) * (y.abs() @ W.T + bias)
    z, err = F.relu(b), err_b
    for _ in range(enc.n_iterations):
        err = err_b + err @ S.T + sum_atol(np.float32, 17) * (b.abs() + z.abs() @ S.T)
        z = F.relu(b + z @ enc.S.weight.detach().double().T)
    return err.numpy()


def test_variance_hinge_grad_matches_autograd() -> None:
    from aezoo.models.lista import variance_hinge_grad

    torch.manual_seed(0)
    Z = torch.rand(32, 6, dtype=torch.float64)
    Z[:, 0] = 0.3  # constant column: std 0, gradient 0 by convention
    Z[:, 1] *= 10.0  # std above the threshold: no gradient
    Zr = Z.clone().requires_grad_(True)
    variance_hinge(Zr, 0.5).backward()
    torch.testing.assert_close(variance_hinge_grad(Z, 0.5), Zr.grad)
    assert not variance_hinge_grad(Z, 0.5)[:, :2].any() and variance_hinge_grad(Z, 0.5).any()


def test_training_energy_closed_form_penalty_gradient_matches_autograd() -> None:
    """FISTA with the trainer's closed-form penalty gradient = FISTA with autograd."""
    from aezoo.training.lista import LISTATrainConfig, energy

    torch.manual_seed(0)
    cfg = LISTATrainConfig(model=LISTAConfig(n_components=16, fista_step=0.5))
    model = SparseCodingAutoencoder(cfg.model)
    x = torch.rand(40, 784)
    with torch.no_grad():
        fast = energy(model, x, cfg)["codes"]
        y, target = model.normalize(x), model.encoder(model.normalize(x))

        def penalty(Z: torch.Tensor) -> torch.Tensor:
            return cfg.gamma * (Z - target).pow(2).sum() / 16 + cfg.beta * variance_hinge(Z)

        slow, _ = model.sparse_code(y, target, penalty)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)
