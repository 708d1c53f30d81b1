"""Which models of the space were already trained on a task's own dataset, and what :meth:`TransferSpace.next`
bets on them.

A model card may name the dataset the model's weights were trained or fine-tuned on (``pretrain_data``: a hub
checkpoint ``vit-base-food101`` says ``food101``), and a task card the dataset the task draws from. A match is the
strongest single hint a card gives, and an unreliable one. In the released benchmarks the matched models are often
the best on their dataset (TransferGraph: the two Food-101 checkpoints are the only two of 112 models that learn
Food-101; five EuroSAT checkpoints take ranks 1 to 5 on EuroSAT) and as often among the worst (most of the other
EuroSAT checkpoints; on SHiFT's 800-image EuroSAT, 17 of the 19 rank in the bottom quarter). Their mean effect over
the model's usual standing changes sign between benchmarks, so the space leaves its scores alone; what is consistent
is the spread, so :meth:`TransferSpace.next` is optimistic about matched models: it adds the mean plus
``source_optimism`` standard deviations of how matched pairs did in the history, and a matched model is tried early.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from fennec.space._records import Records

__all__ = ["Sources", "source_key", "source_keys", "source_bonus"]

#: Standard deviation assumed for the matched pairs' residuals when the history holds fewer than two.
_UNIT_SPREAD = 1.0


def source_key(name: object) -> str:
    """A dataset name reduced to lower-case letters and digits (``"Stanford_Cars"`` -> ``"stanfordcars"``);
    ``""`` for none."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def source_keys(ids: Iterable[str], sources: Mapping[str, object] | None) -> np.ndarray:
    """Object array of the keys of ``sources[id]`` for each id (``""`` where none is given)."""
    sources = sources or {}
    return np.array([source_key(sources.get(i)) for i in ids], dtype=object)


def source_bonus(residuals: np.ndarray, n_sd: float) -> float:
    """Optimism for a matched model: mean + ``n_sd`` standard deviations of the matched records' residuals
    (normalised value minus the model's bias); 0 when the history holds no match."""
    residuals = np.asarray(residuals, np.float64)
    if residuals.size == 0:
        return 0.0
    spread = residuals.std(ddof=1) if residuals.size > 1 else _UNIT_SPREAD
    return float(residuals.mean() + n_sd * spread)


@dataclass
class Sources:
    """The dataset keys of the space's models and tasks (``""``: none known), row for row."""

    model: np.ndarray
    task: np.ndarray

    @classmethod
    def of(cls, model_ids: list[str], task_ids: list[str], model_sources: Mapping[str, str] | None,
           task_sources: Mapping[str, str] | None) -> "Sources":
        """Keys from the given mappings; a task without one draws from the dataset of its own name."""
        return cls(source_keys(model_ids, model_sources),
                   source_keys(task_ids, {**dict(zip(task_ids, task_ids)), **(task_sources or {})}))

    def grown(self, model_ids: list[str], task_ids: list[str], model_sources: Mapping[str, str] | None,
              task_sources: Mapping[str, str] | None, new_tasks: list[str] = ()) -> "Sources":
        """The keys grown to the (longer) id lists, new tasks named after themselves, then the given rows set."""
        return Sources(_with_sources(self.model, model_ids, model_sources),
                       _with_sources(self.task, task_ids, {**dict(zip(new_tasks, new_tasks)), **(task_sources or {})}))

    def trained_on(self, dataset: str | None) -> np.ndarray:
        """Boolean mask over the models: trained on ``dataset`` (none for an unnamed dataset)."""
        key = source_key(dataset)
        return (self.model == key) if key else np.zeros(len(self.model), bool)

    def bonus(self, records: Records, z: np.ndarray, model_bias: np.ndarray, n_sd: float) -> float:
        """:func:`source_bonus` over the records whose model was trained on the task's own dataset."""
        model_source = self.model[records.model]
        matched = (model_source != "") & (model_source == self.task[records.task])
        return source_bonus(z[matched] - model_bias[records.model[matched]], n_sd)


def _with_sources(keys: np.ndarray, ids: list[str], sources: Mapping[str, str] | None) -> np.ndarray:
    """``keys`` grown to ``ids`` (new rows without a source), then the rows named in ``sources`` set."""
    out = np.concatenate([keys, np.full(len(ids) - len(keys), "", dtype=object)])
    position = {name: i for i, name in enumerate(ids)}
    for name, source in (sources or {}).items():
        if name in position:
            out[position[name]] = source_key(source)
    return out
