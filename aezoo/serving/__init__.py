"""The HTTP service (needs ``aezoo[serve]``), over :mod:`aezoo.runtime`.

- :mod:`aezoo.serving.app`: ``create_app(models, settings)``, the FastAPI app, health, cards.
- :mod:`aezoo.serving.v1`: the v1 inference routes.
- :mod:`aezoo.serving.engine`: what the routes share (pool, limits, metrics, ``infer``).
- :mod:`aezoo.serving.codecs`: JSON (strict, fast path) and ``application/x-npy`` bodies.
- :mod:`aezoo.serving.limits`: body caps and the in-flight body budget (bounded memory).
- :mod:`aezoo.serving.protocol`: header/body read timeouts and the connection cap (429).
- :mod:`aezoo.serving.guard`: the optional API key.
- :mod:`aezoo.serving.metrics`: Prometheus metrics.
- :mod:`aezoo.serving.schemas`: request/response bodies, the strict parser, error table.
- :mod:`aezoo.serving.settings`: :class:`~aezoo.serving.settings.ServeSettings` and its flags.
- :mod:`aezoo.serving.server`: ``serve(...)`` and ``python -m aezoo.serving.server``.

Nothing here imports torch, and this module imports nothing heavy: import the
submodule you need.
"""
