"""``fennec recommend``: rank the zoo for a folder of images, with confidence and the reasons."""
from __future__ import annotations

from pathlib import Path

import click

from ._common import (confidence_line, emit_json, interval_text, json_option, open_workspace, print_table,
                      workspace_option)
from .embed import load_cli_task, task_options, warnings_as_lines

__all__ = ["command"]


@click.command("recommend")
@task_options
@click.option("--top", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many models.")
@click.option("--fallback", default="auto", show_default=True,
              help="Cold-start metric blended in for candidates with local weights: auto (when the top pick's expected "
                   "regret is high, see the config's fallback.above_regret), "
                   "sfda, logme, ... or none.")
@click.option("--explain", is_flag=True, help="Show the nearest historical tasks and how each model did there.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG of the ranking here.")
@click.option("--description", default="", help="One line saying what the task predicts (helps place it).")
@workspace_option
@json_option
def command(task_dir: str, max_per_class: int, max_images: int, seed: int, k: int, fallback: str, explain: bool,
            plot: Path | None, description: str, workspace: Path | None, as_json: bool) -> None:
    """Rank models for the task in TASK_DIR (TASK_DIR/<class name>/*.jpg|png, or a path,label CSV).

    \b
    Examples:
      fennec recommend ./my_task -w ws --top 5
      fennec recommend ./my_task -w ws --explain --plot ranking.png
      fennec recommend ./my_task -w ws --fallback sfda --json
    """
    from dataclasses import replace

    from fennec.recommend import Recommender

    ws = open_workspace(workspace)
    with warnings_as_lines():
        task = load_cli_task(task_dir, max_per_class, max_images, seed)
        if description:
            task = replace(task, description=description)
        result = Recommender(ws).recommend(task, k=k, fallback=fallback, explain=True)
    if plot:
        from fennec.plots import plot_recommendation

        plot_recommendation(result, ws, plot)
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(f"Task {result.task}: {len(task.label_names)} classes; space {result.space_version} of {ws.path}")
    print_table([(i + 1, r["model"], r["score"], r.get("predicted", ""), interval_text(r), r["confidence"])
                 for i, r in enumerate(result.ranking)],
                ["rank", "model", "score", "predicted", "80% interval", "P(in true top 3)"])
    line = confidence_line(result.confidence)
    if line:
        click.echo(line)
    if result.fallback:
        fb = result.fallback
        click.echo(f"Blended with {fb['metric']} computed on the task's images for {', '.join(fb['models'])} "
                   f"({fb['reason']}).")
    if explain:
        nearest = ", ".join(f"{t['task']} ({t['similarity']:.2f})" for t in result.explanation["nearest_tasks"])
        click.echo(f"Nearest historical tasks: {nearest}")
        for model, rows in result.explanation["models"].items():
            seen = "; ".join(f"{r['task']}: {r['value']:.4g} (rank {r['rank']}/{r['of']})" for r in rows)
            click.echo(f"  {model}: {seen or 'no result on these tasks (placed by its side features)'}")
    if plot:
        click.echo(f"wrote {plot}")
