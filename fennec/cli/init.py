"""``fennec init``: create a workspace, optionally seeded from a released benchmark or a history file."""
from __future__ import annotations

from pathlib import Path

import click

from ._common import emit_json, json_option

__all__ = ["command"]


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from", "source", default=None,
              help="Seed the history and cards from a benchmark (sfda11, shift, transfergraph...) or a CSV/Parquet "
                   "file of records (model,task,value).")
@json_option
def command(directory: Path, source: str | None, as_json: bool) -> None:
    """Create a workspace in DIRECTORY (it must not exist or be empty).

    \b
    Examples:
      fennec init ws --from sfda11
      fennec init ws --from my_finetunes.csv
    """
    from fennec.workspace import Workspace

    bench = None
    if source:
        from benchmark.loaders import load  # the CLI is the top layer: it may hand over to the harness's loaders

        bench = load(source)  # before creating anything: a bad source leaves no half-made workspace behind
    ws = Workspace.create(directory)
    n_records = 0
    if bench is not None:
        n_records = ws.history().add(bench.records, source=bench.name)
        ws.add_cards(bench.model_cards)
        ws.add_cards(bench.task_cards)
    summary = {"workspace": str(directory), "source": source, "records": n_records,
               "models": len(bench.model_cards) if bench else 0, "tasks": len(bench.task_cards) if bench else 0}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"Created workspace {directory}" + (f" from {source}: {n_records} records, {summary['models']} models, "
                                                   f"{summary['tasks']} tasks." if source else "."))
    click.echo(f"Next: fennec train -w {directory}")
