"""Reading, validating and writing long-format transfer tables (CSV / Parquet / DataFrame).

Everything here runs before the store is touched: a table is read and fully validated into a `ParsedRecords`, so a
bad row can reject the whole file without a half-written transaction. Row numbers in messages are the ones a user
sees: CSV lines (header = line 1), Parquet data rows counted from 1, DataFrame positions with their index label.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fennec.errors import DataNotFoundError, HistoryFormatError, InputError

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "ParsedRecords",
    "parse_records",
    "table_format",
    "params_columns",
]

REQUIRED_COLUMNS = ("model", "task", "value")
OPTIONAL_COLUMNS = ("metric", "source", "timestamp")
_TEXT_COLUMNS = ("model", "task", "metric", "source", "timestamp", "value")  # read verbatim from CSV, parsed here
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED_SUFFIXES = _CSV_SUFFIXES + _PARQUET_SUFFIXES
# What empty cells of hyper-parameter columns may look like in a CSV (ids and values keep "NA", "None"... verbatim).
_CSV_NA = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "<NA>", "#N/A"]
# Column names often seen in released tables, for the "rename" hint of a missing-column error.
_ALIASES = {
    "model": ("model_name", "model_id", "models", "backbone", "arch", "architecture"),
    "task": ("dataset", "dataset_name", "target", "finetuned_dataset", "train_dataset_name", "task_name", "tasks"),
    "value": ("finetune_acc", "accuracy", "acc", "score", "eval_accuracy", "test_accuracy", "top1", "metric_value"),
}


@dataclass(frozen=True)
class ParsedRecords:
    """A validated table, column by column, ready for ``executemany``."""

    models: np.ndarray  # object array of str, shape (n,)
    tasks: np.ndarray  # object array of str, shape (n,)
    values: np.ndarray  # float64, finite, shape (n,)
    metrics: list[str | None]
    sources: list[str | None]
    params: list[str | None]  # JSON text of the extra columns, None when a row has none
    timestamps: np.ndarray  # int64 microseconds since the Unix epoch, UTC

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class _Where:
    """Names a table and turns a row label into the row number a user sees."""

    name: str
    kind: str  # "csv", "parquet" or "frame"

    def row(self, position: int, label: Any) -> str:
        if self.kind == "csv":
            return f"line {int(label) + 2} (line 1 is the header)"
        if self.kind == "parquet":
            return f"data row {int(label) + 1} (data rows counted from 1)"
        return f"row {position} (0-based position, index label {label!r})"


def table_format(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` from a file name; a clear error for anything else."""
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise HistoryFormatError(
        f"Cannot read transfer records from {str(path)!r}: unknown file extension"
        f" {''.join(path.suffixes) or '(none)'!r}. Supported: {', '.join(SUPPORTED_SUFFIXES)}.",
        hint="Save the table as CSV or Parquet with columns model, task, value.",
    )


def parse_records(data: str | os.PathLike | pd.DataFrame, *, source: str | None = None,
                  name: str | None = None) -> ParsedRecords:
    """Read a path or a DataFrame and validate every row; raise `HistoryFormatError` on the first bad one.

    Messages call a DataFrame ``name`` (default "the DataFrame"), e.g. "the posted records" for a web service."""
    if source is not None and not isinstance(source, str):
        raise InputError(f"`source` of TransferHistory.add must be a str or None. Got {source!r} instead.")
    if isinstance(data, pd.DataFrame):
        frame, where = data, _Where(name or "the DataFrame", "frame")
    elif isinstance(data, (str, os.PathLike)):
        frame, where = _read_file(Path(data))
    else:
        raise InputError(
            "`data` of TransferHistory.add must be a path to a CSV/Parquet file or a pandas DataFrame."
            f" Got {type(data).__name__} instead.",
            hint="Build a DataFrame with columns model, task, value, e.g. pandas.DataFrame(records).",
        )
    frame = _normalise_columns(frame, where)
    if len(frame) == 0:
        raise HistoryFormatError(f"{where.name} has a header but no records.", hint="Add rows: model, task, value.")
    return _parse_frame(frame, where, source)


# ----------------------------------------------------------------------------------------------------- reading


