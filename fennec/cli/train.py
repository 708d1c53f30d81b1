"""``fennec train``: fit the workspace's transfer space from its history (or update it with what is new)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ._common import emit_json, json_option, open_workspace, workspace_option

__all__ = ["command"]


@click.command("train")
@click.option("--incremental", is_flag=True,
              help="Warm-start from the current version and train on new or changed records only (much faster).")
@workspace_option
@json_option
def command(incremental: bool, workspace: Path | None, as_json: bool) -> None:
    """Train the transfer space on the workspace's history and make it the current version.

    The new version is written beside the old one and switched to atomically: interrupting training leaves the
    previous version in use.

    \b
    Examples:
      fennec train -w ws
      fennec train --incremental -w ws     # after `fennec history add new.csv`
    """
    from fennec.recommend import Recommender

    ws = open_workspace(workspace)
    tic = time.perf_counter()
    version = Recommender(ws).train(incremental=incremental, verbose=not as_json)
    meta = {"version": version, "seconds": round(time.perf_counter() - tic, 2),
            **json.loads((ws.version_dir(version) / "version.json").read_text())}
    if as_json:
        emit_json(meta)
        return
    click.echo(f"Trained {version} ({meta['mode']}): {meta['n_models']} models, {meta['n_tasks']} tasks, "
               f"{meta['n_records']} records in {meta['seconds']:.1f} s.")
    click.echo(f"Next: fennec recommend TASK_DIR -w {ws.path}")
