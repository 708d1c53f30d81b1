"""The torch module behind :class:`fennec.space.TransferSpace` and its training loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SpaceNet", "space_loss"]


def _encoder(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    """Side-feature encoder: linear when ``hidden`` is 0, else a one-hidden-layer MLP."""
    if hidden <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


class SpaceNet(nn.Module):
    """Model vectors ``u_m = e_m + A(phi_m)`` and task vectors ``v_t = e_t``.

    ``model_free`` (rows ``e_m``) and ``task_free`` (rows ``e_t``) are free per-row parameters, read with sparse
    gradients so that a step costs what its batch touches, not the size of the zoo; ``A`` encodes model side
    features (a model without them uses a learned default vector). ``keep`` masks switch the free parts off
    (free-embedding dropout in training, so that ``A`` alone places a model well); ``frozen`` masks stop gradients
    into the free rows that must not move (used by the warm-start update). Tasks enter from side features by
    kernel regression over the trained ``e_t`` instead (see ``fennec.space._kernel``).
    """

    def __init__(self, n_models: int, n_tasks: int, n_factors: int, model_dim: int, hidden: int,
                 init_scale: float, generator: torch.Generator) -> None:
        super().__init__()
        self.model_free = nn.Parameter(torch.randn(n_models, n_factors, generator=generator) * init_scale)
        self.task_free = nn.Parameter(torch.randn(n_tasks, n_factors, generator=generator) * init_scale)
        self.model_default = nn.Parameter(torch.zeros(n_factors))
        self.model_enc = _encoder(model_dim, hidden, n_factors) if model_dim else None
        for p in () if self.model_enc is None else self.model_enc.parameters():
            with torch.no_grad():  # seeded init, independent of torch's global RNG
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) / max(p.shape[-1], 1) ** 0.5)

    def free_rows(self) -> list[nn.Parameter]:
        """The sparse (per-row) parameters."""
        return [self.model_free, self.task_free]

    def shared(self) -> list[nn.Parameter]:
        """The dense parameters shared by all rows (default vector and encoder)."""
        return [self.model_default] + ([] if self.model_enc is None else list(self.model_enc.parameters()))

    def model_side(self, feats: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
        """(n, d) side part ``A(phi)`` of models (the default where ``has`` is False)."""
        if self.model_enc is None:
            return self.model_default.expand(feats.shape[0], -1)
        return torch.where(has[:, None], self.model_enc(feats), self.model_default)

    @staticmethod
    def _free(table: nn.Parameter, idx: torch.Tensor, keep: torch.Tensor | None,
              frozen: torch.Tensor | None) -> torch.Tensor:
        rows = F.embedding(idx, table, sparse=True)
        if frozen is not None:
            rows = torch.where(frozen[idx][:, None], rows.detach(), rows)
        return rows if keep is None else rows * keep[:, None]

    def models(self, idx: torch.Tensor, feats: torch.Tensor, has: torch.Tensor, keep: torch.Tensor | None = None,
               frozen: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors ``u`` (n, d) of the model rows ``idx``; ``feats``/``has`` are theirs."""
        return self._free(self.model_free, idx, keep, frozen) + self.model_side(feats, has)

    def tasks(self, idx: torch.Tensor, frozen: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors ``v`` (n, d) of the task rows ``idx``."""
        return self._free(self.task_free, idx, None, frozen)

    def grow(self, n_models: int, n_tasks: int, init_scale: float, generator: torch.Generator) -> None:
        """Append fresh rows for ``n_models`` new models and ``n_tasks`` new tasks (warm start keeps the rest)."""
        for name, n in (("model_free", n_models), ("task_free", n_tasks)):
            if n:
                old = getattr(self, name).data
                fresh = torch.randn(n, old.shape[1], generator=generator) * init_scale
                setattr(self, name, nn.Parameter(torch.cat([old, fresh])))


def space_loss(scores: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, temperature: float,
               rank_weight: float) -> torch.Tensor:
    """Regression plus listwise ranking loss over a batch of lists (one task per row, padded by ``mask``).

    - regression: mean squared error between scores and normalised values;
    - ranking: KL divergence from each list's target distribution ``softmax(z / T)`` to the predicted
      ``softmax(s / T)`` (ListNet with a temperature): a small ``T`` puts the mass, and so the loss, on the top of
      each task's ranking. Both terms are minimised by ``s = z``, so they pull the same way.
    """
    maskf = mask.to(scores.dtype)
    mse = ((scores - target) ** 2 * maskf).sum() / maskf.sum().clamp_min(1)
    if rank_weight <= 0:
        return mse
    neg = -1e9  # a finite "minus infinity" for the padding: keeps gradients free of NaN
    log_pred = torch.log_softmax(torch.where(mask, scores / temperature, neg), 1)
    log_true = torch.log_softmax(torch.where(mask, target / temperature, neg), 1)
    per_list = (log_true.exp() * torch.where(mask, log_true - log_pred, 0.0)).sum(1)
    multi = mask.sum(1) > 1
    listwise = per_list[multi].mean() if multi.any() else scores.sum() * 0
    return mse + rank_weight * listwise
