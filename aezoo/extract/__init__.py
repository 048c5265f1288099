"""Batch feature extraction (no torch): stream a data file through a model in bounded memory
(:func:`~aezoo.extract.features.extract_features`, ``aezoo extract``), a scikit-learn
transformer (:mod:`aezoo.extract.sklearn`, needs scikit-learn) and a Ray Data adapter.

Import the submodule you need; this module imports nothing heavy.
"""
