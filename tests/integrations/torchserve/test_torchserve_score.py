"""The .mar handler's ``score`` operation answers what aezoo.load and v1 /score answer."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.registry.store import LocalStore
from aezoo.runtime.calibrate import calibrate_version
from tests.serving.conftest import npy_bytes

pytest.importorskip("model_archiver", reason="pip install 'aezoo[torchserve]'")
ts_context = pytest.importorskip("ts.context", reason="pip install 'aezoo[torchserve]'")
yaml = pytest.importorskip("yaml")

from aezoo.integrations.torchserve.archive import ArchiveSettings, build_archive  # noqa: E402
from aezoo.integrations.torchserve.torchserve_handler import AezooHandler  # noqa: E402

NPY = "application/x-npy"


def test_handler_scores_like_aezoo_load(tiny_artifact: Path, tmp_path: Path) -> None:
    store = LocalStore(root=tmp_path / "reg", bundled=None)
    store.add(tiny_artifact, "sda-tiny")
    rows = np.random.default_rng(2).random((200, 784), dtype=np.float32)
    version, _ = calibrate_version("sda-tiny", rows, fpr=0.05, store=store)
    mar = build_archive(str(version.path), tmp_path / "store", ArchiveSettings(batch_size=4))
    model_dir = tmp_path / "x"
    with zipfile.ZipFile(mar) as z:
        z.extractall(model_dir)
    manifest = json.loads((model_dir / "MAR-INF" / "MANIFEST.json").read_text())
    config = yaml.safe_load((model_dir / manifest["model"]["configFile"]).read_text())
    headers = [
        {"Content-Type": "application/json", "url_path": "score"},
        {"Content-Type": NPY, "url_path": "score", "Accept": NPY},
    ]
    ctx = ts_context.Context(
        "sda-tiny", str(model_dir), manifest, 4, None, "0.12.0", True, None, config
    )
    ctx.request_processor = [ts_context.RequestProcessor(h) for h in headers]
    handler = AezooHandler()
    handler.initialize(ctx)
    x = np.random.default_rng(4).random((5, 784), dtype=np.float32)
    x[0] = 0.5
    answers = handler.handle(
        [{"body": json.dumps({"inputs": x[:3].tolist()}).encode()}, {"body": npy_bytes(x[3:])}],
        ctx,
    )
    assert [ctx.get_response_status(i)[0] for i in range(2)] == [200, 200]
    want = aezoo.load(str(version.path)).score(x)
    body = json.loads(answers[0])
    # the handler merges both requests into one run: same graph, another batch size
    atol = 1e-6 * max(1.0, float(want["scores"].max()))
    np.testing.assert_allclose(body["scores"], want["scores"][:3], rtol=0, atol=atol)
    assert body["threshold"] == want["threshold"]
    assert body["is_outlier"] == want["is_outlier"][:3].tolist()
    np.testing.assert_allclose(np.load(io.BytesIO(answers[1])), want["scores"][3:], atol=atol)
