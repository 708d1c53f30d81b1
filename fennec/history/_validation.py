"""Validating a long-format transfer table into :class:`ParsedRecords`, before the store is touched.

A table (a path or a DataFrame) is read and every row checked, so that a bad row rejects the whole table without a
half-written transaction; the message names the first bad row as the user sees it and counts the others.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fennec.errors import HistoryFormatError, InputError
from fennec.history._params import is_missing, params_json
from fennec.history._tables import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    Where,
    normalise_columns,
    read_file,
)

__all__ = ["ParsedRecords", "parse_records"]



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


def parse_records(data: str | os.PathLike | pd.DataFrame, *, source: str | None = None,
                  name: str | None = None) -> ParsedRecords:
    """Read a path or a DataFrame and validate every row; raise `HistoryFormatError` on the first bad one.

    Messages call a DataFrame ``name`` (default "the DataFrame"), e.g. "the posted records" for a web service."""
    if source is not None and not isinstance(source, str):
        raise InputError(f"`source` of TransferHistory.add must be a str or None. Got {source!r} instead.")
    if isinstance(data, pd.DataFrame):
        frame, where = data, Where(name or "the DataFrame", "frame")
    elif isinstance(data, (str, os.PathLike)):
        frame, where = read_file(Path(data))
    else:
        raise InputError(
            "`data` of TransferHistory.add must be a path to a CSV/Parquet file or a pandas DataFrame."
            f" Got {type(data).__name__} instead.",
            hint="Build a DataFrame with columns model, task, value, e.g. pandas.DataFrame(records).",
        )
    frame = normalise_columns(frame, where)
    if len(frame) == 0:
        raise HistoryFormatError(f"{where.name} has a header but no records.", hint="Add rows: model, task, value.")
    return _parse_frame(frame, where, source)


def _parse_frame(frame: pd.DataFrame, where: Where, source: str | None) -> ParsedRecords:
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
        params=params_json(frame, extras),
        timestamps=timestamps,
    )


def _raise_first_problem(problems: list, index: pd.Index, where: Where) -> None:
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
    return [default if is_missing(c) or not str(c).strip() else str(c) for c in cells]
