"""The fixed pre-training recipe and fine-tuning protocol of the mini-zoo, and feature extraction for the metrics.

Both train every parameter with AdamW and a cosine learning-rate schedule, without augmentation (the tasks'
samples are already randomised renderings). Runs are deterministic on one CPU thread: the initial head, the batch
order and everything else random come from seeds derived from the (model, task, lr) triple.

Pre-trained weights are rounded to float16 once, saved, and fine-tuning always starts from those saved weights, so
that the committed safetensors reproduce the committed records exactly.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ._tasks import BuiltTask
from ._zoo import MEAN, STD, create, split_model_id

__all__ = ["Recipe", "Protocol", "RECIPE", "PROTOCOL", "pretrain", "finetune", "features", "load_pretrained",
           "to_half", "from_half", "run_seed"]


@dataclass(frozen=True)
class Recipe:
    """Pre-training on a source task (the same for every architecture)."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Protocol:
    """Fine-tuning on a target task: one run per learning rate of ``lrs``; the run with the best validation accuracy
    (ties: the smaller learning rate) gives the record's test accuracy."""

    epochs: int = 4
    batch_size: int = 32
    lrs: tuple[float, ...] = (2e-3, 5e-3)
    weight_decay: float = 0.05
    seed: int = 0
    name: str = "minizoo-ft-v1"

    def to_dict(self) -> dict:
        return {**asdict(self), "lrs": list(self.lrs)}


RECIPE = Recipe()
PROTOCOL = Protocol()


def run_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (stable across processes, unlike ``hash``)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


def _inputs(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    return x.sub_(torch.tensor(MEAN).view(1, 3, 1, 1)).div_(torch.tensor(STD).view(1, 3, 1, 1))


def _fit(model: nn.Module, images: np.ndarray, labels: np.ndarray, *, epochs: int, batch_size: int, lr: float,
         weight_decay: float, seed: int) -> None:
    """Train all parameters: AdamW, cosine decay per step, batches in a seeded order, the last partial batch kept."""
    x, y = _inputs(images), torch.from_numpy(labels)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / (epochs * steps_per_epoch))))
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        permutation = torch.randperm(len(x), generator=order)
        for start in range(0, len(x), batch_size):
            batch = permutation[start:start + batch_size]
            if len(batch) < 2:  # batch norm cannot train on a single image
                continue
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()


@torch.no_grad()
def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    model.eval()
    x = _inputs(images)
    predicted = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    return float((predicted.numpy() == labels).mean())


@torch.no_grad()
def features(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Penultimate features (the classifier's input) of ``model`` on ``images``, float32 of shape (n, d)."""
    model.eval()
    x = _inputs(images)
    chunks = [model.forward_head(model.forward_features(x[i:i + batch_size]), pre_logits=True)
              for i in range(0, len(x), batch_size)]
    return torch.cat(chunks).float().numpy()


def to_half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors as contiguous float16 (integer buffers such as batch-norm counters unchanged)."""
    return {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}


def from_half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def pretrain(model_id: str, source: BuiltTask, recipe: Recipe = RECIPE) -> tuple[dict[str, torch.Tensor], float]:
    """Pre-train zoo model ``model_id`` on its source task.

    Returns
    -------
    state : dict of str to Tensor
        The weights, rounded to float16 (what is saved and what fine-tuning starts from).
    val_accuracy : float
        Accuracy of the rounded weights on the source's validation split.
    """
    torch.manual_seed(run_seed(recipe.seed, model_id))
    model = create(model_id, num_classes=len(source.labels))
    _fit(model, *source.split("train"), epochs=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr,
         weight_decay=recipe.weight_decay, seed=run_seed(recipe.seed, model_id, "order"))
    state = to_half(model.state_dict())
    model.load_state_dict(from_half(state))
    return state, _accuracy(model, *source.split("val"))


def load_pretrained(model_id: str, state: dict[str, torch.Tensor]) -> nn.Module:
    """Zoo model ``model_id`` with its saved (float16) pre-trained weights, in float32, in eval mode."""
    arch, _ = split_model_id(model_id)
    model = create(model_id, num_classes=state[f"{arch.head}.weight"].shape[0])
    model.load_state_dict(from_half(state))
    return model.eval()


def finetune(model_id: str, state: dict[str, torch.Tensor], target: BuiltTask,
             protocol: Protocol = PROTOCOL) -> list[dict]:
    """Fine-tune the pre-trained ``state`` on ``target`` once per learning rate of the protocol.

    Returns
    -------
    list of dict
        One row per learning rate: ``lr``, ``val_accuracy``, ``test_accuracy``.
    """
    rows = []
    for lr in protocol.lrs:
        model = load_pretrained(model_id, state)
        torch.manual_seed(run_seed(protocol.seed, model_id, target.spec.name, lr))
        model.reset_classifier(len(target.labels))
        _fit(model, *target.split("train"), epochs=protocol.epochs, batch_size=protocol.batch_size, lr=lr,
             weight_decay=protocol.weight_decay, seed=run_seed(protocol.seed, model_id, target.spec.name, lr, "order"))
        rows.append({"lr": lr, "val_accuracy": _accuracy(model, *target.split("val")),
                     "test_accuracy": _accuracy(model, *target.split("test"))})
    return rows
