"""How well the mini-zoo discriminates: who wins where, and the cold-task figures of the baselines."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError

from .._types import Benchmark

__all__ = ["ProxyNeighbours", "discrimination", "format_discrimination", "source_room"]


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


def source_room(bench: Benchmark) -> dict[str, Any]:
    """How much a term for what a model was trained on could add, and how much of it the image proxy sees.

    For each target: popularity over the other tasks plus the target's *true* mean effect of each source (its
    z-scored values minus popularity, averaged over a source's models; an oracle no method has), and the Spearman
    correlation of that effect with the pairwise ``image`` view's similarity of each source to the target (the
    featurizer fitted on the other tasks).

    Returns
    -------
    dict
        ``{"popularity": mean tau_w, "oracle": mean tau_w, "correlation": {task: rho}}``.
    """
    from scipy.stats import spearmanr

    from fennec.pair_features import PairFeaturizer

    from ..measures import evaluate_task
    from ..methods import create_method, normalize_records
    from ..protocols import mean_over_tasks

    source = pd.Series({m: c.extra["source"] for m, c in bench.model_cards.items()})
    plain, oracle, correlation = {}, {}, {}
    for task in bench.targets:
        train = bench.records.loc[bench.records["task"] != task]
        prior = pd.Series(create_method("popularity").fit(train, bench.model_cards, bench.task_cards)
                          .score(bench.task_cards[task], train.iloc[:0]))
        held = bench.records.loc[bench.records["task"] == task]
        z = pd.Series(normalize_records(held).to_numpy(), index=held["model"].to_numpy())
        effect = (z - prior[z.index]).groupby(source[z.index]).mean()
        truth = held["value"].to_numpy(np.float64)
        plain[task] = evaluate_task(prior[z.index].to_numpy(), truth)
        oracle[task] = evaluate_task((prior[z.index] + source[z.index].map(effect)).to_numpy(), truth)
        pairs = PairFeaturizer(("image",)).fit(bench.model_cards, {t: bench.task_cards[t] for t in set(train["task"])})
        x = pairs.transform(bench.task_cards[task])["image"]
        similarity = pd.Series({m: float(v @ x) for m, v in pairs.model_pairs_["image"].items()})
        by_source = similarity.groupby(source[similarity.index]).mean()
        correlation[task] = float(spearmanr(by_source[effect.index], effect).statistic)
    return {"popularity": mean_over_tasks(plain)["tau_w"], "oracle": mean_over_tasks(oracle)["tau_w"],
            "correlation": correlation}


def format_discrimination(result: dict[str, Any]) -> str:
    """A plain-text summary of :func:`discrimination` (Markdown table of the cold-task figures)."""
    lines = [f"{result['n_models']} models x {result['n_tasks']} target tasks",
             "best model per task (tasks won): " + ", ".join(f"{m} {n}" for m, n in result["best_counts"].items()),
             "", "| method | tau_w | kendall | rel@1 | regret@3 | hit@3 |", "|---|---|---|---|---|---|"]
    for name, measures in result["cold_task"].items():
        lines.append(f"| {name} | " + " | ".join(f"{measures.get(k, float('nan')):.3f}"
                                                  for k in ("tau_w", "kendall", "rel@1", "regret@3", "hit@3")) + " |")
    room = result.get("source_room")
    if room:
        rho = room["correlation"]
        lines += ["", f"popularity + each target's true source effect (oracle): tau_w {room['oracle']:.3f} "
                  f"(popularity {room['popularity']:.3f})",
                  f"Spearman of the image view's source similarity with the true source effect: mean "
                  f"{np.mean(list(rho.values())):.2f}, " + ", ".join(f"{t} {r:.2f}" for t, r in sorted(rho.items()))]
    return "\n".join(lines)
