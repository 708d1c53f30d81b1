"""Transfer records in long form (``model, task, value`` + optional columns) from a user's CSV or Parquet file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.errors import HistoryFormatError

from .._types import RECORD_COLUMNS, Benchmark

__all__ = ["load_long_form", "read_table", "check_records", "best_per_pair"]

_PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame, with a clear error when it is empty or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise HistoryFormatError(f"History file {str(path)!r} does not exist.",
                                 hint="Give the path of a CSV or Parquet file with columns model,task,value.")
    try:
        if path.suffix.lower() in _PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise HistoryFormatError(f"History file {str(path)!r} is empty.",
                                 hint="Write a header line 'model,task,value' and one line per result.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise HistoryFormatError(f"History file {str(path)!r} could not be read as "
                                 f"{'Parquet' if path.suffix.lower() in _PARQUET_SUFFIXES else 'CSV'}: {exc}") from exc


def _cell(value: object) -> str:
    """A table cell as the user wrote it: 'abc' for text, nan / 0.5 for numbers (no numpy reprs)."""
    return repr(value) if isinstance(value, str) else str(value.item() if hasattr(value, "item") else value)


def _where(frame: pd.DataFrame, position: int, csv: bool) -> str:
    line = f" (line {position + 2} of the file)" if csv else ""
    return f"row {position + 1}{line} (model={_cell(frame['model'].iloc[position])}, " \
           f"task={_cell(frame['task'].iloc[position])})"


def check_records(frame: pd.DataFrame, source: str, csv: bool = True) -> pd.DataFrame:
    """Validate a long-form table and return it with ``value`` as float and ``model``/``task`` as str.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read.
    source : str
        How to name the table in messages (a file path).
    csv : bool
        Whether rows map to file lines (header on line 1), so that messages can name the line.

    Raises
    ------
    HistoryFormatError
        A required column is missing, the table has no rows, or a row has an empty model/task or a non-numeric or
        missing value; the message names the first offending row.
    """
    missing = [c for c in RECORD_COLUMNS if c not in frame.columns]
    if missing:
        raise HistoryFormatError(
            f"Columns of history {source} must include {', '.join(RECORD_COLUMNS)}. Missing {', '.join(missing)}; "
            f"got {', '.join(map(str, frame.columns))} instead.",
            hint="Rename the columns: one row per fine-tuning result with model, task and value (higher = better).")
    if frame.empty:
        raise HistoryFormatError(f"History {source} has a header but no rows.", hint="Add one row per result.")
    frame = frame.reset_index(drop=True)
    for col in ("model", "task"):
        blank = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
        if blank.any():
            raise HistoryFormatError(f"Column {col!r} of history {source} must be non-empty. Got an empty cell at "
                                     f"{_where(frame, int(blank.to_numpy().argmax()), csv)} instead.")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = values.isna() & frame["value"].notna()
    if bad.any():
        at = int(bad.to_numpy().argmax())
        raise HistoryFormatError(f"Column 'value' of history {source} must be numeric. "
                                 f"Got {_cell(frame['value'].iloc[at])} at {_where(frame, at, csv)} instead.")
    finite = np.isfinite(values.to_numpy(dtype=float))
    if not finite.all():
        at = int((~finite).argmax())
        raise HistoryFormatError(f"Column 'value' of history {source} must be a finite number. Got "
                                 f"{_cell(frame['value'].iloc[at])} at {_where(frame, at, csv)} instead.",
                                 hint="Drop the rows without a result, or fill them in.")
    out = frame.copy()
    out["model"] = out["model"].astype(str)
    out["task"] = out["task"].astype(str)
    out["value"] = values.astype(float)
    return out


def best_per_pair(records: pd.DataFrame) -> pd.DataFrame:
    """Keep, for each (model, task), the row with the highest value (the first such row on ties); sorted.

    This is the rule for duplicate runs of a pair: the best result a user obtained is the one that counts.
    """
    order = records.sort_values("value", ascending=False, kind="stable")
    best = order.drop_duplicates(["model", "task"], keep="first")
    columns = list(RECORD_COLUMNS) + [c for c in records.columns if c not in RECORD_COLUMNS]
    return best.sort_values(["task", "model"], kind="stable")[columns].reset_index(drop=True)


def load_long_form(path: str | os.PathLike) -> Benchmark:
    """A user's transfer history (CSV or Parquet with columns ``model, task, value``) as a :class:`Benchmark`.

    Duplicate (model, task) pairs keep their highest value. Cards carry only the names.

    Raises
    ------
    HistoryFormatError
        The file is missing, empty, unreadable, or a row is malformed (the message names the row).
    """
    path = Path(path)
    csv = path.suffix.lower() not in _PARQUET_SUFFIXES
    records = best_per_pair(check_records(read_table(path), repr(str(path)), csv=csv))
    return Benchmark(name=str(path), records=records,
                     model_cards={m: ModelCard(name=m) for m in records["model"].unique()},
                     task_cards={t: TaskCard(name=t) for t in records["task"].unique()},
                     citation=f"user transfer history {path.name}")
