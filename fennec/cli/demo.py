"""``fennec demo``: the whole loop, offline, on the built-in mini-zoo (real images, real fine-tuned accuracies).

1. A workspace is seeded with the mini-zoo's transfer history (48 models pre-trained and fine-tuned on 20 real
   image tasks by ``python -m benchmark.minizoo generate``), minus one task that plays the user's new task.
2. The space is trained on that history.
3. The held-out task's training images (rendered from data that ships with scikit-learn / scikit-image /
   matplotlib) are written as a class-folder task, and ``recommend`` ranks the zoo for it; where the space is
   unsure, SFDA/LogME run on the zoo models' real features (their weights ship with the package).
4. The held-out task's real fine-tuned accuracies show how good the recommendation was.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from fennec import config

from ._common import confidence_line, interval_text

__all__ = ["command"]

_MARKER = "fennec-demo.json"


def _fresh_dir(directory: Path) -> None:
    """Re-create ``directory``, refusing to delete anything that is not an earlier demo."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / _MARKER).is_file():
            from fennec.errors import InputError

            raise InputError(f"{directory} exists and is not a fennec demo directory; not touching it.",
                             hint="pass another --dir")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _MARKER).write_text(json.dumps({"demo": 1}))


def _register_zoo_weights(model_ids: list[str]) -> None:
    """Make the zoo's committed weights available to the fallback metrics under their history ids."""
    from dataclasses import replace

    from benchmark.minizoo import model_spec
    from fennec.features import list_models, register_model

    known = set(list_models())
    for model_id in model_ids:
        if model_id not in known:
            register_model(replace(model_spec(model_id), name=model_id))


def _seed_workspace(directory: Path, held_out: str, say) -> tuple[object, object, object]:
    """Step 1: a workspace with the mini-zoo's history and cards, without ``held_out``; returns it, the benchmark
    and ``held_out``'s true accuracies."""
    from benchmark.loaders import load
    from fennec.workspace import Workspace

    bench = load("minizoo")
    history = bench.records.loc[bench.records["task"] != held_out, ["model", "task", "value"]]
    truth = bench.records.loc[bench.records["task"] == held_out].set_index("model")["value"]
    say(f"[1/4] Workspace {directory / 'workspace'}: the mini-zoo history without {held_out!r} "
        f"({len(history)} fine-tuning results, {history['model'].nunique()} models, {history['task'].nunique()} tasks)")
    ws = Workspace.create(directory / "workspace")
    ws.history().add(history, source="minizoo")
    ws.add_cards(bench.model_cards)
    ws.add_cards({t: c for t, c in bench.task_cards.items() if t != held_out})
    return ws, bench, truth


def _new_task(directory: Path, held_out: str, say) -> tuple[object, Path]:
    """Step 3: the held-out task's training images written as class folders and loaded as a user's task."""
    from benchmark.minizoo import build_task, export_images, get_task
    from fennec.tasks import load_task

    spec = get_task(held_out)
    say(f"[3/4] New task {held_out!r}: {spec.description} ({len(spec.labels)} classes; images from "
        f"{spec.provenance.split(';')[0]})")
    folders = export_images(directory / "images", build_task(spec))
    return load_task(folders["train"], name=held_out, description=spec.description), folders["train"]


def _print_report(result, report: list[dict], truth, version: str, say) -> None:
    """Step 4: the recommendation next to the truth, the fallback, the nearest tasks, the best model."""
    say(f"[4/4] Recommendation (space {version}) next to what fine-tuning really gave:")
    width = max(len(r["model"]) for r in report)
    say(f"  {'rank':>4}  {'model':<{width}}  {'predicted':>9}  {'80% interval':>16}  {'P(top 3)':>8}  "
        f"{'true acc.':>9}  true rank")
    for i, r in enumerate(report, start=1):
        say(f"  {i:>4}  {r['model']:<{width}}  {r.get('predicted', float('nan')):>9.3f}  "
            f"{interval_text(r, decimals=3):>16}  {r['confidence']:>8.2f}  {r['true_accuracy']:>9.3f}  "
            f"{r['true_rank']:>3} of {len(truth)}")
    line = confidence_line(result.confidence)
    if line:
        say(f"  {line}")
    if result.fallback:
        say(f"  Blended with {result.fallback['metric']} on the task's images for "
            f"{len(result.fallback['models'])} candidates ({result.fallback['reason']}).")
    nearest = ", ".join(t["task"] for t in result.explanation["nearest_tasks"])
    say(f"  Nearest historical tasks: {nearest}")
    best = truth.sort_values(ascending=False)
    say(f"  Truly best: {best.index[0]} ({best.iloc[0]:.3f}); the top pick reaches "
        f"{report[0]['true_accuracy'] / best.iloc[0]:.1%} of it.")


@click.command("demo")
@click.option("--task", "held_out", default="hw_digits", show_default=True,
              help="Mini-zoo target task that plays the new task (one that needs no Debian package).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo workspace and task go (default: <FENNEC_HOME>/demo).")
@click.option("--top", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Models to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the recommendation and the truth as JSON.")
def command(held_out: str, directory: Path | None, k: int, as_json: bool) -> None:
    """Run the whole loop offline on the built-in mini-zoo and compare with the real fine-tuned accuracies.

    \b
    Examples:
      fennec demo
      fennec demo --task ph_texture --top 3
    """
    from benchmark.minizoo import TARGET_TASKS
    from fennec.recommend import Recommender

    if held_out not in TARGET_TASKS:
        raise click.BadParameter(f"choose one of {', '.join(TARGET_TASKS)}", param_hint="--task")
    directory = directory or config.home_dir() / "demo"
    _fresh_dir(directory)
    say = (lambda *_: None) if as_json else click.echo
    ws, bench, truth = _seed_workspace(directory, held_out, say)
    say("[2/4] Training the transfer space")
    version = Recommender(ws).train()
    task, task_dir = _new_task(directory, held_out, say)
    _register_zoo_weights(sorted(bench.model_cards))
    result = Recommender(ws).recommend(task, k=k, fallback="auto")
    ranked_truth = truth.sort_values(ascending=False)
    report = [{**r, "true_accuracy": float(truth[r["model"]]),
               "true_rank": int((ranked_truth > truth[r["model"]]).sum() + 1)} for r in result.ranking]
    if as_json:
        click.echo(json.dumps({**result.to_json(), "truth": report, "best": ranked_truth.index[0],
                               "best_accuracy": float(ranked_truth.iloc[0]), "workspace": str(ws.path),
                               "task_dir": str(task_dir)}, indent=2))
        return
    _print_report(result, report, truth, version, say)
    say(f"Try it on your own images: fennec recommend {task_dir} -w {ws.path} --explain")
