"""Options and output shared by the CLI's commands (defined once, as huggingface_hub's ``_cli_utils`` does)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fennec import config

__all__ = ["cli_engine", "emit_json", "engine_options", "json_option", "open_workspace", "print_table",
           "workspace_option"]

workspace_option = click.option(
    "--workspace", "-w", "workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Workspace directory (default: $FENNEC_WORKSPACE, else the current directory).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")


def engine_options(func: Any) -> Any:
    """``--engine`` and ``--address``: where a command's units run (default: the workspace config, else local)."""
    func = click.option("--address", default=None,
                        help="Ray cluster: auto (this machine's `ray start` cluster) or ray://HOST:PORT; implies "
                             "--engine ray. Default: a new local Ray instance.")(func)
    return click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
                        help="Run the units here (local) or on Ray (pip install 'fennec[ray]'). Default: the "
                             "workspace config's execution.engine, else local.")(func)


def open_workspace(path: Path | None):
    """The workspace at ``path`` (or the default one), with fennec's clear errors when it is not one."""
    from fennec.workspace import Workspace

    return Workspace.open(path or config.workspace_dir())


def cli_engine(engine: str | None, address: str | None, workspace: Path | None = None, *, jobs: int | None = None):
    """The engine of ``--engine``/``--address`` over the workspace config's ``execution`` section (the workspace
    named, else the default directory when it is one; a command that needs no workspace runs without)."""
    from fennec.execution import create_engine
    from fennec.workspace import Workspace

    path = workspace or config.workspace_dir()
    settings = None
    if workspace is not None or (path / "workspace.json").is_file():
        settings = Workspace.open(path).config.get("execution")
    return create_engine(engine, address=address, jobs=jobs, config=settings)


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=float))


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """A plain aligned table (numbers with 4 decimals)."""
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    click.echo("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def interval_text(row: dict[str, Any], level: str = "80%", decimals: int = 4) -> str:
    """A ranking row's interval at ``level`` as ``[low, high]`` with ``decimals`` (as the table's other numbers;
    "" when the space gave none)."""
    bounds = (row.get("interval") or {}).get(level)
    return f"[{bounds[0]:.{decimals}f}, {bounds[1]:.{decimals}f}]" if bounds else ""


def confidence_line(summary: dict[str, Any]) -> str | None:
    """One sentence of a recommendation's ranking confidence (None for a space saved before intervals)."""
    if not summary or not summary.get("p_best_in_top"):
        return None
    hit, regret = summary["p_best_in_top"], summary["expected_regret"]
    return (f"Chance the best model is in the top 1 / 3 / 5: {hit['1']:.0%} / {hit['3']:.0%} / {hit['5']:.0%}; "
            f"expected regret of the top pick {regret['1']:.3g}, of the top 3 {regret['3']:.3g} "
            f"(units from {summary['units_from']}).")
