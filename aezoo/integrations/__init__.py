"""Adapters to other engines: TorchServe (:mod:`aezoo.integrations.torchserve`) and Ray Serve
(:mod:`aezoo.integrations.ray`). Each needs its own extra; nothing here is imported by the core."""
