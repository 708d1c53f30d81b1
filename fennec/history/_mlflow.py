"""The runs of an MLflow experiment as a long-format table of transfer records (``fennec history add mlflow:...``).

Each finished run whose model and task are logged as params or tags (params win) and which logged the chosen
metric becomes one record: ``value`` is the metric's last logged value, ``metric`` its name, ``source``
``mlflow:<run id>`` (so a re-import matches what it imported before), ``timestamp`` the run's end (else start) time;
the run's other params become hyper-parameter columns. Runs missing any of these are skipped and counted by reason.
Needs the ``mlflow`` extra (``pip install 'fennec[mlflow]'``), imported only here and only when called.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fennec.errors import DataNotFoundError, FennecError, InputError

__all__ = ["MlflowRuns", "read_mlflow_runs"]

_RESERVED = ("model", "task", "value", "metric", "source", "timestamp")  # never taken from a run's other params
_PAGE = 1000
_NAMED_STORES = ("databricks", "databricks-uc", "uc")  # tracking URIs without a scheme that are not paths


@dataclass(frozen=True)
class MlflowRuns:
    """The records read from one experiment, and the runs that gave none (reason -> number of runs)."""

    experiment: str  # "name (id N)"
    records: pd.DataFrame
    n_runs: int
    skipped: dict[str, int] = field(default_factory=dict)
    other_metrics: list[str] = field(default_factory=list)  # what the runs without the chosen metric log instead


def read_mlflow_runs(experiment: str, tracking_uri: str, *, metric: str = "value", model_key: str = "model",
                     task_key: str = "task", include_unfinished: bool = False) -> MlflowRuns:
    """Read the runs of `experiment` (a name or an id) from the tracking server or store at `tracking_uri`.

    Parameters
    ----------
    experiment : str
        The experiment's name, or its id.
    tracking_uri : str
        E.g. ``sqlite:///mlflow.db``, ``http://host:5000`` or a local ``mlruns`` folder.
    metric : str, default="value"
        The metric that becomes the record's value (its last logged value).
    model_key, task_key : str, default="model", "task"
        The param (or tag) holding the model id and the task id.
    include_unfinished : bool, default=False
        Also read runs that are not FINISHED (running, failed, killed).

    Returns
    -------
    MlflowRuns
        ``records`` (columns ``model, task, value, metric, source, timestamp`` and the runs' other params) and the
        count of skipped runs per reason.

    Raises
    ------
    FennecError
        mlflow is not installed, or the tracking store cannot be reached.
    DataNotFoundError
        The local store or the experiment does not exist.
    """
    _check_keys(model_key, task_key, metric)
    client = _client(tracking_uri)
    with _quick_http(), _mlflow_errors(tracking_uri):
        found = _experiment(client, experiment, tracking_uri)
        runs = _all_runs(client, found.experiment_id)
    rows, skipped, others = [], Counter(), set()
    for run in runs:
        row, reason = _record(run, metric, model_key, task_key, include_unfinished)
        if row is None:
            skipped[reason] += 1
            others.update(run.data.metrics if reason.startswith("no metric") else ())
        else:
            rows.append(row)
    records = _typed(pd.DataFrame(rows, columns=None if rows else list(_RESERVED)))
    return MlflowRuns(f"{found.name} (id {found.experiment_id})", records, len(runs), dict(skipped), sorted(others))


def _client(tracking_uri: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise FennecError(f"Importing from MLflow needs the mlflow extra ({exc}).",
                          hint="pip install 'fennec[mlflow]'") from None
    local = _local_store(tracking_uri)
    if local is not None and not local.exists():  # mlflow would create an empty store there
        raise DataNotFoundError(f"There is no MLflow tracking store at {tracking_uri!r} ({local} does not exist).",
                                hint="Check --tracking-uri, e.g. sqlite:///path/to/mlflow.db or ./mlruns.")
    return MlflowClient(tracking_uri=tracking_uri)


def _local_store(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    if "://" not in uri and ":" not in uri[2:] and uri not in _NAMED_STORES:  # a bare path (a drive letter's colon)
        return Path(uri)
    return None


@contextmanager
def _quick_http():
    """Fail fast on an unreachable server (mlflow retries for minutes by default); restores the environment."""
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
    saved = {name: os.environ.get(name) for name in names}
    for name, value in names.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


@contextmanager
def _mlflow_errors(tracking_uri: str):
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        first = str(exc).splitlines()[0][:300]
        raise FennecError(f"Cannot read the MLflow tracking store at {tracking_uri!r}: {first}",
                          hint="Check --tracking-uri and that the tracking server is running.") from None


def _experiment(client, experiment: str, tracking_uri: str):
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(experiment)
    if found is None and experiment.isdigit():
        try:
            found = client.get_experiment(experiment)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
    if found is None:
        names = [e.name for e in client.search_experiments(max_results=50)]
        raise DataNotFoundError(f"MLflow experiment {experiment!r} does not exist at {tracking_uri!r}.",
                                hint=f"Known experiments: {', '.join(names) or '(none)'}.")
    return found


def _all_runs(client, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=_PAGE, page_token=token,
                                  order_by=["attribute.start_time ASC"])
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _record(run, metric: str, model_key: str, task_key: str, include_unfinished: bool) -> tuple[dict | None, str]:
    info, data = run.info, run.data
    if info.status != "FINISHED" and not include_unfinished:
        return None, f"not finished ({info.status.lower()})"
    model = data.params.get(model_key, data.tags.get(model_key))
    task = data.params.get(task_key, data.tags.get(task_key))
    if not str(model or "").strip() or not str(task or "").strip():
        return None, f"no {model_key!r} or {task_key!r} param or tag"
    if metric not in data.metrics:
        return None, f"no metric {metric!r}"
    if not math.isfinite(data.metrics[metric]):
        return None, f"metric {metric!r} not finite"
    stamp = info.end_time or info.start_time
    row = {name: value for name, value in data.params.items()
           if name not in (model_key, task_key) and name not in _RESERVED}
    row.update(model=model, task=task, value=data.metrics[metric], metric=metric, source=f"mlflow:{info.run_id}",
               timestamp=pd.Timestamp(stamp, unit="ms", tz="UTC").isoformat() if stamp else None)
    return row, ""


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Params are text in MLflow: a column whose every logged cell is a number becomes numeric."""
    core = [c for c in _RESERVED if c in frame.columns]
    frame = frame[core + [c for c in frame.columns if c not in core]].copy()
    for name in frame.columns:
        if name in _RESERVED:
            continue
        numbers = pd.to_numeric(frame[name], errors="coerce")
        if numbers.notna().sum() == frame[name].notna().sum():
            frame[name] = numbers
    return frame


def _check_keys(model_key: str, task_key: str, metric: str) -> None:
    """Refuse empty or equal keys before anything is read."""
    if not model_key or not task_key or model_key == task_key or not metric:
        raise InputError(f"The model key, task key and metric must be non-empty and the keys different. Got"
                         f" {model_key!r}, {task_key!r}, {metric!r} instead.")
