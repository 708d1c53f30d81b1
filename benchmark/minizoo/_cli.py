"""``python -m benchmark.minizoo build|generate|status``: build the mini-zoo's tasks and generate its records."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._tasks import SOURCE_TASKS, TARGET_TASKS, TASKS
from ._zoo import ZOO

__all__ = ["cli", "main"]

_OUT = click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                    help="Artefact directory (default: the committed benchmark/minizoo/data/).")
_CACHE = click.option("--cache", type=click.Path(file_okay=False, path_type=Path),
                      help="Where rendered tasks and images go (default: <FENNEC_HOME>/cache/minizoo).")


def _names(values: tuple[str, ...], known: tuple[str, ...], what: str) -> tuple[str, ...]:
    from fennec.errors import UnknownNameError

    names = tuple(v for value in values for v in value.split(",") if v)
    for name in names:
        if name not in known:
            raise UnknownNameError.of(what, name, known)
    return names or known


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The mini-zoo: a small, fully local transfer benchmark (real images, models trained here).

    \b
    Examples:
      python -m benchmark.minizoo build --install-deps
      python -m benchmark.minizoo generate --max-minutes 9
      python -m benchmark.minizoo status
      python -m benchmark.minizoo report
    """


@cli.command("build")
@click.option("--install-deps", is_flag=True, help="apt-get install the Debian packages the images come from.")
@click.option("--no-apt", is_flag=True, help="Only the tasks whose images ship in Python packages.")
@click.option("--task", "tasks", multiple=True, help="Task(s) to build (repeat or comma-separate; default all).")
@_CACHE
def build_command(install_deps: bool, no_apt: bool, tasks: tuple[str, ...], cache: Path | None) -> None:
    """Render the tasks' fixed splits into the cache and export the target tasks' images as PNG folders.

    \b
    Examples:
      python -m benchmark.minizoo build --install-deps
      python -m benchmark.minizoo build --no-apt
      python -m benchmark.minizoo build --task hw_digits,ph_texture
    """
    from tqdm.auto import tqdm

    from . import _sources, _store

    names = _names(tasks, tuple(TASKS), "minizoo task")
    if no_apt:
        names = tuple(n for n in names if not TASKS[n].packages)
    if install_deps:
        needed = sorted({p for n in names for p in TASKS[n].packages})
        installed = _sources.install_deps(needed)
        click.echo(f"installed: {', '.join(installed)}" if installed else "all Debian packages present")
    cache = cache or _store.default_cache()
    for name in tqdm(names, desc="minizoo build", unit="task", disable=None):
        built = _store.load_built(cache, TASKS[name])
        if not TASKS[name].is_source:
            _store.export_images(cache, built)
    click.echo(f"built {len(names)} tasks in {cache}")


@cli.command("generate")
@click.option("--max-minutes", type=float, help="Stop starting new units after this many minutes (resume later).")
@click.option("--model", "models", multiple=True, help="Zoo model(s) (default: all 24).")
@click.option("--task", "tasks", multiple=True, help="Target task(s) (default: all).")
@click.option("--stage", "stages", multiple=True, type=click.Choice(["pretrain", "card", "finetune"]),
              help="Only these stages (default: all, in order).")
@_OUT
@_CACHE
def generate_command(max_minutes: float | None, models: tuple[str, ...], tasks: tuple[str, ...],
                     stages: tuple[str, ...], out: Path | None, cache: Path | None) -> None:
    """Pre-train the zoo, compute task cards, fine-tune every (model, target) pair; resumable.

    \b
    Examples:
      python -m benchmark.minizoo generate --max-minutes 9
      python -m benchmark.minizoo generate --model densenet.src_photos --task hw_digits --out /tmp/mz
    """
    from ._generate import STAGES

    generator = _generator(models, tasks, out, cache)
    result = generator.run(max_minutes, stages or STAGES)
    click.echo(f"ran {result['ran']} units in {result['seconds']:.0f} s; {result['left']} left")
    _print_status(generator)


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_OUT
def status_command(as_json: bool, out: Path | None) -> None:
    """Show what the generator has done and an estimate of what is left.

    \b
    Example:
      python -m benchmark.minizoo status
    """
    generator = _generator((), (), out, None)
    if as_json:
        click.echo(json.dumps(generator.status(), indent=1))
    else:
        _print_status(generator)


@cli.command("report")
@_OUT
def report_command(out: Path | None) -> None:
    """Print how the benchmark discriminates: best-model counts, the baselines' cold-task figures, and the room a
    term for what a model was trained on has (the source-effect oracle and the image view's correlation with it).

    \b
    Example:
      python -m benchmark.minizoo report
    """
    from ._loader import load_minizoo
    from ._report import discrimination, format_discrimination, source_room

    bench = load_minizoo(out)
    click.echo(format_discrimination({**discrimination(bench), "source_room": source_room(bench)}))


def _generator(models, tasks, out, cache):  # noqa: ANN001, ANN202
    from ._generate import Generator

    options = {"models": _names(models, ZOO, "minizoo model"), "tasks": _names(tasks, TARGET_TASKS, "target task")}
    if out:
        options["out"] = out
    if cache:
        options["cache"] = cache
    return Generator(**options)


def _print_status(generator) -> None:  # noqa: ANN001
    status = generator.status()
    click.echo(f"{len(SOURCE_TASKS)} sources, {len(generator.tasks)} targets, {len(generator.models)} models "
               f"-> {generator.out}")
    for stage, total in status["total"].items():
        mean = status["mean_seconds"][stage]
        click.echo(f"  {stage:9s} {status['done'][stage]:4d} / {total:<4d}"
                   + (f"  {mean:6.1f} s each" if mean is not None else ""))
    click.echo(f"  spent {status['spent_seconds'] / 60:.1f} min; about {status['estimated_seconds_left'] / 60:.1f} "
               "min left (at the measured speed)")


def main(argv: list[str] | None = None) -> int:
    """Entry point with fennec's error translation (one line + hint; traceback with FENNEC_DEBUG=1)."""
    from fennec.cli import run_click

    return run_click(cli, argv, prog_name="python -m benchmark.minizoo")
