"""Running artifacts: the onnxruntime runtime and the HTTP service.

- :mod:`aezoo.serving.runtime`: :class:`~aezoo.serving.runtime.OnnxModel`, numpy in/out.
- :mod:`aezoo.serving.app`: ``create_app(models, settings)``, the FastAPI app
  (needs ``aezoo[serve]``).
- :mod:`aezoo.serving.server`: ``serve(...)`` and ``python -m aezoo.serving.server``.

Nothing here imports torch, and this module imports nothing heavy: import the
submodule you need.
"""
