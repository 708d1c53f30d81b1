"""Hyper-parameters: the extra columns of a table, stored per record as JSON text and expanded back on export.

Cells become JSON-ready Python scalars (``None`` where missing); on export each key becomes a typed column again
(ints with gaps stay ``Int64``, text stays ``string``, booleans stay ``boolean``), so a table round-trips.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["is_missing", "params_columns", "params_json"]



def params_json(frame: pd.DataFrame, extras: list[str]) -> list[str | None]:
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


def is_missing(cell: Any) -> bool:
    return cell is None or cell is pd.NA or cell is pd.NaT or (isinstance(cell, float) and math.isnan(cell))


def _plain(cell: Any) -> Any:
    """A JSON-ready Python scalar (None for a missing cell)."""
    if is_missing(cell):
        return None
    if isinstance(cell, np.generic):
        cell = cell.item()
        return None if isinstance(cell, float) and math.isnan(cell) else cell
    if isinstance(cell, (bool, int, float, str)):
        return cell
    return str(cell)


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
