"""How well the mini-zoo discriminates: who wins where, and the cold-task figures of the baselines."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError

from .._types import Benchmark

__all__ = ["ProxyNeighbours", "discrimination", "format_discrimination"]


class ProxyNeighbours:
    """Rank models for a cold task by their z-scored results on the ``k`` training tasks whose image-proxy
    embeddings are closest (cosine), weighted by similarity: the simplest use of the image proxy.

    With ``k`` at least the number of training tasks and equal weights this is ``popularity``; the difference
    between the two is what the proxy's notion of "similar task" adds.

    Parameters
    ----------
    k : int, default=3
        Neighbouring tasks used.
    part : str, default="prototypes"
        Part of the default proxy's vector compared (``mean`` or ``prototypes``).
    """

    def __init__(self, k: int = 3, part: str = "prototypes") -> None:
        self.k = k
        self.part = part

    def _vector(self, card: TaskCard) -> np.ndarray:
        embedded = card.extra.get("proxy", {}).get("default")
        if embedded is None:
            raise InputError(f"Task card {card.name!r} carries no default-proxy embedding.",
                             hint="use a benchmark whose cards carry extra['proxy']['default'], e.g. minizoo")
        start, end = embedded["parts"][self.part]
        vector = np.asarray(embedded["vector"][start:end], dtype=np.float64)
        return vector / np.linalg.norm(vector)

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "ProxyNeighbours":
        from ..methods import normalize_records

        z = records.assign(z=normalize_records(records)).pivot(index="task", columns="model", values="z")
        self.z_ = z
        self.vectors_ = np.stack([self._vector(task_cards[t]) for t in z.index])
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        similarity = self.vectors_ @ self._vector(task_card)
        nearest = np.argsort(-similarity)[: self.k]
        weights = np.clip(similarity[nearest], 1e-6, None)
        scores = (self.z_.iloc[nearest].fillna(0.0).to_numpy() * weights[:, None]).sum(0) / weights.sum()
        return dict(zip(self.z_.columns, scores.tolist()))


def discrimination(bench: Benchmark,
                   methods: tuple[str, ...] = ("popularity", "random", "logme", "sfda", "proxy-neighbours")
                   ) -> dict[str, Any]:
    """Best-model counts, the spread of values per task, and cold-task mean measures of ``methods``.

    ``logme`` and ``sfda`` rank by the scores in the task cards (computed by the generator from every zoo model's
    pre-trained features on the task's training images); ``proxy-neighbours`` is :class:`ProxyNeighbours`.

    Returns
    -------
    dict
        ``{"n_models", "n_tasks", "best_counts": {model: n_tasks_won}, "spread": {task: best - worst},
        "cold_task": {method: {measure: mean}}}``.
    """
    from ..methods import create_method
    from ..protocols import cold_task, mean_over_tasks

    table = bench.records.pivot(index="task", columns="model", values="value")
    factories = {"proxy-neighbours": ProxyNeighbours}  # the others by name ("logme", "sfda": published scores)
    cold = {name: mean_over_tasks(cold_task(bench, factories.get(name, lambda n=name: create_method(n))))
            for name in methods}
    return {"n_models": table.shape[1], "n_tasks": table.shape[0],
            "best_counts": table.idxmax(axis=1).value_counts().to_dict(),
            "spread": (table.max(axis=1) - table.min(axis=1)).round(3).to_dict(),
            "cold_task": cold}


def format_discrimination(result: dict[str, Any]) -> str:
    """A plain-text summary of :func:`discrimination` (Markdown table of the cold-task figures)."""
    lines = [f"{result['n_models']} models x {result['n_tasks']} target tasks",
             "best model per task (tasks won): " + ", ".join(f"{m} {n}" for m, n in result["best_counts"].items()),
             "", "| method | tau_w | kendall | rel@1 | regret@3 | hit@3 |", "|---|---|---|---|---|---|"]
    for name, measures in result["cold_task"].items():
        lines.append(f"| {name} | " + " | ".join(f"{measures.get(k, float('nan')):.3f}"
                                                  for k in ("tau_w", "kendall", "rel@1", "regret@3", "hit@3")) + " |")
    return "\n".join(lines)
