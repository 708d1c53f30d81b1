"""The SQLite file behind a transfer history: its connections, transactions and the check of its layout on open.

Each thread and process gets its own connection (a connection inherited through fork is never used); an in-memory
store has one connection, shared by the instance's threads and serialised by a lock. Reads run in one snapshot
transaction, writes in one ``BEGIN IMMEDIATE`` transaction committed or rolled back whole. The file uses SQLite's
write-ahead log, so readers keep their snapshot while one writer appends.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from fennec.errors import FennecError, HistoryFormatError, InputError
from fennec.history._schema import (
    SCHEMA_HINT,
    create_schema,
    file_identity,
    schema_problem,
)

__all__ = ["Database"]


class Database:
    """The connections of one history file (or of one private in-memory store), and its transactions.

    Parameters
    ----------
    path : str
        The database file, created with an empty history if it does not exist; ``":memory:"`` (or ``""``) for a
        private in-memory store.
    timeout : float
        Seconds a connection waits for another writer's lock before failing.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.memory = self.path in (":memory:", "")
        self._lock = threading.RLock()  # guards the connection registry (and the one in-memory connection)
        self._local = threading.local()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self.closed = False
        self._shared = self._connect() if self.memory else None
        self._open_schema()

    def _connect(self) -> sqlite3.Connection:
        conn = None
        try:
            # isolation_level=None: transactions are opened explicitly (BEGIN / BEGIN IMMEDIATE) by read / write.
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
        if self.closed:
            raise InputError(f"This TransferHistory ({self.path!r}) is closed.", hint="Open it again.")
        if self.memory:
            return self._shared
        local = self._local
        # One connection per thread and per process: a connection inherited through fork must not be used.
        if getattr(local, "pid", None) != os.getpid():
            local.conn, local.pid = self._connect(), os.getpid()
        return local.conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot of the file."""
        with self._lock if self.memory else nullcontext():
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
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed whole or rolled back whole."""
        with self._lock if self.memory else nullcontext():
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
        """Close every connection opened in this process."""
        with self._lock:
            for pid, conn in self._connections:
                if pid == os.getpid():
                    conn.close()
            self._connections.clear()
            self.closed = True

    def _open_schema(self) -> None:
        """Create the layout in a new file; refuse (and close) a file this fennec cannot read."""
        conn = self._conn()
        try:
            app_id, version, tables = file_identity(conn)
            if app_id == 0 and version == 0 and not tables:
                self._use_wal(conn)
                with self.write() as conn:
                    if not file_identity(conn)[2]:  # another process may have created it meanwhile
                        create_schema(conn)
                app_id, version, tables = file_identity(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._open_error(exc) from None
        problem = schema_problem(app_id, version, tables)
        if problem:
            self.close()
            raise HistoryFormatError(f"{self.path!r} {problem}", hint=SCHEMA_HINT)
        self._use_wal(conn)

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Write-ahead log: readers keep their snapshot while a writer appends. Persistent: set once per file.
        if not self.memory and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

