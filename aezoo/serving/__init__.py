"""The HTTP service (needs ``aezoo[serve]``), over :mod:`aezoo.runtime`.

- :mod:`aezoo.serving.app`: ``create_app(models, settings)``, the FastAPI app.
- :mod:`aezoo.serving.schemas`: request/response bodies, the strict parser, error table.
- :mod:`aezoo.serving.settings`: :class:`~aezoo.serving.settings.ServeSettings` and its flags.
- :mod:`aezoo.serving.server`: ``serve(...)`` and ``python -m aezoo.serving.server``.

Nothing here imports torch, and this module imports nothing heavy: import the
submodule you need.
"""
