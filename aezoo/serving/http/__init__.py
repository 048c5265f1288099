"""The HTTP front end (needs ``aezoo[serve]``): an ASGI app over :mod:`aezoo.serving.engine`.

- :mod:`aezoo.serving.http.app`: ``create_app(models, settings)``, the FastAPI app, health, cards.
- :mod:`aezoo.serving.http.v1`: the v1 inference routes.
- :mod:`aezoo.serving.http.oip`: the Open Inference Protocol v2 REST routes
  (:mod:`~aezoo.serving.http.oip_codec` its tensors).
- :mod:`aezoo.serving.http.codecs`: JSON (strict, fast path) and ``application/x-npy`` bodies;
  :mod:`~aezoo.serving.http.image_codecs` PNG/JPEG bodies.
- :mod:`aezoo.serving.http.protocol`: header/body read timeouts and the connection cap (429).
- :mod:`aezoo.serving.http.guard`: the optional API key.
- :mod:`aezoo.serving.http.gallery`, :mod:`~aezoo.serving.http.openapi`: the gallery page and
  the OpenAPI document.
"""
