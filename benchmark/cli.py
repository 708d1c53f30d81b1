"""``python -m benchmark``: evaluate ranking methods on released benchmarks (also ``fennec benchmark``)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from fennec.cli import engine_options

from .protocols import BUDGETS, PROTOCOLS

__all__ = ["cli"]

_HEADLINE = ("tau_w", "kendall", "rel@1", "regret@3", "hit@3")


#: The calibration protocol's columns in the printed table (all are in the JSON).
_CALIBRATION_COLUMNS = ("coverage@80", "coverage@90", "width@90", "p_hit@3", "hit@3", "location", "mean")


def _columns(result: dict) -> list[str]:
    if result["protocol"] == "learning-curve":  # per fraction: history size, then the measures
        return [c for c in result["mean"] if c.startswith(("n_history@", "tau_w@", "rel@1@"))]
    if result["protocol"] == "headroom":  # one column per ranking
        return list(result["mean"])
    if result["protocol"] == "calibration":  # per query (cold, k3)
        return [c for c in next(iter(result["tasks"].values())) if c.endswith(_CALIBRATION_COLUMNS)]
    return [c for c in (*_HEADLINE, *(f"regret@B{b}" for b in BUDGETS), *(f"rel@B{b}" for b in BUDGETS))
            if c in next(iter(result["tasks"].values()))]


def _format_table(result: dict) -> str:
    tasks = result["tasks"]
    if not tasks:
        return "(no task could be measured)"
    columns = _columns(result)
    width = max(len(t) for t in [*tasks, "mean"]) + 2
    cell = max(11, *(len(c) + 2 for c in columns))
    lines = ["task".ljust(width) + "".join(c.rjust(cell) for c in columns)]
    lines += [t.ljust(width) + "".join(f"{tasks[t].get(c, float('nan')):{cell}.3f}" for c in columns)
              for t in sorted(tasks)]
    lines.append("mean".ljust(width) + "".join(f"{result['mean'][c]:{cell}.3f}" for c in columns))
    return "\n".join(lines)


def _fractions(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        from fennec.errors import InputError

        raise InputError(f"--fractions must be numbers separated by commas. Got {text!r} instead.",
                         hint="e.g. --fractions 0.25,0.5,1") from None


def _history(history: str, targets: str | None):
    """The benchmark or table named ``history``, holding out only ``targets`` (comma-separated) when given."""
    from .loaders import load

    bench = load(history)
    if targets:
        bench = bench.with_targets([t.strip() for t in targets.split(",") if t.strip()])
    return bench


def _echo(result: dict, header: str, json_out: Path | None) -> None:
    """Print a result's header line and per-task table; write its JSON to ``json_out`` when given."""
    click.echo(header)
    click.echo(_format_table(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
        click.echo(f"wrote {json_out}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Evaluate model-ranking methods on released transfer benchmarks.

    \b
    Examples:
      python -m benchmark list
      python -m benchmark run --history sfda11 --protocol cold-task --method popularity
      python -m benchmark suite configs/suite-main.yaml
    """


@cli.command("list")
def list_command() -> None:
    """List benchmarks, protocols and methods.

    \b
    Example:
      python -m benchmark list
    """
    from .loaders import available as benchmarks
    from .methods import available as methods

    click.echo(f"benchmarks: {', '.join(benchmarks())} (or a long-format CSV/Parquet file: model,task,value)")
    click.echo(f"protocols:  {', '.join(PROTOCOLS)}")
    click.echo(f"methods:    {', '.join(methods())}")


@cli.command("run")
@click.option("--history", required=True, help="Benchmark name (sfda11, shift, transfergraph...) or a CSV/Parquet file.")
@click.option("--protocol", required=True, type=click.Choice(list(PROTOCOLS)), help="Evaluation protocol.")
@click.option("--method", required=True, help="Method name (see `python -m benchmark list`).")
@click.option("--k", type=int, default=3, show_default=True, help="Revealed records per task (few-shot).")
@click.option("--draws", type=int, default=10, show_default=True, help="Seeded draws of revealed records (few-shot).")
@click.option("--budget", "budgets", type=int, multiple=True, help="Budgets B (budget protocol; default 1 3 5).")
@click.option("--seeds", type=int, default=None,
              help="Seeds of held-out model sets (cold-model; default 5) or of history subsets (learning-curve; "
                   "default 3).")
@click.option("--fractions", default="0.25,0.5,1", show_default=True, metavar="F,...",
              help="Fractions of the history tasks kept (learning-curve), each in (0, 1].")
@click.option("--pools", type=int, default=0, show_default=True, help="Average over this many random candidate pools.")
@click.option("--targets", default=None, metavar="TASK,...",
              help="Hold out and score only these tasks (comma-separated); the others stay history.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result JSON here.")
def run_command(history: str, protocol: str, method: str, k: int, draws: int, budgets: tuple[int, ...],
                seeds: int | None, fractions: str, pools: int, targets: str | None, json_out: Path | None) -> None:
    """Evaluate one method under one protocol and print per-task measures.

    HISTORY is a released benchmark or your own table. A bare model,task,value table (no cards) runs every method
    that needs only the records: popularity, popularity-ns, random and fennec (which then ranks a cold task by its
    prior and a cold model by its bias prior). The others stop with a message naming what the table lacks: logme,
    sfda, hscore and knn1 read scores computed on each task's images, fennec+metric blends with them,
    fennec-noimage needs stored image embeddings, imagenet-top1 and params need model cards with that attribute.
    A suite skips a method where it does not apply and says so in its report.

    learning-curve: cold-task quality against the number of history tasks. For each target task, the method is
    fitted on a seeded subset of the other tasks at each of --fractions (nested subsets, --seeds of them; the full
    history once) and scored; columns n_history@fF, tau_w@fF and rel@1@fF per fraction F.

    calibration: are the intervals and ranking confidence honest on held-out tasks? Only fennec and fennec-noimage
    predict intervals; columns per query (cold, k3): coverage@80, coverage@90, width@90, p_hit@3 and hit@3.

    \b
    Examples:
      python -m benchmark run --history sfda11 --protocol cold-task --method popularity
      python -m benchmark run --history transfergraph8 --protocol cold-task --method logme --json out.json
      python -m benchmark run --history shift --protocol few-shot --k 10 --method popularity
      python -m benchmark run --history my_results.csv --protocol cold-task --method fennec
      python -m benchmark run --history sfda11 --protocol learning-curve --fractions 0.2,0.5,1 --seeds 3 \\
          --method popularity-ns
      python -m benchmark run --history tg.csv --targets svhn,dtd --protocol cold-task --method fennec
      python -m benchmark run --history sfda11 --protocol calibration --method fennec
    """
    from .runner import evaluate

    options = {"few-shot": {"k": k, "n_draws": draws}, "cold-model": {"seeds": range(5 if seeds is None else seeds)},
               "budget": {"budgets": budgets or BUDGETS},
               "learning-curve": {"fractions": _fractions(fractions), "seeds": range(3 if seeds is None else seeds)},
               }.get(protocol, {})
    result = evaluate(_history(history, targets), protocol, method, pools=pools, **options)
    _echo(result, f"{result['benchmark']} | {protocol} | {method} | {result['n_models']} models x "
                  f"{result['n_tasks']} tasks | settings {result['settings']}", json_out)


@cli.command("headroom")
@click.option("--history", required=True, help="Benchmark name (sfda11, shift, transfergraph...) or a CSV/Parquet file.")
@click.option("--targets", default=None, metavar="TASK,...",
              help="Hold out and score only these tasks (comma-separated); the others stay history.")
@click.option("--no-nested", is_flag=True, help="Skip kernel@nested (the slowest row: a kernel fit per history task).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result JSON here.")
def headroom_command(history: str, targets: str | None, no_nested: bool, json_out: Path | None) -> None:
    """How far can a cold-task method get past its prior on this history? Ceilings chosen with the answer.

    Per target task (mean tau_w in the last row): the prior (popularity-ns); the best one and three history tasks
    (chosen with the target's true values); the space's cold-task kernel over the task side features at the grid
    setting best on the targets (kernel@oracle) and at the setting chosen on the history alone (kernel@nested); the
    prior plus each pairwise view's affinity, and the kernel plus all of them, with weights best on the targets.
    An @oracle figure bounds the methods of its family that use one setting for every target: a goal above
    kernel+pairs@oracle needs another signal than the cards' side features and pairwise views, or another family.
    `agreement`: how well the side features' closeness of two tasks follows how alike they rank the models
    (Spearman over task pairs).

    \b
    Examples:
      python -m benchmark headroom --history sfda11
      python -m benchmark headroom --history transfergraph8 --json headroom.json
      python -m benchmark headroom --history my_results.csv --targets svhn,dtd --no-nested
    """
    from .headroom import headroom

    result = headroom(_history(history, targets), nested=not no_nested)
    _echo(result, f"{result['benchmark']} | headroom | {result['n_models']} models x {result['n_tasks']} targets | "
                  f"oracle settings {result['settings']} | agreement {result['agreement']:.3f}", json_out)


@cli.command("suite")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Report directory (default: from config).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Evaluations run at once on the local engine, each in its own process with its share of the cores.")
@click.option("--resume", is_flag=True, help="Keep what an interrupted run of this suite finished; run the rest.")
@engine_options
def suite_command(config: Path, out: Path | None, jobs: int, resume: bool, engine: str | None,
                  address: str | None) -> None:
    """Run every (benchmark, protocol, method) of a suite YAML and write a Markdown report with a plot.

    Prints one line per finished evaluation. Each is also appended to OUT/results.partial.jsonl, so an
    interrupted suite (or one where some evaluations failed: they are listed at the end) restarted with --resume
    runs only what is missing. Each evaluation is one unit of the engine: --jobs local processes, or Ray.

    \b
    Examples:
      python -m benchmark suite configs/suite-main.yaml --out reports/main
      python -m benchmark suite configs/suite-main.yaml --jobs 2 --resume
      python -m benchmark suite configs/suite-main.yaml --engine ray --address auto
    """
    import time

    from fennec.execution import create_engine

    from .reports import headline_measure, run_suite

    if jobs > 1 and (engine == "ray" or address):
        raise click.BadParameter("--jobs sets the local engine's processes; Ray runs as many evaluations as the "
                                 "cluster has CPUs", param_hint="--jobs")

    started = time.monotonic()

    def progress(done: int, total: int, result: dict) -> None:
        measure = headline_measure(result)
        value = result["mean"].get(measure)
        shown = f"{value:.3f}" if value is not None else "n/a (no task measured)"
        click.echo(f"[{done}/{total}] {time.monotonic() - started:6.0f}s  {result['benchmark']:<15} "
                   f"{result['run']:<28} {result['method']:<15} {measure} {shown}", err=True)

    with create_engine(engine, address=address, jobs=jobs) as runner:
        report = run_suite(config, out, resume=resume, on_result=progress, engine=runner)
    click.echo(f"wrote {report}")


@cli.command("report")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", default=None, help="Report title (default: the results folder's name).")
@click.option("--suite", "suite_file", default=None, help="The suite file that produced it (named in the report).")
def report_command(results: Path, title: str | None, suite_file: str | None) -> None:
    """Write the Markdown report (and plot) of a finished suite again from its results.json, beside it.

    \b
    Example:
      python -m benchmark report reports/main/results.json --suite configs/suite-main.yaml
    """
    import yaml

    from fennec.errors import InputError

    from .reports import SKIPPED, write_report

    try:
        loaded = json.loads(results.read_text())
    except json.JSONDecodeError:
        loaded = None
    if not (isinstance(loaded, list) and all(isinstance(r, dict) and "benchmark" in r and "mean" in r
                                             for r in loaded)):
        raise InputError(f"{results} is not the results.json of a suite.",
                         hint="pass the results.json that `python -m benchmark suite` wrote")
    methods = None
    if suite_file and Path(suite_file).exists():  # the suite's method order for the summary
        methods = (yaml.safe_load(Path(suite_file).read_text()) or {}).get("methods")
    skipped_file = results.parent / SKIPPED  # what the suite did not run, and why (absent for older suites)
    skipped = json.loads(skipped_file.read_text()) if skipped_file.is_file() else None
    report = write_report(loaded, results.parent, title=title or results.parent.name, source=suite_file,
                          methods=methods, skipped=skipped)
    click.echo(f"wrote {report}")


def main(argv: list[str] | None = None) -> int:
    """Entry point with fennec's error translation (one line + hint, traceback only with FENNEC_DEBUG=1)."""
    from fennec.cli import run_click

    return run_click(cli, argv, prog_name="python -m benchmark")
