"""GPU check (issue 25, item 8): does aezoo run on a CUDA GPU, correctly, and how fast.

Installs nothing: it uses whatever onnxruntime (``onnxruntime-gpu`` for the GPU half, i.e.
``aezoo[gpu]``), torch and hey the environment has, and says which half it could run.

Rows of the one table it prints (``device`` = cuda where a GPU is usable, and cpu always):

  provider   onnxruntime's providers; on a GPU, ``aezoo.load(..., providers_for("cuda"))``
             must run every graph on CUDAExecutionProvider (aezoo refuses a silent CPU
             fallback) -- the check fails otherwise
  parity     every bundled model, every batch operation, on its ``samples.json`` inputs:
             GPU against CPU (without a GPU: CPU batched against CPU one sample at a time),
             max |difference| against a float32 tolerance from the reduction size
             (``tests/tolerance.py``'s rule: 2 x depth x gamma_n x scale, n = the widest
             fan-in, depth = the weight layers plus unrolled steps, scale = max(1, max|y|));
             TF32 is turned off in onnxruntime's CUDA provider for this comparison
  encode     in-process ``model.encode`` of sda-mnist at batch 1 / 64 / 1,024: samples/s
  http       ``aezoo serve sda-mnist --device DEVICE`` (``python -m aezoo``) on loopback, one-
             sample JSON encode from 1 and 64 closed-loop clients (hey): req/s, p50, p99
  train      the ``ae-lines`` recipe for one epoch on DEVICE (torch): seconds, val_mse

Without a CUDA GPU it prints why, runs the CPU half and exits 0 (CI runs that); it exits 1
when a check fails (parity beyond tolerance, CUDA asked for but not used). Within 10
minutes on a GPU machine with default sizes; ``--tiny`` (small batches, short loads, 64
training lines) is what the quick test runs.

Usage::

    python benchmarks/gpu_check.py [--tiny] [--json gpu_check.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from aezoo.registry.store import BUNDLED_DIR  # noqa: E402
from aezoo.runtime.model import CPU, CUDA, OnnxModel, providers_for  # noqa: E402
from tests.tolerance import sum_atol  # noqa: E402

OPS = ("encode", "denoise", "predict_proba")
RATE_MODEL = "sda-mnist"
Row = dict[str, str]


def cuda_usable() -> tuple[bool, str]:
    """Whether onnxruntime can run aezoo's graphs on CUDA here, and why not."""
    available = ort.get_available_providers()
    if CUDA not in available:
        return False, f"onnxruntime has no {CUDA} (providers: {', '.join(available)})"
    try:
        OnnxModel(BUNDLED_DIR / RATE_MODEL, providers=providers_for("cuda"))
    except Exception as e:  # onnxruntime-gpu without a visible GPU: aezoo refuses the fallback
        return False, f"{CUDA} is installed but unusable: {str(e).splitlines()[0]}"
    gpu_name = ""
    try:
        import torch

        gpu_name = f" on {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    except ImportError:
        pass
    return (
        True,
        f"{CUDA} (onnxruntime {ort.__version__}) runs every graph of {RATE_MODEL}{gpu_name}",
    )


def tolerance(path: Path, y_ref: np.ndarray) -> float:
    """float32 tolerance between two evaluations of a model's output ``y_ref`` (see the
    module docstring)."""
    weights = [w for w in load_file(str(path / "model.safetensors")).values() if w.ndim >= 2]
    fan_in = max(max(int(np.prod(w.shape[1:])), int(w.shape[0])) for w in weights)
    args = json.loads((path / "config.json").read_text()).get("model_args", {})
    depth = len(weights) + int(args.get("n_steps", 0)) + int(args.get("n_iterations", 0))
    scale = max(1.0, float(np.abs(y_ref).max()))
    return sum_atol(np.float32, fan_in, abs_sum=scale, depth=depth)


