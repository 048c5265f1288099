"""User data sources behind one small interface (issue 21), numpy only.

- :func:`load_source` -> :class:`LoadedData` (splits ``(X, y)`` and a :class:`DataDescription`):
  ``.npy``/``.npz`` (:mod:`.npy`), ``.csv``/``.parquet``/DataFrame/Arrow (:mod:`.table`),
  image folders (:mod:`.images`), Hugging Face datasets (:mod:`.hub`); splits in :mod:`.splits`.
- :func:`iter_batches` and :func:`describe_stream` (:mod:`.stream`): the same sources in
  bounded memory, for extraction.

pyarrow, Pillow, pandas and datasets are imported only when a source needs them (the
``[data]`` extra).
"""

from aezoo.data.sources.base import DataDescription, LoadedData, load_source
from aezoo.data.sources.stream import StreamDescription, describe_stream, iter_batches

__all__ = [
    "DataDescription",
    "LoadedData",
    "StreamDescription",
    "describe_stream",
    "iter_batches",
    "load_source",
]
