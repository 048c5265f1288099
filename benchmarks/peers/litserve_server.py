"""LitServe serving one ONNX encoder with LitServe's request batching on.

Runs in the LitServe virtual environment made by ``benchmarks/peers/setup.sh``
(not aezoo's). LitServe accepts JSON bodies: ``POST /predict`` with
``{"inputs": [[...], ...]}`` (one sample or a batch of rows) answers
``{"codes": [[...], ...]}``. Its batching loop gathers up to ``--max-batch-size``
requests, waiting at most ``--batch-timeout`` seconds; here ``batch`` concatenates
their rows into one onnxruntime run and ``unbatch`` splits the codes back per
request, so multi-sample bodies batch too. Ready when ``GET /health`` answers 200.

Usage::

    .peers/litserve/bin/python benchmarks/peers/litserve_server.py ENCODER.onnx --port 8002
"""

from __future__ import annotations

import argparse

import litserve as ls
import numpy as np
import onnxruntime as ort


class EncoderAPI(ls.LitAPI):
    """Rows in, codes out; one onnxruntime session per worker."""

    def __init__(self, onnx: str, threads: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.onnx, self.threads = onnx, threads

    def setup(self, device: str) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        self.session = ort.InferenceSession(
            self.onnx, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.n_features = self.session.get_inputs()[0].shape[1]

    def decode_request(self, request: dict) -> np.ndarray:
        x = np.asarray(request["inputs"], dtype=np.float32)
        return x.reshape(-1, self.n_features)  # one sample or (batch, n_features)

    def batch(self, inputs: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        return np.concatenate(inputs), [len(x) for x in inputs]

    def predict(self, batch: tuple[np.ndarray, list[int]]) -> list[np.ndarray]:
        x, sizes = batch
        codes = self.session.run(None, {self.input_name: x})[0]
        return np.split(codes, np.cumsum(sizes)[:-1])

    def unbatch(self, outputs: list[np.ndarray]) -> list[np.ndarray]:
        return outputs

    def encode_response(self, codes: np.ndarray) -> dict:
        return {"codes": codes.tolist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("onnx", help="encoder graph: (batch, n_features) -> (batch, n_components)")
    p.add_argument("--port", type=int, default=8002)
    p.add_argument("--max-batch-size", type=int, default=32, help="requests per batch")
    p.add_argument("--batch-timeout", type=float, default=0.005, help="seconds")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads")
    args = p.parse_args()
    api = EncoderAPI(
        args.onnx,
        args.threads,
        max_batch_size=args.max_batch_size,
        batch_timeout=args.batch_timeout,
    )
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, timeout=60)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False, log_level="warning")


if __name__ == "__main__":
    main()
