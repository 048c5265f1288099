"""The TorchServe archive (``aezoo export-torchserve``) and its handler, without a server.

The handler is driven through TorchServe's own ``ts.context.Context`` and
``RequestProcessor`` on an archive extracted as TorchServe extracts it; a real
TorchServe serving the archive is in ``test_torchserve_server.py`` (slow).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.errors import ArtifactError, ConfigError, IntegrityError
from aezoo.registry import resolve
from tests.serving.conftest import npy_bytes
from tests.tolerance import SDA_LAYERS, layers_atol, sda_atol, sum_atol

pytest.importorskip(
    "model_archiver", reason="pip install 'aezoo[torchserve]' (torch-model-archiver)"
)
ts_context = pytest.importorskip(
    "ts.context", reason="pip install 'aezoo[torchserve]' (torchserve)"
)
yaml = pytest.importorskip("yaml", reason="TorchServe reads model-config.yaml with PyYAML")

from aezoo.integrations.torchserve.archive import ArchiveSettings, build_archive  # noqa: E402
from aezoo.integrations.torchserve.torchserve_handler import AezooHandler  # noqa: E402

NPY = "application/x-npy"


@pytest.fixture(scope="module")
def mar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model-store")
    return build_archive("sda-mnist", out, ArchiveSettings(batch_size=8, max_batch_size=4))


@pytest.fixture
def model_dir(mar: Path, tmp_path: Path) -> Path:
    with zipfile.ZipFile(mar) as z:
        z.extractall(tmp_path / "sda-mnist")
    return tmp_path / "sda-mnist"


def test_archive_from_a_hub_cache_snapshot_holds_plain_files(tmp_path: Path) -> None:
    """Files of a Hugging Face cache snapshot are links into ``blobs/``: archived as bytes."""
    artifact = resolve("sda-mnist")
    repo = tmp_path / "hub" / "models--org--sda-mnist"
    snapshot = repo / "snapshots" / "0123abcd"
    (repo / "blobs").mkdir(parents=True)
    for src in artifact.rglob("*"):
        if src.is_file():
            blob = repo / "blobs" / f"blob{len(list((repo / 'blobs').iterdir()))}"
            blob.write_bytes(src.read_bytes())
            link = snapshot / src.relative_to(artifact)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(blob)
    mar = build_archive(str(snapshot), tmp_path / "store")
    with zipfile.ZipFile(mar) as z:
        encoder = z.getinfo("artifact/onnx/encoder.onnx")
        assert z.read(encoder) == (artifact / "onnx" / "encoder.onnx").read_bytes()
        assert (encoder.external_attr >> 16) & 0o170000 != 0o120000  # not a link


def _context(model_dir: Path, headers: list[dict[str, str]]) -> object:
    manifest = json.loads((model_dir / "MAR-INF" / "MANIFEST.json").read_text())
    config = yaml.safe_load((model_dir / manifest["model"]["configFile"]).read_text())
    ctx = ts_context.Context(
        "sda-mnist", str(model_dir), manifest, 8, None, "0.12.0", True, None, config
    )
    ctx.request_processor = [ts_context.RequestProcessor(h) for h in headers]
    return ctx


def test_archive_holds_handler_settings_and_every_artifact_file(mar: Path) -> None:
    artifact = resolve("sda-mnist")
    packed = json.loads((artifact / "manifest.json").read_text())
    listed = packed["files"]
    with zipfile.ZipFile(mar) as z:
        names = set(z.namelist())
        config = yaml.safe_load(z.read("model-config.yaml"))
        manifest = json.loads(z.read("MAR-INF/MANIFEST.json"))
        for rel in listed:
            assert z.read(f"artifact/{rel}") == (artifact / rel).read_bytes()
    assert {"torchserve_handler.py", "artifact/manifest.json"} <= names
    assert manifest["model"]["handler"] == "torchserve_handler.py"
    assert manifest["model"]["modelVersion"] == packed["version"]
    assert config["batchSize"] == 8 and config["maxBatchDelay"] == 5
    assert "minWorkers" not in config  # TorchServe's default: one worker per core
    assert config["aezoo"]["name"] == "sda-mnist" and config["aezoo"]["max_batch_size"] == 4


def test_existing_archive_needs_force(mar: Path) -> None:
    with pytest.raises(FileExistsError, match="--force"):
        build_archive("sda-mnist", mar.parent)
    assert (
        build_archive(
            "sda-mnist", mar.parent, ArchiveSettings(batch_size=8, max_batch_size=4), force=True
        )
        == mar
    )


def test_workers_are_pinned_when_asked() -> None:
    config = yaml.safe_load(ArchiveSettings(workers=2).yaml("m", "3"))
    assert config["minWorkers"] == config["maxWorkers"] == 2
    assert config["aezoo"] == {
        "name": "m",
        "version": "3",
        "max_batch_size": 1024,
        "intra_op_threads": 0,
    }


@pytest.mark.parametrize("field", ["batch_size", "max_batch_size", "response_timeout_s"])
def test_settings_are_validated(field: str) -> None:
    with pytest.raises(ConfigError, match=f"{field} must be >= 1"):
        ArchiveSettings(**{field: 0})


def test_a_batch_of_mixed_requests_answers_like_aezoo_load(model_dir: Path) -> None:
    model = aezoo.load("sda-mnist")
    x = np.random.default_rng(0).random((6, 784), dtype=np.float32)
    rows = [
        ({"Content-Type": "application/json"}, {"inputs": x[:3].tolist()}),  # decoded by TorchServe
        (
            {"Content-Type": NPY, "url_path": "denoise", "Accept": NPY},
            npy_bytes(x[3:5].reshape(2, 28, 28)),
        ),
        (
            {"Content-Type": "application/json", "url_path": "classify"},
            json.dumps({"inputs": x[5:].tolist()}).encode(),
        ),
        ({"Content-Type": NPY, "Accept": NPY}, npy_bytes(x[:2].astype(np.float64))),
        ({"Content-Type": NPY, "url_path": "classify", "Accept": NPY}, npy_bytes(x[:2])),
    ]
    ctx = _context(model_dir, [h for h, _ in rows])
    handler = AezooHandler()
    handler.initialize(ctx)
    answers = handler.handle([{"body": b} for _, b in rows], ctx)
    assert [ctx.get_response_status(i)[0] for i in range(len(rows))] == [200] * 5
    # the handler batches the requests together: sda-mnist's sums in another blocking
    codes, out = sda_atol("sda-mnist", "encode"), sda_atol("sda-mnist", "denoise")
    proba = sda_atol("sda-mnist", "predict_proba")
    np.testing.assert_allclose(json.loads(answers[0])["codes"], model.encode(x[:3]), atol=codes)
    assert ctx.get_response_content_type(1) == NPY
    np.testing.assert_allclose(np.load(io.BytesIO(answers[1])), model.denoise(x[3:5]), atol=out)
    classify = json.loads(answers[2])
    np.testing.assert_allclose(classify["probabilities"], model.predict_proba(x[5:]), atol=proba)
    assert classify["labels"] == [str(model.classify(x[5:])[0])]
    np.testing.assert_allclose(np.load(io.BytesIO(answers[3])), model.encode(x[:2]), atol=codes)
    np.testing.assert_allclose(
        np.load(io.BytesIO(answers[4])), model.predict_proba(x[:2]), atol=proba
    )
    labels = json.loads(ctx.get_response_headers(4)["X-Aezoo-Labels"])
    assert labels == [str(i) for i in model.classify(x[:2])]


BAD = [
    (
        {"Content-Type": "application/json"},
        b'{"inputs": [[',
        400,
        "malformed_json",
        "not valid JSON",
    ),
    (
        {"Content-Type": "application/json"},
        b'{"inputs": [["0.5"]]}',
        422,
        "validation_error",
        "must be a number",
    ),
    (
        {"Content-Type": "application/json"},
        b'{"inputs": [[0.5]]}',
        422,
        "invalid_input",
        "(batch, 784)",
    ),
    (
        {"Content-Type": NPY},
        npy_bytes(np.full((1, 784), np.nan, np.float32)),
        422,
        "invalid_input",
        "NaN",
    ),
    (
        {"Content-Type": NPY},
        npy_bytes(np.full((1, 784), 2.0, np.float32)),
        422,
        "invalid_input",
        "[0, 1]",
    ),
    (
        {"Content-Type": NPY},
        npy_bytes(np.zeros((1, 784), np.int64)),
        422,
        "invalid_input",
        "float32 or float64",
    ),
    ({"Content-Type": NPY}, b"not npy", 422, "invalid_input", "not a .npy file"),
    (  # a header cut inside its dict: numpy raises tokenize.TokenError, not ValueError
        {"Content-Type": NPY},
        npy_bytes(np.zeros((1, 784), np.float32))[:50] + b" " * 3200,
        422,
        "invalid_input",
        "not a valid .npy array",
    ),
    (
        {"Content-Type": NPY},
        npy_bytes(np.zeros((5, 784), np.float32)),
        413,
        "batch_too_large",
        "max_batch_size=4",
    ),
    ({"Content-Type": "text/plain"}, b"0.5", 415, "unsupported_media_type", "application/x-npy"),
    (
        {"Content-Type": NPY, "url_path": "interpolate"},
        b"",
        404,
        "operation_not_supported",
        "encode, denoise, classify",
    ),
]


def test_bad_requests_get_their_own_4xx_and_spare_the_good_ones(model_dir: Path) -> None:
    good = ({"Content-Type": NPY, "Accept": NPY}, npy_bytes(np.zeros((1, 784), np.float32)))
    rows = [good, *[(h, b) for h, b, *_ in BAD], good]
    ctx = _context(model_dir, [h for h, _ in rows])
    handler = AezooHandler()
    handler.initialize(ctx)
    answers = handler.handle([{"body": b} for _, b in rows], ctx)
    for i, (_, _, status, kind, words) in enumerate(BAD, start=1):
        assert ctx.get_response_status(i)[0] == status, answers[i]
        error = json.loads(answers[i])["error"]
        assert error["type"] == kind and words in error["message"], error
    want = aezoo.load("sda-mnist").encode(np.zeros((1, 784), np.float32))
    for i in (0, len(rows) - 1):
        assert ctx.get_response_status(i)[0] == 200
        # batch 2 against batch 1; a zero input makes the first layer's sums exactly its bias
        atol = layers_atol(np.float32, SDA_LAYERS["sda-mnist"]["encode"][1:])
        np.testing.assert_allclose(np.load(io.BytesIO(answers[i])), want, atol=atol)


def test_tampered_file_fails_the_load(model_dir: Path) -> None:
    encoder = model_dir / "artifact" / "onnx" / "encoder.onnx"
    data = bytearray(encoder.read_bytes())
    data[-1] ^= 0xFF
    encoder.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"encoder\.onnx"):
        AezooHandler().initialize(_context(model_dir, []))


def test_unlisted_file_or_symlink_fails_the_load(model_dir: Path) -> None:
    extra = model_dir / "artifact" / "onnx" / "extra.onnx"
    extra.write_bytes(b"x")
    with pytest.raises(ArtifactError, match=r"extra\.onnx is not listed"):
        AezooHandler().initialize(_context(model_dir, []))
    extra.unlink()
    extra.symlink_to(model_dir / "artifact" / "onnx" / "encoder.onnx")
    with pytest.raises(ArtifactError, match="symlink"):
        AezooHandler().initialize(_context(model_dir, []))


def test_archive_settings_must_name_the_packed_version(model_dir: Path) -> None:
    config = model_dir / "model-config.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["aezoo"]["version"] = "other"
    config.write_text(yaml.safe_dump(settings))
    with pytest.raises(ArtifactError, match="built from sda-mnist@other"):
        AezooHandler().initialize(_context(model_dir, []))


def test_a_table_model_answers_in_raw_units_like_aezoo_load(tmp_path: Path) -> None:
    """A model trained on a table keeps its scaling in the graphs: the .mar's handler takes
    and answers the table's own units exactly as aezoo.load does."""
    torch = pytest.importorskip("torch")
    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant
    from aezoo.models.scaled import ScaledAutoEncoder

    torch.manual_seed(0)
    base = create_variant("sda_mnist_tiny", image_shape=None)
    rng = np.random.default_rng(0)
    offset, scale = rng.uniform(-50, 50, 784), rng.uniform(1, 100, 784)
    art = build_artifact(
        ScaledAutoEncoder.wrap(base, offset, scale), tmp_path / "table", name="table-tiny"
    )
    mar = build_archive(str(art), tmp_path / "store", ArchiveSettings(batch_size=4))
    with zipfile.ZipFile(mar) as z:
        z.extractall(tmp_path / "table-tiny")
    x = (offset + scale * rng.random((3, 784))).astype(np.float32)  # raw units
    headers = [
        {"Content-Type": NPY, "Accept": NPY},
        {"Content-Type": NPY, "url_path": "denoise", "Accept": NPY},
    ]
    ctx = _context(tmp_path / "table-tiny", headers)
    handler = AezooHandler()
    handler.initialize(ctx)
    answers = handler.handle([{"body": npy_bytes(x)}, {"body": npy_bytes(x)}], ctx)
    model = aezoo.load(art)
    # another session (threads, batch) may sum in another order: a 784-input layer's bound
    atol = sum_atol(np.float32, 784, abs_sum=784, depth=4)
    np.testing.assert_allclose(np.load(io.BytesIO(answers[0])), model.encode(x), atol=atol)
    np.testing.assert_allclose(  # raw units, up to 150: the same bound, relative
        np.load(io.BytesIO(answers[1])), model.denoise(x), rtol=atol, atol=150 * atol
    )
