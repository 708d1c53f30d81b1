"""Writing validated records into the store: the duplicate policy (:data:`DEDUPE_POLICIES`) and the inserts.

A record's identity for the policy is its (model, task, source): a re-imported file (source = its name) or MLflow
run (source = ``mlflow:<run id>``) matches what it imported before. Rows of one table are never compared with each
other (several seeds of a pair in one file are all kept); only with the records already stored. A record without a
source matches stored records without a source.
"""
from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from fennec.errors import HistoryFormatError, UnknownNameError
from fennec.history._queries import ensure_names
from fennec.history._validation import ParsedRecords

__all__ = ["DEDUPE_POLICIES", "ImportSummary", "check_dedupe", "insert_records"]

#: What an import does with a record whose (model, task, source) is already stored: ``"keep-all"`` stores it too
#: (several runs of a pair are aggregated when read), ``"skip"`` keeps the stored one and drops the new one,
#: ``"replace"`` deletes the stored one(s) and stores the new one, ``"error"`` refuses the whole table.
DEDUPE_POLICIES = ("keep-all", "skip", "replace", "error")

_INSERT = (
    "INSERT INTO records (model_id, task_id, value, metric, source, params, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_CHUNK = 50_000  # rows per executemany call: bounds memory and drives the progress bar
_PROGRESS_MIN = 200_000  # show a progress bar from this many records on
_MATCH = (
    "EXISTS (SELECT 1 FROM records r WHERE r.model_id = i.model_id AND r.task_id = i.task_id AND r.source IS i.source)"
)


@dataclass(frozen=True)
class ImportSummary:
    """What one import did: records stored, new records dropped as duplicates, stored records replaced."""

    added: int
    skipped: int = 0
    replaced: int = 0


def check_dedupe(dedupe: str) -> str:
    """`dedupe` if it is one of :data:`DEDUPE_POLICIES` (:class:`UnknownNameError` otherwise)."""
    if dedupe not in DEDUPE_POLICIES:
        raise UnknownNameError.of("dedupe policy", str(dedupe), DEDUPE_POLICIES)
    return dedupe


def insert_records(conn: sqlite3.Connection, parsed: ParsedRecords, dedupe: str, name: str) -> ImportSummary:
    """Store `parsed` under the policy `dedupe`, inside the caller's write transaction (rolled back on error)."""
    model_ids = ensure_names(conn, "models", parsed.models)
    task_ids = ensure_names(conn, "tasks", parsed.tasks)
    keep = np.ones(len(parsed), dtype=bool)
    replaced = 0
    if dedupe != "keep-all":
        keep, replaced = _apply_policy(conn, dedupe, model_ids, task_ids, parsed.sources, name)
    rows = zip(model_ids.tolist(), task_ids.tolist(), parsed.values.tolist(), parsed.metrics, parsed.sources,
               parsed.params, parsed.timestamps.tolist())
    rows = itertools.compress(rows, keep.tolist())
    n = int(keep.sum())
    with tqdm(total=n, desc="importing records", unit="rec", disable=n < _PROGRESS_MIN, leave=False) as bar:
        while chunk := list(itertools.islice(rows, _CHUNK)):
            conn.executemany(_INSERT, chunk)
            bar.update(len(chunk))
    return ImportSummary(added=n, skipped=len(parsed) - n, replaced=replaced)


def _apply_policy(conn: sqlite3.Connection, dedupe: str, model_ids: np.ndarray, task_ids: np.ndarray,
                  sources: list[str | None], name: str) -> tuple[np.ndarray, int]:
    """Rows to insert and the number of stored records deleted; the table's keys go through a temporary table."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (pos INTEGER PRIMARY KEY, model_id INTEGER,"
                 " task_id INTEGER, source TEXT)")
    conn.execute("DELETE FROM temp.incoming")
    conn.executemany("INSERT INTO temp.incoming VALUES (?, ?, ?, ?)",
                     zip(range(len(sources)), model_ids.tolist(), task_ids.tolist(), sources))
    keep = np.ones(len(sources), dtype=bool)
    replaced = 0
    try:
        if dedupe == "replace":
            replaced = conn.execute(
                "DELETE FROM records WHERE id IN (SELECT r.id FROM records r JOIN temp.incoming i ON"
                " r.model_id = i.model_id AND r.task_id = i.task_id AND r.source IS i.source)").rowcount
            return keep, replaced
        dupes = [row[0] for row in conn.execute(f"SELECT pos FROM temp.incoming i WHERE {_MATCH} ORDER BY pos")]
        if dupes and dedupe == "error":
            raise HistoryFormatError(
                f"Cannot import {name}: {len(dupes)} record(s) have a (model, task, source) already in the history"
                f" (the first is record {dupes[0] + 1} of the table, counted from 1); nothing was imported.",
                hint="Choose --dedupe skip (keep the stored ones), replace or keep-all.")
        keep[dupes] = False
        return keep, replaced
    finally:
        conn.execute("DELETE FROM temp.incoming")
