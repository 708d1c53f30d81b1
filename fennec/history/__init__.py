"""The transfer history: every fine-tuning result the team recorded, in one SQLite file.

A record is ``model, task, value`` (higher is better) plus an optional metric name, source, hyper-parameters and a
timestamp. The store owns the mapping between model / task ids and the integer indices the transfer space uses
(like lightfm's ``Dataset``): index ``i`` is the ``i``-th id in order of first appearance, so appending records never
moves an existing index.

One concept per module:

=================  ===================================================================================================
``_store``         :class:`TransferHistory`: add (all or nothing), matrix, records, export, iteration
``_writes``        the inserts of an import and its duplicate policy (:data:`DEDUPE_POLICIES`, :class:`ImportSummary`)
``_mlflow``        the runs of an MLflow experiment as a table of records (:func:`read_mlflow_runs`)
``_record``        :class:`TransferRecord`: one stored result
``_database``      the file's connections (one per thread and process), read snapshots and all-or-nothing writes
``_schema``        the tables, the marks that make a file fennec's (:data:`SCHEMA_VERSION`) and their check on open
``_queries``       the SQL of reads and writes: ids and keys, per-pair aggregates (:data:`AGGREGATES`), columns
``_tables``        reading a CSV / Parquet table and checking its column names
``_validation``    every row checked into :class:`ParsedRecords` before the store is touched (:func:`parse_records`)
``_params``        the extra columns, stored per record as JSON hyper-parameters and expanded back on export
=================  ===================================================================================================
"""
from __future__ import annotations

from fennec.history._mlflow import MlflowRuns, read_mlflow_runs
from fennec.history._queries import AGGREGATES
from fennec.history._record import TransferRecord
from fennec.history._schema import APPLICATION_ID, SCHEMA_VERSION
from fennec.history._store import TransferHistory
from fennec.history._tables import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SUPPORTED_SUFFIXES,
    table_format,
)
from fennec.history._validation import ParsedRecords, parse_records
from fennec.history._writes import DEDUPE_POLICIES, ImportSummary

__all__ = [
    "AGGREGATES",
    "APPLICATION_ID",
    "DEDUPE_POLICIES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMA_VERSION",
    "SUPPORTED_SUFFIXES",
    "ImportSummary",
    "MlflowRuns",
    "ParsedRecords",
    "TransferHistory",
    "TransferRecord",
    "parse_records",
    "read_mlflow_runs",
    "table_format",
]
