"""Tables: ``.csv`` and ``.parquet`` files (pyarrow), pandas DataFrames, pyarrow Tables.

Features are numeric columns (integers, floats, booleans, decimals): the ones named by
``feature_columns``, else every numeric column except the label. A text column left to
the default is skipped; a column of numbers with a stray word is refused with its line.
Empty cells read as missing (NaN) and are refused unless ``allow_missing``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.data.sources.raw import RawData, encode_labels, need, one_line
from aezoo.errors import DataError

_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_FEATURE = "reading a table"


def arrow_of_pandas(frame: Any) -> Any:
    """A pandas DataFrame as a pyarrow Table (the index dropped)."""
    pa = need("pyarrow", _FEATURE)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"<dataframe>: cannot be read as a table ({one_line(exc)})") from None


def _is_numeric(pa: Any, type_: Any) -> bool:
    t = pa.types
    return bool(
        t.is_integer(type_)
        or t.is_floating(type_)
        or t.is_boolean(type_)
        or t.is_decimal(type_)
        or t.is_null(type_)
    )


def _is_text(pa: Any, type_: Any) -> bool:
    return bool(pa.types.is_string(type_) or pa.types.is_large_string(type_))


def _count_numbers(pc: Any, column: Any) -> int:
    return int(pc.sum(pc.match_substring_regex(column, _NUMBER).cast("int64")).as_py() or 0)


def _first_non_number(pc: Any, column: Any) -> int | None:
    """Row of the first non-empty value of a text column that is not a number, or None."""
    column = pc.cast(column, "string")
    ok = pc.or_kleene(pc.is_null(column), pc.match_substring_regex(column, _NUMBER))
    bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False).astype(bool))
    return int(bad[0]) if bad.size else None


def _column_problem(pc: Any, table: Any, name: str, where: str, header_lines: int | None) -> str:
    """The message for a non-numeric feature column, naming its first bad row (and line)."""
    pa = need("pyarrow", _FEATURE)
    text = _is_text(pa, table.schema.field(name).type)
    row = _first_non_number(pc, table.column(name)) if text else None
    if row is None:
        return f"{where}: column {name!r} is of type {table.schema.field(name).type}, not numeric"
    line = f"line {row + 1 + header_lines}" if header_lines is not None else f"row {row}"
    value = table.column(name)[row].as_py()
    return f"{where}: {line}, column {name!r}: {value!r} is not a number"


def to_features(
    table: Any, features: list[str], where: str, header_lines: int | None = None
) -> np.ndarray:
    """The ``features`` columns of a pyarrow Table (or RecordBatch) as float32
    ``(n, len(features))``; nulls become NaN.

    Raises:
        DataError: a column is not numeric (its first bad value's line or row).
    """
    pa, pc = need("pyarrow", _FEATURE), need("pyarrow.compute", _FEATURE)
    X = np.empty((table.num_rows, len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        column = table.column(name)
        if not _is_numeric(pa, column.type):
            raise DataError(_column_problem(pc, table, name, where, header_lines))
        X[:, j] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return X


def feature_names(
    schema: Any, where: str, label_column: str | None, feature_columns: list[str] | None
) -> list[str]:
    """The feature columns from a schema alone (streaming): ``feature_columns``, else every
    column of a numeric type except the label.

    Raises:
        DataError: an unknown column, or no numeric column.
    """
    pa = need("pyarrow", _FEATURE)
    names = list(schema.names)
    for name in [label_column, *(feature_columns or [])]:
        if name is not None and name not in names:
            raise DataError(f"{where}: no column {name!r}; columns: {', '.join(names)}")
    if feature_columns is not None:
        return list(feature_columns)
    features = [n for n in names if n != label_column and _is_numeric(pa, schema.field(n).type)]
    if not features:
        raise DataError(f"{where}: no numeric feature column among {', '.join(names)}")
    return features


def select_features(
    table: Any,
    where: str,
    label_column: str | None,
    feature_columns: list[str] | None,
    header_lines: int | None = None,
) -> list[str]:
    """The feature columns of a table: ``feature_columns``, else the numeric columns but the
    label; a text column holding some numbers is a numeric column with a stray word.

    Raises:
        DataError: an unknown column, a stray word (its line or row), no numeric column.
    """
    pa, pc = need("pyarrow", _FEATURE), need("pyarrow.compute", _FEATURE)
    names = list(table.column_names)
    for name in [label_column, *(feature_columns or [])]:
        if name is not None and name not in names:
            raise DataError(f"{where}: no column {name!r}; columns: {', '.join(names)}")
    if feature_columns is None:
        features = []
        for name in names:
            type_ = table.schema.field(name).type
            if name == label_column:
                continue
            if _is_numeric(pa, type_):
                features.append(name)
            elif _is_text(pa, type_) and _count_numbers(pc, table.column(name)):
                # numbers with a stray word; a text column (no numbers at all) is skipped
                raise DataError(_column_problem(pc, table, name, where, header_lines))
    else:
        features = list(feature_columns)
    if not features:
        raise DataError(f"{where}: no numeric feature column among {', '.join(names)}")
    return features


def from_arrow(
    table: Any,
    where: str,
    *,
    label_column: str | None = None,
    feature_columns: list[str] | None = None,
    header_lines: int | None = None,
    label_names: list[str] | None = None,
) -> RawData:
    """A pyarrow Table as features ``(n, n_features)`` float32 and optional labels.

    Args:
        table: the pyarrow Table.
        where: what error messages cite (the file).
        label_column, feature_columns: see :func:`aezoo.data.sources.load_source`.
        header_lines: lines before the first row (a CSV's header), to cite lines.
        label_names: the label column already holds indices into these names (a Hub
            ``ClassLabel``); else its sorted distinct values become the class names.

    Raises:
        DataError: an unknown column, a non-numeric feature column (its first bad value's
            line or row), no numeric column at all.
    """
    pa, pc = need("pyarrow", _FEATURE), need("pyarrow.compute", _FEATURE)
    features = select_features(table, where, label_column, feature_columns, header_lines)
    X = to_features(table, features, where, header_lines)
    if label_column is None:
        return RawData(
            "table", {"all": (X, None)}, where, columns=features, header_lines=header_lines
        )
    labels = table.column(label_column)
    if pa.types.is_dictionary(labels.type):
        labels = pc.cast(labels, labels.type.value_type)
    values = labels.to_numpy(zero_copy_only=False)
    if label_names is not None:
        y, class_names = np.asarray(values, dtype=np.int64), list(label_names)
    else:
        y, class_names = encode_labels(values, f"{where}: column {label_column!r}")
    return RawData(
        "table",
        {"all": (X, y)},
        where,
        columns=features,
        class_names=class_names,
        header_lines=header_lines,
    )


def locate_csv_error(path: Path) -> str | None:
    """The first ragged line of a CSV file, as a message naming the line and column."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return f"{path}: empty file (no header line)"
        for row in reader:
            if len(row) == len(header) or not row:
                continue
            if len(row) < len(header):
                return (
                    f"{path}: line {reader.line_num}: {len(row)} field(s) where the header has "
                    f"{len(header)}; column {header[len(row)]!r} is missing"
                )
            return (
                f"{path}: line {reader.line_num}: {len(row)} fields where the header has "
                f"{len(header)} (extra field after column {header[-1]!r})"
            )
    return None


def locate_csv_value(path: Path, features: list[str]) -> str | None:
    """The first value of a feature column that is not a number, by line and column."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        where = [(header.index(n), n) for n in features if n in header]
        for row in reader:
            for j, name in where:
                value = row[j].strip() if j < len(row) else ""
                try:
                    float(value or "nan")
                except ValueError:
                    line = reader.line_num
                    return f"{path}: line {line}, column {name!r}: {value!r} is not a number"
    return None


def read_csv(path: Path) -> Any:
    """A CSV file (a header line, then rows) as a pyarrow Table.

    Raises:
        DataError: a ragged line (its line and column) or an unreadable file.
    """
    pa, pacsv = need("pyarrow", _FEATURE), need("pyarrow.csv", _FEATURE)
    try:
        return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        located = locate_csv_error(path)
        raise DataError(located or f"{path}: not a readable CSV file ({one_line(exc)})") from None


def load_file(
    path: Path, *, label_column: str | None = None, feature_columns: list[str] | None = None
) -> RawData:
    """A ``.csv`` or ``.parquet`` file read whole (:mod:`.stream` reads it in batches).

    Raises:
        DataError: see :func:`read_csv` and :func:`from_arrow`.
    """
    if path.suffix.lower() == ".csv":
        table, header_lines = read_csv(path), 1
    else:
        pa, pq = need("pyarrow", _FEATURE), need("pyarrow.parquet", _FEATURE)
        try:
            table, header_lines = pq.read_table(path), None
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: not a readable parquet file ({one_line(exc)})") from None
    return from_arrow(
        table,
        str(path),
        label_column=label_column,
        feature_columns=feature_columns,
        header_lines=header_lines,
    )
