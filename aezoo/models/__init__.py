"""Model families (torch). Each family registers its architecture and named variants.

``create_model(architecture, model_args)`` rebuilds a net from an artifact's
``config.json``; ``create_variant(name)`` builds a named, registered variant
(e.g. ``sda_mnist``). Registration is explicit in this file, never a side
effect of ``import *``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aezoo.errors import ConfigError
from aezoo.models.base import AutoEncoder
from aezoo.models.conv import ConvAutoEncoder
from aezoo.models.drsae import DrSAE
from aezoo.models.lista import SparseCodingAutoencoder
from aezoo.models.scaled import ScaledAutoEncoder
from aezoo.models.sda import StackedDenoisingAutoencoder

ARCHITECTURES: dict[str, type[AutoEncoder]] = {
    StackedDenoisingAutoencoder.architecture: StackedDenoisingAutoencoder,
    DrSAE.architecture: DrSAE,
    SparseCodingAutoencoder.architecture: SparseCodingAutoencoder,
    ConvAutoEncoder.architecture: ConvAutoEncoder,
    ScaledAutoEncoder.architecture: ScaledAutoEncoder,
}

_VARIANTS: dict[str, Callable[..., AutoEncoder]] = {}


def register_model(fn: Callable[..., AutoEncoder]) -> Callable[..., AutoEncoder]:
    """Register a named variant constructor (timm style)."""
    _VARIANTS[fn.__name__] = fn
    return fn


def create_model(architecture: str, model_args: dict[str, Any]) -> AutoEncoder:
    """Build a model from its architecture name and constructor arguments.

    Raises:
        ConfigError: unknown architecture or invalid arguments.
    """
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ConfigError(f"unknown architecture {architecture!r}; known: {known}") from None
    try:
        config = cls.config_class(**model_args)
    except ValueError as e:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"invalid model_args for {architecture!r}: {e}") from e
    return cls(config)


def list_variants() -> list[str]:
    return sorted(_VARIANTS)


def create_variant(name: str, **kwargs: Any) -> AutoEncoder:
    try:
        return _VARIANTS[name](**kwargs)
    except KeyError:
        raise ConfigError(f"unknown model variant {name!r}; known: {list_variants()}") from None


from aezoo.models import conv as _conv  # noqa: E402
from aezoo.models import drsae as _drsae  # noqa: E402
from aezoo.models import lista as _lista  # noqa: E402
from aezoo.models import sda as _sda  # noqa: E402

for _fn in [*_sda.VARIANTS, *_drsae.VARIANTS, *_lista.VARIANTS, *_conv.VARIANTS]:
    register_model(_fn)

__all__ = ["ARCHITECTURES", "AutoEncoder", "create_model", "create_variant", "list_variants"]