def parity_rows(gpu: bool) -> tuple[list[Row], bool]:
    rows, ok = [], True
    cuda = [(CUDA, {"use_tf32": "0"}), CPU]
    for path in sorted(p for p in BUNDLED_DIR.iterdir() if (p / "manifest.json").is_file()):
        cpu_model = OnnxModel(path, providers=[CPU])
        other = None
        if gpu:
            try:
                other = OnnxModel(path, providers=cuda)  # type: ignore[list-item]
            except Exception:  # an onnxruntime without the use_tf32 option: its default
                other = OnnxModel(path, providers=providers_for("cuda"))
            if other.providers[0] != CUDA:
                rows.append(
                    _row("parity", "cuda", "FAIL", f"{path.name}: runs on {other.providers[0]}")
                )
                ok = False
                continue
        samples = json.loads((path / "samples.json").read_text())
        if cpu_model.config.denoiser is not None:  # whole-image denoiser: its sample photos
            rows.append(_denoiser_parity(path, cpu_model, other, samples))
            ok &= rows[-1]["result"] == "ok"
            continue
        x = cpu_model.check_inputs(np.asarray(samples["inputs"], np.float32))
        for op in OPS:
            if op == "predict_proba" and "classify" not in cpu_model.operations:
                continue
            if op != "predict_proba" and op not in cpu_model.operations:
                continue
            y = cpu_model.compute(op, x)
            if other is not None:
                y2, how = other.compute(op, x), "cuda vs cpu"
            else:
                y2 = np.concatenate([cpu_model.compute(op, x[i : i + 1]) for i in range(len(x))])
                how = "cpu batched vs one at a time"
            diff, atol = float(np.abs(y - y2).max()), tolerance(path, y)
            good = diff <= atol
            ok &= good
            rows.append(
                _row(
                    "parity",
                    "cuda" if other is not None else "cpu",
                    "ok" if good else "FAIL",
                    f"{path.name} {op} {y.shape}: {how}, max abs diff {diff:.2e} <= atol {atol:.2e}"
                    if good
                    else f"{path.name} {op}: max abs diff {diff:.2e} > {atol:.2e}",
                )
            )
    return rows, ok


def _denoiser_parity(
    path: Path, cpu_model: OnnxModel, other: OnnxModel | None, samples: dict
) -> Row:
    """``denoise_image`` of the first sample photo at sigma 25: CUDA vs CPU, or (no GPU)
    tiled in 16-pixel blocks vs one pass, on the 0-1 float scale."""
    image = np.asarray(samples["images"][0]["pixels"], np.float32) / np.float32(255)
    y = cpu_model.denoise_image(image, sigma=25.0)
    if other is not None:
        y2, how, device = other.denoise_image(image, sigma=25.0), "cuda vs cpu", "cuda"
    else:
        y2, how, device = (
            cpu_model.denoise_image(image, sigma=25.0, tile=16),
            "tiled vs one pass",
            "cpu",
        )
    diff, atol = float(np.abs(y - y2).max()), tolerance(path, y)
    verdict = "ok" if diff <= atol else "FAIL"
    return _row(
        "parity",
        device,
        verdict,
        f"{path.name} denoise_image {y.shape}: {how}, max abs diff {diff:.2e} vs atol {atol:.2e}",
    )


def encode_rows(devices: list[str], batches: list[int], seconds: float) -> list[Row]:
    rows = []
    x_all = np.random.default_rng(0).random((max(batches), 784), dtype=np.float32)
    for device in devices:
        model = OnnxModel(BUNDLED_DIR / RATE_MODEL, providers=providers_for(device))
        for b in batches:
            x = x_all[:b]
            model.encode(x)  # warm-up (CUDA: kernels, allocator)
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds or calls < 3:
                model.encode(x)
                calls += 1
            rows.append(
                _row(
                    "encode",
                    device,
                    f"{calls * b / elapsed:,.0f} samples/s",
                    f"{RATE_MODEL} in process, batch {b:,}: {elapsed / calls * 1e3:.3f} ms per call "
                    f"({calls} calls)",
                )
            )
    return rows


def http_rows(devices: list[str], clients: list[int], seconds: float, requests: int) -> list[Row]:
    if shutil.which("hey") is None:
        return [
            _row("http", d, "skipped", "hey is not installed (Debian: apt-get install hey)")
            for d in devices
        ]
    from loadgen import run_load

    samples = json.loads((BUNDLED_DIR / RATE_MODEL / "samples.json").read_text())["inputs"]
    body = json.dumps({"inputs": samples[:1]}).encode()
    rows = []
    for device in devices:
        with tempfile.TemporaryDirectory() as home, _server(device, Path(home)) as url:
            for c in clients:
                r = run_load(
                    f"{url}/v1/models/{RATE_MODEL}/encode",
                    body=body,
                    concurrency=c,
                    requests=max(requests, c),
                    max_seconds=seconds,
                )
                bad = {k: v for k, v in r.status_counts.items() if not 200 <= k < 300}
                rows.append(
                    _row(
                        "http",
                        device,
                        f"{r.rps:,.0f} req/s",
                        f"aezoo serve --device {device}, 1-sample JSON encode, {c} client(s): "
                        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, {r.ok} ok"
                        + (f", other statuses {bad}" if bad else ""),
                    )
                )
    return rows


