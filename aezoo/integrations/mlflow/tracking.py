"""The MLflow client of one call, and a quick check that its tracking server answers."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aezoo.integrations.mlflow.errors import MlflowUnreachableError

PROBE_TIMEOUT_S = 5.0


def client_for(tracking_uri: str | None) -> Any:
    """An ``MlflowClient`` for ``tracking_uri`` (default: MLflow's own resolution,
    ``MLFLOW_TRACKING_URI`` or its local default; never a remote server), after a probe.

    Raises:
        MlflowUnreachableError: an ``http(s)://`` server did not answer its ``/health``
            within :data:`PROBE_TIMEOUT_S`, or the backend store could not be opened.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S):
                pass
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise MlflowUnreachableError(
                f"no MLflow tracking server reachable at {uri} ({reason})"
            ) from None
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as e:  # MlflowException, sqlalchemy errors: the store did not open
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MlflowUnreachableError(f"MLflow tracking store {uri} unusable: {first}") from None
    return client


@contextmanager
def using(uri: str) -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs set to ``uri``, restored after.

    MLflow mirrors them into ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI`` (for its
    subprocesses), so those variables are the state restored: a caller that set neither
    gets MLflow's own default resolution back, not a URI pinned by this call.
    """
    import mlflow

    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(old["MLFLOW_TRACKING_URI"])  # None: back to the default
        mlflow.set_registry_uri(old["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
