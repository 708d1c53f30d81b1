"""The SQL behind a history's reads and writes: ids and their keys, per-pair aggregates, columns as arrays.

Models and tasks are rows of their own tables; a record refers to them by key, and the key order is the order of
first appearance, so the index of an id in the transfer space is its position among the keys. Numeric columns
are fetched straight into float64 arrays.
"""
from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from fennec.errors import InputError, UnknownNameError

__all__ = [
    "AGGREGATES",
    "aggregate_pairs",
    "check_aggregate",
    "ensure_names",
    "fetch",
    "ordered_names",
    "positions",
    "select",
    "text_column",
    "to_datetime",
]

#: Rules that turn several runs of one (model, task) pair into one value. "best" is "max": higher values are better.
AGGREGATES = ("best", "max", "min", "mean", "median", "last", "first")
# max/min with a bare column: SQLite takes the bare columns from the row holding the extreme (documented behaviour).
_SQL_AGGREGATES = {
    "best": "MAX(value), COUNT(*)",
    "max": "MAX(value), COUNT(*)",
    "min": "MIN(value), COUNT(*)",
    "mean": "AVG(value), COUNT(*)",
    "last": "value, COUNT(*), MAX(id)",
    "first": "value, COUNT(*), MIN(id)",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def check_aggregate(aggregate: str) -> str:
    """`aggregate` if it is a rule of :data:`AGGREGATES` (:class:`UnknownNameError` otherwise)."""
    if aggregate not in AGGREGATES:
        raise UnknownNameError.of("aggregate rule", str(aggregate), AGGREGATES)
    return aggregate


def ordered_names(conn: sqlite3.Connection, table: str) -> list[str]:
    """The ids of a table (``models`` or ``tasks``) in index order."""
    return [row[0] for row in conn.execute(f"SELECT name FROM {table} ORDER BY id")]


def select(conn: sqlite3.Connection, table: str, wanted: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """Ids (all in index order, or `wanted` in its order) and their database keys."""
    rows = conn.execute(f"SELECT name, id FROM {table} ORDER BY id").fetchall()
    if wanted is None:
        return [name for name, _ in rows], np.array([key for _, key in rows], dtype=np.int64)
    kind = table[:-1]
    if isinstance(wanted, str):
        raise InputError(f"`{table}` must be a list of {kind} ids, not one string. Got {wanted!r} instead.")
    wanted = [str(name) for name in wanted]
    if len(set(wanted)) != len(wanted):
        repeated = sorted({name for name in wanted if wanted.count(name) > 1})
        raise InputError(f"`{table}` must not repeat ids. Got {', '.join(repeated)} more than once.")
    keys = dict(rows)
    for name in wanted:
        if name not in keys:
            raise UnknownNameError.of(kind, name, keys)
    return wanted, np.array([keys[name] for name in wanted], dtype=np.int64)


def positions(keys: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Position in `keys` of each database key in `lookup` (all of them are in `keys`)."""
    table = np.full(int(keys.max(initial=0)) + 1, -1, dtype=np.int64)
    table[keys] = np.arange(len(keys))
    return table[lookup.astype(np.int64)]


def aggregate_pairs(
    conn: sqlite3.Connection, rule: str, model_keys: np.ndarray | None, task_keys: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(model key, task key, value, number of runs) per pair, in (model key, task key) order."""
    clauses, args = [], []
    for column, keys in (("model_id", model_keys), ("task_id", task_keys)):
        if keys is not None:
            clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(keys.tolist()))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    if rule == "median":
        sql = f"SELECT model_id, task_id, value FROM records {where} ORDER BY model_id, task_id, value"
        return _group_median(fetch(conn, sql, args, 3))
    sql = f"SELECT model_id, task_id, {_SQL_AGGREGATES[rule]} FROM records {where} GROUP BY model_id, task_id"
    table = fetch(conn, sql, args, 5 if rule in ("last", "first") else 4)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def fetch(conn: sqlite3.Connection, sql: str, args: list, n_columns: int) -> np.ndarray:
    # fromiter over the flattened cursor avoids building a list of row tuples (1M records: ~3x faster).
    flat = np.fromiter(itertools.chain.from_iterable(conn.execute(sql, args)), dtype=np.float64)
    return flat.reshape(-1, n_columns)


def _group_median(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median per (model, task) group of rows sorted by (model, task, value)."""
    models, tasks, values = table[:, 0], table[:, 1], table[:, 2]
    if len(values) == 0:
        return models, tasks, values, values
    new_group = np.r_[True, (models[1:] != models[:-1]) | (tasks[1:] != tasks[:-1])]
    starts = np.flatnonzero(new_group)
    counts = np.diff(np.r_[starts, len(values)])
    median = (values[starts + (counts - 1) // 2] + values[starts + counts // 2]) / 2
    return models[starts], tasks[starts], median, counts.astype(np.float64)


def ensure_names(conn: sqlite3.Connection, table: str, names: np.ndarray) -> np.ndarray:
    """Database keys of `names`, inserting new ids in order of first appearance (so indices follow the file)."""
    codes, uniques = pd.factorize(names)
    conn.executemany(f"INSERT OR IGNORE INTO {table} (name) VALUES (?)", ((name,) for name in uniques))
    keys = dict(conn.execute(f"SELECT name, id FROM {table}").fetchall())
    return np.array([keys[name] for name in uniques], dtype=np.int64)[codes]


def text_column(conn: sqlite3.Connection, column: str, n: int) -> list[str | None]:
    # Most histories leave metric / source / params empty: one COUNT saves fetching a million NULLs.
    if conn.execute(f"SELECT COUNT({column}) FROM records").fetchone()[0] == 0:
        return [None] * n
    return [row[0] for row in conn.execute(f"SELECT {column} FROM records ORDER BY id")]


def to_datetime(micros: int) -> datetime:
    """A stored timestamp (microseconds since the Unix epoch) as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)
