"""Regenerate aezoo/serving/grpc/grpc_predict_v2.desc from grpc_predict_v2.proto.

Usage: ``python .ci/regen_grpc.py`` (needs grpcio-tools, in the ``dev`` extra). The
descriptor (a serialized ``FileDescriptorSet``) is checked in so that serving needs only
protobuf at run time; ``tests/serving/grpc/test_proto.py`` fails when it is stale.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "aezoo" / "serving" / "grpc"
PROTO = HERE / "grpc_predict_v2.proto"
DESC = HERE / "grpc_predict_v2.desc"


def compile_descriptor() -> bytes:
    """The serialized FileDescriptorSet protoc makes of the proto (no source info)."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.desc"
        rc = protoc.main(["protoc", f"-I{HERE}", f"--descriptor_set_out={out}", PROTO.name])
        if rc != 0:
            raise SystemExit(f"protoc failed on {PROTO} (exit {rc})")
        return out.read_bytes()


def main() -> int:
    DESC.write_bytes(compile_descriptor())
    print(f"wrote {DESC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
