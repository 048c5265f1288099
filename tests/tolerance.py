"""Float tolerances that follow from the dtype and the size of the reduction.

Two float computations of the same quantity that differ only in summation order (another
BLAS kernel, another CPU's SIMD width, another batch size in onnxruntime's blocking) agree
to within the standard forward-error bound of a sum of ``n`` terms (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., §3.1): ``|fl(s) - s| <= gamma_n * sum |x_i|``
with ``gamma_n = n u / (1 - n u)`` and ``u = eps / 2`` the unit roundoff. A test that checks
two such results against each other must allow twice that (each side errs independently),
times the sum of the terms' magnitudes, times the number of reductions chained in a network's
depth. The bound is worst-case: it holds on any x86-64 CPU and any BLAS build.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def sum_atol(dtype: type | np.dtype, n_terms: int, abs_sum: float = 1.0, depth: int = 1) -> float:
    """Absolute tolerance between two evaluations of ``depth`` chained ``n_terms``-term sums.

    Args:
        dtype: float dtype the sums are computed in (``np.float32``, ``np.float64``).
        n_terms: length of the longest reduction (a layer's fan-in, a dot product's length).
        abs_sum: bound on ``sum |x_i|`` of one reduction (1 for the dot product of two unit
            vectors, by Cauchy-Schwarz; ``n_terms * max |x_i|`` in general).
        depth: number of reductions chained (layers of a network); errors add up per layer
            since every activation used here (ReLU, sigmoid, softmax, shrinkage) is 1-Lipschitz.

    Returns:
        ``2 * depth * gamma_n * abs_sum``.
    """
    u = float(np.finfo(dtype).eps) / 2
    gamma = n_terms * u / (1 - n_terms * u)
    return 2.0 * depth * gamma * abs_sum


def layers_atol(dtype: type | np.dtype, layers: Iterable[tuple[int, float]]) -> float:
    """``sum_atol`` summed over chained layers of their own sizes: ``(n_terms, abs_sum)`` each.

    The same model of error as ``depth`` (each layer adds its own, activations 1-Lipschitz),
    without charging every layer the widest one's bound.
    """
    return sum(sum_atol(dtype, n, s) for n, s in layers)


# The SdAs the tests compare across runtimes, batch sizes and servers, layer by layer:
# (fan-in, abs_sum). Every layer's inputs lie in [0, 1] (pixels; sigmoid codes), so one
# reduction's sum |x_i| is at most the layer's largest row sum of |W| (of W^T for a tied
# decoder) plus its largest |b|.
# - tiny (784-32-16-10, untrained; any seed): Glorot x4 init bounds 4 sqrt(6 / (n + m)) times
#   the fan-in, zero biases; the head is torch's default init, |w|, |b| <= 1 / sqrt(16);
# - sda-mnist (bundled, 784-500-300-200-10): measured on its fixed weights, rounded up.
# tests/test_tolerance.py checks both against the weights.
SDA_LAYERS: dict[str, dict[str, tuple[tuple[int, float], ...]]] = {
    "tiny": {
        "encode": ((784, 269.0), (32, 45.3)),
        "head": ((16, 4.25),),
        "decode": ((16, 22.7), (32, 11.0)),
    },
    "sda-mnist": {
        "encode": ((784, 271.0), (500, 114.4), (300, 78.7)),
        "head": ((200, 55.1),),
        "decode": ((200, 58.4), (300, 84.3), (500, 118.6)),
    },
}
SDA_PATHS = {  # an operation's layers; softmax is 1/2-Lipschitz in the max norm
    "encode": ("encode",),
    "denoise": ("encode", "decode"),
    "decode": ("decode",),
    "predict_proba": ("encode", "head"),
}


def sda_atol(model: str, op: str) -> float:
    """float32 tolerance between two evaluations of one SdA operation (``SDA_PATHS``)."""
    layers = [layer for part in SDA_PATHS[op] for layer in SDA_LAYERS[model][part]]
    return layers_atol(np.float32, layers)
