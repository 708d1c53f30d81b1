"""``fennec history``: add fine-tuning results to the workspace's transfer history, and look at it."""
from __future__ import annotations

from pathlib import Path

import click

from ._common import emit_json, json_option, open_workspace, print_table, workspace_option

__all__ = ["command"]


@click.group("history")
def command() -> None:
    """The workspace's transfer history (fine-tuning results: model, task, value).

    \b
    Examples:
      fennec history add results.csv -w ws
      fennec history show -w ws --task cifar100
    """


@command.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Provenance stored with records that have none (default: file name).")
@workspace_option
@json_option
def add(file: Path, source: str | None, workspace: Path | None, as_json: bool) -> None:
    """Import a CSV/Parquet FILE of records (columns model, task, value; all rows or none).

    \b
    Example:
      fennec history add new_results.csv -w ws
    """
    ws = open_workspace(workspace)
    history = ws.history()
    before_models, before_tasks = set(history.models()), set(history.tasks())
    n = history.add(file, source=source or file.name)
    new_models = sorted(set(history.models()) - before_models)
    new_tasks = sorted(set(history.tasks()) - before_tasks)
    if as_json:
        emit_json({"added": n, "new_models": new_models, "new_tasks": new_tasks, "records": history.n_records})
        return
    click.echo(f"Added {n} records ({len(new_models)} new models, {len(new_tasks)} new tasks); "
               f"the history now holds {history.n_records} records.")
    click.echo(f"Next: fennec train --incremental -w {ws.path}")


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
