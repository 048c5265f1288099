"""A real MLflow per test module: SQLite backend store and local artifact root in a temp dir.

Every test here needs the [mlflow] extra and skips with that reason where it is missing (the
README's main test command installs [train,serve,dev] only; .ci/run installs [mlflow]).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NEEDS_MLFLOW = "needs the [mlflow] extra: pip install -e '.[mlflow]'"


@dataclass
class Store:
    uri: str  # sqlite:///.../mlflow.db
    artifacts: Path  # the "aezoo" experiment's artifact location
    home: Path  # AEZOO_HOME (the local registry under it)


def client(store: Store):
    """An ``MlflowClient`` on ``store`` for both tracking and registry."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def make_store(root: Path) -> Store:
    """A fresh backend store with the ``aezoo`` experiment's artifacts under ``root``."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    artifacts = root / "artifacts"
    MlflowClient(uri).create_experiment("aezoo", artifact_location=artifacts.as_uri())
    return Store(uri, artifacts, root / "home")


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    pytest.importorskip("mlflow", reason=NEEDS_MLFLOW)
    mp = pytest.MonkeyPatch()
    store = make_store(tmp_path_factory.mktemp("mlflow"))
    mp.setenv("AEZOO_HOME", str(store.home))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        yield store
    finally:
        mp.undo()