def _read_file(path: Path) -> tuple[pd.DataFrame, _Where]:
    kind = table_format(path)
    where = _Where(path.name, kind)
    if not path.exists():
        raise DataNotFoundError(f"Transfer-record file {str(path)!r} does not exist.", hint="Check the path.")
    if path.is_dir():
        raise HistoryFormatError(f"Cannot read {str(path)!r}: it is a directory, not a {kind.upper()} file.")
    if path.stat().st_size == 0:
        raise HistoryFormatError(
            f"{path.name} is empty (0 bytes).", hint="A transfer table needs a header line: model,task,value."
        )
    try:
        frame = _read_csv(path) if kind == "csv" else pd.read_parquet(path, dtype_backend="numpy_nullable")
    except pd.errors.EmptyDataError:
        raise HistoryFormatError(
            f"{path.name} is empty (no header line).", hint="A transfer table needs a header line: model,task,value."
        ) from None
    except UnicodeDecodeError as exc:
        raise HistoryFormatError(
            f"Cannot read {path.name}: it is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            hint="Save the file as UTF-8 CSV, or check that it really is a CSV file.",
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        # pyarrow's ArrowInvalid is a ValueError; permission problems are OSErrors.
        raise HistoryFormatError(
            f"Cannot read {path.name} as {kind.upper()}: {exc}",
            hint=f"Check that the file is a readable, well-formed {kind.upper()} table.",
        ) from None
    if kind == "csv":
        # Blank lines were kept as all-empty rows so that row labels stay line numbers; drop them now.
        frame = frame.loc[~frame.isna().all(axis=1)]
    return frame, where


def _read_csv(path: Path) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0).columns
    text = [c for c in header if str(c).strip() in _TEXT_COLUMNS]
    # Ids and values are read as text and parsed here (exact float parsing, verbatim ids such as "001" or "NA");
    # the other columns are hyper-parameters whose types pandas infers (nullable, so int columns with gaps stay int).
    na_values = {c: ([""] if c in text else _CSV_NA) for c in header}
    return pd.read_csv(
        path,
        dtype={c: object for c in text},  # plain Python str cells: cheaper to strip and parse than string arrays
        keep_default_na=False,
        na_values=na_values,
        skip_blank_lines=False,
        dtype_backend="numpy_nullable",
    )


