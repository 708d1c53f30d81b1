"""H-score and its shrinkage-regularised form."""
from __future__ import annotations

from typing import Any

import torch

from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import class_means, gram, rank_cutoff, spd_solve
from fennec.metrics._validation import Labels, prepare

__all__ = ["hscore", "hscore_reg", "ledoit_wolf_shrinkage"]


@shared_docs
def hscore(features: Any, labels: Any, *, device: str | torch.device | None = None,
           dtype: torch.dtype = torch.float64) -> float:
    r"""H-score of features for a classification task (Bao et al., ICIP 2019).

    .. math::

        \mathcal H(f) = \operatorname{tr}\!\left(\operatorname{cov}(f)^{+}\,
                        \operatorname{cov}\!\left(\mathbb E[f \mid y]\right)\right)

    where :math:`\operatorname{cov}(f)^{+}` is the pseudo-inverse of the feature covariance and
    :math:`\mathbb E[f \mid y]` replaces each sample by its class mean. See
    `Bao et al. (2019) <https://ieeexplore.ieee.org/document/8803726>`_. Higher is better; the score is in
    :math:`[0, \min(D, C - 1)]`.

    {features_parameters}

    Returns
    -------
    float
        The H-score.

    Notes
    -----
    The pseudo-inverse drops eigenvalues below ``max(N, D) * eps`` times the largest (the authors' code uses an
    absolute ``rcond=1e-15``, which keeps noise directions when N < D and then explodes). Both covariances use the
    same normalisation, which cancels in the trace.

    Examples
    --------
    >>> import numpy as np
    >>> from fennec.metrics import hscore
    >>> hscore(np.array([[0.0], [2.0], [4.0], [6.0]]), [0, 0, 1, 1])  # var(E[f|y]) / var(f) = 4 / 5
    0.8
    """
    x, lab = prepare(features, labels, metric="hscore", device=device, dtype=dtype)
    xc = x - x.mean(dim=0)
    evals, evecs = torch.linalg.eigh(gram(xc) / x.shape[0])
    keep = evals > evals[-1].clamp_min(0) * rank_cutoff(*x.shape, x.dtype)
    proj = evecs[:, keep].T @ class_means(xc, lab).T  # (k, C)
    weights = lab.counts / x.shape[0]
    return float(((proj * proj) @ weights / evals[keep]).sum())


@shared_docs
def hscore_reg(features: Any, labels: Any, *, device: str | torch.device | None = None,
               dtype: torch.dtype = torch.float64) -> float:
    r"""Shrinkage-regularised H-score (Ibrahim et al., 2022).

    The feature covariance is replaced by its Ledoit-Wolf estimate
    :math:`\operatorname{cov}_\alpha(f) = (1-\alpha)\operatorname{cov}(f) + \alpha\,\frac{\operatorname{tr}
    \operatorname{cov}(f)}{D} I`, with the shrinkage :math:`\alpha` of Ledoit & Wolf (2004):

    .. math::

        \mathcal H_\alpha(f) = \operatorname{tr}\!\left(\operatorname{cov}_\alpha(f)^{-1}\,(1-\alpha)\,
                               \operatorname{cov}\!\left(\mathbb E[f \mid y]\right)\right).

    See `Ibrahim, Ponomareva & Mazumder (2022) <https://arxiv.org/abs/2110.06893>`_. Higher is better.

    {features_parameters}

    Returns
    -------
    float
        The regularised H-score.

    Notes
    -----
    Both covariances are the biased (divide by N) estimates, so that with :math:`\alpha = 0` the score equals
    :func:`hscore` (the authors' code mixes a biased and an unbiased one, a factor N / (N - 1)). Stable when N < D,
    where the plain H-score is dominated by noise directions.

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="hscore_reg", device=device, dtype=dtype)
    xc = x - x.mean(dim=0)
    alpha = ledoit_wolf_shrinkage(xc)
    d = x.shape[1]
    cov = gram(xc) / x.shape[0]
    shrunk = (1 - alpha) * cov + alpha * torch.trace(cov) / d * torch.eye(d, dtype=x.dtype, device=x.device)
    return float((1 - alpha) * _between_quadratic(xc, lab, shrunk))


def _between_quadratic(xc: torch.Tensor, lab: Labels, cov: torch.Tensor) -> torch.Tensor:
    """``tr(cov^{-1} cov_between)`` = sum_c pi_c m_c^T cov^{-1} m_c for centred class means m_c."""
    means = class_means(xc, lab)
    solved = spd_solve(cov, means.T)  # (D, C)
    return ((means.T * solved).sum(dim=0) * lab.counts).sum() / xc.shape[0]


def ledoit_wolf_shrinkage(xc: torch.Tensor) -> float:
    r"""The Ledoit-Wolf (2004) shrinkage intensity of the covariance of centred samples ``xc`` (N, D).

    With :math:`S = X^\top X / N` and :math:`\mu = \operatorname{tr} S / D`:
    :math:`\delta = \lVert S - \mu I\rVert_F^2 / D`,
    :math:`\beta = \min\big(\delta, \frac{1}{ND}(\frac1N\sum_n \lVert x_n\rVert^4 - \lVert S\rVert_F^2)\big)`,
    shrinkage :math:`= \beta / \delta` (0 when :math:`\delta = 0`).
    """
    n, d = xc.shape
    sq = (xc * xc).sum(dim=1)
    trace = sq.sum() / n
    small = gram(xc) if n > d else gram(xc.T)  # same Frobenius norm; the smaller one is cheaper
    fro2 = (small * small).sum() / n**2
    delta = (fro2 - trace**2 / d) / d
    if not bool(delta > 0):
        return 0.0
    beta = ((sq * sq).sum() / n - fro2) / (n * d)
    return float(torch.clamp(beta, min=0.0).minimum(delta) / delta)
