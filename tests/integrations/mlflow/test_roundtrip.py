"""Export to a real MLflow (SQLite store, local artifacts), load back through MLflow, import.

Models: the bundled ``sda-mnist`` and ``drsae-mnist``, and an SdA trained here on a user's
table (scikit-learn's digits as CSV, 2+2 epochs). ``predict`` and ``aezoo.load`` run the same
ONNX graphs with onnxruntime, so answers agree to float32 rounding of one dot product.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.integrations.mlflow.conftest import NEEDS_MLFLOW, Store
from tests.integrations.mlflow.conftest import client as mlflow_client
from tests.tolerance import sum_atol

mlflow = pytest.importorskip("mlflow", reason=NEEDS_MLFLOW)

import aezoo  # noqa: E402
from aezoo.integrations.mlflow import publish, pull  # noqa: E402
from aezoo.integrations.mlflow.pyfunc import offered  # noqa: E402
from aezoo.registry.artifact import read_manifest  # noqa: E402
from aezoo.registry.store import LocalStore  # noqa: E402

pytestmark = pytest.mark.integration
MODELS = ["sda-mnist", "drsae-mnist", "own-table"]


@pytest.fixture(scope="module")
def exported(mlflow_store: Store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each model published as registered model NAME with alias production: {name: aezoo ref}."""
    refs = {"sda-mnist": "sda-mnist", "drsae-mnist": "drsae-mnist"}
    pytest.importorskip("torch")
    sk = pytest.importorskip("sklearn.datasets")
    d = sk.load_digits(as_frame=True)
    table = tmp_path_factory.mktemp("table") / "digits.csv"
    d.frame.rename(columns={"target": "digit"}).to_csv(table, index=False)
    _, version = aezoo.train(
        "sda",
        str(table),
        name="own-table",
        label_column="digit",
        overrides=["pretrain_epochs=2", "finetune_epochs=2"],
        show_progress=False,
    )
    refs["own-table"] = f"own-table@{version.version}"
    for name, ref in refs.items():
        mv = publish(ref, tracking_uri=mlflow_store.uri, alias="production")
        assert (mv.name, mv.version, mv.alias) == (name, "1", "production")
    mlflow.set_tracking_uri(mlflow_store.uri)
    mlflow.set_registry_uri(mlflow_store.uri)
    return refs


def _inputs(model, n: int = 5) -> np.ndarray:
    lo, hi = model.config.input.value_range or (0.0, 1.0)
    rng = np.random.default_rng(0)
    return rng.uniform(lo, hi, (n, model.config.input.n_features)).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_pyfunc_predict_answers_like_aezoo_load_for_every_operation(
    exported: dict[str, str], name: str
) -> None:
    local = aezoo.load(exported[name])
    remote = mlflow.pyfunc.load_model(f"models:/{name}@production")
    x = _inputs(local)
    width = local.config.input.n_features
    ops = offered(list(local.operations))
    assert "encode" in ops and "decode" in ops
    for op in ops:
        if op == "interpolate":
            got = remote.predict(x[:4], params={"operation": op, "steps": 3})
            want = np.concatenate(
                [local.interpolate(x[0], x[1], 3), local.interpolate(x[2], x[3], 3)]
            )
        else:
            arg = local.encode(x) if op == "decode" else x
            got = remote.predict(arg, params={"operation": op})
            want = getattr(local, op)(arg)
        assert got.shape == want.shape and got.dtype == want.dtype, op
        np.testing.assert_allclose(got, want, rtol=0, atol=sum_atol(np.float32, width), err_msg=op)
    default = remote.predict(x)  # no params: encode
    np.testing.assert_allclose(default, local.encode(x), rtol=0, atol=sum_atol(np.float32, width))


def test_an_operation_the_model_lacks_is_refused_naming_what_it_offers(exported) -> None:
    remote = mlflow.pyfunc.load_model("models:/drsae-mnist@production")
    with pytest.raises(Exception, match=r"does not offer operation 'reconstruct'.*encode"):
        remote.predict(np.zeros((1, 784), np.float32), params={"operation": "reconstruct"})


def test_registered_version_has_card_tags_signature_and_onnx_encoder(
    exported: dict[str, str], mlflow_store: Store
) -> None:
    import onnxruntime as ort

    client = mlflow_client(mlflow_store)
    mv = client.get_model_version_by_alias("sda-mnist", "production")
    card = (aezoo.load("sda-mnist").path / "README.md").read_text()
    assert mv.description == card
    training = json.loads((aezoo.load("sda-mnist").path / "training.json").read_text())
    for key, value in training["metrics"].items():
        assert float(mv.tags[f"aezoo.metric.{key}"]) == value
    assert json.loads(mv.tags["aezoo.data"])["data_fingerprint"] == training["data_fingerprint"]
    info = mlflow.models.get_model_info("models:/sda-mnist@production")
    params = {p.name: p.default for p in info.signature.params.params}
    assert params == {"operation": "encode", "steps": 8}
    assert info.signature.outputs.inputs[0].shape == (-1, 200)
    # the encoder under the onnx flavor, for consumers that only run ONNX
    onnx_model = mlflow.onnx.load_model(f"runs:/{mv.run_id}/encoder-onnx")
    sess = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = _inputs(aezoo.load("sda-mnist"))
    (codes,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_allclose(
        codes, aezoo.load("sda-mnist").encode(x), atol=sum_atol(np.float32, 784)
    )


@pytest.mark.parametrize("name", MODELS)
def test_import_back_gives_the_same_manifest_and_notes_the_alias(
    exported: dict[str, str], name: str
) -> None:
    source = read_manifest(aezoo.load(exported[name]).path)
    v = pull(f"mlflow:models:/{name}@production", name=f"{name}-back")
    back = read_manifest(v.path)
    assert back.files == source.files  # every file, byte for byte (sha256 and size)
    assert (back.name, back.version) == (f"{name}-back", "1")
    notes = [h for h in LocalStore().alias_history(f"{name}-back") if "note" in h]
    assert len(notes) == 1 and "'production'" in notes[0]["note"] and notes[0]["to"] == "1"
    assert LocalStore().aliases(f"{name}-back") == {}  # a note moves no alias
    by_version = pull(f"mlflow:models:/{name}/1", name=f"{name}-back")
    assert by_version.version == "2" and read_manifest(by_version.path).files == source.files