def _normalise_columns(frame: pd.DataFrame, where: _Where) -> pd.DataFrame:
    names = [str(c).strip() for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise HistoryFormatError(f"{where.name} has duplicate columns: {', '.join(duplicated)}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise HistoryFormatError(
            f"{where.name} lacks the required column(s) {', '.join(missing)}. It has: {', '.join(names) or '(none)'}."
            f" Needed: {', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)}; any other column is"
            " kept as a hyper-parameter).",
            hint=_rename_hint(missing, names),
        )
    frame = frame.copy(deep=False)
    frame.columns = names
    return frame


def _rename_hint(missing: list[str], names: list[str]) -> str:
    lowered = {n.lower(): n for n in names}
    renames = {}
    for column in missing:
        for candidate in (column, *_ALIASES[column]):
            if candidate in lowered and lowered[candidate] not in renames:
                renames[lowered[candidate]] = column
                break
    if not renames:
        return "Rename the columns of your table to model, task, value."
    pairs = ", ".join(f"{old!r}: {new!r}" for old, new in renames.items())
    return f"Rename the columns first, e.g. with pandas: table.rename(columns={{{pairs}}})."


# -------------------------------------------------------------------------------------------------- validation


def _parse_frame(frame: pd.DataFrame, where: _Where, source: str | None) -> ParsedRecords:
    models, empty_model = _parse_ids(frame["model"])
    tasks, empty_task = _parse_ids(frame["task"])
    values, value_problem = _parse_values(frame["value"])
    timestamps, bad_time = _parse_timestamps(frame.get("timestamp"), len(frame))
    problems = [
        (empty_model, lambda i: "the model id is empty"),
        (empty_task, lambda i: "the task id is empty"),
        (value_problem != "", lambda i: value_problem[i]),
        (bad_time, lambda i: f"timestamp {frame['timestamp'].iloc[i]!r} is not an ISO 8601 date and time"),
    ]
    _raise_first_problem(problems, frame.index, where)
    extras = [c for c in frame.columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    return ParsedRecords(
        models=models,
        tasks=tasks,
        values=values,
        metrics=_optional_text(frame.get("metric"), len(frame), None),
        sources=_optional_text(frame.get("source"), len(frame), source),
        params=_params_json(frame, extras),
        timestamps=timestamps,
    )


def _raise_first_problem(problems: list, index: pd.Index, where: _Where) -> None:
    bad = np.zeros(len(index), dtype=bool)
    for mask, _ in problems:
        bad |= mask
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    reasons = "; ".join(describe(first) for mask, describe in problems if mask[first])
    others = int(bad.sum()) - 1
    more = f" {others} more row(s) have problems too." if others else ""
    raise HistoryFormatError(
        f"Cannot import {where.name}: {where.row(first, index[first])}: {reasons}.{more}",
        hint=f"Fix the bad row(s) and add the table again; nothing from {where.name} was imported.",
    )


def _parse_ids(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    missing = column.isna().to_numpy(dtype=bool)
    text = column.astype(object).where(~missing, "")
    if pd.api.types.infer_dtype(text, skipna=False) != "string":  # numbers used as ids: "7", not 7
        text = text.astype(str)
    ids = text.str.strip().to_numpy(dtype=object)
    return ids, missing | (ids == "")


def _parse_values(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64, and per row an empty string or what is wrong with the cell."""
    missing = column.isna().to_numpy(dtype=bool)
    problem = np.full(len(column), "", dtype=object)
    if pd.api.types.is_bool_dtype(column):
        values = np.full(len(column), np.nan)
        problem[~missing] = [f"the value {c!r} is not a number" for c in column[~missing]]
    elif pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = _floats(column.to_numpy(dtype=object), missing, problem)
    problem[missing] = "the value is empty"
    nonfinite = ~np.isfinite(values) & (problem == "")
    problem[nonfinite] = [
        f"the value {float(v)!r} is not finite (NaN and infinity are not allowed)" for v in values[nonfinite]
    ]
    return values, problem


def _floats(cells: np.ndarray, missing: np.ndarray, problem: np.ndarray) -> np.ndarray:
    # numpy converts object cells with Python's float(), which parses decimal text correctly rounded: an exported
    # file re-imports bit for bit. Only when some cell does not parse, go cell by cell to say which.
    try:
        return cells.astype(np.float64)
    except (TypeError, ValueError):
        pass
    values = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        if missing[i]:
            continue
        if isinstance(cell, str) and not cell.strip():
            missing[i] = True
            continue
        try:
            values[i] = float(cell)
        except (TypeError, ValueError):
            problem[i] = f"the value {cell!r} is not a number"
    return values


def _parse_timestamps(column: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (UTC); empty cells and a missing column mean "now"; naive times are UTC."""
    now = time.time_ns() // 1000
    if column is None:
        return np.full(n, now, dtype=np.int64), np.zeros(n, dtype=bool)
    missing = column.isna().to_numpy(dtype=bool)
    if not pd.api.types.is_datetime64_any_dtype(column):
        column = column.astype(object).where(~missing, None).astype(str).str.strip()
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy(dtype=bool) & ~missing
    micros = parsed.dt.as_unit("us").astype("int64").to_numpy().copy()
    micros[missing | bad] = now
    return micros, bad


def _optional_text(column: pd.Series | None, n: int, default: str | None) -> list[str | None]:
    if column is None:
        return [default] * n
    cells = column.astype(object).to_numpy()
    return [default if _is_missing(c) or not str(c).strip() else str(c) for c in cells]


def _params_json(frame: pd.DataFrame, extras: list[str]) -> list[str | None]:
    if not extras:
        return [None] * len(frame)
    columns = [_python_cells(frame[name]) for name in extras]
    # Hyper-parameters repeat a lot (a few learning rates, a few seeds): encode each distinct combination once.
    # Only for typed columns: in an object column 1, 1.0 and True would be one cache key.
    encoded: dict[tuple, str | None] | None = {} if all(frame[c].dtype != object for c in extras) else None
    rows = []
    for cells in zip(*columns):
        text = encoded.get(cells, False) if encoded is not None else False
        if text is False:
            params = {name: cell for name, cell in zip(extras, cells) if cell is not None}
            text = json.dumps(params) if params else None
            if encoded is not None:
                encoded[cells] = text
        rows.append(text)
    return rows


def _python_cells(column: pd.Series) -> list[Any]:
    """The column as JSON-ready Python scalars, None where a cell is missing."""
    dtype = column.dtype
    if dtype != object and (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        cells = column.tolist()  # numpy and nullable scalars come out as plain int / float / bool / str
        for i in np.flatnonzero(column.isna().to_numpy(dtype=bool)):
            cells[i] = None
        return cells
    return [_plain(cell) for cell in column.to_numpy(dtype=object)]


def _is_missing(cell: Any) -> bool:
    return cell is None or cell is pd.NA or cell is pd.NaT or (isinstance(cell, float) and math.isnan(cell))


def _plain(cell: Any) -> Any:
    """A JSON-ready Python scalar (None for a missing cell)."""
    if _is_missing(cell):
        return None
    if isinstance(cell, np.generic):
        cell = cell.item()
        return None if isinstance(cell, float) and math.isnan(cell) else cell
    if isinstance(cell, (bool, int, float, str)):
        return cell
    return str(cell)


# ------------------------------------------------------------------------------------------------------ export


def params_columns(params: list[str | None]) -> dict[str, pd.api.extensions.ExtensionArray]:
    """Expand per-record JSON hyper-parameters into typed columns (keys in order of first appearance)."""
    if all(p is None for p in params):
        return {}
    decoded = [json.loads(p) if p is not None else {} for p in params]
    keys: dict[str, None] = {}
    for row in decoded:
        keys.update(dict.fromkeys(row))
    # pd.array keeps each key's JSON type: ints (with gaps) stay Int64, text stays string, booleans stay boolean.
    return {key: pd.array([row.get(key) for row in decoded]) for key in keys}
