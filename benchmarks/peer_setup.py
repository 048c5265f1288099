"""Start the servers of ``serving_peers.py`` and pick each one's best request format.

Every server listens on 127.0.0.1 at a free port, serves the bundled sda-mnist
encoder, and is ready once a real inference answers. Peers live in the virtual
environments of ``benchmarks/peers/setup.sh``; a missing environment skips that
peer with a printed note.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from peer_servers import (
    Arm,
    ServerProcess,
    free_port,
    package_version,
    python_libdir,
    venv_python,
)

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO / "benchmarks" / "peers"
ENCODER = REPO / "aezoo" / "pretrained" / "sda-mnist" / "onnx" / "encoder.onnx"
MODEL = "sda-mnist"

TORCHSERVE_BATCH = {"batch_size": 32, "max_batch_delay_ms": 5}
LITSERVE_BATCH = {"max_batch_size": 32, "batch_timeout_s": 0.005}
TRITON_BATCH = {"max_batch_size": 1024, "max_queue_delay_us": 1000}


def _aezoo(
    tmp: Path, grpc: dict[str, str], with_grpc: bool = True
) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "aezoo", "serve", MODEL, "--port", str(port)]
    cmd += ["--log-level", "warning"]
    if with_grpc and _has_grpc():  # OIP over gRPC beside HTTP, in the same process
        grpc_port = free_port()
        cmd += ["--grpc-port", str(grpc_port)]
        grpc["aezoo"] = f"127.0.0.1:{grpc_port}"
    probe = Arm("aezoo v1", "aezoo", f"{base}/v1/models/{MODEL}/encode", "json")
    home = tmp / "aezoo-home"
    server = ServerProcess("aezoo", cmd, probe, tmp / "aezoo.log", env={"AEZOO_HOME": str(home)})
    candidates = [
        Arm("aezoo v1", "aezoo", probe.url, "npy", accept="application/x-npy"),
        probe,
        Arm("aezoo OIP", "aezoo", f"{base}/v2/models/{MODEL}/infer", "oip-binary"),
    ]
    from aezoo import __version__

    return server, candidates, {"aezoo": __version__}


def _granian(tmp: Path) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    """aezoo's app on granian (benchmarks/peers/aezoo_granian.py), aezoo's interpreter."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(PEERS / "aezoo_granian.py"), "--port", str(port)]
    cmd += ["--models", MODEL]
    probe = Arm("aezoo v1 granian", "granian", f"{base}/v1/models/{MODEL}/encode", "json")
    env = {"AEZOO_HOME": str(tmp / "granian-aezoo-home")}
    server = ServerProcess("granian", cmd, probe, tmp / "granian.log", env=env)
    candidates = [
        Arm("aezoo v1 granian", "granian", probe.url, "npy", accept="application/x-npy"),
        probe,
        Arm("aezoo OIP granian", "granian", f"{base}/v2/models/{MODEL}/infer", "oip-binary"),
    ]
    python = Path(sys.executable)
    return server, candidates, {"granian": package_version(python, "granian")}


def _floor(tmp: Path) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    """The bare-ASGI floor (benchmarks/peers/asgi_floor.py) on aezoo's own interpreter."""
    port = free_port()
    cmd = [sys.executable, str(PEERS / "asgi_floor.py"), "--port", str(port)]
    url = f"http://127.0.0.1:{port}/v1/models/{MODEL}/encode"
    probe = Arm("ASGI floor", "floor", url, "npy", accept="application/x-npy")
    server = ServerProcess("floor", cmd, probe, tmp / "floor.log")
    return server, [probe], {}


