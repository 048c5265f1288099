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


# The two SdAs the tests compare across runtimes, batch sizes and servers. Every layer's inputs
# lie in [0, 1] (pixels; sigmoid codes), so one reduction's sum |x_i| is at most the layer's
# largest row sum of |W| (of W^T for a tied decoder) plus its largest |b|:
# - tiny (784-32-16-10, untrained): 784 * 4 * sqrt(6 / 816) = 269, the Glorot x4 init bound
#   of the 784-input layer, zero biases; its other layers are far smaller (32 * 1.42 = 45);
# - bundled sda-mnist (784-500-300-200-10): 269.5 + 1.43, measured on its fixed weights.
# tests/test_tolerance.py checks both.
SDA_ABS_SUM = 272.0
SDA_FAN_IN = 784  # the longest reduction of either


def sda_atol(depth: int) -> float:
    """Absolute tolerance between two float32 evaluations of ``depth`` layers of either SdA.

    ``depth`` counts the dense layers on the path: tiny encode 2, predict_proba 3 (the
    softmax is 1-Lipschitz), denoise 4; sda-mnist encode 3, predict_proba 4, denoise 6.
    """
    return sum_atol(np.float32, SDA_FAN_IN, SDA_ABS_SUM, depth)
