"""Transfer records as the space holds them, and the checks of records and revealed results at its boundary.

:class:`Records` keeps one row per (model, task) pair as integer positions into the space's model and task ids
plus the raw value, sorted by task then model so that the order of the user's rows never matters.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fennec.errors import HistoryFormatError, InputError, UnknownNameError
from fennec.normalize import normalize_per_task

__all__ = ["Records", "coerce_records", "as_revealed", "revealed_list", "rows_of"]


@dataclass
class Records:
    """The training records: model and task rows (int64) and values (float64), sorted by (task, model)."""

    model: np.ndarray
    task: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> tuple["Records", list[str], list[str]]:
        """The records of a checked frame (:func:`coerce_records`), with the sorted model and task ids."""
        m_idx, models = pd.factorize(frame["model"], sort=True)
        t_idx, tasks = pd.factorize(frame["task"], sort=True)
        order = np.argsort(t_idx.astype(np.int64) * len(models) + m_idx, kind="stable")  # row order must not matter
        records = cls(m_idx[order].astype(np.int64), t_idx[order].astype(np.int64),
                      frame["value"].to_numpy(np.float64)[order])
        return records, [str(m) for m in models], [str(t) for t in tasks]

    def __len__(self) -> int:
        return len(self.value)

    def normalized(self, n_tasks: int, method: str) -> np.ndarray:
        """Each task's values normalised over its models (:func:`fennec.normalize.normalize_per_task`), float32."""
        return normalize_per_task(self.task, self.value, n_tasks, method).astype(np.float32)

    def per_model(self, n_models: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many records each model has, and the sum of their normalised values ``z``."""
        return (np.bincount(self.model, minlength=n_models),
                np.bincount(self.model, weights=z, minlength=n_models))

    def replace(self, models: np.ndarray, tasks: np.ndarray, values: np.ndarray, n_models: int) -> int:
        """Drop the records of the pairs given again and append the given ones; returns how many old records stay
        (they come first)."""
        stale = np.isin(self.task * n_models + self.model, tasks * n_models + models)
        self.model = np.concatenate([self.model[~stale], models])
        self.task = np.concatenate([self.task[~stale], tasks])
        self.value = np.concatenate([self.value[~stale], values])
        return int((~stale).sum())


def coerce_records(records: object, *, where: str = "TransferSpace.fit") -> pd.DataFrame:
    """``records`` as a DataFrame of ``model`` (str), ``task`` (str), ``value`` (float64), one row per pair.

    A :class:`fennec.history.TransferHistory` is read with ``records(aggregate="best")``.
    """
    if not isinstance(records, pd.DataFrame):
        try:  # imported lazily: the history store is optional for users who hand over a DataFrame
            from fennec.history import TransferHistory
        except ImportError:
            TransferHistory = None
        if TransferHistory is not None and isinstance(records, TransferHistory):
            records = records.records(aggregate="best")
        else:
            raise InputError(f"`records` of {where} must be a pandas DataFrame with columns model, task, value or a "
                             f"TransferHistory. Got {type(records).__name__} instead.")
    missing = [c for c in ("model", "task", "value") if c not in records.columns]
    if missing:
        raise HistoryFormatError(f"`records` of {where} must have columns model, task, value. "
                                 f"Missing {', '.join(missing)} (columns: {', '.join(map(str, records.columns))}).")
    if len(records) == 0:
        raise InputError(f"`records` of {where} must hold at least one record. Got an empty table instead.")
    if records["model"].isna().any() or records["task"].isna().any():
        row = int(np.flatnonzero(records["model"].isna().to_numpy() | records["task"].isna().to_numpy())[0])
        raise HistoryFormatError(f"`records` of {where} must name a model and a task on every row. "
                                 f"Row {row} lacks one.")
    values = pd.to_numeric(records["value"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise HistoryFormatError(f"`value` in the records of {where} must be a finite number. "
                                 f"Got {records['value'].iloc[row]!r} on row {row} ({bad.sum()} such rows).")
    frame = pd.DataFrame({"model": records["model"].astype(str).to_numpy(),
                          "task": records["task"].astype(str).to_numpy(), "value": values})
    dup = frame.duplicated(["model", "task"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise HistoryFormatError(
            f"`records` of {where} must hold one value per (model, task) pair. Row {row} repeats "
            f"({frame['model'].iloc[row]!r}, {frame['task'].iloc[row]!r}) ({int(dup.sum())} repeated rows).",
            hint="aggregate first, e.g. records.groupby(['model', 'task'], as_index=False)['value'].max()")
    return frame



def as_revealed(revealed: object, where: str) -> dict[str, float]:
    """A mapping model -> value (or a DataFrame with model, value columns) as a dict of finite floats."""
    if revealed is None:
        return {}
    if isinstance(revealed, pd.DataFrame):
        if not {"model", "value"} <= set(revealed.columns):
            raise InputError(f"`revealed` of {where} must have columns model and value. "
                             f"Got columns {', '.join(map(str, revealed.columns))} instead.")
        revealed = dict(zip(revealed["model"].astype(str), revealed["value"]))
    if not isinstance(revealed, Mapping):
        raise InputError(f"`revealed` of {where} must be a mapping model -> value or a DataFrame. "
                         f"Got {type(revealed).__name__} instead.")
    out = {}
    for model, value in revealed.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = float("nan")
        if not np.isfinite(value):
            raise InputError(f"`revealed` of {where} must map models to finite numbers. "
                             f"Got {revealed[model]!r} for {model!r} instead.")
        out[str(model)] = value
    return out


def revealed_list(revealed: object, n_queries: int) -> list[dict[str, float]]:
    """``revealed`` of a query (one mapping, shared by every query, or a sequence of one per query) as checked
    dicts."""
    if revealed is None or isinstance(revealed, (Mapping, pd.DataFrame)):
        return [as_revealed(revealed, "TransferSpace")] * n_queries
    if not isinstance(revealed, Sequence) or len(revealed) != n_queries:
        raise InputError(f"`revealed` of TransferSpace must be one mapping or a sequence of {n_queries} mappings "
                         f"(one per query). Got {type(revealed).__name__} of length "
                         f"{len(revealed) if isinstance(revealed, Sequence) else '?'} instead.")
    return [as_revealed(r, "TransferSpace") for r in revealed]


def rows_of(names: pd.Series, positions: dict[str, int], kind: str) -> np.ndarray:
    """The rows of ``names`` in ``positions``; an unknown name raises :class:`~fennec.errors.UnknownNameError`."""
    idx = names.map(positions)
    if idx.isna().any():
        missing = names[idx.isna()].iloc[0]
        raise UnknownNameError.of(kind, missing, positions)
    return idx.to_numpy(np.int64)
