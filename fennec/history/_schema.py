"""The layout of a history file: its tables, the marks that say it is fennec's and which version, and their check.

A new file gets the tables and the marks (``PRAGMA application_id``, ``PRAGMA user_version``); an existing one is
opened only if its marks and tables are what this fennec reads, so a file from a newer fennec (or another
application) is refused with a clear error, never misread.
"""
from __future__ import annotations

import sqlite3

__all__ = ["APPLICATION_ID", "SCHEMA_HINT", "SCHEMA_VERSION", "create_schema", "file_identity", "schema_problem"]

#: Version of the table layout, stored in the file as ``PRAGMA user_version``.
SCHEMA_VERSION = 1
#: Marks the SQLite file as fennec's (``PRAGMA application_id``, the bytes "FNEC").
APPLICATION_ID = int.from_bytes(b"FNEC", "big")

_SCHEMA = """
CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE tasks (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (id),
    task_id INTEGER NOT NULL REFERENCES tasks (id),
    value REAL NOT NULL,
    metric TEXT,
    source TEXT,
    params TEXT,
    timestamp INTEGER NOT NULL
);
-- Covers every aggregate: GROUP BY (model_id, task_id) reads value (and the rowid) from the index alone.
CREATE INDEX records_model_task ON records (model_id, task_id, value);
"""
TABLES = {"models", "tasks", "records"}
SCHEMA_HINT = "Open it with the fennec version that wrote it, or point fennec at a new file."


def file_identity(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    """The file's application id, schema version and table names (all zero / empty for a new file)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return app_id, version, tables


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables and set the marks, inside the caller's open transaction."""
    # executescript would COMMIT the open transaction first; run statement by statement inside it instead.
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def schema_problem(app_id: int, version: int, tables: set[str]) -> str | None:
    """What keeps this fennec from reading a file with these marks and tables (the end of a sentence), or None."""
    if app_id != APPLICATION_ID:
        listing = ", ".join(sorted(tables)) or "none"
        return f"is an SQLite database but not a fennec transfer history (its tables: {listing})."
    if version > SCHEMA_VERSION:
        return (
            f"was written by a newer fennec (history schema version {version}; this fennec reads version"
            f" {SCHEMA_VERSION}). Upgrade fennec to open it."
        )
    if version != SCHEMA_VERSION:
        return f"has an unknown history schema version {version} (this fennec reads version {SCHEMA_VERSION})."
    if not TABLES <= tables:
        return f"is a damaged fennec transfer history: table(s) {', '.join(sorted(TABLES - tables))} are missing."
    return None

