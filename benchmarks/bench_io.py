"""Per-seed result files of the benchmark scripts: each run writes ``--json`` and
``--merge`` combines them.

A file is ``{arm: [row, ...], "_meta_key": value, ...}``: a row is one seed's numbers;
keys starting with "_" carry the run's settings (``_args``, ``_epochs``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def merge_runs(paths: Iterable[Path]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Rows of every arm across ``paths`` (in order) and the settings (last file wins).

    Arms with no rows (a run still going) are left out.
    """
    merged: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, Any] = {}
    for path in paths:
        for key, value in json.loads(Path(path).read_text()).items():
            if key.startswith("_"):
                meta[key] = value
            elif value:
                merged.setdefault(key, []).extend(value)
    return merged, meta
