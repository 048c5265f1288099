"""Data sets, numpy only (no torch): the IDX reader, MNIST (local copy or download and
cache), the ACAI lines, natural-image patches, the splits a recipe can name, and users'
own data sources.

- :mod:`aezoo.data.idx`: :func:`~aezoo.data.idx.read_idx`.
- :mod:`aezoo.data.mnist`: locate/download MNIST, :func:`~aezoo.data.mnist.load_mnist`.
- :mod:`aezoo.data.lines`: the lines images of ACAI §4.
- :mod:`aezoo.data.patches`: 28x28 LCN patches of scikit-learn's sample photographs.
- :mod:`aezoo.data.datasets`: ``dataset`` of a recipe -> ``{split: (X, y)}``.
- :mod:`aezoo.data.sources`: :func:`~aezoo.data.sources.load_source` (npy/npz, csv/parquet,
  image folders, Hugging Face datasets, arrays and tables) and the streaming readers.
- :mod:`aezoo.data.fingerprint`: :func:`~aezoo.data.fingerprint.data_fingerprint`.
- :mod:`aezoo.data.pixels`: a decoded image as an input row (training, extraction, serving).
- :mod:`aezoo.data.preprocess`: a table's per-feature scaling, fitted on the training split.
- :mod:`aezoo.data.sources.spill`: a source above the memory limit, streamed to disk once.
"""
