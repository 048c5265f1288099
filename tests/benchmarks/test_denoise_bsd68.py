"""benchmarks/denoise_bsd68.py with stub methods on two tiny synthetic images (no bm3d, no
models): out-of-range cells, --methods order, the ratio lines."""

from __future__ import annotations

import numpy as np

import denoise_bsd68 as bench


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (12, 14)).astype(np.uint8) for _ in range(2)]


def test_models_are_scored_only_inside_their_range_and_ratios_are_printed() -> None:
    ident = lambda noisy, sigma: noisy  # noqa: E731
    methods = [
        bench.Method("aezoo one-level (ONNX)", lambda: bench.Prepared(ident, (25.0, 25.0))),
        bench.Method(bench.SKLEARN, lambda: bench.Prepared(ident)),
        bench.Method(bench.BM3D, lambda: bench.Prepared(ident)),
    ]
    logs: list[str] = []
    res = bench.run_methods(methods, _images(), [15.0, 25.0], seed=0, log=logs.append)
    assert list(res) == [m.label for m in methods]  # run order kept
    assert set(res["aezoo one-level (ONNX)"]) == {"25"} and set(res[bench.SKLEARN]) == {"15", "25"}
    assert "outside its range" in logs[0]
    table = "\n".join(bench.table_lines(res, [15.0, 25.0], 2, 0))
    assert bench.OUT_OF_RANGE in table
    ratios = bench.ratio_lines(res, [15.0, 25.0])
    assert len(ratios) == 2 and "+0.00 dB" in ratios[0] and "faster" in ratios[1]
    assert bench.load_line("start").startswith("load average at start:")
