"""``fennec embed``: the task vector of a folder of images (or a ``path,label`` CSV) under a proxy."""
from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

__all__ = ["command", "task_options", "load_cli_task", "warnings_as_lines"]

_SAMPLING_HELP = "Sampling caps keep a query fast; the sample is seeded."


def task_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that reads a task folder shares (sampling caps and seed)."""
    for decorator in reversed([
        click.argument("task_dir", type=click.Path(path_type=str)),
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
""")
@task_options
@click.option("--proxy", "proxy_name", default="default", show_default=True,
              help="Task proxy: default (EfficientNet-Lite0, offline), clip, labels or stats.")
@click.option("--json", "as_json", is_flag=True, help="Print the vector as JSON instead of a summary.")
@click.option("--device", default=None, help="Torch device (default: cuda when available, else cpu).")
@click.option("--clip-model", default="ViT-B-32", show_default=True, help="open_clip model name (--proxy clip).")
@click.option("--clip-weights", default="laion2b_s34b_b79k", show_default=True,
              help="open_clip pretrained tag, or a local state-dict file (--proxy clip).")
@click.option("--no-cache", is_flag=True, help="Recompute even when the embedding is cached.")
def command(task_dir: str, max_per_class: int, max_images: int, seed: int, proxy_name: str, as_json: bool,
            device: str | None, clip_model: str, clip_weights: str, no_cache: bool) -> None:
    """Embed the task in TASK_DIR (DIR/<class name>/*.jpg, or a CSV with columns path,label) with a proxy.

    Prints a summary of the task vector, or with --json the vector itself. A task with a single class can be
    embedded, but `fennec score` and the metrics need at least two classes.
    """
    from fennec.proxy import create_proxy, list_proxies

    if proxy_name not in list_proxies():
        from fennec.errors import UnknownNameError

        raise UnknownNameError.of("proxy", proxy_name, list_proxies())
    with warnings_as_lines():
        task = load_cli_task(task_dir, max_per_class, max_images, seed)
        proxy = create_proxy(proxy_name, **_proxy_kwargs(proxy_name, device, clip_model, clip_weights))
        features = proxy.embed(task, cache=not no_cache)
    if as_json:
        click.echo(json.dumps(features.to_dict()))
        return
    _summary(task, features)


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
