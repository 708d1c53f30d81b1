"""Learning curve: how a method's cold-task quality grows with the number of tasks in its history.

For each target task t (held out as in the cold-task protocol) and each fraction f, the method is fitted on the
records of ``max(1, round(f * n))`` of the n other tasks and scores every model for t with nothing revealed. The
subsets come from one permutation of the other tasks per (seed, t): they are nested (the tasks of f = 0.25 are among
those of f = 0.5) and the same for every method, so two methods' curves differ by the methods alone. A fraction that
keeps every other task is fitted once (each seed would draw the same set), and its figures are the cold task's.

Measures, per fraction f (the key ends in ``@f`` and f, e.g. ``tau_w@f0.25``): ``tau_w`` and ``rel@1`` averaged over
the seeds, and ``n_history``, the number of history tasks fitted on.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fennec.errors import InputError

from .._types import Benchmark
from ._common import EMPTY, MethodFactory, TaskMeasures, measure, progress, truth_of

__all__ = ["CURVE_MEASURES", "FRACTIONS", "curve_key", "history_subsets", "learning_curve"]

#: Default fractions of the history tasks.
FRACTIONS = (0.25, 0.5, 1.0)
#: The measures a learning curve keeps per fraction.
CURVE_MEASURES = ("tau_w", "rel@1")


def curve_key(measure_name: str, fraction: float) -> str:
    """The result key of ``measure_name`` at ``fraction`` (``tau_w@f0.25``, ``n_history@f1``)."""
    return f"{measure_name}@f{fraction:g}"


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    fractions = sorted({float(f) for f in fractions})
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise InputError(f"fractions of learning-curve must be in (0, 1]. Got {fractions or 'none'} instead.",
                         hint="e.g. --fractions 0.25,0.5,1")
    return fractions


def history_subsets(others: Sequence[str], fractions: Sequence[float], seed: int, task: str) -> dict[float, list[str]]:
    """The history tasks kept at each fraction for held-out ``task`` and ``seed``: the first
    ``max(1, round(f * n))`` of one seeded permutation of ``others`` (so nested), in sorted order."""
    order = np.random.default_rng([seed, *task.encode()]).permutation(len(others))
    return {f: sorted(others[i] for i in order[:max(1, round(f * len(others)))]) for f in _check_fractions(fractions)}


def learning_curve(bench: Benchmark, make_method: MethodFactory, fractions: Sequence[float] = FRACTIONS,
                   seeds: Iterable[int] = range(3), tasks: Iterable[str] | None = None) -> TaskMeasures:
    """Cold-task measures of each target task against the number of history tasks (see the module docstring).

    Parameters
    ----------
    bench : Benchmark
    make_method : callable
        A fresh, unfitted method per call.
    fractions : sequence of float, default=FRACTIONS
        Fractions of the other tasks kept as history, each in (0, 1].
    seeds : iterable of int, default=range(3)
        Seeds of the subsets (one permutation of the other tasks per seed and target task).
    tasks : iterable of str, optional
        The target tasks (default: ``bench.targets``).

    Returns
    -------
    dict
        ``{task: {"tau_w@f0.25": ..., "rel@1@f0.25": ..., "n_history@f0.25": ..., ...}}``.
    """
    fractions, seeds = _check_fractions(fractions), list(seeds)
    if not seeds:
        raise InputError("seeds of learning-curve must hold at least one seed. Got none instead.")
    targets = list(tasks or bench.targets)
    results: TaskMeasures = {}
    for task in progress(targets, "learning-curve"):
        others = [t for t in bench.tasks if t != task]
        truth = truth_of(bench.records, task)
        runs: dict[float, list[dict[str, float]]] = {f: [] for f in fractions}
        fitted: dict[tuple[str, ...], dict[str, float] | None] = {}  # one fit per distinct history
        for seed in seeds:
            for fraction, history in history_subsets(others, fractions, seed, task).items():
                key = tuple(history)
                if key not in fitted:
                    train = bench.records.loc[bench.records["task"].isin(history)]
                    method = make_method().fit(train, bench.model_cards, bench.task_cards)
                    fitted[key] = measure(method.score(bench.task_cards[task], EMPTY), truth)
                if fitted[key] is not None:
                    runs[fraction].append(fitted[key] | {"n_history": float(len(history))})
        row = {curve_key(name, f): float(np.mean([r[name] for r in measured]))
               for f, measured in runs.items() if measured for name in ("n_history", *CURVE_MEASURES)}
        if row:
            results[task] = row
    return results