def _torchserve(
    venv: Path, tmp: Path, workers: int
) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    store = tmp / "model-store"
    store.mkdir()
    py = venv_python(venv)
    subprocess.run(
        [
            *(str(py), "-m", "aezoo", "export-torchserve", MODEL, "--to", str(store)),
            *("--batch-size", str(TORCHSERVE_BATCH["batch_size"])),
            *("--max-batch-delay", str(TORCHSERVE_BATCH["max_batch_delay_ms"])),
            *("--workers", str(workers)),
        ],
        check=True,
        env={"AEZOO_HOME": str(tmp / "ts-aezoo-home"), "PATH": "/usr/bin:/bin"},
    )
    port = free_port(span=3)
    config = tmp / "ts-config.properties"
    config.write_text(
        f"inference_address=http://127.0.0.1:{port}\n"
        f"management_address=http://127.0.0.1:{port + 1}\n"
        f"metrics_address=http://127.0.0.1:{port + 2}\n"
        "disable_token_authorization=true\n"
        "install_py_dep_per_model=false\n"
        f"max_request_size={64 * 2**20}\nmax_response_size={64 * 2**20}\n"
        f"initial_worker_port={free_port()}\n"  # its workers' /tmp/.ts.sock.<port>
    )
    cmd = [str(venv / "bin" / "torchserve"), "--start", "--foreground", "--ncs"]
    cmd += ["--model-store", str(store), "--models", f"{MODEL}={MODEL}.mar"]
    cmd += ["--ts-config", str(config)]
    url = f"http://127.0.0.1:{port}/predictions/{MODEL}"
    probe = Arm("TorchServe", "torchserve", url, "json")
    logs = tmp / "ts-logs"
    (tmp / "ts-tmp").mkdir()  # TorchServe's pid file lives in TMPDIR: one server per TMPDIR
    env = {"LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs), "TMPDIR": str(tmp / "ts-tmp")}
    server = ServerProcess("torchserve", cmd, probe, tmp / "torchserve.log", env=env, cwd=tmp)
    candidates = [Arm("TorchServe", "torchserve", url, "npy", accept="application/x-npy"), probe]
    versions = {"torchserve": package_version(py, "torchserve")}
    return server, candidates, versions


def _litserve(venv: Path, tmp: Path) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    port = free_port()
    py = venv_python(venv)
    cmd = [str(py), str(PEERS / "litserve_server.py"), str(ENCODER), "--port", str(port)]
    cmd += ["--max-batch-size", str(LITSERVE_BATCH["max_batch_size"])]
    cmd += ["--batch-timeout", str(LITSERVE_BATCH["batch_timeout_s"])]
    probe = Arm("LitServe", "litserve", f"http://127.0.0.1:{port}/predict", "json")
    server = ServerProcess("litserve", cmd, probe, tmp / "litserve.log")
    return server, [probe], {"litserve": package_version(py, "litserve")}


def _pytriton(
    venv: Path, tmp: Path, grpc: dict[str, str]
) -> tuple[ServerProcess, list[Arm], dict[str, Any]]:
    port = free_port(span=3)
    grpc["pytriton"] = f"127.0.0.1:{port + 1}"  # Triton's gRPC endpoint: HTTP port + 1
    py = venv_python(venv)
    cmd = [str(py), str(PEERS / "pytriton_server.py"), str(ENCODER), "--port", str(port)]
    cmd += ["--max-batch-size", str(TRITON_BATCH["max_batch_size"])]
    cmd += ["--max-queue-delay-us", str(TRITON_BATCH["max_queue_delay_us"])]
    url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer"
    probe = Arm("Triton", "pytriton", url, "oip-binary")
    # The Python backend stub must load this interpreter's libpython, not the system's.
    env = {"LD_LIBRARY_PATH": python_libdir(py)}
    server = ServerProcess("pytriton", cmd, probe, tmp / "pytriton.log", env=env)
    return server, [probe], {"nvidia-pytriton": package_version(py, "nvidia-pytriton")}


def _has_grpc() -> bool:
    """aezoo's [grpc] extra is installed (else aezoo serves HTTP only)."""
    import importlib.util

    return importlib.util.find_spec("grpc") is not None


def _has_oip_binary(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/v2", timeout=5) as r:
            return "binary_tensor_data" in json.loads(r.read()).get("extensions", [])
    except (OSError, ValueError):
        return False


def _pick(server: ServerProcess, candidates: list[Arm], x: np.ndarray) -> list[Arm]:
    """The arms to measure: per route, the first candidate format the server answers."""
    picked: dict[str, Arm] = {}
    for arm in candidates:
        if arm.url in picked:
            continue
        if arm.fmt.startswith("oip") and not _has_oip_binary(arm.url.split("/v2/")[0]):
            print(f"  {arm.name}: the server has no OIP v2 with binary tensors; not measured")
            continue
        status, _ = arm.call(x)
        if 200 <= status < 300:
            picked[arm.url] = arm
        else:
            print(f"  {arm.name}: {arm.fmt} refused ({status}); trying the next format")
    return list(picked.values())


def start_servers(
    wanted: list[str],
    peers_dir: Path,
    tmp: Path,
    torchserve_workers: int = 0,
    grpc: bool = True,
) -> tuple[list[ServerProcess], list[Arm], dict[str, Any]]:
    """Start every wanted server that is installed; returns them, their arms and versions
    (``meta["grpc"]``: the gRPC address of each server that has one; ``grpc=False``: aezoo
    without its gRPC endpoint, when no gRPC scenario runs)."""
    with_grpc = grpc
    addresses: dict[str, str] = {}
    builders = {
        "aezoo": lambda: _aezoo(tmp, addresses, with_grpc),
        "floor": lambda: _floor(tmp),
        "granian": lambda: _granian(tmp),
        "torchserve": lambda: _torchserve(peers_dir / "torchserve", tmp, torchserve_workers),
        "litserve": lambda: _litserve(peers_dir / "litserve", tmp),
        "pytriton": lambda: _pytriton(peers_dir / "pytriton", tmp, addresses),
    }
    started: list[tuple[ServerProcess, list[Arm]]] = []
    meta: dict[str, Any] = {"versions": {}, "skipped": {}, "batching": {}}
    meta["batching"] = {
        "torchserve": {**TORCHSERVE_BATCH, "workers": torchserve_workers or "default (1/core)"},
        "litserve": LITSERVE_BATCH,
        "pytriton": TRITON_BATCH,
        "aezoo": "the server's defaults",
    }
    for name in wanted:
        if name not in builders:
            raise SystemExit(f"unknown server {name!r}; choose from {', '.join(builders)}")
        if name not in ("aezoo", "floor", "granian") and not venv_python(peers_dir / name).exists():
            meta["skipped"][name] = f"no environment at {peers_dir / name} (run setup.sh)"
            print(f"skipping {name}: {meta['skipped'][name]}")
            continue
        server, candidates, versions = builders[name]()
        meta["versions"].update(versions)
        server.start()
        started.append((server, candidates))
    x = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    arms: list[Arm] = []
    t0 = time.monotonic()
    try:
        for server, candidates in started:
            server.wait_ready(x)
            print(f"{server.name} ready ({time.monotonic() - t0:.0f} s after the start)")
            arms += _pick(server, candidates, x)
    except BaseException:
        for server, _ in started:
            server.stop()
        raise
    meta["formats"] = {a.name: a.fmt for a in arms}
    meta["grpc"] = {
        name: addresses[name] for name in addresses if any(s.name == name for s, _ in started)
    }
    for arm in arms:  # Triton's own version, from its OIP server metadata
        if arm.server == "pytriton":
            with urllib.request.urlopen(arm.url.split("/v2/")[0] + "/v2", timeout=5) as r:
                meta["versions"]["triton server"] = json.loads(r.read()).get("version", "?")
    return [s for s, _ in started], arms, meta
