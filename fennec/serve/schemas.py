"""The JSON bodies the service accepts (validated by pydantic; a bad field is one 422 message naming it).

Responses are not modelled here on purpose: ``/recommend`` and ``/next`` return what
:meth:`fennec.recommend.Recommendation.to_json` and :meth:`fennec.recommend.NextPicks.to_json` give, so a field the
library adds reaches clients (and the web page, which shows every field) without a change to the service.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, Json, model_validator

from fennec.cards import TaskCard

__all__ = ["NextIn", "RecommendIn", "RecordsIn", "TaskCardIn", "TrainIn", "UploadForm"]

_K = Field(10, ge=1, le=1000, description="How many models.")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskCardIn(_Strict):
    """A task known by its side features only (no images): label names, size, description."""

    name: str = Field("query", min_length=1, max_length=200)
    label_names: list[str] = Field(default_factory=list, max_length=20000)
    n_classes: int | None = Field(None, ge=1)
    n_train: int | None = Field(None, ge=1)
    description: str = Field("", max_length=5000)
    domain: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="e.g. {'dataset': 'food101'}, or stored proxy "
                                                                    "embeddings {'proxy': {name: features}}")

    def to_card(self) -> TaskCard:
        n_classes = self.n_classes or (len(self.label_names) or None)
        return TaskCard(self.name, n_classes=n_classes, n_train=self.n_train, label_names=tuple(self.label_names),
                        description=self.description, domain=self.domain, extra=dict(self.extra))


class _TaskQuery(_Strict):
    task: str | TaskCardIn | None = Field(None, description="A stored task's name, or a task card.")
    path: str | None = Field(None, description="A task folder or path,label CSV on the server (under a --task-root).")
    version: str | None = Field(None, description="A workspace version (default: the active one).")

    @model_validator(mode="after")
    def _one_task(self) -> _TaskQuery:
        if (self.task is None) == (self.path is None):
            raise ValueError("give exactly one of 'task' (a stored task's name or a card) and 'path'")
        return self


class RecommendIn(_TaskQuery):
    """``POST /recommend`` with a stored task, a task card or a server-side folder."""

    k: int = _K
    explain: bool = Field(False, description="Add the nearest historical tasks and how each model did there.")
    plot: bool = Field(False, description="Add the ranking plot as a PNG data URL ('plot').")
    fallback: str = Field("auto", description="Cold-start metric for image tasks: auto, sfda, logme, ... or none.")


class NextIn(_TaskQuery):
    """``POST /next``: the task and the results tried on it so far."""

    tried: dict[str, float] = Field(default_factory=dict, description="model -> fine-tuned value")
    k: int = Field(3, ge=1, le=1000, description="How many picks.")
    candidates: list[str] | None = Field(None, description="Choose among these models only.")
    dataset: str | None = Field(None, description="The dataset the task draws from, as model cards name it.")


class RecordsIn(_Strict):
    """``POST /history`` as JSON: records in the long format (``model, task, value`` + optional columns)."""

    records: list[dict[str, Any]] = Field(min_length=1, max_length=1_000_000)
    source: str | None = Field(None, description="Provenance of records that carry none.")


class TrainIn(_Strict):
    """``POST /train``."""

    incremental: bool = Field(False, description="Warm-start from the active version with what is new.")


class UploadForm(_Strict):
    """The non-file fields of a multipart ``POST /recommend`` or ``POST /next`` (images in 'files' parts)."""

    name: str | None = Field(None, max_length=200)
    description: str = Field("", max_length=5000)
    k: int | None = Field(None, ge=1, le=1000)
    explain: bool = False
    plot: bool = False
    fallback: str = "auto"
    version: str | None = None
    tried: Json[dict[str, float]] | None = Field(None, description="JSON object model -> value (POST /next)")
    candidates: str | None = Field(None, description="comma-separated model ids (POST /next)")
    dataset: str | None = None

    def candidate_list(self) -> list[str] | None:
        listed = [c.strip() for c in (self.candidates or "").split(",") if c.strip()]
        return listed or None
