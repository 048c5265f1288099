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

import numpy as np


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


def print_mean_std_table(
    results: dict[str, list[dict[str, Any]]], cols: list[str], first: str = "arm"
) -> None:
    """Markdown table, one row per arm: ``mean ± std`` over its rows (seeds) of each
    column, "n/a" where no row has it."""
    print(f"| {first} | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for arm, rows in results.items():
        cells = []
        for c in cols:
            vals = [r[c] for r in rows if c in r]
            cells.append(f"{np.mean(vals):.4g} ± {np.std(vals):.2g}" if vals else "n/a")
        print(f"| {arm} | " + " | ".join(cells) + " |")


def print_markdown(header: list[str], rows: Iterable[list[str]]) -> None:
    """A markdown table: ``header`` cells, a separator line, one line per row of cells."""
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
