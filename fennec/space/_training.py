"""Training of the space's network: Adam over listwise mini-batches of records, for a fit or a warm-start update."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fennec.errors import ModelFitError
from fennec.space._net import SpaceNet, space_loss

__all__ = ["TrainData", "train", "epoch_lists"]


@dataclass
class TrainData:
    """What one training run sees: record rows (model, task, normalised target), the fixed model biases and the
    model side features; ``movable`` (boolean masks over model and task rows) restricts a warm-start update to the
    rows its new records touch, ``unseen`` counts, per model and task row, its old records not in this run."""

    models: np.ndarray
    tasks: np.ndarray
    target: np.ndarray
    bias: np.ndarray
    model_features: np.ndarray
    model_has: np.ndarray
    movable: tuple[np.ndarray, np.ndarray] | None = None
    unseen: tuple[np.ndarray, np.ndarray] | None = None


def _anchor(net: SpaceNet, data: TrainData) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per free table: the movable rows, their values now, and their pull (old records not replayed, per record
    trained on): a quadratic stand-in for the loss of the records this run does not see."""
    out = []
    for table, mask, unseen in zip(net.free_rows(), data.movable, data.unseen):
        rows = torch.from_numpy(np.flatnonzero(mask))
        pull = torch.from_numpy(unseen[mask] / len(data.target)).float()
        out.append((rows, table.detach()[rows].clone(), pull))
    return out


def train(net: SpaceNet, data: TrainData, params: dict, n_epochs: int, min_steps: int, rng: np.random.Generator,
          gen: torch.Generator, desc: str) -> None:
    """Train ``net`` in place.

    With ``data.movable`` only the free rows it marks move (sparse Adam never moves a row whose gradient stays
    zero), the shared encoder stays, and each moving row is pulled back towards where it was in proportion to its
    unseen old records, so a task with a thousand old records barely moves for ten new ones while a new model
    learns freely from its own.
    """
    rec_m, rec_t = torch.from_numpy(data.models), torch.from_numpy(data.tasks)
    target, bias = torch.from_numpy(data.target), torch.from_numpy(data.bias)
    feats, has = torch.from_numpy(data.model_features), torch.from_numpy(data.model_has)
    list_size = params["list_size"]
    per_batch = max(1, params["batch_size"] // list_size)
    counts = np.bincount(data.tasks)
    steps_per_epoch = math.ceil(int((-(-counts // list_size)).sum()) / per_batch)
    epochs = max(n_epochs, math.ceil(min_steps / steps_per_epoch))
    optimisers: list[torch.optim.Optimizer] = [torch.optim.SparseAdam(net.free_rows(), lr=params["lr"])]
    frozen, anchor = None, None
    if data.movable is None:
        optimisers.append(torch.optim.AdamW(net.shared(), lr=params["lr"], weight_decay=params["weight_decay"]))
    else:
        frozen = (torch.from_numpy(~data.movable[0]), torch.from_numpy(~data.movable[1]))
        anchor = _anchor(net, data)
    for p in net.shared():
        p.requires_grad_(data.movable is None)
    net.train()
    for _ in tqdm(range(epochs), desc=desc, unit="epoch", disable=not params["verbose"]):
        grid = torch.from_numpy(epoch_lists(data.tasks, rng, list_size))
        for start in range(0, grid.shape[0], per_batch):
            block = grid[start:start + per_batch]
            mask = block >= 0
            pos = block.clamp_min(0)
            loss = _batch_loss(net, rec_m[pos], rec_t[pos[:, 0]], target[pos], bias, mask, feats, has, frozen,
                               params, gen)
            if anchor is not None:
                loss = loss + sum(w @ ((F.embedding(rows, table, sparse=True) - start_rows) ** 2).sum(1)
                                  for table, (rows, start_rows, w) in zip(net.free_rows(), anchor))
            for opt in optimisers:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for opt in optimisers:
                opt.step()
    net.eval()
    for p in net.shared():
        p.requires_grad_(True)
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        raise ModelFitError("Training the transfer space produced NaN or inf parameters.",
                            hint="lower `lr` or check the records' values for extreme outliers")


def _batch_loss(net: SpaceNet, models: torch.Tensor, tasks: torch.Tensor, target: torch.Tensor, bias: torch.Tensor,
                mask: torch.Tensor, feats: torch.Tensor, has: torch.Tensor,
                frozen: tuple[torch.Tensor, torch.Tensor] | None, params: dict,
                gen: torch.Generator) -> torch.Tensor:
    n_lists, length = models.shape
    flat = models.reshape(-1)
    keep = (torch.rand(flat.shape, generator=gen) >= params["free_dropout"]).float()
    frozen_m, frozen_t = (None, None) if frozen is None else frozen
    u = net.models(flat, feats[flat], has[flat], keep, frozen_m)
    v = net.tasks(tasks, frozen_t)
    scores = bias[models] + (u.view(n_lists, length, -1) * v[:, None]).sum(-1)
    loss = space_loss(scores, target, mask, params["temperature"], params["rank_weight"])
    if params["l2"] > 0:  # on the free rows of the batch (so the penalty also costs only what the batch touches)
        maskf = mask.reshape(-1).float()
        free_m = (F.embedding(flat, net.model_free, sparse=True) ** 2).sum(1)
        free_t = (F.embedding(tasks, net.task_free, sparse=True) ** 2).sum(1)
        loss = loss + params["l2"] * ((free_m * maskf).sum() / maskf.sum() + free_t.mean())
    return loss


def epoch_lists(task_idx: np.ndarray, rng: np.random.Generator, list_size: int) -> np.ndarray:
    """One epoch of listwise batches: each task's records, shuffled, dealt round-robin into lists of at most
    ``list_size`` records (so a task's lists have near-equal lengths), then the lists shuffled.

    Returns an int64 array of shape (n_lists, list_size) of record positions, padded with -1.
    """
    n = task_idx.shape[0]
    order = np.argsort(task_idx + rng.random(n))  # by task, in random order within each task
    sorted_tasks = task_idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_tasks[1:] != sorted_tasks[:-1]])
    counts = np.diff(np.r_[starts, n])
    run = np.repeat(np.arange(starts.size), counts)
    pos = np.arange(n) - starts[run]
    lists_per_task = -(-counts // list_size)
    offset = np.r_[0, np.cumsum(lists_per_task)[:-1]]
    list_id = offset[run] + pos % lists_per_task[run]
    slot = pos // lists_per_task[run]
    grid = np.full((int(lists_per_task.sum()), list_size), -1, np.int64)
    grid[list_id, slot] = order
    return grid[rng.permutation(grid.shape[0])]
