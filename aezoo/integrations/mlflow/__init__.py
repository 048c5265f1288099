"""MLflow interop: an aezoo model version becomes an MLflow registered model, and back.

Needs ``aezoo[mlflow]``. An exported version is one MLflow model whose artifacts hold the
whole aezoo artifact (every file its manifest lists, re-hashed on import); its
``python_function`` flavor answers every operation :func:`aezoo.load` offers, and the
encoder is also logged under MLflow's ``onnx`` flavor. Addresses follow MLflow's model URIs
(``models:/NAME@ALIAS``, ``models:/NAME/VERSION``; MLflow 3 docs, "Model Registry").

    from aezoo.integrations.mlflow import publish, pull
    mv = publish("sda-mnist", tracking_uri="sqlite:///mlflow.db", alias="production")
    v = pull("mlflow:models:/sda-mnist@production", tracking_uri="sqlite:///mlflow.db")
"""

from aezoo.integrations.mlflow.errors import (
    MlflowBridgeError,
    MlflowUnreachableError,
    NotAezooModelError,
)
from aezoo.integrations.mlflow.export import MlflowVersion, publish
from aezoo.integrations.mlflow.importer import pull
from aezoo.integrations.mlflow.uri import parse_model_uri

__all__ = [
    "MlflowBridgeError",
    "MlflowUnreachableError",
    "MlflowVersion",
    "NotAezooModelError",
    "parse_model_uri",
    "publish",
    "pull",
]