class _server:
    """``aezoo serve RATE_MODEL --device DEVICE`` on a free loopback port."""

    def __init__(self, device: str, home: Path) -> None:
        self.device, self.home = device, home

    def __enter__(self) -> str:
        env = {**os.environ, "AEZOO_HOME": str(self.home), "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "aezoo", "serve", RATE_MODEL, "--device", self.device]
        cmd += ["--port", "0", "--log-level", "warning", "--no-ui"]
        self.log = self.home / "server.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        from loadgen import wait_ready

        return wait_ready(self.proc, self.log)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def train_rows(devices: list[str], tiny: bool) -> list[Row]:
    try:
        import torch

        from aezoo.training.pipeline import FAMILIES, load_splits, parse_config
        from aezoo.training.recipes import apply_overrides, read_recipe
    except ImportError as e:
        return [_row("train", d, "skipped", f"needs aezoo[train] (torch): {e}") for d in devices]
    rows = []
    overrides = ["epochs=1"] + (["n_train=64", "n_val=32", "val_samples=32"] if tiny else [])
    cfg = parse_config(apply_overrides(read_recipe("ae-lines"), overrides))
    splits = load_splits(cfg, None)
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            rows.append(_row("train", device, "skipped", "torch has no CUDA (a CPU build?)"))
            continue
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            trainer = FAMILIES[cfg.family][1](
                cfg, splits, Path(run_dir), show_progress=False, device=device
            )
            trainer.fit()
            elapsed = time.perf_counter() - start
        last = trainer.state["history"][-1] if trainer.state["history"] else {}
        val = next((v for k, v in last.items() if "val" in k and isinstance(v, float)), math.nan)
        rows.append(
            _row(
                "train",
                device,
                f"{elapsed:.1f} s",
                f"ae-lines, 1 epoch of {cfg.n_train:,} lines, batch {cfg.batch_size}: "
                f"val_mse {val:.4f}",
            )
        )
    return rows


def _row(check: str, device: str, result: str, detail: str) -> Row:
    return {"check": check, "device": device, "result": result, "detail": detail}


def print_table(rows: list[Row]) -> None:
    print("| check | device | result | detail |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['check']} | {r['device']} | {r['result']} | {r['detail']} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tiny", action="store_true", help="small sizes (the quick test)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    gpu, why = cuda_usable()
    print(
        f"GPU: {why}" if gpu else f"no CUDA GPU usable here: {why}; running the CPU half only",
        flush=True,
    )
    devices = ["cuda", "cpu"] if gpu else ["cpu"]
    rows = [_row("provider", "cuda" if gpu else "cpu", "ok" if gpu else "no GPU", why)]
    steps: list[Callable[[], list[Row]]] = [
        lambda: encode_rows(
            devices, [1, 8, 32] if args.tiny else [1, 64, 1024], 0.2 if args.tiny else 3.0
        ),
        lambda: http_rows(
            devices, [1, 64], 1.0 if args.tiny else 10.0, 200 if args.tiny else 100_000
        ),
        lambda: train_rows(devices, args.tiny),
    ]
    start = time.perf_counter()
    parity, ok = parity_rows(gpu)
    rows += parity
    for name, step in zip(("encode", "http", "train"), steps, strict=True):
        try:
            rows += step()
        except Exception as e:  # one table whatever fails; the check then fails
            rows.append(_row(name, "/".join(devices), "FAIL", f"{type(e).__name__}: {e}"[:300]))
            ok = False
    print_table(rows)
    print(f"{time.perf_counter() - start:.0f} s; {'all checks passed' if ok else 'FAILED'}")
    if args.json:
        args.json.write_text(json.dumps({"gpu": gpu, "why": why, "rows": rows}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
