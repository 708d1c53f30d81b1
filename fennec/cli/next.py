"""``fennec next``: which model to fine-tune next on a task, given the results tried so far."""
from __future__ import annotations

from pathlib import Path

import click

from fennec.errors import InputError

from ._common import emit_json, interval_text, json_option, open_workspace, print_table, workspace_option
from .embed import load_cli_task, task_options, warnings_as_lines

__all__ = ["command"]


@click.command("next")
@task_options
@click.option("--tried", "tried_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Results already fine-tuned on this task: a CSV/Parquet in the history format (model, task, "
                   "value), one task only; the best value per model counts.")
@click.option("--top", "k", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many picks, the best bet first.")
@click.option("--candidates", default="", help="Comma-separated models to choose among (default: the whole zoo).")
@click.option("--dataset", default=None,
              help="The dataset the task draws from, as model cards name it (e.g. food101; default: the folder's "
                   "name): models already trained on it are tried early.")
@workspace_option
@json_option
def command(task_dir: str, max_per_class: int, max_images: int, seed: int, tried_file: Path | None, k: int,
            candidates: str, dataset: str | None, workspace: Path | None, as_json: bool) -> None:
    """Which model to fine-tune next on the task in TASK_DIR, given what was tried (--tried).

    The space folds the tried results into the task, then bets: optimistic while the task is uncertain, hedged
    against models that move with the tried ones, and early on models trained on the task's own dataset. Fine-tune
    the first pick, add its result to the --tried file, and ask again.

    \b
    Examples:
      fennec next ./my_task -w ws                               # nothing tried yet
      fennec next ./my_task -w ws --tried my_results.csv --top 5
      fennec next ./my_task -w ws --candidates resnet50,vit_small_patch16_224 --json
      fennec next ./photos -w ws --dataset food101          # models fine-tuned on Food-101 are tried early
    """
    from fennec.recommend import Recommender

    ws = open_workspace(workspace)
    tried = _read_tried(tried_file) if tried_file else {}
    chosen = [c.strip() for c in candidates.split(",") if c.strip()] or None
    with warnings_as_lines():
        task = load_cli_task(task_dir, max_per_class, max_images, seed)
        result = Recommender(ws).next(task, tried, k=k, candidates=chosen, dataset=dataset)
    if as_json:
        emit_json(result.to_json())
        return
    click.echo(f"Task {result.task}: {len(result.tried)} result(s) tried; space {result.space_version} of {ws.path}")
    if result.ignored:
        click.echo(f"Ignored (models the space does not know): {', '.join(result.ignored)}")
    print_table([(i + 1, p["model"], p["value"], p.get("predicted", ""), interval_text(p), p.get("expected_gain", ""),
                  "trained on this task's data" if p["trained_on_task_data"] else "")
                 for i, p in enumerate(result.picks)],
                ["pick", "model", "bet", "predicted", "80% interval", "expected gain", "note"])
    if result.advice:
        click.echo(f"Advice: {result.advice}.")


def _read_tried(path: Path) -> dict[str, float]:
    """model -> best value from a results file of one task (validated like ``fennec history add``)."""
    from fennec._history_io import parse_records

    parsed = parse_records(path)
    tasks = sorted(set(parsed.tasks))
    if len(tasks) > 1:
        raise InputError(f"{path} holds results of {len(tasks)} tasks ({', '.join(tasks[:3])}"
                         f"{', ...' if len(tasks) > 3 else ''}); --tried takes the results of this task only.",
                         hint="keep the rows of the task you are asking about")
    best: dict[str, float] = {}
    for model, value in zip(parsed.models, parsed.values):
        best[model] = max(value, best.get(model, -float("inf")))
    return best
