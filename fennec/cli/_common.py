"""Options and output shared by the CLI's commands (defined once, as huggingface_hub's ``_cli_utils`` does)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fennec import config

__all__ = ["workspace_option", "json_option", "open_workspace", "emit_json", "print_table"]

workspace_option = click.option(
    "--workspace", "-w", "workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Workspace directory (default: $FENNEC_WORKSPACE, else the current directory).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table.")


def open_workspace(path: Path | None):
    """The workspace at ``path`` (or the default one), with fennec's clear errors when it is not one."""
    from fennec.workspace import Workspace

    return Workspace.open(path or config.workspace_dir())


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=float))


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """A plain aligned table (numbers with 4 decimals)."""
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    click.echo("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)))
