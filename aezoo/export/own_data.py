"""The pieces of an artifact trained on a user's data: its image input spec, its samples,
figures and the card's data section (:mod:`aezoo.training.own_data` assembles them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aezoo.data.sources import LoadedData
from aezoo.export import figures
from aezoo.export.samples import first_of_each_class, samples_from
from aezoo.models.base import AutoEncoder
from aezoo.spec import ImageInput, InputSpec

N_SAMPLES = 8  # inputs shipped in samples.json (first of each class when labelled)


def image_input_spec(data: LoadedData) -> InputSpec | None:
    """The input spec of a model trained on image data (None for a table): the images' mode
    and size, values in [0, 1], how an encoded image becomes a row (:class:`ImageInput`)."""
    desc = data.description
    if desc.kind != "images" or desc.image_shape is None:
        return None
    c, h, w = desc.image_shape
    image = ImageInput(height=h, width=w, mode="RGB" if c == 3 else "L")
    return InputSpec(
        n_features=desc.n_features,
        shape=image.shape,
        value_range=(0.0, 1.0),
        image=image,
        preprocessing=f"{image.mode} images of {h}x{w} pixels (resized bilinearly when "
        f"another size), scaled to [0, 1] as uint8 / 255, flattened channel-first "
        f"({c}, {h}, {w}); image/png and image/jpeg bodies are decoded so by the server",
    )


def samples_record(data: LoadedData, spec: InputSpec) -> dict[str, Any]:
    """``samples.json`` (``aezoo-samples/1``): the first test input of each class (at most
    :data:`N_SAMPLES`), or the first :data:`N_SAMPLES` test inputs, in raw units."""
    X, y = data.splits["test"]
    names = data.description.class_names
    if y is not None and names:
        classes, index = first_of_each_class(y, N_SAMPLES)
        labels = [names[int(c)] for c in classes]
        source = "test split: the first input of each class"
    else:
        index = list(range(min(N_SAMPLES, len(X))))
        labels = [f"test #{i}" for i in index]
        source = f"test split: the first {len(index)} inputs"
    where = f"{data.description.source}, {source}"
    return samples_from(X, index, labels, where, spec.value_range if spec.bounded else None)


def own_data_figures(
    model: AutoEncoder, data: LoadedData, history: list[dict[str, Any]]
) -> dict[str, bytes]:
    """``training_curves.png`` and, for image data, ``test_reconstructions.png`` (10 test
    images over their reconstructions; colour shown as the channels' mean)."""
    out: dict[str, bytes] = {}
    curve = figures.curves_figure(history)
    if curve is not None:
        out["training_curves.png"] = curve
    shape = data.description.image_shape
    if shape is None:
        return out
    c, h, w = shape
    X = data.splits["test"][0][:10]
    with torch.no_grad():
        X_hat = model(torch.from_numpy(X)).numpy()

    def grey(A: np.ndarray) -> np.ndarray:  # RGB rows shown as their mean over channels
        return A.reshape(len(A), c, h * w).mean(axis=1)

    out["test_reconstructions.png"] = figures.rows_figure(
        [grey(X), grey(X_hat)], (h, w), (0.0, 1.0)
    )
    return out


def data_card_text(data: LoadedData, scaling: str | None, impute: bool = False) -> str:
    """The card's "Data" section: source (file name), content hash, rows per split, split
    protocol, image size or columns, the preprocessing inside the graphs, class names."""
    d = data.description
    rows = ", ".join(f"{k} {v:,}" for k, v in d.rows.items())
    lines = [
        "## Data",
        "",
        f"- Source: `{d.source}` ({d.kind}); content sha256 `{d.content_hash[:16]}...`",
        f"- Rows: {rows}. Splits: {d.split_protocol}",
    ]
    if d.image_shape:
        lines.append(
            f"- Images: {d.image_shape[0]} x {d.image_shape[1]} x {d.image_shape[2]} "
            "(channels x height x width), pixels / 255"
        )
    else:
        cols = ", ".join(d.columns or []) if d.columns and len(d.columns) <= 20 else ""
        lines.append(f"- Columns: {d.n_features}" + (f" ({cols})" if cols else ""))
        lines.append(
            f"- Preprocessing inside the graphs: {scaling} scaling fitted on the training split"
            + ("; a missing value (NaN) takes its column's training mean" if impute else "")
        )
    if d.class_names:
        lines.append(f"- Classes ({len(d.class_names)}): {', '.join(d.class_names[:20])}")
    lines += ["", "Metrics are on the held-out test split (see `training.json`)."]
    return "\n".join(lines)
