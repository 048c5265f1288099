"""Triton Inference Server through PyTriton, serving one ONNX encoder with dynamic batching.

Runs in the PyTriton virtual environment made by ``benchmarks/peers/setup.sh``
(not aezoo's). The model is the bare ONNX graph run by onnxruntime inside the
Python inference function; Triton's dynamic batcher merges concurrent requests
(each of any batch size) into one call of that function, up to ``--max-batch-size``
rows, waiting at most ``--max-queue-delay-us`` for more.

Protocol: Open Inference Protocol v2 (KServe v2) on ``--port``, model name
``--name``, input ``inputs`` FP32 ``[-1, n_features]``, output ``codes`` FP32;
Triton's binary tensor data extension is accepted. Ready when
``GET /v2/health/ready`` answers 200.

Usage::

    .peers/pytriton/bin/python benchmarks/peers/pytriton_server.py ENCODER.onnx --port 8003
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("onnx", help="encoder graph: (batch, n_features) -> (batch, n_components)")
    p.add_argument("--name", default="sda-mnist")
    p.add_argument("--port", type=int, default=8003, help="HTTP port (gRPC and metrics +1, +2)")
    p.add_argument("--max-batch-size", type=int, default=1024)
    p.add_argument("--max-queue-delay-us", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.onnx, sess_options=opts, providers=["CPUExecutionProvider"])
    in_name = session.get_inputs()[0].name
    n_features = session.get_inputs()[0].shape[1]

    @batch
    def encode(inputs: np.ndarray) -> dict[str, np.ndarray]:
        return {"codes": session.run(None, {in_name: inputs.astype(np.float32, copy=False)})[0]}

    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.port,
        grpc_address="127.0.0.1",
        grpc_port=args.port + 1,
        metrics_port=args.port + 2,
        allow_metrics=False,
    )
    with Triton(config=config) as triton:
        triton.bind(
            model_name=args.name,
            infer_func=encode,
            inputs=[Tensor(name="inputs", dtype=np.float32, shape=(n_features,))],
            outputs=[Tensor(name="codes", dtype=np.float32, shape=(-1,))],
            config=ModelConfig(
                max_batch_size=args.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
            ),
            strict=False,
        )
        print(f"pytriton: serving {args.name} at http://127.0.0.1:{args.port}/v2", flush=True)
        triton.serve()


if __name__ == "__main__":
    main()
