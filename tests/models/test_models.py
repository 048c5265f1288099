"""Every registered variant answers the shared interface (timm style: one test, all models)."""

from __future__ import annotations

import pytest
import torch

from aezoo.errors import ConfigError, OperationNotSupportedError
from aezoo.models import create_model, create_variant, list_variants
from aezoo.models.sda import SdAConfig


@pytest.mark.parametrize("name", list_variants())
def test_variant_shapes(name: str) -> None:
    model = create_variant(name).eval()
    lo, hi = model.input_spec().value_range
    x = lo + (hi - lo) * torch.rand(3, model.n_features)
    z = model.encode(x)
    assert z.shape == (3, model.n_components)
    x_hat = model.decode(z)
    assert x_hat.shape == x.shape
    assert float(x_hat.detach().min()) >= lo and float(x_hat.detach().max()) <= hi
    if model.has_classifier:  # families without a supervised head refuse classify
        assert model.classify(x).shape == (3, len(model.class_names or []))
    rebuilt = create_model(model.architecture, model.model_args())
    assert rebuilt.model_args() == model.model_args()


def test_tied_weights_share_the_encoder_matrix() -> None:
    tied = create_variant("sda_mnist_tiny")
    untied = create_variant("sda_mnist_tiny", tied_weights=False)
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == 784 * 32 + 32 * 16  # one decoder matrix per layer
    # float64: decode's linear sums in another order than h @ W; float64's gamma_32 ~ 4e-15
    # keeps assert_close's float64 defaults (1e-7) safe, and untied weights would be far off
    layer = tied.double().layers[0]
    h = torch.rand(2, 32, dtype=torch.float64)
    want = torch.sigmoid(h @ layer.encoder.weight + layer.decoder_bias)
    torch.testing.assert_close(layer.decode(h), want)


def test_model_without_head_refuses_classify() -> None:
    model = create_variant("sda_mnist_tiny", n_classes=None)
    assert "classify" not in model.operations
    with pytest.raises(OperationNotSupportedError):
        model.classify(torch.rand(1, 784))


def test_config_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="hidden_sizes"):
        SdAConfig(hidden_sizes=[])
    with pytest.raises(ValueError, match="extra"):
        SdAConfig(hidden_size=[3])  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="unknown architecture 'nope'"):
        create_model("nope", {})
    with pytest.raises(ConfigError, match="invalid model_args"):
        create_model("sda", {"hidden_sizes": "wide"})
