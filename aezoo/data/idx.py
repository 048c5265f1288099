"""The IDX file format of MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/, "file formats").

A big-endian header: two zero bytes, a type code (0x08 = unsigned byte), the number
of dimensions, then one 4-byte size per dimension; the payload follows, row-major.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from aezoo.errors import DataError

_MAGIC_EXPECTED = "expected 0x00000803 (uint8 images, 3 dims) or 0x00000801 (uint8 labels, 1 dim)"
_UINT8 = 0x08


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzip-compressed if its name ends in ``.gz``, raw otherwise).

    Only unsigned-byte data (type code 0x08) with 1 dim (labels) or 3 dims (images)
    is supported, which covers MNIST.

    Args:
        path: the file.

    Returns:
        uint8 array whose shape is the header's dims, e.g. ``(n, 28, 28)`` or ``(n,)``.

    Raises:
        DataError: the file is missing or unreadable, not gzip or a corrupt gzip (for
            ``.gz``), has a bad magic number or header, or its payload size differs
            from the product of the header's dims (truncated or trailing bytes). The
            message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    if path.name.endswith(".gz"):
        if raw[:2] != b"\x1f\x8b":
            raise DataError(
                f"{path}: not a gzip file: starts with {raw[:2].hex() or 'nothing'}, expected 1f8b"
            )
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip: {exc}") from exc

    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header: {len(raw)} bytes, need >= 4")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code != _UINT8 or ndim not in (1, 3):
        raise DataError(f"{path}: bad magic 0x{magic:08x}: {_MAGIC_EXPECTED}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(
            f"{path}: truncated header: {ndim} dims need {header_len} header bytes, "
            f"file has {len(raw)}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    shape_str = "x".join(str(d) for d in dims)
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise DataError(f"{path}: bad dims {shape_str}: image rows and columns must be >= 1")
    expected = math.prod(dims)  # exact: an int64 product of 32-bit dims can wrap
    got = len(raw) - header_len
    if got != expected:
        problem = "truncated" if got < expected else "trailing bytes"
        raise DataError(
            f"{path}: {problem}: header promises {shape_str} = {expected} bytes of data, "
            f"file has {got}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()
