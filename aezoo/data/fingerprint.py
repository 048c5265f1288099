"""Content hashes of arrays: what identifies the data a model saw (``training.json``, cards)."""

from __future__ import annotations

import hashlib

import numpy as np


def data_fingerprint(*arrays: np.ndarray) -> str:
    """sha256 hex digest over the dtype, shape and bytes of each array, in order.

    Two calls agree exactly when the arrays agree in dtype, shape and values
    (recorded in ``training.json`` to identify the data a model saw).

    Args:
        *arrays: any numpy arrays; each is hashed C-contiguous.

    Returns:
        64 lowercase hex characters.
    """
    digest = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array)
        digest.update(f"{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()
