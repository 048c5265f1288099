"""Every family on every kind of source, all served by one real server (slow).

The MLP families (SdA, LISTA/VDL, DrSAE) train on scikit-learn's digits as ``.npy``,
``.csv``, ``.parquet``, a folder of PNG images in class subfolders, a ``save_to_disk``
directory, and on an ADBench file; the convolutional autoencoder, with and without ACAI,
on the PNG folder and a ``save_to_disk`` image dataset. A few epochs each: the path is
what is checked. Then one ``aezoo serve`` serves all 22 models, and for each the HTTP
answers (JSON, ``.npy``, and a PNG body for the image models) equal ``aezoo.load``'s, as do
the TorchServe handler's where ``[torchserve]`` is installed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest

import aezoo
from aezoo.registry.store import LocalStore
from tests.conftest import REPO_ROOT
from tests.serving.conftest import npy_bytes, running_server
from tests.tolerance import sum_atol

pytestmark = [pytest.mark.slow, pytest.mark.integration]
QUICK = {"sda": ["pretrain_epochs=1", "finetune_epochs=1"],
         "drsae": ["unsupervised_epochs=1", "discriminative_epochs=1"],
         "lista": ["epochs=1"], "conv-ae": ["epochs=1"]}  # fmt: skip
ADBENCH = REPO_ROOT.parent / "shared" / "data" / "adbench" / "42_WBC.npz"


def _sources(root: Path) -> dict[str, tuple[str, dict]]:
    """name -> (source, load options) of the digits in every form, and ADBench's WBC."""
    import datasets
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits(as_frame=True)
    frame = d.frame.rename(columns={"target": "digit"})
    frame.to_csv(root / "digits.csv", index=False)
    frame.to_parquet(root / "digits.parquet")
    np.save(root / "digits.npy", d.data.to_numpy(np.float32))
    for i, (img, label) in enumerate(zip(d.images[:300], d.target[:300], strict=True)):
        (root / "pngs" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((16, 16)).save(
            root / "pngs" / str(label) / f"{i:04d}.png"
        )
    table = datasets.Dataset.from_pandas(frame.astype({"digit": "int64"}))
    table = table.cast_column("digit", datasets.ClassLabel(names=[f"d{i}" for i in range(10)]))
    table.save_to_disk(str(root / "hf-table"))
    images = datasets.load_dataset("imagefolder", data_dir=str(root / "pngs"), split="train")
    images.save_to_disk(str(root / "hf-images"))
    out = {
        "npy": (str(root / "digits.npy"), {}),
        "csv": (str(root / "digits.csv"), {"label_column": "digit"}),
        "parquet": (str(root / "digits.parquet"), {"label_column": "digit"}),
        "pngs": (str(root / "pngs"), {}),
        "hf-table": (str(root / "hf-table"), {"label_column": "digit"}),
        "hf-images": (str(root / "hf-images"), {}),
    }
    if ADBENCH.is_file():
        out["adbench"] = (str(ADBENCH), {})
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """AEZOO_HOME and {model name: artifact} of every (family, source) pair."""
    pytest.importorskip("torch")
    pytest.importorskip("datasets")
    root = tmp_path_factory.mktemp("matrix")
    store = LocalStore(root=root / "home" / "registry", bundled=None)
    sources = _sources(root)
    pairs = [(f, s) for f in ("sda", "lista", "drsae") for s in sources]
    pairs += [("conv-ae", s) for s in ("pngs", "hf-images")]
    pairs += [("acai", s) for s in ("pngs", "hf-images")]
    arts = {}
    for family, source in pairs:
        path, options = sources[source]
        name = f"{family}-{source}"
        overrides = [*QUICK["conv-ae" if family == "acai" else family]]
        if family == "acai":
            overrides.append("acai.enabled=true")
        art, _ = aezoo.train("conv-ae" if family == "acai" else family, path, name=name,
                             store=store, overrides=overrides, show_progress=False, **options)  # fmt: skip
        arts[name] = art
    return root / "home", arts


def test_every_model_answers_over_http_as_aezoo_load(
    trained: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    home, arts = trained
    assert len(arts) >= 20
    rng = np.random.default_rng(0)
    with running_server(list(arts), {"AEZOO_HOME": str(home)}, tmp_path / "serve.log") as server:
        for name, art in arts.items():
            model = aezoo.load(art)
            spec = model.config.input
            x = (rng.random((3, spec.n_features)) * (16 if not spec.bounded else 1)).astype(
                np.float32
            )  # digits' raw units (0..16), or pixels in [0, 1]
            if spec.bounded:
                x = np.clip(x, *spec.value_range)
            url = f"{server.url}/v1/models/{name}"
            js = httpx.post(f"{url}/encode", json={"inputs": x.tolist()})
            assert js.status_code == 200, (name, js.text)
            npy = httpx.post(f"{url}/denoise", content=npy_bytes(x),
                             headers={"content-type": "application/x-npy", "accept": "application/x-npy"})  # fmt: skip
            assert npy.status_code == 200, (name, npy.text)
            # another batching on the server: one layer's sums over the inputs, a few layers deep
            atol = sum_atol(np.float32, spec.n_features, abs_sum=16 * spec.n_features, depth=4)
            np.testing.assert_allclose(js.json()["codes"], model.encode(x), atol=atol, err_msg=name)
            out = np.load(io.BytesIO(npy.content))
            np.testing.assert_allclose(
                out, model.denoise(x), rtol=1e-4, atol=16 * atol, err_msg=name
            )
            if "classify" in model.config.operations:
                labels = httpx.post(f"{url}/classify", json={"inputs": x.tolist()}).json()["labels"]
                assert set(labels) <= set(model.config.class_names), name
            if spec.image is not None:
                png = next((home.parent / "pngs").rglob("*.png"))
                got = httpx.post(f"{url}/encode", content=png.read_bytes(),
                                 headers={"content-type": "image/png"})  # fmt: skip
                assert got.status_code == 200, (name, got.text)
                from aezoo.runtime.images import image_row

                want = model.encode(image_row(png.read_bytes(), spec.image))
                np.testing.assert_allclose(got.json()["codes"], want, atol=atol, err_msg=name)


def test_the_torchserve_handler_answers_as_aezoo_load(
    trained: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    pytest.importorskip("model_archiver", reason="pip install 'aezoo[torchserve]'")
    ts_context = pytest.importorskip("ts.context", reason="pip install 'aezoo[torchserve]'")
    import json

    import yaml

    from aezoo.integrations.torchserve.archive import ArchiveSettings, build_archive
    from aezoo.integrations.torchserve.torchserve_handler import AezooHandler

    _, arts = trained
    for name in ("sda-csv", "lista-adbench", "conv-ae-pngs"):
        if name not in arts:
            continue
        mar = build_archive(str(arts[name]), tmp_path / "store", ArchiveSettings(batch_size=4))
        with zipfile.ZipFile(mar) as z:
            z.extractall(tmp_path / name)
        manifest = json.loads((tmp_path / name / "MAR-INF" / "MANIFEST.json").read_text())
        config = yaml.safe_load((tmp_path / name / manifest["model"]["configFile"]).read_text())
        ctx = ts_context.Context(name, str(tmp_path / name), manifest, 4, None, "0.12.0", True,
                                 None, config)  # fmt: skip
        ctx.request_processor = [
            ts_context.RequestProcessor(
                {"Content-Type": "application/x-npy", "Accept": "application/x-npy"}
            )
        ]
        handler = AezooHandler()
        handler.initialize(ctx)
        model = aezoo.load(arts[name])
        x = np.abs(np.random.default_rng(1).normal(1, 1, (2, model.config.input.n_features)))
        x = np.clip(x, 0, 1).astype(np.float32)
        answer = handler.handle([{"body": npy_bytes(x)}], ctx)[0]
        atol = sum_atol(np.float32, x.shape[1], abs_sum=x.shape[1], depth=4)
        np.testing.assert_allclose(
            np.load(io.BytesIO(answer)), model.encode(x), atol=atol, err_msg=name
        )
