"""onnxruntime, numpy in and out, torch never imported: a loaded artifact
(:class:`~aezoo.runtime.model.OnnxModel`) with its input checks, the per-model dynamic
batcher (:class:`~aezoo.runtime.batcher.Batcher`), the served models with hot swap
(:class:`~aezoo.runtime.pool.ModelPool`), and loading models by registry reference
(:func:`~aezoo.runtime.loading.load_models`)."""

from aezoo.runtime.model import OnnxModel

__all__ = ["OnnxModel"]
