"""The transfer history: every fine-tuning result the team recorded, in one SQLite file.

A record is ``model, task, value`` (higher is better) plus an optional metric name, source, hyper-parameters and a
timestamp. The store owns the mapping between model / task ids and the integer indices the transfer space uses
(like lightfm's ``Dataset``): index ``i`` is the ``i``-th id in order of first appearance, so appending records never
moves an existing index.
"""
from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fennec import _history_io
from fennec.errors import FennecError, HistoryFormatError, InputError, UnknownNameError

__all__ = ["TransferHistory", "TransferRecord", "AGGREGATES", "SCHEMA_VERSION"]

#: Version of the table layout, stored in the file as ``PRAGMA user_version``.
SCHEMA_VERSION = 1
#: Marks the SQLite file as fennec's (``PRAGMA application_id``, the bytes "FNEC").
APPLICATION_ID = int.from_bytes(b"FNEC", "big")
#: Rules that turn several runs of one (model, task) pair into one value. "best" is "max": higher values are better.
AGGREGATES = ("best", "max", "min", "mean", "median", "last", "first")

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
_TABLES = {"models", "tasks", "records"}
# max/min with a bare column: SQLite takes the bare columns from the row holding the extreme (documented behaviour).
_SQL_AGGREGATES = {
    "best": "MAX(value), COUNT(*)",
    "max": "MAX(value), COUNT(*)",
    "min": "MIN(value), COUNT(*)",
    "mean": "AVG(value), COUNT(*)",
    "last": "value, COUNT(*), MAX(id)",
    "first": "value, COUNT(*), MIN(id)",
}
_INSERT = (
    "INSERT INTO records (model_id, task_id, value, metric, source, params, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_CHUNK = 50_000  # rows per executemany call: bounds memory and drives the progress bar
_PROGRESS_MIN = 200_000  # show a progress bar from this many records on


@dataclass(frozen=True)
class TransferRecord:
    """One fine-tuning result, as stored.

    Parameters
    ----------
    model : str
        Model id (timm style ``architecture.tag`` where one exists).
    task : str
        Task (dataset) id.
    value : float
        The fine-tuned score; higher is better.
    metric : str or None
        Name of the measure (``top1``, ``map``...), if recorded.
    source : str or None
        Where the record came from (a paper, a benchmark, a run log), if recorded.
    params : dict
        Hyper-parameters and other extra columns (``lr``, ``seed``, ``split``...).
    timestamp : datetime
        When the run was recorded (UTC).
    """

    model: str
    task: str
    value: float
    metric: str | None = None
    source: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None


class TransferHistory:
    """Transfer records (fine-tuning results) in one SQLite file.

    Import and export use the long format ``model, task, value`` (optional ``metric``, ``source``, ``timestamp``;
    any other column, such as ``lr``, ``split`` or ``seed``, is kept per record as a JSON hyper-parameter).
    Appending a table is one transaction: a bad row rejects the whole table and leaves the store as it was.
    Several runs of one (model, task) pair are all kept and combined by an explicit rule when read.

    The file uses SQLite's write-ahead log, so readers (other threads or processes) keep working while one writer
    appends, and always see either the state before or after a whole table. Each thread and process gets its own
    connection; an instance can be shared between threads and handed to other processes (it pickles as its path).

    Parameters
    ----------
    path : str or os.PathLike
        The database file, created with an empty history if it does not exist; ``":memory:"`` for a private
        in-memory store (shared by the instance's threads, serialised by a lock).
    timeout : float, default=30.0
        Seconds a connection waits for another writer's lock before failing.

    Attributes
    ----------
    path : str
        The database file as given.
    n_records : int
        Number of stored records, duplicates included (also ``len(history)``).
    n_models : int
        Number of distinct model ids.
    n_tasks : int
        Number of distinct task ids.

    See Also
    --------
    TransferRecord : what iterating over a history yields.

    Notes
    -----
    Aggregation rules (``aggregate=``): ``"best"`` (the highest value, same as ``"max"``), ``"min"``, ``"mean"``,
    ``"median"``, ``"last"`` and ``"first"`` (the record added last / first). The file stores its schema version in
    ``PRAGMA user_version``; a file from a newer fennec is refused with a clear error, never misread.

    Examples
    --------
    >>> import pandas as pd
    >>> from fennec.history import TransferHistory
    >>> history = TransferHistory(":memory:")
    >>> history.add(pd.DataFrame({"model": ["resnet50", "resnet50", "vit_b16"],
    ...                           "task": ["cifar10", "cifar10", "dtd"],
    ...                           "value": [96.25, 96.75, 74.5],
    ...                           "seed": [0, 1, 0]}))
    3
    >>> values, model_ids, task_ids = history.matrix()
    >>> model_ids, task_ids
    (['resnet50', 'vit_b16'], ['cifar10', 'dtd'])
    >>> values
    array([[96.75,   nan],
           [  nan, 74.5 ]])
    >>> history.matrix(aggregate="mean")[0].tolist()
    [[96.5, nan], [nan, 74.5]]
    >>> history.records(aggregate=None)[["model", "value", "seed"]]
          model  value  seed
    0  resnet50  96.25     0
    1  resnet50  96.75     1
    2   vit_b16  74.50     0
    """

    def __init__(self, path: str | os.PathLike, *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._memory = self.path in (":memory:", "")
        self._lock = threading.RLock()  # guards the connection registry (and the one in-memory connection)
        self._local = threading.local()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._closed = False
        self._shared = self._connect() if self._memory else None
        self._open_schema()

    # -------------------------------------------------------------------------------------------- connections

    def _connect(self) -> sqlite3.Connection:
        conn = None
        try:
            # isolation_level=None: transactions are opened explicitly (BEGIN / BEGIN IMMEDIATE) by _read / _write.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; the safe setting for WAL
            conn.execute("PRAGMA cache_size = -32000")  # 32 MB page cache: index inserts of big imports stay in memory
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise self._open_error(exc) from None
        with self._lock:
            self._connections.append((os.getpid(), conn))
        return conn

    def _open_error(self, exc: sqlite3.DatabaseError) -> FennecError:
        if isinstance(exc, sqlite3.OperationalError):  # the file cannot be opened at all
            return InputError(
                f"Cannot open the transfer history {self.path!r}: {exc}.",
                hint="Check that the folder exists and is writable.",
            )
        return HistoryFormatError(
            f"{self.path!r} is not a fennec transfer history: it is not an SQLite database ({exc}).",
            hint="To import a CSV or Parquet table, open a database and add it: "
            "TransferHistory('history.db').add('records.csv').",
        )

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise InputError(f"This TransferHistory ({self.path!r}) is closed.", hint="Open it again.")
        if self._memory:
            return self._shared
        local = self._local
        # One connection per thread and per process: a connection inherited through fork must not be used.
        if getattr(local, "pid", None) != os.getpid():
            local.conn, local.pid = self._connect(), os.getpid()
        return local.conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot of the file."""
        with self._lock if self._memory else nullcontext():
            conn = self._conn()
            if conn.in_transaction:  # nested inside another read or write: already one snapshot
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed whole or rolled back whole."""
        with self._lock if self._memory else nullcontext():
            conn = self._conn()
            if conn.in_transaction:
                raise InputError("Cannot add records to a TransferHistory while iterating over it in the same thread.")
            try:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through the import
            except sqlite3.OperationalError as exc:
                raise FennecError(
                    f"The transfer history {self.path!r} is locked by another writer ({exc}).",
                    hint="Retry when the other import has finished, or open it with a larger `timeout`.",
                ) from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this instance opened in this process."""
        with self._lock:
            for pid, conn in self._connections:
                if pid == os.getpid():
                    conn.close()
            self._connections.clear()
            self._closed = True

    def __enter__(self) -> "TransferHistory":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> tuple:
        if self._memory:
            raise InputError("An in-memory TransferHistory cannot be sent to another process.", hint="Use a file.")
        return (_reopen, (self.path, self.timeout))

    def __repr__(self) -> str:
        if self._closed:
            return f"TransferHistory({self.path!r}, closed)"
        with self._read():
            counts = f"n_records={self.n_records}, n_models={self.n_models}, n_tasks={self.n_tasks}"
        return f"TransferHistory({self.path!r}, {counts})"

    # ------------------------------------------------------------------------------------------------- schema

    def _open_schema(self) -> None:
        conn = self._conn()
        try:
            app_id, version, tables = _file_identity(conn)
            if app_id == 0 and version == 0 and not tables:
                self._use_wal(conn)
                with self._write() as conn:
                    if not _file_identity(conn)[2]:  # another process may have created it meanwhile
                        _create_schema(conn)
                app_id, version, tables = _file_identity(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._open_error(exc) from None
        problem = _schema_problem(app_id, version, tables)
        if problem:
            self.close()
            raise HistoryFormatError(f"{self.path!r} {problem}", hint=_SCHEMA_HINT)
        self._use_wal(conn)

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Write-ahead log: readers keep their snapshot while a writer appends. Persistent: set once per file.
        if not self._memory and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    # ------------------------------------------------------------------------------------------------ counts

    def __len__(self) -> int:
        return self.n_records

    @property
    def n_records(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    @property
    def n_models(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]

    @property
    def n_tasks(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

    def models(self) -> list[str]:
        """Model ids in index order (order of first appearance).

        Returns
        -------
        list of str
            ``models()[i]`` is the model of row ``i`` of `matrix`.
        """
        with self._read() as conn:
            return _names(conn, "models")

    def tasks(self) -> list[str]:
        """Task ids in index order (order of first appearance).

        Returns
        -------
        list of str
            ``tasks()[j]`` is the task of column ``j`` of `matrix`.
        """
        with self._read() as conn:
            return _names(conn, "tasks")

    def mapping(self) -> tuple[dict[str, int], dict[str, int]]:
        """The id -> index maps of models and tasks.

        Returns
        -------
        model_index : dict of str to int
            Row of each model id in `matrix`.
        task_index : dict of str to int
            Column of each task id in `matrix`.
        """
        with self._read() as conn:
            return (
                {name: i for i, name in enumerate(_names(conn, "models"))},
                {name: i for i, name in enumerate(_names(conn, "tasks"))},
            )

    # -------------------------------------------------------------------------------------------------- write

    def add(self, data: str | os.PathLike | pd.DataFrame, *, source: str | None = None,
            name: str | None = None) -> int:
        """Append a long-format table of records, all or nothing.

        Parameters
        ----------
        data : str, os.PathLike or pandas.DataFrame
            A CSV (``.csv``, ``.csv.gz``...) or Parquet (``.parquet``, ``.pq``) file, or a DataFrame, with columns
            ``model``, ``task``, ``value`` and optionally ``metric``, ``source``, ``timestamp`` (ISO 8601; naive
            times are UTC; empty or absent means now). Other columns are stored per record as hyper-parameters.
        source : str, optional
            Provenance given to every record whose ``source`` cell is empty (or to all, without such a column).
        name : str, optional
            What error messages call a DataFrame (default "the DataFrame"; a file is called by its name).

        Returns
        -------
        int
            Number of records added.

        Raises
        ------
        HistoryFormatError
            The table cannot be read or has a bad row (the message gives the line and the problem); nothing of it is
            stored.
        """
        parsed = _history_io.parse_records(data, source=source, name=name)
        with self._write() as conn:
            model_ids = _ensure_names(conn, "models", parsed.models)
            task_ids = _ensure_names(conn, "tasks", parsed.tasks)
            rows = zip(
                model_ids.tolist(),
                task_ids.tolist(),
                parsed.values.tolist(),
                parsed.metrics,
                parsed.sources,
                parsed.params,
                parsed.timestamps.tolist(),
            )
            n = len(parsed)
            with tqdm(total=n, desc="importing records", unit="rec", disable=n < _PROGRESS_MIN, leave=False) as bar:
                while chunk := list(itertools.islice(rows, _CHUNK)):
                    conn.executemany(_INSERT, chunk)
                    bar.update(len(chunk))
        return n

    # --------------------------------------------------------------------------------------------------- read

    def matrix(
        self,
        aggregate: str = "best",
        models: Sequence[str] | None = None,
        tasks: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """The models x tasks matrix of aggregated values.

        Parameters
        ----------
        aggregate : {"best", "max", "min", "mean", "median", "last", "first"}, default="best"
            How several runs of one (model, task) pair become one value.
        models : sequence of str, optional
            Model ids of the rows, in this order (default: all, in index order).
        tasks : sequence of str, optional
            Task ids of the columns, in this order (default: all, in index order).

        Returns
        -------
        values : ndarray of shape (n_models, n_tasks)
            float64, NaN where a pair has no record.
        model_ids : list of str
            The row ids.
        task_ids : list of str
            The column ids.

        Raises
        ------
        UnknownNameError
            An unknown aggregation rule, or a model / task id that is not in the history.
        """
        rule = _check_aggregate(aggregate)
        with self._read() as conn:
            model_ids, model_keys = _select(conn, "models", models)
            task_ids, task_keys = _select(conn, "tasks", tasks)
            pairs = _aggregate(
                conn, rule, None if models is None else model_keys, None if tasks is None else task_keys
            )
        values = np.full((len(model_ids), len(task_ids)), np.nan)
        values[_positions(model_keys, pairs[0]), _positions(task_keys, pairs[1])] = pairs[2]
        return values, model_ids, task_ids

    def records(self, aggregate: str | None = "best") -> pd.DataFrame:
        """The records as a long DataFrame, aggregated per (model, task) pair or raw.

        Parameters
        ----------
        aggregate : {"best", "max", "min", "mean", "median", "last", "first"} or None, default="best"
            The rule combining runs of one pair; ``None`` returns every record in insertion order.

        Returns
        -------
        pandas.DataFrame
            With a rule: columns ``model, task, value, n_runs``, one row per pair, in index order. With ``None``:
            ``model, task, value, metric, source, timestamp`` and one column per hyper-parameter (the export
            format of `to_csv`).
        """
        if aggregate is None:
            return self._raw_frame()
        rule = _check_aggregate(aggregate)
        with self._read() as conn:
            model_names, model_keys = _select(conn, "models", None)
            task_names, task_keys = _select(conn, "tasks", None)
            keys_m, keys_t, values, counts = _aggregate(conn, rule, None, None)
        return pd.DataFrame(
            {
                "model": np.asarray(model_names, dtype=object)[_positions(model_keys, keys_m)],
                "task": np.asarray(task_names, dtype=object)[_positions(task_keys, keys_t)],
                "value": values,
                "n_runs": counts.astype(np.int64),
            }
        )

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write every record in the long format (round-trips exactly through `add`).

        Parameters
        ----------
        path : str or os.PathLike
            The CSV file to write (``.csv.gz`` and other pandas compressions by extension).
        """
        self._raw_frame().to_csv(path, index=False)

    def to_parquet(self, path: str | os.PathLike) -> None:
        """Write every record in the long format as Parquet (round-trips exactly through `add`).

        Parameters
        ----------
        path : str or os.PathLike
            The Parquet file to write.
        """
        self._raw_frame().to_parquet(path, index=False)

    def __iter__(self) -> Iterator[TransferRecord]:
        """Yield every record present when iteration starts, in insertion order."""
        with self._read() as conn:
            last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
        after = 0
        while after < last:
            # Short read transactions per page, so a long loop never pins a snapshot (or blocks this thread's writes).
            with self._read() as conn:
                page = conn.execute(
                    "SELECT r.id, m.name, t.name, r.value, r.metric, r.source, r.params, r.timestamp FROM records r"
                    " JOIN models m ON m.id = r.model_id JOIN tasks t ON t.id = r.task_id"
                    " WHERE r.id > ? AND r.id <= ? ORDER BY r.id LIMIT 10000",
                    (after, last),
                ).fetchall()
            if not page:
                break
            for _, model, task, value, metric, source, params, stamp in page:
                yield TransferRecord(
                    model, task, value, metric, source, json.loads(params) if params else {}, _datetime(stamp)
                )
            after = page[-1][0]

    def _raw_frame(self) -> pd.DataFrame:
        with self._read() as conn:
            model_names, model_keys = _select(conn, "models", None)
            task_names, task_keys = _select(conn, "tasks", None)
            # Timestamps (microseconds, < 2**53 until the year 2255) travel exactly through float64 with the rest.
            keys = _fetch(conn, "SELECT model_id, task_id, value, timestamp FROM records ORDER BY id", [], 4)
            metric, source, params = (_text_column(conn, name, len(keys)) for name in ("metric", "source", "params"))
        frame = pd.DataFrame(
            {
                "model": np.asarray(model_names, dtype=object)[_positions(model_keys, keys[:, 0])],
                "task": np.asarray(task_names, dtype=object)[_positions(task_keys, keys[:, 1])],
                "value": keys[:, 2],
                "metric": pd.array(metric, dtype="string"),
                "source": pd.array(source, dtype="string"),
                "timestamp": pd.to_datetime(keys[:, 3].astype(np.int64), unit="us", utc=True),
            }
        )
        for name, column in _history_io.params_columns(params).items():
            frame[name] = column  # never a core column: those are not stored as hyper-parameters
        return frame


# ------------------------------------------------------------------------------------------------- helpers

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SCHEMA_HINT = "Open it with the fennec version that wrote it, or point fennec at a new file."


def _reopen(path: str, timeout: float) -> TransferHistory:
    return TransferHistory(path, timeout=timeout)


def _file_identity(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return app_id, version, tables


def _create_schema(conn: sqlite3.Connection) -> None:
    # executescript would COMMIT the open transaction first; run statement by statement inside it instead.
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _schema_problem(app_id: int, version: int, tables: set[str]) -> str | None:
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
    if not _TABLES <= tables:
        return f"is a damaged fennec transfer history: table(s) {', '.join(sorted(_TABLES - tables))} are missing."
    return None


def _check_aggregate(aggregate: str) -> str:
    if aggregate not in AGGREGATES:
        raise UnknownNameError.of("aggregate rule", str(aggregate), AGGREGATES)
    return aggregate


def _names(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[0] for row in conn.execute(f"SELECT name FROM {table} ORDER BY id")]


def _select(conn: sqlite3.Connection, table: str, wanted: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
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


def _positions(keys: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Position in `keys` of each database key in `lookup` (all of them are in `keys`)."""
    table = np.full(int(keys.max(initial=0)) + 1, -1, dtype=np.int64)
    table[keys] = np.arange(len(keys))
    return table[lookup.astype(np.int64)]


def _aggregate(
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
        return _group_median(_fetch(conn, sql, args, 3))
    sql = f"SELECT model_id, task_id, {_SQL_AGGREGATES[rule]} FROM records {where} GROUP BY model_id, task_id"
    table = _fetch(conn, sql, args, 5 if rule in ("last", "first") else 4)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def _fetch(conn: sqlite3.Connection, sql: str, args: list, n_columns: int) -> np.ndarray:
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


def _ensure_names(conn: sqlite3.Connection, table: str, names: np.ndarray) -> np.ndarray:
    """Database keys of `names`, inserting new ids in order of first appearance (so indices follow the file)."""
    codes, uniques = pd.factorize(names)
    conn.executemany(f"INSERT OR IGNORE INTO {table} (name) VALUES (?)", ((name,) for name in uniques))
    keys = dict(conn.execute(f"SELECT name, id FROM {table}").fetchall())
    return np.array([keys[name] for name in uniques], dtype=np.int64)[codes]


def _text_column(conn: sqlite3.Connection, column: str, n: int) -> list[str | None]:
    # Most histories leave metric / source / params empty: one COUNT saves fetching a million NULLs.
    if conn.execute(f"SELECT COUNT({column}) FROM records").fetchone()[0] == 0:
        return [None] * n
    return [row[0] for row in conn.execute(f"SELECT {column} FROM records ORDER BY id")]


def _datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
