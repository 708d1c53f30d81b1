"""TransRate: mutual information between features and labels, measured by coding rates."""
from __future__ import annotations

from typing import Any

import torch

from fennec.errors import ModelFitError
from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import class_blocks
from fennec.metrics._validation import check_float, prepare

__all__ = ["transrate"]


@shared_docs
def transrate(features: Any, labels: Any, *, device: str | torch.device | None = None,
              dtype: torch.dtype = torch.float64, eps: float = 1e-4) -> float:
    r"""TransRate (Huang et al., ICML 2022).

    The coding rate of the centred features :math:`Z` minus the average coding rate of each class's features
    :math:`Z_c` (:math:`n_c` rows):

    .. math::

        R(Z, \epsilon) = \tfrac12 \log\det\!\left(I_D + \tfrac{1}{n\epsilon} Z^\top Z\right),
        \qquad \mathrm{TrR} = R(Z, \epsilon) - \frac1C \sum_{c=1}^{C} R(Z_c, \epsilon).

    See `Huang et al. (2022) <https://proceedings.mlr.press/v162/huang22d.html>`_. Higher is better.

    {features_parameters}
    eps : float, default=1e-4
        Distortion of the coding rate (the authors' default).

    Returns
    -------
    float
        The rate reduction, in nats.

    Notes
    -----
    The scaling :math:`1/(n\epsilon)` and the unweighted mean over classes follow the authors' released code. The
    determinant is taken on the smaller of :math:`Z_c^\top Z_c` and :math:`Z_c Z_c^\top` (equal by Sylvester's
    identity), for all classes in one batched Cholesky factorisation of zero-padded class blocks.

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="transrate", device=device, dtype=dtype)
    eps = check_float(eps, "eps", "transrate", low=0.0)
    z = x - x.mean(dim=0)
    total = _coding_rate(z[None], torch.tensor([float(z.shape[0])], dtype=z.dtype, device=z.device), eps)
    per_class = torch.cat([_coding_rate(block, lab.counts[part], eps) for part, block in class_blocks(z, lab)])
    return float(total[0] - per_class.mean())


def _coding_rate(blocks: torch.Tensor, counts: torch.Tensor, eps: float) -> torch.Tensor:
    """``1/2 logdet(I + Z^T Z / (n eps))`` for a batch of zero-padded blocks (B, n_max, D), shape (B,)."""
    n_max, d = blocks.shape[1:]
    gram = blocks.transpose(1, 2) @ blocks if d <= n_max else blocks @ blocks.transpose(1, 2)
    scale = 1.0 / (counts * eps)
    eye = torch.eye(gram.shape[1], dtype=gram.dtype, device=gram.device)
    chol, info = torch.linalg.cholesky_ex(eye + scale[:, None, None] * gram)
    if bool((info != 0).any()):
        raise ModelFitError("TransRate's coding-rate matrix is not positive definite (numerical overflow).",
                            hint="rescale the features or use dtype=torch.float64")
    return torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(dim=1)
