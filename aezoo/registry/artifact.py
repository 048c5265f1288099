"""The on-disk artifact of one model version: its format and its verification, in one place.

The names live in :mod:`aezoo.registry.format` (layout, manifest, reading and writing) and
:mod:`aezoo.registry.verify` (every check a load runs); import them from here.
"""

from __future__ import annotations

from aezoo.registry.format import (
    CARD,
    CLASSIFIER,
    CONFIG,
    DECODER,
    DENOISER,
    ENCODER,
    EXPORT_RECORD,
    FORMAT,
    MANIFEST,
    REQUIRED,
    REQUIRED_DENOISER,
    SAMPLES,
    SCORER,
    TRAINING,
    WEIGHTS,
    FileEntry,
    Manifest,
    check_name,
    one_line,
    read_config,
    read_manifest,
    sha256_file,
    write_json_durable,
    write_manifest,
)
from aezoo.registry.verify import check_graphs, verify_artifact

__all__ = [
    "CARD",
    "CLASSIFIER",
    "CONFIG",
    "DECODER",
    "DENOISER",
    "ENCODER",
    "EXPORT_RECORD",
    "FORMAT",
    "MANIFEST",
    "REQUIRED",
    "REQUIRED_DENOISER",
    "SAMPLES",
    "SCORER",
    "TRAINING",
    "WEIGHTS",
    "FileEntry",
    "Manifest",
    "check_graphs",
    "check_name",
    "one_line",
    "read_config",
    "read_manifest",
    "sha256_file",
    "verify_artifact",
    "write_json_durable",
    "write_manifest",
]
