"""The transfer history: every fine-tuning result the team recorded, in one SQLite file.

A record is ``model, task, value`` (higher is better) plus an optional metric name, source, hyper-parameters and a
timestamp. The store owns the mapping between model / task ids and the integer indices the transfer space uses
(like lightfm's ``Dataset``): index ``i`` is the ``i``-th id in order of first appearance, so appending records never
moves an existing index.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from fennec.errors import InputError
from fennec.history._database import Database
from fennec.history._params import params_columns
from fennec.history._queries import (
    aggregate_pairs,
    check_aggregate,
    fetch,
    ordered_names,
    positions,
    select,
    text_column,
    to_datetime,
)
from fennec.history._record import TransferRecord
from fennec.history._validation import parse_records
from fennec.history._writes import ImportSummary, check_dedupe, insert_records

__all__ = ["TransferHistory"]



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
        self._db = Database(self.path, timeout)

    def close(self) -> None:
        """Close every connection this instance opened in this process."""
        self._db.close()

    def __enter__(self) -> TransferHistory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> tuple:
        if self._db.memory:
            raise InputError("An in-memory TransferHistory cannot be sent to another process.", hint="Use a file.")
        return (_reopen, (self.path, self.timeout))

    def __repr__(self) -> str:
        if self._db.closed:
            return f"TransferHistory({self.path!r}, closed)"
        with self._db.read():
            counts = f"n_records={self.n_records}, n_models={self.n_models}, n_tasks={self.n_tasks}"
        return f"TransferHistory({self.path!r}, {counts})"

    # ------------------------------------------------------------------------------------------------ counts

    def __len__(self) -> int:
        return self.n_records

    @property
    def n_records(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    @property
    def n_models(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]

    @property
    def n_tasks(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

    def models(self) -> list[str]:
        """Model ids in index order (order of first appearance).

        Returns
        -------
        list of str
            ``models()[i]`` is the model of row ``i`` of `matrix`.
        """
        with self._db.read() as conn:
            return ordered_names(conn, "models")

    def tasks(self) -> list[str]:
        """Task ids in index order (order of first appearance).

        Returns
        -------
        list of str
            ``tasks()[j]`` is the task of column ``j`` of `matrix`.
        """
        with self._db.read() as conn:
            return ordered_names(conn, "tasks")

    def mapping(self) -> tuple[dict[str, int], dict[str, int]]:
        """The id -> index maps of models and tasks.

        Returns
        -------
        model_index : dict of str to int
            Row of each model id in `matrix`.
        task_index : dict of str to int
            Column of each task id in `matrix`.
        """
        with self._db.read() as conn:
            return (
                {name: i for i, name in enumerate(ordered_names(conn, "models"))},
                {name: i for i, name in enumerate(ordered_names(conn, "tasks"))},
            )

    # -------------------------------------------------------------------------------------------------- write

    def add(self, data: str | os.PathLike | pd.DataFrame, *, source: str | None = None,
            name: str | None = None, dedupe: str = "keep-all") -> int:
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
        dedupe : {"keep-all", "skip", "replace", "error"}, default="keep-all"
            What to do with a record whose (model, task, source) is already stored (see `DEDUPE_POLICIES`): store
            it too, drop it, replace the stored one(s), or refuse the whole table. Rows of the table itself are
            never compared with each other.

        Returns
        -------
        int
            Number of records added (`import_records` also says how many were skipped or replaced).

        Raises
        ------
        HistoryFormatError
            The table cannot be read or has a bad row (the message gives the line and the problem), or
            ``dedupe="error"`` and a record is already stored; nothing of it is stored.
        """
        return self.import_records(data, source=source, name=name, dedupe=dedupe).added

    def import_records(self, data: str | os.PathLike | pd.DataFrame, *, source: str | None = None,
                       name: str | None = None, dedupe: str = "skip") -> ImportSummary:
        """`add` with the default policy ``"skip"`` (what ``fennec history add`` does), returning what it did.

        Returns
        -------
        ImportSummary
            ``added``, ``skipped`` (new records dropped as already stored) and ``replaced`` (stored records
            deleted) counts.
        """
        check_dedupe(dedupe)
        parsed = parse_records(data, source=source, name=name)
        label = name or (os.path.basename(os.fspath(data)) if isinstance(data, (str, os.PathLike)) else "the DataFrame")
        with self._db.write() as conn:
            return insert_records(conn, parsed, dedupe, label)

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
        rule = check_aggregate(aggregate)
        with self._db.read() as conn:
            model_ids, model_keys = select(conn, "models", models)
            task_ids, task_keys = select(conn, "tasks", tasks)
            pairs = aggregate_pairs(
                conn, rule, None if models is None else model_keys, None if tasks is None else task_keys
            )
        values = np.full((len(model_ids), len(task_ids)), np.nan)
        values[positions(model_keys, pairs[0]), positions(task_keys, pairs[1])] = pairs[2]
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
        rule = check_aggregate(aggregate)
        with self._db.read() as conn:
            model_names, model_keys = select(conn, "models", None)
            task_names, task_keys = select(conn, "tasks", None)
            keys_m, keys_t, values, counts = aggregate_pairs(conn, rule, None, None)
        return pd.DataFrame(
            {
                "model": np.asarray(model_names, dtype=object)[positions(model_keys, keys_m)],
                "task": np.asarray(task_names, dtype=object)[positions(task_keys, keys_t)],
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
        with self._db.read() as conn:
            last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
        after = 0
        while after < last:
            # Short read transactions per page, so a long loop never pins a snapshot (or blocks this thread's writes).
            with self._db.read() as conn:
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
                    model, task, value, metric, source, json.loads(params) if params else {}, to_datetime(stamp)
                )
            after = page[-1][0]

    def _raw_frame(self) -> pd.DataFrame:
        with self._db.read() as conn:
            model_names, model_keys = select(conn, "models", None)
            task_names, task_keys = select(conn, "tasks", None)
            # Timestamps (microseconds, < 2**53 until the year 2255) travel exactly through float64 with the rest.
            keys = fetch(conn, "SELECT model_id, task_id, value, timestamp FROM records ORDER BY id", [], 4)
            metric, source, params = (text_column(conn, name, len(keys)) for name in ("metric", "source", "params"))
        frame = pd.DataFrame(
            {
                "model": np.asarray(model_names, dtype=object)[positions(model_keys, keys[:, 0])],
                "task": np.asarray(task_names, dtype=object)[positions(task_keys, keys[:, 1])],
                "value": keys[:, 2],
                "metric": pd.array(metric, dtype="string"),
                "source": pd.array(source, dtype="string"),
                "timestamp": pd.to_datetime(keys[:, 3].astype(np.int64), unit="us", utc=True),
            }
        )
        for name, column in params_columns(params).items():
            frame[name] = column  # never a core column: those are not stored as hyper-parameters
        return frame




def _reopen(path: str, timeout: float) -> TransferHistory:
    return TransferHistory(path, timeout=timeout)
