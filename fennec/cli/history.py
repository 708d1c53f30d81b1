"""``fennec history``: add fine-tuning results to the workspace's transfer history, and look at it."""
from __future__ import annotations

from pathlib import Path

import click

from fennec.errors import HistoryFormatError
from fennec.history import (
    DEDUPE_POLICIES,
    ImportSummary,
    read_mlflow_runs,
    table_format,
)

from ._common import (
    emit_json,
    json_option,
    open_workspace,
    print_table,
    workspace_option,
)

__all__ = ["command"]


@click.group("history")
def command() -> None:
    """The workspace's transfer history (fine-tuning results: model, task, value).

    \b
    Examples:
      fennec history add results.csv -w ws
      fennec history add mlflow:finetunes --tracking-uri sqlite:///mlflow.db --metric accuracy -w ws
      fennec history export -w ws history.parquet
      fennec history show -w ws --task cifar100
    """


_DEDUPE_HELP = ("What to do with a record whose (model, task, source) is already in the history: skip (keep the "
                "stored one), replace (delete the stored one(s), store the new one), error (refuse the whole "
                "import), keep-all (store it too; runs of a pair are aggregated when read). A file's source is its "
                "name (or --source), an MLflow run's mlflow:<run id>. Rows of one import are never compared with "
                "each other.")


@command.command("add")
@click.argument("file")
@click.option("--source", default=None, help="Provenance stored with records that have none (default: file name).")
@click.option("--dedupe", type=click.Choice(DEDUPE_POLICIES), default="skip", show_default=True, help=_DEDUPE_HELP)
@click.option("--tracking-uri", default=None, help="With mlflow:EXPERIMENT: the MLflow tracking URI "
              "(sqlite:///mlflow.db, http://host:5000, ./mlruns).")
@click.option("--metric", default="value", show_default=True,
              help="With mlflow:EXPERIMENT: the run metric that becomes the record's value.")
@click.option("--model-key", default="model", show_default=True, help="With mlflow:EXPERIMENT: param or tag of the model id.")
@click.option("--task-key", default="task", show_default=True, help="With mlflow:EXPERIMENT: param or tag of the task id.")
@click.option("--include-unfinished", is_flag=True, help="With mlflow:EXPERIMENT: also import runs that are not FINISHED.")
@workspace_option
@json_option
def add(file: str, source: str | None, dedupe: str, tracking_uri: str | None, metric: str, model_key: str,
        task_key: str, include_unfinished: bool, workspace: Path | None, as_json: bool) -> None:
    """Import records: a CSV/Parquet FILE (columns model, task, value) or mlflow:EXPERIMENT (all or none).

    An MLflow experiment (name or id) gives one record per FINISHED run that logs the model and task as params or
    tags and the --metric; its source is mlflow:<run id>, so importing again adds nothing twice (--dedupe skip).
    Runs without them are skipped and counted.

    \b
    Examples:
      fennec history add new_results.csv -w ws
      fennec history add new_results.csv -w ws --dedupe replace   # corrected values of a file imported before
      fennec history add new_results.csv -w ws --dedupe error     # refuse if any record is already stored
      fennec history add mlflow:finetunes --tracking-uri sqlite:///mlflow.db --metric accuracy -w ws
      fennec history add mlflow:7 --tracking-uri http://mlflow:5000 --model-key backbone --task-key dataset -w ws
    """
    ws = open_workspace(workspace)
    history = ws.history()
    before_models, before_tasks = set(history.models()), set(history.tasks())
    runs = None
    if file.startswith("mlflow:"):
        if tracking_uri is None or source is not None:
            raise click.UsageError("mlflow:EXPERIMENT needs --tracking-uri and takes no --source (each record's "
                                   "source is mlflow:<run id>).")
        runs = read_mlflow_runs(file[len("mlflow:"):], tracking_uri, metric=metric, model_key=model_key,
                                task_key=task_key, include_unfinished=include_unfinished)
        summary = _import_runs(history, runs, dedupe)
    else:
        if tracking_uri is not None:
            raise click.UsageError("--tracking-uri goes with mlflow:EXPERIMENT, not with a file.")
        path = Path(file)
        summary = history.import_records(path, source=source or path.name, dedupe=dedupe)
    new_models = sorted(set(history.models()) - before_models)
    new_tasks = sorted(set(history.tasks()) - before_tasks)
    if as_json:
        emit_json({"added": summary.added, "skipped_duplicates": summary.skipped, "replaced": summary.replaced,
                   "new_models": new_models, "new_tasks": new_tasks, "records": history.n_records,
                   **({"runs": runs.n_runs, "skipped_runs": runs.skipped} if runs else {})})
        return
    _report(summary, runs, new_models, new_tasks, history.n_records, ws.path)


