"""What must fail, fails cleanly: corrupted files, foreign models, no server, a failed step."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.integrations.mlflow.conftest import NEEDS_MLFLOW, Store, make_store
from tests.integrations.mlflow.conftest import client as mlflow_client

mlflow = pytest.importorskip("mlflow", reason=NEEDS_MLFLOW)

from mlflow.tracking import MlflowClient  # noqa: E402

from aezoo.errors import IntegrityError, ModelNotFoundError  # noqa: E402
from aezoo.integrations.mlflow import (  # noqa: E402
    MlflowBridgeError,
    NotAezooModelError,
    publish,
    pull,
)
from aezoo.registry.store import LocalStore  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    s = make_store(tmp_path)
    monkeypatch.setenv("AEZOO_HOME", str(s.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return s


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with ends: nothing listens


def _model_file(store: Store, rel: str) -> Path:
    """The file ``rel`` of the one aezoo artifact in the store's artifact root."""
    hits = sorted(store.artifacts.rglob(f"artifacts/aezoo/{rel}"))
    assert len(hits) == 1, hits
    return hits[0]


def mlflow_uris(uri: str):
    from aezoo.integrations.mlflow.tracking import using

    return using(uri)


def test_a_corrupted_file_in_the_mlflow_store_is_refused_naming_it(store: Store) -> None:
    publish("sda-mnist", tracking_uri=store.uri, alias="production")
    target = _model_file(store, "onnx/decoder.onnx")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"onnx/decoder\.onnx"):
        pull("mlflow:models:/sda-mnist@production", tracking_uri=store.uri)
    assert LocalStore().local_versions("sda-mnist") == []  # nothing written locally


def test_a_model_that_is_not_an_aezoo_export_names_what_is_missing(store: Store) -> None:
    class Plain(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    with mlflow_uris(store.uri), mlflow.start_run(experiment_id="1"):
        info = mlflow.pyfunc.log_model(name="plain", python_model=Plain())
        mlflow.register_model(info.model_uri, "plain")
    with pytest.raises(NotAezooModelError, match=r"no python_function artifact 'aezoo'") as e:
        pull("mlflow:models:/plain/1", tracking_uri=store.uri)
    assert "\n" not in str(e.value)
    assert not (store.home / "registry").exists() or LocalStore().list() == LocalStore().list()


def test_unknown_names_versions_and_aliases_are_not_found(store: Store) -> None:
    publish("sda-mnist", tracking_uri=store.uri)
    with pytest.raises(ModelNotFoundError, match="models:/sda-mnist@production"):
        pull("mlflow:models:/sda-mnist@production", tracking_uri=store.uri)
    with pytest.raises(ModelNotFoundError, match="models:/nope/1"):
        pull("mlflow:models:/nope/1", tracking_uri=store.uri)


def test_a_failed_step_leaves_no_version_no_model_and_no_live_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args, **kwargs):
        raise RuntimeError("alias store down")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(MlflowBridgeError, match="alias store down"):
        publish("sda-mnist", tracking_uri=store.uri, alias="production")
    client = mlflow_client(store)
    assert client.search_registered_models() == []
    runs = client.search_runs(["1"], run_view_type=mlflow.entities.ViewType.ACTIVE_ONLY)
    assert runs == []


def test_no_tracking_server_is_one_line_and_exit_2(store: Store) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {**os.environ, "AEZOO_HOME": str(store.home), "MLFLOW_TRACKING_URI": url}
    for args in (
        ["publish", "sda-mnist", "--to", "mlflow"],
        ["publish", "sda-mnist", "--to", "mlflow", "--tracking-uri", url],
        ["pull", "mlflow:models:/sda-mnist@production"],
    ):
        r = run_cli(*args, env=env, timeout=120)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and url in lines[0] and "no MLflow tracking server" in lines[0]


def test_cli_publish_and_pull_round_trip(store: Store) -> None:
    env = {**os.environ, "AEZOO_HOME": str(store.home), "MLFLOW_TRACKING_URI": store.uri}
    r = run_cli(
        "publish",
        "drsae-mnist",
        "--to",
        "mlflow",
        "--registered-model",
        "dr",
        "--alias",
        "prod",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "models:/dr/1" in r.stdout
    r = run_cli("pull", "mlflow:models:/dr@prod", "--tracking-uri", store.uri, env=env)
    assert r.returncode == 0, r.stderr
    assert "as drsae-mnist@2" in r.stdout  # bundled drsae-mnist is version 1
    x = np.zeros((1, 784), np.float32)
    import aezoo

    assert np.array_equal(
        aezoo.load("drsae-mnist@2").encode(x), aezoo.load("drsae-mnist").encode(x)
    )


def test_publish_to_the_hub_still_needs_its_repo_id(store: Store) -> None:
    r = run_cli("publish", "sda-mnist", env={**os.environ, "AEZOO_HOME": str(store.home)})
    assert r.returncode == 1 and "--repo-id" in r.stderr
