"""The protocols of ``specs/evaluation.md`` that hold out one task or a set of models: cold task, few-shot task,
cold model, budgeted selection.

Each splits the records, fits a fresh method on the training part only (the held-out records never reach ``fit``),
scores, and returns per-task measures.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from fennec.errors import InputError

from .._types import Benchmark, Method
from ._common import (
    EMPTY,
    MethodFactory,
    TaskMeasures,
    average_runs,
    measure,
    progress,
    revealed_draws,
    truth_of,
)

__all__ = ["BUDGETS", "budget", "cold_model", "cold_task", "few_shot"]

BUDGETS = (1, 3, 5)


def cold_task(bench: Benchmark, make_method: MethodFactory, tasks: Iterable[str] | None = None) -> TaskMeasures:
    """Leave-one-task-out: for each task t, fit on every record not of t and score all models for t."""
    results: TaskMeasures = {}
    for task in progress(list(tasks or bench.targets), "cold-task"):
        train = bench.records.loc[bench.records["task"] != task]
        method = make_method().fit(train, bench.model_cards, bench.task_cards)
        measures = measure(method.score(bench.task_cards[task], EMPTY), truth_of(bench.records, task))
        if measures is not None:
            results[task] = measures
    return results


def few_shot(bench: Benchmark, make_method: MethodFactory, k: int, n_draws: int = 10, seed: int = 0,
             tasks: Iterable[str] | None = None) -> TaskMeasures:
    """Cold task plus ``k`` revealed records of t (``n_draws`` seeded draws); measures over the unrevealed models."""
    if k < 1:
        raise InputError(f"k of few-shot must be >= 1. Got {k} instead.")
    results: TaskMeasures = {}
    for task in progress(list(tasks or bench.targets), f"few-shot k={k}"):
        train = bench.records.loc[bench.records["task"] != task]
        method = make_method().fit(train, bench.model_cards, bench.task_cards)
        held = bench.records.loc[bench.records["task"] == task]
        if len(held) < k + 2:
            continue
        draws = []
        for revealed in revealed_draws(held, k, n_draws, [seed, k, *task.encode()]):
            hidden = held.drop(index=revealed.index).set_index("model")["value"]
            measures = measure(method.score(bench.task_cards[task], revealed), hidden)
            if measures is not None:
                draws.append(measures)
        if draws:
            results[task] = {name: float(np.mean([d[name] for d in draws])) for name in draws[0]}
    return results


def cold_model(bench: Benchmark, make_method: MethodFactory, fraction: float = 0.2,
               seeds: Iterable[int] = range(5)) -> TaskMeasures:
    """A random ``fraction`` of models lose all their records (per seed); per task, measures over those models."""
    if not 0 < fraction < 1:
        raise InputError(f"fraction of cold-model must be in (0, 1). Got {fraction} instead.")
    per_seed: list[TaskMeasures] = []
    models = np.array(bench.models)
    for seed in progress(list(seeds), "cold-model"):
        rng = np.random.default_rng(seed)
        held_models = set(rng.choice(models, size=max(2, round(fraction * len(models))), replace=False))
        is_held = bench.records["model"].isin(held_models)
        method = make_method().fit(bench.records.loc[~is_held], bench.model_cards, bench.task_cards)
        results: TaskMeasures = {}
        for task in bench.targets:
            truth = truth_of(bench.records.loc[is_held], task)
            measures = measure(method.score(bench.task_cards[task], EMPTY), truth)
            if measures is not None:
                results[task] = measures
        per_seed.append(results)
    return average_runs(per_seed)


def budget(bench: Benchmark, make_method: MethodFactory, budgets: Iterable[int] = BUDGETS,
           tasks: Iterable[str] | None = None) -> TaskMeasures:
    """Budgeted selection on a cold task: propose a model, see its true value, update, until B models were tried.

    A method with ``next(task_card, tried, candidates)`` (``tried`` the revealed records, ``candidates`` the models
    that have a result on the task) chooses adaptively; any other method is
    re-scored with the tried records revealed and its best untried model is taken (for a method that ignores revealed
    records this is its own top-B). Measures per B: ``regret@B{B}`` (best truth minus best tried) and ``rel@B{B}``.
    """
    budgets = sorted(set(budgets))
    results: TaskMeasures = {}
    for task in progress(list(tasks or bench.targets), "budget"):
        train = bench.records.loc[bench.records["task"] != task]
        method = make_method().fit(train, bench.model_cards, bench.task_cards)
        held = bench.records.loc[bench.records["task"] == task].reset_index(drop=True)
        truth = held.set_index("model")["value"]
        tried = _select_sequentially(method, bench.task_cards[task], held, budgets[-1])
        best_so_far = np.maximum.accumulate(truth.loc[tried].to_numpy())
        results[task] = {}
        for b in budgets:
            best_tried = best_so_far[min(b, len(tried)) - 1]
            results[task][f"regret@B{b}"] = float(truth.max() - best_tried)
            results[task][f"rel@B{b}"] = float(best_tried / truth.max())
    return results


def _select_sequentially(method: Method, card, held: pd.DataFrame, n: int) -> list[str]:
    candidates = list(held["model"])
    tie_break = np.random.default_rng([7, *card.name.encode()]).random(len(candidates)) * 1e-12
    tried: list[str] = []
    for _ in range(min(n, len(candidates))):
        revealed = held.loc[held["model"].isin(tried)]
        if hasattr(method, "next"):
            choice = method.next(card, revealed, [m for m in candidates if m not in tried])
            if choice not in candidates or choice in tried:
                raise ValueError(f"{type(method).__name__}.next proposed {choice!r}, not an untried candidate")
        else:
            scores = method.score(card, revealed)
            ranked = np.array([scores.get(m, -np.inf) for m in candidates], dtype=np.float64)
            ranked = np.where(np.isfinite(ranked), ranked, -1e300) + tie_break
            ranked[[candidates.index(m) for m in tried]] = -np.inf
            choice = candidates[int(np.argmax(ranked))]
        tried.append(choice)
    return tried
