"""torch -> artifact (needs ``aezoo[train]``): ONNX export with its parity check,
safetensors weights, model cards and figures, and loading an artifact back into torch.

- :mod:`aezoo.export.onnx`: :func:`~aezoo.export.onnx.export_onnx`.
- :mod:`aezoo.export.torch_io`: :func:`~aezoo.export.torch_io.build_artifact`,
  :func:`~aezoo.export.torch_io.load_torch_model`.
- :mod:`aezoo.export.card`, :mod:`aezoo.export.figures`: the model card and its figures.
"""
