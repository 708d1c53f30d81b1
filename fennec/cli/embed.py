"""``fennec embed``: the task vector of a folder of images (or a ``path,label`` CSV) under a proxy."""
from __future__ import annotations

import contextlib
import functools
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click

from ._common import cli_engine, engine_options, workspace_option

__all__ = ["command", "load_cli_task", "sampling_options", "task_options", "warnings_as_lines"]

_SAMPLING_HELP = "Sampling caps keep a query fast; the sample is seeded."


def task_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``TASK_DIR`` argument and the options every command that reads a task folder shares."""
    return click.argument("task_dir", type=click.Path(path_type=str))(sampling_options(func))


def sampling_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The sampling caps and seed of a task folder."""
    for decorator in reversed([
        click.option("--max-per-class", type=click.IntRange(min=1), default=50, show_default=True,
                     help="At most this many images per class. " + _SAMPLING_HELP),
        click.option("--max-images", type=click.IntRange(min=1), default=2000, show_default=True,
                     help="At most this many images in all."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the per-class sample."),
    ]):
        func = decorator(func)
    return func


def load_cli_task(task_dir: str, max_per_class: int, max_images: int, seed: int) -> Any:
    """Load ``TASK_DIR`` (a folder or a CSV manifest) with the command line's sampling options."""
    from fennec.tasks import load_task

    return load_task(task_dir, max_per_class=max_per_class, max_images=max_images, seed=seed)


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Print library warnings (skipped images, random weights) as one ``warning: ...`` line each."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *_args, **_kw: click.secho(f"warning: {message}", fg="yellow",
                                                                         err=True)
        yield


@click.command("embed", epilog="""\b
Examples:
  fennec embed ./my_task                    # EfficientNet-Lite0 task vector, summary
  fennec embed ./my_task --proxy labels     # from the class-folder names only
  fennec embed ./my_task --json > vec.json  # {"proxy", "vector", "parts", "n_images", "n_classes"}
  fennec embed manifest.csv --proxy clip --clip-weights ~/weights/ViT-B-32.laion2b.safetensors
  fennec embed tasks/* --json --engine ray  # many tasks, one Ray task each: a JSON line per task
""")
@click.argument("task_dirs", nargs=-1, required=True, type=click.Path(path_type=str))
@sampling_options
@click.option("--proxy", "proxy_name", default="default", show_default=True,
              help="Task proxy: default (EfficientNet-Lite0, offline), clip, labels or stats.")
@click.option("--json", "as_json", is_flag=True, help="Print the vector as JSON instead of a summary.")
@click.option("--device", default=None, help="Torch device (default: cuda when available, else cpu).")
@click.option("--clip-model", default="ViT-B-32", show_default=True, help="open_clip model name (--proxy clip).")
@click.option("--clip-weights", default="laion2b_s34b_b79k", show_default=True,
              help="open_clip pretrained tag, or a local state-dict file (--proxy clip).")
@click.option("--no-cache", is_flag=True, help="Recompute even when the embedding is cached.")
@engine_options
@workspace_option
def command(task_dirs: tuple[str, ...], max_per_class: int, max_images: int, seed: int, proxy_name: str,
            as_json: bool, device: str | None, clip_model: str, clip_weights: str, no_cache: bool,
            engine: str | None, address: str | None, workspace: Path | None) -> None:
    """Embed each task in TASK_DIRS (DIR/<class name>/*.jpg, or a CSV with columns path,label) with a proxy.

    Prints a summary of each task vector, or with --json the vector itself (one JSON line per task when there
    are several). Each task is one unit of the engine (--engine); the proxy's model is loaded once per worker.
    A task with a single class can be embedded, but `fennec score` and the metrics need at least two.
    """
    from fennec.proxy import create_proxy, list_proxies

    if proxy_name not in list_proxies():
        from fennec.errors import UnknownNameError

        raise UnknownNameError.of("proxy", proxy_name, list_proxies())
    setup = functools.partial(create_proxy, proxy_name, **_proxy_kwargs(proxy_name, device, clip_model, clip_weights))
    unit = functools.partial(_embed_unit, sampling=(max_per_class, max_images, seed), cache=not no_cache)
    with warnings_as_lines(), cli_engine(engine, address, workspace) as runner:
        result = runner.map(unit, {d: d for d in dict.fromkeys(task_dirs)}, setup=setup, gpu=True, desc="tasks")
    for task, features in result.values.values():
        if as_json:
            click.echo(json.dumps(features.to_dict() if len(task_dirs) == 1 else
                                  {"task": task.name, **features.to_dict()}))
        else:
            _summary(task, features)
    result.check()


class _TaskSummary(NamedTuple):
    """What the summary needs of a task (the task itself, with its images, stays in the worker)."""

    name: str
    n_total: int
    n_classes: int


def _embed_unit(proxy: Any, task_dir: str, *, sampling: tuple[int, int, int], cache: bool) -> tuple[Any, Any]:
    """One unit: load the task folder (where the unit runs) and embed it with this worker's proxy."""
    task = load_cli_task(task_dir, *sampling)
    return _TaskSummary(task.name, task.n_total, task.n_classes), proxy.embed(task, cache=cache)


def _proxy_kwargs(name: str, device: str | None, clip_model: str, clip_weights: str) -> dict[str, Any]:
    if name == "clip":
        return {"model": clip_model, "pretrained": clip_weights, "device": device, "max_per_class": None,
                "max_images": None}
    if name == "default":  # the task is already sampled by the loader
        return {"device": device, "max_per_class": None, "max_images": None}
    if name == "labels":
        return {"device": device or "cpu"}
    return {}


def _summary(task: Any, features: Any) -> None:
    import numpy as np

    sampled = f"{features.n_images} images embedded of {task.n_total}" if features.n_images else "no images used"
    click.echo(f"task     {task.name} ({features.n_classes} classes, {sampled})")
    click.echo(f"proxy    {features.proxy}")
    click.echo(f"vector   {features.dim} floats, norm {np.linalg.norm(features.vector):.3f}")
    for name, (start, end) in features.parts.items():
        values = features.vector[start:end]
        shown = ", ".join(f"{v:.4f}" for v in values) if end - start <= 5 else f"norm {np.linalg.norm(values):.3f}"
        click.echo(f"  {name:<14} [{start}:{end}]  {shown}")
    if task.n_classes < 2:
        click.echo("note: a single class: `fennec score` and the transferability metrics need at least two.")
