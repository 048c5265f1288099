"""The gallery page and the public-files routes, in process (the browser test drives the page)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from aezoo.registry.artifact import SAMPLES, read_manifest
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from aezoo.serving.http.gallery import STATIC_DIR

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # enough of a PNG for a files route


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SdA artifact with one figure and samples, as the trainer builds them."""
    torch = pytest.importorskip("torch")
    from aezoo.export.samples import make_samples
    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    torch.manual_seed(0)
    X = np.random.default_rng(0).random((30, 784), dtype=np.float32)
    y = np.arange(30) % 10
    return build_artifact(
        create_variant("sda_mnist_tiny"),
        tmp_path_factory.mktemp("gallery") / "sda-tiny",
        name="sda-tiny",
        figures={"filters.png": PNG},
        samples=make_samples(X, y, "mnist"),
    )


def client_for(path: Path, ui: bool = True) -> TestClient:
    return TestClient(create_app({"sda-tiny": OnnxModel(path)}, ServeSettings(ui=ui)))


@pytest.fixture
def client(artifact: Path) -> Iterator[TestClient]:
    with client_for(artifact) as c:
        yield c


def test_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    for asset in re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text):
        response = client.get(asset)
        assert response.status_code == 200, asset
    assert client.get("/ui/js/main.js").headers["content-type"].startswith("text/javascript")


def test_static_files_are_self_contained() -> None:
    """No build step, nothing from another host: every import resolves to a shipped file."""
    vendor = STATIC_DIR / "vendor"
    ours = [p for p in STATIC_DIR.rglob("*") if p.suffix in {".html", ".css", ".js"}]
    ours = [p for p in ours if vendor not in p.parents]
    assert len(ours) >= 8
    for path in ours:
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, path
        for module in re.findall(r'from "(\.[^"]+)"', text):
            assert (path.parent / module).resolve().is_file(), (path, module)
    for licence in ("marked.LICENSE.md", "dompurify.LICENSE"):
        assert (STATIC_DIR / "vendor" / licence).is_file()


def test_public_files_are_listed_and_served(client: TestClient, artifact: Path) -> None:
    listed = client.get("/v1/models/sda-tiny/files").json()["files"]
    manifest = read_manifest(artifact).files
    assert [f["path"] for f in listed] == ["figures/filters.png", SAMPLES]
    assert all(f["sha256"] == manifest[f["path"]].sha256 for f in listed)
    figure = client.get("/v1/models/sda-tiny/files/figures/filters.png")
    assert figure.status_code == 200 and figure.content == PNG
    assert figure.headers["content-type"] == "image/png"
    assert figure.headers["etag"] == f'"{manifest["figures/filters.png"].sha256}"'
    samples = client.get(f"/v1/models/sda-tiny/files/{SAMPLES}").json()
    assert len(samples["inputs"]) == 10 and samples["labels"] == [str(i) for i in range(10)]
    # the rows are a valid request batch of this model
    codes = client.post("/v1/models/sda-tiny/encode", json={"inputs": samples["inputs"]})
    assert codes.status_code == 200 and len(codes.json()["codes"]) == 10


@pytest.mark.parametrize(
    "path,status,kind",
    [
        ("model.safetensors", 404, "not_found"),  # listed, but not public
        ("onnx/encoder.onnx", 404, "not_found"),
        ("figures/missing.png", 404, "not_found"),  # not listed
        ("../sda-tiny/config.json", 404, "not_found"),
    ],
)
def test_private_or_unlisted_files_are_refused(
    client: TestClient, path: str, status: int, kind: str
) -> None:
    response = client.get(f"/v1/models/sda-tiny/files/{path}")
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind


def test_unknown_model_files(client: TestClient) -> None:
    response = client.get("/v1/models/nope/files/samples.json")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "model_not_found"


def test_a_file_changed_on_disk_is_never_served(artifact: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(artifact, tmp_path / "copy"))
    with client_for(copy) as client:
        (copy / "figures" / "filters.png").write_bytes(PNG + b"tampered")
        response = client.get("/v1/models/sda-tiny/files/figures/filters.png")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "artifact_error" and "figures/filters.png" in error["message"]
    assert "changed on disk since the server loaded it" in error["message"]
    assert str(tmp_path) not in response.text and "/figures" not in response.text  # relative


def test_a_failed_load_answers_without_server_paths(artifact: Path, tmp_path: Path) -> None:
    """Models loading in the background fail on a tampered file: /health/ready and every
    route answer 503 naming the file, never where it lives."""
    copy = Path(shutil.copytree(artifact, tmp_path / "broken"))
    (copy / "onnx" / "encoder.onnx").write_bytes(b"tampered")
    with TestClient(create_app([str(copy)], ServeSettings())) as client:
        deadline = time.monotonic() + 30
        while (ready := client.get("/health/ready").json())["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        encode = client.post("/v1/models/sda-tiny/encode", json={"inputs": [[0.0] * 784]})
        infer = client.post("/v2/models/sda-tiny/infer", json={"inputs": []})
    assert ready["status"] == "failed" and "encoder.onnx" in ready["error"]
    assert encode.status_code == 503 and "encoder.onnx" in encode.json()["error"]["message"]
    assert infer.status_code == 503
    for text in (json.dumps(ready), encode.text, infer.text):
        assert str(tmp_path) not in text and "/onnx/" not in text, text


def test_no_ui_keeps_the_api_only(artifact: Path) -> None:
    with client_for(artifact, ui=False) as client:
        assert client.get("/").status_code == 404
        assert client.get("/ui/gallery.css").status_code == 404
        assert client.get("/v1/models/sda-tiny/files").status_code == 200
        assert client.get("/health/ready").json()["status"] == "ready"


def test_no_ui_flag_reaches_the_settings() -> None:
    from aezoo.cli import build_parser
    from aezoo.serving.settings import settings_from_args

    parser = build_parser()
    assert settings_from_args(parser.parse_args(["serve"])).ui is True
    assert settings_from_args(parser.parse_args(["serve", "--no-ui"])).ui is False


@pytest.mark.parametrize(
    ("message", "public"),
    [
        ("/srv/aezoo/registry/m/versions/2/samples.json is corrupted", "samples.json is corrupted"),
        (
            "ArtifactError: '/home/u/.cache/aezoo/registry/m/config.json'",
            "ArtifactError: 'config.json'",
        ),
        ("~/.cache/aezoo/registry/m/versions/2 failed", "2 failed"),
        (
            "see http://127.0.0.1:8000/v1/models/m (the API)",
            "see http://127.0.0.1:8000/v1/models/m (the API)",
        ),
        ("3/4 of the batch", "3/4 of the batch"),
    ],
)
def test_server_paths_are_cut_to_their_last_component(message: str, public: str) -> None:
    from aezoo.serving.redact import without_paths

    assert without_paths(message) == public
