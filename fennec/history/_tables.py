"""Reading a long-format transfer table from a file: CSV or Parquet by extension, its columns checked by name.

Row labels are kept so that messages name the rows a user sees: CSV lines (header = line 1), Parquet data rows
counted from 1, DataFrame positions with their index label (:class:`Where`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fennec.errors import DataNotFoundError, HistoryFormatError

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "Where",
    "normalise_columns",
    "read_file",
    "table_format",
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
class Where:
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

def read_file(path: Path) -> tuple[pd.DataFrame, Where]:
    kind = table_format(path)
    where = Where(path.name, kind)
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


def normalise_columns(frame: pd.DataFrame, where: Where) -> pd.DataFrame:
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
