"""The containers that flow through the harness: a benchmark (records + cards) and the method interface."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import pandas as pd

from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError

__all__ = ["RECORD_COLUMNS", "Benchmark", "Method"]

#: The long format every loader produces: one fine-tuning result per row, higher value = better.
RECORD_COLUMNS = ("model", "task", "value")


@dataclass
class Benchmark:
    """A released benchmark in long form, with what is known of its models and tasks.

    Parameters
    ----------
    name : str
        Short name (``sfda11``, ``shift``...), or the file path for a user table.
    records : pandas.DataFrame
        One row per (model, task) with columns ``model, task, value`` (one value per pair: loaders resolve duplicate
        runs by the benchmark's own rule) plus optional columns (``metric``, ``source``...).
    model_cards : dict of str to ModelCard
        A card for every model of ``records`` (possibly with only its name).
    task_cards : dict of str to TaskCard
        A card for every task of ``records``. Metric scores that a table publishes for a task (computed without
        fine-tuning: LogME, H-score, 1-NN accuracy) live in ``task_cards[t].extra["scores"][metric][model]``; a
        task-to-task similarity table (TransferGraph's ViT domain similarity) in
        ``task_cards[t].extra["domain_similarity"][other_task]``.
    citation : str
        Where the numbers come from.
    """

    name: str
    records: pd.DataFrame
    model_cards: dict[str, ModelCard] = field(default_factory=dict)
    task_cards: dict[str, TaskCard] = field(default_factory=dict)
    citation: str = ""

    @property
    def models(self) -> list[str]:
        return sorted(self.records["model"].unique())

    @property
    def tasks(self) -> list[str]:
        return sorted(self.records["task"].unique())

    @property
    def targets(self) -> list[str]:
        """The tasks protocols hold out and score: all tasks, except those whose card says ``extra["target"]`` is
        False (``transfergraph8`` keeps all 13 TransferGraph tasks as history and scores its 8 reported targets)."""
        return [t for t in self.tasks if t not in self.task_cards or self.task_cards[t].extra.get("target", True)]

    def with_targets(self, targets: Sequence[str]) -> Benchmark:
        """A copy whose protocols hold out and score only ``targets``; the other tasks stay history (as
        ``transfergraph8`` keeps TransferGraph's 13 tasks and scores 8).

        Raises
        ------
        InputError
            A name of ``targets`` is not a task of the records.
        """
        unknown = sorted(set(targets) - set(self.tasks))
        if unknown or not targets:
            raise InputError(f"Targets of benchmark {self.name!r} must be tasks of its records. Got "
                             f"{', '.join(map(repr, unknown)) or 'none'} instead.",
                             hint=f"choose among: {', '.join(self.tasks[:20])}{' ...' if len(self.tasks) > 20 else ''}")
        wanted, cards = set(targets), dict(self.task_cards)
        for task in self.tasks:
            card = cards.get(task, TaskCard(name=task))
            cards[task] = replace(card, extra={**card.extra, "target": task in wanted})
        return replace(self, task_cards=cards)

    def published_metrics(self) -> list[str]:
        """Names of the metric scores that the task cards carry (e.g. ``["hscore", "logme"]``)."""
        names: set[str] = set()
        for card in self.task_cards.values():
            names.update(card.extra.get("scores", {}))
        return sorted(names)


@runtime_checkable
class Method(Protocol):
    """A ranking method as the harness sees it.

    ``fit`` receives only the records a protocol allows (never a held-out record); ``score`` ranks every model it
    knows for one task, given what may be known of that task without fine-tuning (its card) and the records a
    protocol reveals (empty for a cold task).
    """

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> Method: ...

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]: ...

    # Optional: ``next(task_card, revealed, candidates) -> str``, the model of ``candidates`` to fine-tune next
    # (used by the budget protocol; without it the best untried model of ``score`` is taken).


