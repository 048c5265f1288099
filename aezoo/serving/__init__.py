"""The model server (needs ``aezoo[serve]``), over :mod:`aezoo.runtime`: what every protocol
shares here, the protocols in subpackages (:mod:`aezoo.serving.http`).

- :mod:`aezoo.serving.engine`: what the routes share (pool, limits, metrics, ``infer``).
- :mod:`aezoo.serving.limits`: body caps and the in-flight body budget (bounded memory).
- :mod:`aezoo.serving.metrics`: Prometheus metrics.
- :mod:`aezoo.serving.schemas`: request/response bodies, the strict parser, error table.
- :mod:`aezoo.serving.settings`: :class:`~aezoo.serving.settings.ServeSettings` and its flags.
- :mod:`aezoo.serving.server`: ``serve(...)`` and ``python -m aezoo.serving.server``.

Nothing here imports torch, and this module imports nothing heavy: import the
submodule you need.
"""
