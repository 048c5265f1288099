"""The servers of ``serving_peers.py``: how each is started, fed and read back.

A :class:`ServerProcess` starts one server on loopback in its own process group,
waits until a real inference answers, and stops the whole group. An :class:`Arm`
is one way of talking to a server (URL, content type, body encoder, answer
decoder); one server can have several arms (aezoo: v1 and OIP v2).

Wire formats (each peer in the best one it accepts):
  npy         ``application/x-npy`` body (``numpy.save``), ``.npy`` answer (Accept)
  json        ``{"inputs": [[...], ...]}`` -> ``{"codes": [[...], ...]}``
  oip-binary  Open Inference Protocol v2 with Triton's binary tensor data extension
              (JSON header + raw little-endian FP32; ``Inference-Header-Content-Length``)
  oip-json    Open Inference Protocol v2, tensors as JSON arrays
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OIP_HEADER = "Inference-Header-Content-Length"


# -- wire formats ---------------------------------------------------------------------


def npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def json_body(x: np.ndarray) -> bytes:
    return json.dumps({"inputs": x.tolist()}).encode()


def oip_binary_body(x: np.ndarray, output: str = "codes") -> tuple[bytes, int]:
    """OIP request with ``x`` as binary data and ``output`` asked for in binary; and the
    JSON header's length (the ``Inference-Header-Content-Length`` value)."""
    raw = np.ascontiguousarray(x, dtype="<f4").tobytes()
    header = {
        "inputs": [
            {
                "name": "inputs",
                "shape": list(x.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        "outputs": [{"name": output, "parameters": {"binary_data": True}}],
    }
    head = json.dumps(header).encode()
    return head + raw, len(head)


def oip_json_body(x: np.ndarray, output: str = "codes") -> bytes:
    tensor = {"name": "inputs", "shape": list(x.shape), "datatype": "FP32", "data": x.tolist()}
    return json.dumps({"inputs": [tensor], "outputs": [{"name": output}]}).encode()


def decode_answer(body: bytes, headers: dict[str, str], key: str = "codes") -> np.ndarray:
    """The output tensor of any format above (picked from the answer's headers)."""
    headers = {k.lower(): v for k, v in headers.items()}
    if OIP_HEADER.lower() in headers:
        n = int(headers[OIP_HEADER.lower()])
        meta, offset = json.loads(body[:n]), n
        for out in meta["outputs"]:
            size = out.get("parameters", {}).get("binary_data_size")
            if out["name"] == key:
                data = np.frombuffer(body[offset : offset + size], dtype="<f4")
                return data.reshape(out["shape"])
            offset += size or 0
        raise KeyError(f"no output {key!r} in {meta}")
    if headers.get("content-type", "").startswith("application/x-npy"):
        return np.load(io.BytesIO(body), allow_pickle=False)
    answer = json.loads(body)
    if "outputs" in answer and isinstance(answer["outputs"], list) and answer["outputs"]:
        first = answer["outputs"][0]
        if isinstance(first, dict):  # OIP JSON
            out = next(o for o in answer["outputs"] if o["name"] == key)
            return np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])
    return np.asarray(answer[key], dtype=np.float32)


@dataclass(frozen=True)
class Arm:
    """One way of sending encode requests to one server."""

    name: str  # row label, e.g. "aezoo v1"
    server: str  # ServerProcess name
    url: str
    fmt: str  # npy, json, oip-binary, oip-json
    accept: str | None = None

    def request(self, x: np.ndarray) -> tuple[bytes, str, dict[str, str]]:
        """``(body, content_type, extra headers)`` for samples ``x`` of shape (n, n_features)."""
        headers = {"Accept": self.accept} if self.accept else {}
        if self.fmt == "npy":
            return npy_bytes(x), "application/x-npy", headers
        if self.fmt == "json":
            return json_body(x), "application/json", headers
        if self.fmt == "oip-binary":
            body, n = oip_binary_body(x)
            return body, "application/octet-stream", {**headers, OIP_HEADER: str(n)}
        if self.fmt == "oip-json":
            return oip_json_body(x), "application/json", headers
        raise ValueError(f"unknown format {self.fmt!r}")

    def call(self, x: np.ndarray, timeout: float = 30.0) -> tuple[int, np.ndarray | str]:
        """Send one request; ``(status, codes)`` on 2xx, ``(status, body text)`` otherwise."""
        body, ctype, headers = self.request(x)
        req = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": ctype, **headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, decode_answer(r.read(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")[:500]


# -- processes ------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server command run in its own session; ``probe`` is an arm that must answer 2xx."""

    name: str
    cmd: Sequence[str]
    probe: Arm
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(self.cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,  # its own process group: stop() ends every child
        )
        log.close()

    def wait_ready(self, x: np.ndarray, timeout: float = 180.0) -> None:
        """Poll with a real inference until it answers 2xx; raise with the log tail if not."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, out = self.probe.call(x, timeout=10)
                if 200 <= status < 300:
                    return
                last = (status, out)
            except (OSError, ValueError) as e:
                last = e
            time.sleep(1.0)
        raise RuntimeError(f"{self.name} not ready in {timeout:.0f} s ({last}):\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, grace: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
            os.killpg(pgid, signal.SIGKILL)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def package_version(python: Path, dist: str) -> str:
    """``dist``'s installed version in the environment of ``python`` ("?" if unknown)."""
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return r.stdout.strip() or "?"


def python_libdir(python: Path) -> str:
    """The interpreter's LIBDIR: where its own libpython lives (for Triton's Python stub)."""
    code = "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=60
    ).stdout.strip()


def free_port(host: str = "127.0.0.1", span: int = 1) -> int:
    """A port ``p`` such that ``p .. p+span-1`` were all free a moment ago."""
    import socket

    for _ in range(100):
        with socket.socket() as s:
            s.bind((host, 0))
            base = s.getsockname()[1]
        if base + span > 65535:
            continue
        try:
            for p in range(base, base + span):
                with socket.socket() as t:
                    t.bind((host, p))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no {span} consecutive free ports on {host}")


Factory = Callable[..., ServerProcess]
