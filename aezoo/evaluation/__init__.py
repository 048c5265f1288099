"""Every metric once, numpy only (no torch): cards, ``aezoo evaluate`` and the benchmarks
call the same functions.

- :mod:`aezoo.evaluation.metrics`: PSNR, reconstruction, denoising, error, linear probe.
- :mod:`aezoo.evaluation.lines`: Mean Distance and Smoothness of interpolated lines (ACAI §4).
- :mod:`aezoo.evaluation.clustering`: K-means accuracy with Hungarian matching.
- :mod:`aezoo.evaluation.scores`: what a model is judged by, per data set and family.
- :mod:`aezoo.evaluation.artifact`: :func:`~aezoo.evaluation.artifact.evaluate_artifact`
  (``aezoo evaluate``) through a loaded artifact's operations.
"""
