"""A tiny whole-image denoiser artifact (spec.DenoiserSpec) built without torch or training,
for tests that need one before a trained denoiser is bundled.

Its graph, with ``t = sigma / 255`` (sigma (N,) on the 0-255 scale) and ``*`` a 3x3
convolution of the input padded by reflection by 1 pixel (ONNX ``Pad``, mode ``reflect``,
then an unpadded ``Conv``), so that, as the bundled denoiser does, it handles its own borders:

    smooth = box * noisy                       (box: 3x3 mean)
    detail = (delta - box) * noisy             (the high frequencies)
    denoised = smooth + delta * soft(detail, t)  (soft: soft threshold, the LISTA shrinkage)

Two chained 3x3 convolutions on the detail path: every output pixel depends on inputs at most
2 pixels away, so ``halo`` is 2 (stated truthfully: the tiling test relies on it). It lowers
the error of Gaussian noise on smooth images, which is all the tests ask of it.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from safetensors.numpy import save_file

from aezoo.registry.artifact import CONFIG, DENOISER, SAMPLES, WEIGHTS, write_manifest

NAME, VERSION = "tiny-denoiser", "1"
SIGMA_RANGE = (5.0, 55.0)
HALO, MIN_SIZE = 2, 3


def config(sigma_range: tuple[float, float] = SIGMA_RANGE) -> dict:
    """config.json of the tiny denoiser (``sigma_range`` of width 0: a one-level model)."""
    return {
        "architecture": "tiny_shrinkage_denoiser",
        "family": "lista",
        "model_args": {},
        "input": {"n_features": 1, "value_range": [0.0, 1.0]},
        "n_components": 1,
        "operations": ["denoise"],
        "aezoo_version": "0.1.0",
        "denoiser": {"sigma_range": list(sigma_range), "halo": HALO, "min_size": MIN_SIZE},
    }


def _kernel(name: str, k: np.ndarray) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.FLOAT, [1, 1, 3, 3], k.astype(np.float32).ravel())


def graph(path: Path) -> None:
    """Write the ONNX graph described in the module docstring to ``path``."""
    dims = ["N", 1, "H", "W"]
    noisy = helper.make_tensor_value_info("noisy", TensorProto.FLOAT, dims)
    sigma = helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N"])
    out = helper.make_tensor_value_info("denoised", TensorProto.FLOAT, dims)
    box = np.full((3, 3), 1 / 9)
    delta = np.zeros((3, 3))
    delta[1, 1] = 1.0
    inits = [
        _kernel("box", box),
        _kernel("detail_k", delta - box),
        _kernel("delta", delta),
        helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 1, 1]),
        helper.make_tensor("per255", TensorProto.FLOAT, [], [1 / 255]),
    ]
    inits.append(helper.make_tensor("pad1", TensorProto.INT64, [8], [0, 0, 1, 1, 0, 0, 1, 1]))
    conv = {"kernel_shape": [3, 3]}
    nodes = [
        helper.make_node("Pad", ["noisy", "pad1"], ["noisy_p"], mode="reflect"),
        helper.make_node("Conv", ["noisy_p", "box"], ["smooth"], **conv),
        helper.make_node("Conv", ["noisy_p", "detail_k"], ["detail"], **conv),
        helper.make_node("Reshape", ["sigma", "shape"], ["s4"]),
        helper.make_node("Mul", ["s4", "per255"], ["t"]),
        helper.make_node("Sub", ["detail", "t"], ["dp"]),
        helper.make_node("Relu", ["dp"], ["pos"]),
        helper.make_node("Neg", ["detail"], ["nd"]),
        helper.make_node("Sub", ["nd", "t"], ["dn"]),
        helper.make_node("Relu", ["dn"], ["neg"]),
        helper.make_node("Sub", ["pos", "neg"], ["shrunk"]),
        helper.make_node("Pad", ["shrunk", "pad1"], ["shrunk_p"], mode="reflect"),
        helper.make_node("Conv", ["shrunk_p", "delta"], ["kept"], **conv),
        helper.make_node("Add", ["smooth", "kept"], ["denoised"]),
    ]
    g = helper.make_graph(nodes, "tiny_denoiser", [noisy, sigma], [out], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)


def sample_images() -> list[np.ndarray]:
    """Two small smooth grey uint8 images (the playground's samples)."""
    yy, xx = np.mgrid[0:64, 0:80] / 64
    waves = 128 + 90 * np.sin(5 * yy) * np.cos(3 * xx)
    ramp = 40 + 170 * (np.mgrid[0:48, 0:48][1] / 47)
    return [np.rint(waves).astype(np.uint8), np.rint(ramp).astype(np.uint8)]


def samples() -> dict:
    """samples.json of a denoiser (format in aezoo/serving/http/gallery.py): one image as a
    base64 PNG, one as rows of pixels, to exercise both forms."""
    waves, ramp = sample_images()
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(waves, "L").save(buf, format="PNG")
    return {
        "format": "aezoo-samples/1",
        "source": "synthetic smooth patterns",
        "labels": ["waves", "ramp"],
        "inputs": [],
        "images": [
            {"label": "waves", "png": base64.b64encode(buf.getvalue()).decode()},
            {"label": "ramp", "pixels": ramp.tolist()},
        ],
    }


def write_denoiser_artifact(
    root: Path,
    name: str = NAME,
    version: str = VERSION,
    sigma_range: tuple[float, float] = SIGMA_RANGE,
) -> Path:
    """A complete, manifest-signed denoiser artifact in ``root`` (created); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG).write_text(json.dumps(config(sigma_range)))
    (root / SAMPLES).write_text(json.dumps(samples()))
    save_file({"box": np.full((3, 3), 1 / 9, np.float32)}, str(root / WEIGHTS))
    graph(root / DENOISER)
    write_manifest(root, name, version)
    return root
