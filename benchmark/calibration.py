"""The calibration protocol: are a method's intervals and ranking confidence honest on tasks it never saw?

Leave-one-task-out as the cold-task protocol: the method is fitted without task ``t``, then asked for ``t`` cold and
with ``k`` of its results revealed (seeded draws). Per held-out task and query kind (``cold``, ``k3`` for k=3):

- ``coverage@L``: the share of the task's (unrevealed) models whose true value lies in the nominal ``L``% interval,
  for ``L`` in :data:`LEVELS`; ``width@90``: the median width of the 90% intervals, in the task's units;
- ``p_hit@n`` and ``hit@n`` (n = 1, 3): the predicted chance that the top ``n`` holds the best model, and whether
  it did; ``p_regret@3`` and ``regret@3``: predicted and realised best value minus the best of the top 3.

The mean over tasks compares nominal with empirical coverage and predicted with realised hit rates; the report
draws them as a reliability plot (:func:`plot_reliability`). Only methods that predict intervals take part
(:data:`PREDICTING`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fennec.errors import InputError

from ._types import Benchmark

__all__ = ["LEVELS", "PREDICTING", "calibration", "calibration_rows", "plot_reliability"]

#: Nominal coverages measured (the reliability plot's x axis).
LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
#: Methods whose ``predict`` gives values, intervals and ranking confidence.
PREDICTING = frozenset({"fennec", "fennec-noimage"})
_QUERIES = {"cold": 0, "k3": 3}


def _measures(prediction: Any, truth: pd.Series) -> dict[str, float]:
    """One query's measures against the true values ``truth`` (model -> value) of its unrevealed models."""
    position = {m: i for i, m in enumerate(prediction.model_ids)}
    truth = truth[[m for m in truth.index if m in position]]
    at = np.array([position[m] for m in truth.index])
    y = truth.to_numpy(np.float64)
    out = {}
    for level in LEVELS:
        low, high = (a[at] for a in prediction.intervals[level])
        out[f"coverage@{round(100 * level)}"] = float(np.mean((low <= y) & (y <= high)))
    low, high = (a[at] for a in prediction.intervals[0.9])
    out["width@90"] = float(np.median(high - low))
    order = np.argsort(-prediction.scores[at], kind="stable")
    for n in (1, 3):
        out[f"p_hit@{n}"] = float(prediction.p_best_in_top.get(n, np.nan))
        out[f"hit@{n}"] = float(y[order[:n]].max() >= y.max())
    out["p_regret@3"] = float(prediction.expected_regret.get(3, np.nan))
    out["regret@3"] = float(y.max() - y[order[:3]].max())
    return out


def calibration(bench: Benchmark, make_method: Callable[[], Any], n_draws: int = 3, seed: int = 0,
                tasks: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
    """Per held-out task, the measures of the module docstring for a cold query and for ``k=3`` revealed results
    (``n_draws`` seeded draws, averaged), prefixed ``cold:`` and ``k3:``."""
    results: dict[str, dict[str, float]] = {}
    for task in list(tasks or bench.targets):
        train = bench.records.loc[bench.records["task"] != task]
        method = make_method().fit(train, bench.model_cards, bench.task_cards)
        if not hasattr(method, "predict"):
            raise InputError(f"Method {type(method).__name__} gives no intervals, so it cannot be calibrated.",
                             hint=f"use one of: {', '.join(sorted(PREDICTING))}")
        held = bench.records.loc[bench.records["task"] == task]
        truth = held.set_index("model")["value"]
        if len(held) < 5:
            continue
        row: dict[str, float] = {}
        for name, k in _QUERIES.items():
            draws = [held.iloc[:0]] if k == 0 else _draws(held, k, n_draws, [seed, k, *task.encode()])
            measured = [_measures(method.predict(bench.task_cards[task], d), truth.drop(d["model"])) for d in draws]
            row.update({f"{name}:{m}": float(np.mean([x[m] for x in measured])) for m in measured[0]})
        results[task] = row
    return results


def _draws(held: pd.DataFrame, k: int, n_draws: int, seed: list[int]) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return [held.iloc[np.sort(rng.choice(len(held), k, replace=False))] for _ in range(n_draws)]


def calibration_rows(results: list[dict[str, Any]]) -> list[str]:
    """Markdown table: per benchmark and query, empirical coverage at 80% and 90%, the median 90% width, and
    predicted against realised hit@3 and regret@3."""
    lines = ["| benchmark | method | query | coverage@80 | coverage@90 | width@90 | p_hit@3 | hit@3 | p_regret@3 "
             "| regret@3 |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in results if r["protocol"] == "calibration"):
        for query in _QUERIES:
            cells = [r["mean"].get(f"{query}:{m}", float("nan")) for m in
                     ("coverage@80", "coverage@90", "width@90", "p_hit@3", "hit@3", "p_regret@3", "regret@3")]
            lines.append(f"| {r['benchmark']} | {r['method']} | {query} | "
                         + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return lines


def plot_reliability(results: list[dict[str, Any]], path: Path) -> Path | None:
    """Nominal against empirical coverage (left) and predicted against realised hit@1 and hit@3 (right), one
    line or marker per benchmark and query; the diagonal is perfect calibration."""
    rows = [r for r in results if r["protocol"] == "calibration"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for r in rows:
        for query, style in (("cold", "-o"), ("k3", "--s")):
            empirical = [r["mean"].get(f"{query}:coverage@{round(100 * lv)}", np.nan) for lv in LEVELS]
            left.plot(LEVELS, empirical, style, label=f"{r['benchmark']} {query}", ms=4)
            for n, marker in ((1, "^"), (3, "o")):
                right.scatter(r["mean"].get(f"{query}:p_hit@{n}"), r["mean"].get(f"{query}:hit@{n}"), marker=marker,
                              label=f"{r['benchmark']} {query} hit@{n}", s=30)
    for ax, title in ((left, "interval coverage"), (right, "top-n holds the best model")):
        ax.plot([0, 1], [0, 1], color="black", lw=0.6)
        ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
        ax.legend(fontsize=6, ncol=2)
    left.set(xlabel="nominal", ylabel="empirical (held-out tasks)")
    right.set(xlabel="predicted", ylabel="realised (held-out tasks)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