def _import_runs(history, runs, dedupe: str):
    if len(runs.records) == 0:
        return ImportSummary(added=0)
    return history.import_records(runs.records, name=f"the runs of MLflow experiment {runs.experiment}",
                                  dedupe=dedupe)


def _report(summary, runs, new_models: list[str], new_tasks: list[str], n_records: int, path: Path) -> None:
    if runs is not None:
        reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(runs.skipped.items()))
        click.echo(f"MLflow experiment {runs.experiment}: {runs.n_runs} runs, {len(runs.records)} usable"
                   + (f" (skipped: {reasons})." if reasons else "."))
        if runs.other_metrics:
            click.echo(f"Runs without the metric log: {', '.join(runs.other_metrics)} (choose one with --metric).")
    duplicates = f"; {summary.skipped} already in the history, skipped" if summary.skipped else ""
    replaced = f"; {summary.replaced} stored records replaced" if summary.replaced else ""
    click.echo(f"Added {summary.added} records ({len(new_models)} new models, {len(new_tasks)} new tasks"
               f"{duplicates}{replaced}); the history now holds {n_records} records.")
    click.echo(f"Next: fennec train --incremental -w {path}")


@command.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Output format (default: from the extension; .csv, .csv.gz... or .parquet, .pq).")
@workspace_option
def export(out: Path, fmt: str | None, workspace: Path | None) -> None:
    """Write every record to OUT (model, task, value, metric, source, timestamp, hyper-parameters).

    The file round-trips through `fennec history add` (into another workspace; into the same one --dedupe skip
    adds nothing).

    \b
    Examples:
      fennec history export -w ws history.csv
      fennec history export -w ws backup.parquet
      fennec history export -w ws records.txt --format csv
    """
    history = open_workspace(workspace).history()
    if fmt is None:
        try:
            fmt = table_format(out)
        except HistoryFormatError:
            raise click.BadParameter(f"cannot tell the format of {out.name!r} from its extension; give --format csv"
                                     " or --format parquet.", param_hint="OUT") from None
    (history.to_csv if fmt == "csv" else history.to_parquet)(out)
    click.echo(f"Wrote {history.n_records} records to {out} ({fmt}).")


@command.command("show")
@click.option("--task", default=None, help="Only this task's records.")
@click.option("--model", default=None, help="Only this model's records.")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows to print (best first).")
@workspace_option
@json_option
def show(task: str | None, model: str | None, limit: int, workspace: Path | None, as_json: bool) -> None:
    """Summarise the history, or list a task's / model's records (best run per pair).

    \b
    Example:
      fennec history show -w ws --task cifar100 --limit 5
    """
    history = open_workspace(workspace).history()
    records = history.records(aggregate="best")
    if task:
        records = records.loc[records["task"] == task]
    if model:
        records = records.loc[records["model"] == model]
    records = records.sort_values("value", ascending=False)
    if as_json:
        emit_json({"records": history.n_records, "models": history.n_models, "tasks": history.n_tasks,
                   "rows": records.head(limit)[["model", "task", "value"]].to_dict("records")})
        return
    click.echo(f"{history.n_records} records, {history.n_models} models, {history.n_tasks} tasks.")
    if len(records):
        print_table(records.head(limit)[["model", "task", "value"]].itertuples(index=False), ["model", "task", "value"])
