"""The Open Inference Protocol over gRPC (``inference.GRPCInferenceService``), beside HTTP.

Needs the ``grpc`` extra (grpcio, grpcio-health-checking, protobuf). Started by
:func:`aezoo.serving.server.serve` when ``--grpc-port`` is given, on the same event loop
and :class:`~aezoo.serving.engine.Engine` as the HTTP app.
"""
