"""MLflow registered-model URIs: ``[mlflow:]models:/NAME@ALIAS`` and ``models:/NAME/VERSION``.

Source: MLflow 3 docs, "Model Registry" (model URIs; aliases replaced stages in 2.x).
"""

from __future__ import annotations

import re

PREFIX = "mlflow:"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[0-9]+))$")


def parse_model_uri(ref: str) -> tuple[str, str | None, str | None]:
    """Split a reference into ``(name, alias, version)``; exactly one of the last two is set.

    Args:
        ref: ``mlflow:models:/NAME@ALIAS``, ``mlflow:models:/NAME/VERSION`` or either
            without the ``mlflow:`` prefix.

    Raises:
        ValueError: not of those forms (the message shows the accepted forms).
    """
    uri = ref[len(PREFIX) :] if ref.startswith(PREFIX) else ref
    m = _URI.match(uri)
    if m is None:
        raise ValueError(
            f"{ref!r} is not an MLflow model reference; use mlflow:models:/NAME@ALIAS "
            "or mlflow:models:/NAME/VERSION"
        )
    return m["name"], m["alias"], m["version"]


def is_mlflow_ref(ref: str) -> bool:
    """True for references the MLflow bridge handles (``mlflow:...``)."""
    return ref.startswith(PREFIX)
