"""Evaluation protocols: those of ``specs/evaluation.md`` (cold task, few-shot task, cold model, budgeted
selection), the learning curve (cold-task quality against the size of the history) and calibration (are a method's
intervals and ranking confidence honest on held-out tasks).

Each protocol takes a :class:`~benchmark._types.Benchmark` and a factory of fresh methods, splits the records, fits a
fresh method on the training part only (the held-out records never reach ``fit``), scores, and returns per-task
measures. :func:`run` dispatches by name and adds optional pool subsampling (Agostinelli et al., ECCV 2022).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from fennec.errors import UnknownNameError

from .._types import Benchmark
from ._calibration import CALIBRATION_QUERIES, LEVELS, PREDICTING, calibration
from ._common import MethodFactory, TaskMeasures, average_runs
from ._holdout import BUDGETS, budget, cold_model, cold_task, few_shot
from ._learning_curve import (
    CURVE_MEASURES,
    FRACTIONS,
    curve_key,
    history_subsets,
    learning_curve,
)

__all__ = ["BUDGETS", "CALIBRATION_QUERIES", "CURVE_MEASURES", "FRACTIONS", "LEVELS", "PREDICTING", "PROTOCOLS",
           "budget", "calibration", "cold_model", "cold_task", "curve_key", "few_shot", "history_subsets",
           "learning_curve", "mean_over_tasks", "run", "subsample_pools"]


def mean_over_tasks(results: TaskMeasures) -> dict[str, float]:
    """Mean of each measure over tasks (the report's headline numbers)."""
    if not results:
        return {}
    names = [n for n in next(iter(results.values())) if n != "n_models"]
    return {name: float(np.nanmean([r[name] for r in results.values() if name in r])) for name in names}


PROTOCOLS: dict[str, Callable[..., TaskMeasures]] = {
    "cold-task": cold_task, "few-shot": few_shot, "cold-model": cold_model, "budget": budget,
    "learning-curve": learning_curve, "calibration": calibration,
}


def subsample_pools(bench: Benchmark, n_pools: int, fraction: float = 0.5, seed: int = 0) -> list[Benchmark]:
    """``n_pools`` benchmarks restricted to random candidate pools of ``fraction`` of the models (fixed seeds)."""
    models = np.array(bench.models)
    pools = []
    for i in range(n_pools):
        chosen = set(np.random.default_rng([seed, i]).choice(models, size=max(2, round(fraction * len(models))),
                                                              replace=False))
        records = bench.records.loc[bench.records["model"].isin(chosen)].reset_index(drop=True)
        cards = {m: c for m, c in bench.model_cards.items() if m in chosen}
        pools.append(replace(bench, records=records, model_cards=cards))
    return pools


def run(bench: Benchmark, protocol: str, make_method: MethodFactory, *, pools: int = 0, pool_fraction: float = 0.5,
        **options) -> TaskMeasures:
    """Run ``protocol`` by name; with ``pools > 0``, average per-task measures over that many candidate pools."""
    if protocol not in PROTOCOLS:
        raise UnknownNameError.of("protocol", protocol, PROTOCOLS)
    function = PROTOCOLS[protocol]
    if pools <= 0:
        return function(bench, make_method, **options)
    return average_runs([function(pool, make_method, **options) for pool in subsample_pools(bench, pools,
                                                                                              pool_fraction)])

