"""Image request bodies of an image model: one ``image/png`` / ``image/jpeg`` body, or several
images as the parts of a ``multipart/form-data`` body (RFC 7578; parsed by python-multipart,
the parser Starlette uses). Each image becomes one row as the model's input spec says
(:func:`aezoo.runtime.images.image_row`); parts keep their order.
"""

from __future__ import annotations

import numpy as np

from aezoo.errors import InputError
from aezoo.runtime.images import IMAGE_MEDIA_TYPES, image_row, image_rows
from aezoo.runtime.model import OnnxModel
from aezoo.serving import schemas as s
from aezoo.serving.http.codecs import MULTIPART
from aezoo.spec import ImageInput

IMAGE_BODY_TYPES = (*IMAGE_MEDIA_TYPES, MULTIPART)


def _image_spec(model: OnnxModel) -> ImageInput:
    spec = model.config.input.image
    if spec is None:
        raise s.UnsupportedMediaTypeError(
            f"model {model.name!r} takes arrays, not images: send application/json or "
            "application/x-npy"
        )
    return spec


def multipart_parts(body: bytes, content_type: str, max_parts: int) -> list[bytes]:
    """The parts' contents of a ``multipart/form-data`` body, in order.

    Raises:
        InputError: no boundary, a malformed body, or no part.
        BatchTooLargeError: more than ``max_parts`` parts.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise InputError("a multipart/form-data body needs a boundary in its Content-Type")
    parts: list[bytearray] = []

    def begin() -> None:
        if len(parts) >= max_parts:
            raise s.BatchTooLargeError(f"multipart body holds more than {max_parts} images (parts)")
        parts.append(bytearray())

    def data(buf: bytes, start: int, end: int) -> None:
        parts[-1].extend(buf[start:end])

    parser = MultipartParser(boundary, {"on_part_begin": begin, "on_part_data": data})
    try:
        parser.write(body)
        parser.finalize()
    except s.BatchTooLargeError:
        raise
    except Exception as e:  # python-multipart's MultipartParseError and friends
        raise InputError(f"malformed multipart/form-data body: {e}") from None
    if not parts:
        raise InputError("multipart/form-data body holds no part; send one image per part")
    return [bytes(p) for p in parts]


def image_batch(
    body: bytes, content_type: str, model: OnnxModel, max_pixels: int, max_batch_size: int
) -> np.ndarray:
    """An image body (one image, or one per multipart part) as checked rows.

    Returns:
        float32 ``(n_images, n_features)`` in [0, 1].

    Raises:
        UnsupportedMediaTypeError: the model was not trained on images.
        InputError: an image that cannot be read (its part named), above ``max_pixels``.
        BatchTooLargeError: more than ``max_batch_size`` images.
    """
    spec = _image_spec(model)
    if not content_type.lower().startswith(MULTIPART):
        return model.check_inputs(image_row(body, spec, max_pixels))
    parts = multipart_parts(body, content_type, max_batch_size)
    return model.check_inputs(image_rows(parts, spec, max_pixels, "multipart part"))
