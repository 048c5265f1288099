"""Data sets, numpy only (no torch): the IDX reader, MNIST (local copy or download and
cache), the ACAI lines, natural-image patches, and the splits a recipe can name.

- :mod:`aezoo.data.idx`: :func:`~aezoo.data.idx.read_idx`.
- :mod:`aezoo.data.mnist`: locate/download MNIST, :func:`~aezoo.data.mnist.load_mnist`.
- :mod:`aezoo.data.lines`: the lines images of ACAI §4.
- :mod:`aezoo.data.patches`: 28x28 LCN patches of scikit-learn's sample photographs.
- :mod:`aezoo.data.datasets`: ``dataset`` of a recipe -> ``{split: (X, y)}``.
"""
