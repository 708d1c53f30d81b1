"""Suites: many evaluations from one YAML file, written up as a Markdown report with one plot.

A suite file::

    name: main
    out: reports/main                # report directory (relative to the current directory)
    benchmarks: [sfda11, shift]
    methods: [popularity, random, logme]
    runs:                            # protocol + its options
      - {protocol: cold-task}
      - {protocol: few-shot, k: 3}
      - {protocol: budget, budgets: [1, 3, 5]}
      - {protocol: cold-model, seeds: 5}
      - {protocol: learning-curve, fractions: [0.25, 0.5, 1.0], seeds: 3, benchmarks: [shift]}
      - {protocol: calibration}

A run's ``benchmarks`` and ``methods`` (optional) keep it to those of the suite's that it names: a costly protocol
need not run everywhere.

A method that needs what a benchmark lacks (published scores, image embeddings, card attributes) is skipped for it,
and the report's "Not run" table says why. A ``learning-curve`` run (``fractions: [0.25, 0.5, 1.0]``, ``seeds: 3``)
adds a plot of cold-task tau_w against the number of history tasks; a ``calibration`` run (only the methods that
predict intervals take part) adds a table of coverage and predicted against realised hit rates, and a reliability
plot.
Each evaluation is one unit of a :mod:`fennec.execution` engine: in this process, in parallel local processes
(``jobs``) or on Ray. An interrupted suite resumes where it stopped (``resume``): each finished evaluation is
appended to ``out/results.partial.jsonl`` as it ends, so evaluations that failed are all that a resume reruns.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fennec.errors import InputError
from fennec.execution import Engine, LocalEngine, MapResult, UnitFailure

from ._plots import plot_learning_curves, plot_per_task_tau, plot_reliability
from .loaders import load
from .protocols import CALIBRATION_QUERIES
from .runner import evaluate, missing_requirement, protocol_excludes

__all__ = ["SKIPPED", "calibration_rows", "headline_measure", "run_suite", "summary_table", "write_report"]

#: The (benchmark, method, why) pairs a suite did not run, beside its results.json.
SKIPPED = "skipped.json"

_ROW_MEASURES = {"budget": ("regret@B1", "regret@B3", "regret@B5", "rel@B3"),
                 "default": ("tau_w", "kendall", "rel@1", "regret@3", "hit@3")}


def _row_measures(result: dict[str, Any]) -> tuple[str, ...]:
    if result["protocol"] == "learning-curve":  # tau_w at each fraction of the history
        return tuple(key for key in result["mean"] if key.startswith("tau_w@f"))
    return _ROW_MEASURES.get(result["protocol"], _ROW_MEASURES["default"])


def _header(result: dict[str, Any], measure: str) -> str:
    """A column's name; a learning curve's columns also say how many history tasks they were fitted on."""
    if result["protocol"] == "learning-curve":
        size = result["mean"].get(measure.replace("tau_w@", "n_history@"))
        return f"{measure} ({size:.3g} tasks)" if size is not None else measure
    return measure


def headline_measure(result: dict[str, Any]) -> str:
    """The one figure a summary shows for ``result``: ``regret@B3`` (budget), tau_w at the smallest history
    fraction (learning curve: its full history is the cold task's figure), the cold query's 90% coverage
    (calibration), else ``tau_w``."""
    if result["protocol"] == "budget":
        return "regret@B3"
    if result["protocol"] == "calibration":
        return "cold:coverage@90"
    if result["protocol"] == "learning-curve":
        return next((key for key in result["mean"] if key.startswith("tau_w@f")), "tau_w")
    return "tau_w"


#: Keys of a suite's run that choose where it runs, not how the protocol runs.
_RUN_SCOPE = frozenset({"benchmarks", "methods"})


def _run_label(run: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v}" for k, v in run.items() if k != "protocol" and k not in _RUN_SCOPE)
    return f"{run['protocol']} ({options})" if options else run["protocol"]


def _protocol_options(run: dict[str, Any]) -> dict[str, Any]:
    options = {k: v for k, v in run.items() if k not in {"protocol", "pools", *_RUN_SCOPE}}
    if "seeds" in options:
        options["seeds"] = range(int(options["seeds"]))
    if "draws" in options:
        options["n_draws"] = options.pop("draws")
    return options


Job = tuple[str, dict[str, Any], str]  # (benchmark, run, method)
_PARTIAL = "results.partial.jsonl"


def _job_key(benchmark: str, run: dict[str, Any], method: str) -> str:
    return json.dumps([benchmark, run, method], sort_keys=True)


def _evaluate_job(job: Job) -> dict[str, Any]:
    name, run, method = job
    result = evaluate(load(name), run["protocol"], method, pools=run.get("pools", 0), **_protocol_options(run))
    result["run"] = _run_label(run)
    return result


def _job_id(job: Job) -> str:
    """A readable unit id of an evaluation (how a failed one is named)."""
    name, run, method = job
    return f"{name} | {_run_label(run)} | {method}"


def run_suite(config_path: Path, out: Path | None = None, *, jobs: int = 1, resume: bool = False,
              on_result: Callable[[int, int, dict[str, Any]], None] | None = None,
              engine: Engine | None = None) -> Path:
    """Run the suite described by ``config_path``; returns the path of the written Markdown report.

    Parameters
    ----------
    config_path : Path
        The suite YAML (see the module docstring).
    out : Path, optional
        Report directory (default: the file's ``out``, else ``reports/<name>``).
    jobs : int, default=1
        Evaluations run at once, in as many local processes (each with ``cpu_count // jobs`` threads); the local
        engine's ``jobs`` when no ``engine`` is given.
    resume : bool, default=False
        Keep the evaluations an interrupted run of the same suite already finished (``out/results.partial.jsonl``,
        written as each one ends) and run only the others.
    on_result : callable, optional
        Called as ``on_result(done, total, result)`` after each evaluation (progress reporting).
    engine : Engine, optional
        Where the evaluations run, one unit each (default: ``LocalEngine(jobs)``).

    Raises
    ------
    UnitsFailedError
        Some evaluations failed (named by benchmark, run and method); the others are kept in
        ``out/results.partial.jsonl`` and ``resume=True`` runs only the failed ones.
    """
    try:
        config = yaml.safe_load(Path(config_path).read_text())
        benchmarks, methods, runs = config["benchmarks"], config["methods"], config["runs"]
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise InputError(f"Suite file {config_path} is not valid: {exc!r}",
                         hint="it needs the keys benchmarks, methods and runs (see benchmark/reports.py)") from None
    if jobs < 1:
        raise InputError(f"jobs of run_suite must be >= 1. Got {jobs} instead.")
    out = Path(out or config.get("out") or f"reports/{config.get('name', Path(config_path).stem)}")
    out.mkdir(parents=True, exist_ok=True)
    for run in runs:
        for key, suite_names in (("benchmarks", benchmarks), ("methods", methods)):
            unknown = sorted(set(run.get(key, suite_names)) - set(suite_names))
            if unknown:
                raise InputError(f"Suite file {config_path}: a {run.get('protocol')} run names {key} the suite "
                                 f"does not have: {', '.join(map(str, unknown))}.",
                                 hint=f"a run's {key} must be among the suite's: {', '.join(map(str, suite_names))}")
    missing = {(name, method): missing_requirement(load(name), method) for name in benchmarks for method in methods}
    planned = [(name, run, method) for name in benchmarks for run in runs for method in methods
               if missing[name, method] is None and protocol_excludes(method, run["protocol"]) is None
               and name in run.get("benchmarks", benchmarks) and method in run.get("methods", methods)]
    skipped = [[name, method, f"the benchmark {why}"] for (name, method), why in missing.items() if why]
    partial = out / _PARTIAL
    done = _finished(partial, planned) if resume else {}
    if not resume:
        partial.unlink(missing_ok=True)
    todo = {_job_id(job): job for job in planned if _job_key(*job) not in done}
    _run_jobs(todo, engine or LocalEngine(jobs), partial, done,
              (lambda result: on_result(len(done), len(planned), result)) if on_result else None)
    results = [done[_job_key(*job)] for job in planned]
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / SKIPPED).write_text(json.dumps(skipped, indent=1))
    partial.unlink(missing_ok=True)
    return write_report(results, out, title=config.get("name", "suite"), source=str(config_path), methods=methods,
                        skipped=skipped)


def _run_jobs(todo: dict[str, Job], engine: Engine, partial: Path, done: dict[str, dict[str, Any]],
              on_result: Callable[[dict[str, Any]], None] | None) -> None:
    """Run ``todo`` on ``engine``, appending each result to ``partial`` (and to ``done``) as it finishes; the
    failed evaluations are raised together at the end, after the others completed."""
    finished, failures = {}, {}
    with partial.open("a") as log:
        for unit, result in engine.imap(_evaluate_job, todo):
            if isinstance(result, UnitFailure):  # the others go on; resume reruns only the failed ones
                failures[unit] = result
                continue
            finished[unit] = done[_job_key(*todo[unit])] = result
            log.write(json.dumps({"key": _job_key(*todo[unit]), "result": result}) + "\n")
            log.flush()
            if on_result:
                on_result(result)
    MapResult(finished, [failures[u] for u in todo if u in failures]).check(partial=done)


def _finished(partial: Path, planned: list[Job]) -> dict[str, dict[str, Any]]:
    """Results an interrupted run wrote for jobs still planned (a torn last line is ignored)."""
    wanted = {_job_key(*job) for job in planned}
    done = {}
    if partial.exists():
        for line in partial.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("key") in wanted:
                done[entry["key"]] = entry["result"]
    return done


def _cell(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def write_report(results: list[dict[str, Any]], out: Path, title: str, source: str | None,
                 methods: list[str] | None = None, skipped: list[list[str]] | None = None) -> Path:
    """Markdown tables (one per benchmark and run: methods x headline measures), the per-task tau_w plot, the
    learning curves and the calibration table and plot where the suite ran them, and the (benchmark, method, why)
    pairs of ``skipped``."""
    lines = [f"# Benchmark report: {title}", "",
             f"Produced by `python -m benchmark suite {source or 'SUITE.yaml'}`; every figure is a mean over tasks "
             "(cold-model: also over its seeds; few-shot: over its draws). `tasks` is the number of tasks a method "
             "could be measured on: published scores exist only for some tasks, and few-shot needs k + 2 models "
             "with a value.", ""]
    lines += ["## Summary", "", summary_table(results, methods), ""]
    for bench in dict.fromkeys(r["benchmark"] for r in results):
        sample = next(r for r in results if r["benchmark"] == bench)
        lines += [f"## {bench} ({sample['n_models']} models x {sample['n_tasks']} evaluated tasks)", ""]
        for run in dict.fromkeys(r["run"] for r in results if r["benchmark"] == bench
                                 and r["protocol"] != "calibration"):  # its own section below
            rows = [r for r in results if r["benchmark"] == bench and r["run"] == run]
            measures = _row_measures(rows[0])
            lines += [f"**{run}**", "", "| method | tasks | " + " | ".join(_header(rows[0], m) for m in measures) + " |",
                      "|---|---:|" + "---:|" * len(measures)]
            lines += [f"| {r['method']} | {r['n_tasks_measured']} | "
                      + " | ".join(_cell(r["mean"].get(m)) for m in measures) + " |" for r in rows]
            lines.append("")
    plot = plot_per_task_tau(results, out / "per_task_tau_w.png")
    if plot:
        lines += ["## Per-task weighted tau (cold task)", "", f"![per-task tau_w]({plot.name})", ""]
    curve = plot_learning_curves(results, out / "learning_curve.png")
    if curve:
        lines += ["## Learning curve (cold task against the history's size)", "",
                  ("Mean cold-task tau_w against the number of history tasks: each target task held out, the "
                   "method fitted on seeded nested subsets of the other tasks (`learning-curve` protocol)."), "",
                  f"![learning curve]({curve.name})", ""]
    reliability = plot_reliability(results, out / "calibration.png")
    if reliability:
        lines += ["## Calibration (held-out tasks)", "", ("Nominal against empirical coverage of the intervals, and "
                  "predicted against realised hit@3 and regret@3 (`benchmark/protocols/_calibration.py`; only "
                  "methods that predict intervals take part)."), "",
                  *calibration_rows(results), "", f"![reliability]({reliability.name})", ""]
    if skipped:
        lines += ["## Not run", "", "| benchmark | method | why |", "|---|---|---|"]
        lines += [f"| {bench} | {method} | {why} |" for bench, method, why in skipped]
        lines.append("")
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def summary_table(results: list[dict[str, Any]], methods: list[str] | None = None) -> str:
    """One Markdown table of the headline figure of every (run, method) by benchmark (:func:`headline_measure`:
    mean tau_w; mean regret after 3 tried models, ``regret@B3``, lower is better, for the budget protocol; tau_w at
    the smallest fraction of the history for the learning curve); blank where the method does not apply. Rows follow the runs' order, then ``methods`` (default: their order of appearance)."""
    benches = list(dict.fromkeys(r["benchmark"] for r in results))
    cells: dict[tuple[str, str], dict[str, float | None]] = {}
    for r in results:
        if r["protocol"] == "calibration":  # no ranking figure: the report's calibration section shows it
            continue
        measure = headline_measure(r)
        cells.setdefault((f"{r['run']}: {measure}", r["method"]), {})[r["benchmark"]] = r["mean"].get(measure)
    runs = list(dict.fromkeys(run for run, _ in cells))
    methods = list(dict.fromkeys([*(methods or []), *(r["method"] for r in results)]))
    lines = ["| run: measure | method | " + " | ".join(benches) + " |", "|---|---|" + "---:|" * len(benches)]
    for (run, method), row in sorted(cells.items(), key=lambda c: (runs.index(c[0][0]), methods.index(c[0][1]))):
        lines.append(f"| {run} | {method} | " + " | ".join(_cell(row[b]) if b in row else "" for b in benches)
                     + " |")
    return "\n".join(lines)


def calibration_rows(results: list[dict[str, Any]]) -> list[str]:
    """Markdown table: per benchmark and query, empirical coverage at 80% and 90%, the median 90% width, and
    predicted against realised hit@3 and regret@3."""
    lines = [("| benchmark | method | query | coverage@80 | coverage@90 | width@90 | p_hit@3 | hit@3 | p_regret@3 "
              "| regret@3 |"), "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in results if r["protocol"] == "calibration"):
        for query in CALIBRATION_QUERIES:
            cells = [r["mean"].get(f"{query}:{m}", float("nan")) for m in
                     ("coverage@80", "coverage@90", "width@90", "p_hit@3", "hit@3", "p_regret@3", "regret@3")]
            lines.append(f"| {r['benchmark']} | {r['method']} | {query} | "
                         + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return lines
