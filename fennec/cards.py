"""Model and task cards: what is known of a model or a task besides its transfer history.

Cards are plain frozen dataclasses. Loaders of benchmarks fill them from the released tables; the recommender reads
them to build side features (archi2vec vectors and metadata for models; label names, size and proxy embeddings for
tasks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelCard", "TaskCard"]


@dataclass(frozen=True)
class ModelCard:
    """What is known of a pre-trained model without fine-tuning it.

    Parameters
    ----------
    name : str
        The model id as it appears in transfer records (e.g. ``google/vit-base-patch16-224``).
    family : str, optional
        Architecture family (``vit``, ``resnet``, ``swin``...).
    arch : str, optional
        An archi2vec-resolvable architecture name (``timm:vit_base_patch16_224``), when the architecture is known.
    n_params : float, optional
        Number of parameters.
    pretrain_data : str, optional
        Pre-training dataset (``imagenet``, ``imagenet-21k``...).
    imagenet_top1 : float, optional
        ImageNet top-1 accuracy in percent, where the model maps to a timm result.
    label_names : tuple of str
        The class names of the model's own classification head in label order, where it has named classes
        (a Hugging Face config's ``id2label``); empty when unknown.
    extra : dict
        Anything else the source table gives (free-form, JSON-serialisable).
    """

    name: str
    family: str | None = None
    arch: str | None = None
    n_params: float | None = None
    pretrain_data: str | None = None
    imagenet_top1: float | None = None
    label_names: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_names", tuple(self.label_names))  # a JSON list read back from a file


@dataclass(frozen=True)
class TaskCard:
    """What is known of a target task without fine-tuning on it.

    Parameters
    ----------
    name : str
        The task id as it appears in transfer records (e.g. ``cifar100``).
    n_classes : int, optional
        Number of classes.
    n_train : int, optional
        Training-set size used by the benchmark's fine-tuning protocol.
    label_names : tuple of str
        Class names in label order (numeric strings where the task has no names).
    description : str
        One line saying what is predicted.
    domain : str, optional
        Visual domain (natural, specialized, structured...).
    image_dir : str, optional
        A folder of images ``<class>/<file>`` when the task's images are available locally.
    extra : dict
        Anything else (free-form, JSON-serialisable); ``extra["dataset"]`` names the dataset the task draws from
        when that differs from ``name`` (see :attr:`dataset`).
    """

    name: str
    n_classes: int | None = None
    n_train: int | None = None
    label_names: tuple[str, ...] = ()
    description: str = ""
    domain: str | None = None
    image_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        """The dataset the task draws from (``extra["dataset"]``, else the name): a model card whose
        ``pretrain_data`` names it was already trained on this task's data (:meth:`fennec.space.TransferSpace.next`
        bets on such models early)."""
        return str(self.extra.get("dataset") or self.name)
