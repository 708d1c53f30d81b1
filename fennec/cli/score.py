"""``fennec score``: rank models on a folder of images with a cold-start transferability metric (SFDA, LogME...)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fennec.cli._common import cli_engine, engine_options, workspace_option
from fennec.cli.embed import load_cli_task, task_options, warnings_as_lines
from fennec.scoring import cannot_rank, score_models

__all__ = ["command"]


@click.command("score", epilog="""\b
Examples:
  fennec score ./my_task --metric sfda --models efficientnet_lite0,efficientnet_lite1,efficientnet_lite2
  fennec score ./my_task --metric logme --json     # every registered model, JSON ranking
  fennec score ./my_task --engine ray --address auto   # one Ray task per model on this machine's cluster
""")
@task_options
@click.option("--metric", default="sfda", show_default=True, help="Metric name (fennec.metrics.available()).")
@click.option("--models", default=None,
              help="Comma-separated model names (default: every registered model, fennec.features.list_models()).")
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Images per batch (default: by the model's input size, 64 at 224 px, 256 at 32 px).")
@click.option("--device", default=None, help="Torch device (default: cuda when available, else cpu).")
@click.option("--no-cache", is_flag=True, help="Recompute features even when they are cached.")
@engine_options
@workspace_option
def command(task_dir: str, max_per_class: int, max_images: int, seed: int, metric: str, models: str | None,
            as_json: bool, batch_size: int | None, device: str | None, no_cache: bool, engine: str | None,
            address: str | None, workspace: Path | None) -> None:
    """Score each model on the labelled images in TASK_DIR (DIR/<class name>/*.jpg or a path,label CSV).

    Each model's penultimate features (or, for LEEP/NCE, its ImageNet class probabilities) on the images are fed to
    the metric; higher means "expected to fine-tune better". Models are ranked best first. Each model is one unit
    of the engine (--engine); models that fail are listed after the ranking of the others (exit status 1).
    """
    from fennec.execution import UnitsFailedError
    from fennec.features import list_models

    names = [m.strip() for m in models.split(",") if m.strip()] if models else list_models()
    if not names:
        raise click.BadParameter("give at least one model name", param_hint="--models")
    with warnings_as_lines():
        task = load_cli_task(task_dir, max_per_class, max_images, seed)
        failed = None
        with cli_engine(engine, address, workspace) as runner:
            try:
                rows = score_models(task, names, metric, batch_size=batch_size, device=device, cache=not no_cache,
                                    engine=runner)
            except UnitsFailedError as exc:  # the ranking of the models that were scored, then the error
                rows, failed = exc.partial, exc
    if rows:
        _print(task, metric, rows, as_json)
    if failed is not None:
        raise failed


def _print(task: Any, metric: str, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"task": task.name, "metric": metric, "n_classes": task.n_classes,
                               "n_images": rows[0]["n_images"], "ranking": rows}))
        return
    click.echo(f"{metric} on {task.name} ({task.n_classes} classes, {rows[0]['n_images']} images)")
    width = max(len("model"), *(len(r["model"]) for r in rows))
    click.echo(f"{'rank':>4}  {'model':<{width}}  {'score':>12}  {'seconds':>8}")
    for row in rows:
        click.echo(f"{row['rank']:>4}  {row['model']:<{width}}  {row['score']:>12.5g}  {row['seconds']:>8.1f}")
    scores = [row["score"] for row in rows]
    if cannot_rank(scores):
        click.echo(f"Note: every model scores the same, so {metric} cannot rank them here (it saturates when the "
                   f"task has few images for the feature dimension: {rows[0]['n_images']} images). Try more images "
                   "(--max-per-class) or another metric, e.g. --metric logme.")
