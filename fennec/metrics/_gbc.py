"""GBC: Gaussian Bhattacharyya Coefficient between the classes."""
from __future__ import annotations

from typing import Any

import torch

from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import MAX_BLOCK_ELEMENTS, check_pca_components, class_means, pca
from fennec.metrics._validation import check_choice, check_float, prepare

__all__ = ["gbc"]


@shared_docs
def gbc(features: Any, labels: Any, *, device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64, gaussian: str = "diagonal", min_variance: float = 1e-4,
        n_components: int | float | None = None) -> float:
    r"""GBC: Gaussian Bhattacharyya Coefficient (Pandy et al., CVPR 2022).

    Each class is a Gaussian :math:`\mathcal N(\mu_c, \Sigma_c)` with diagonal (or spherical) covariance; the score
    is minus the total overlap between all ordered pairs of classes:

    .. math::

        D_B(c, c') = \tfrac18 (\mu_c - \mu_{c'})^\top \Sigma^{-1} (\mu_c - \mu_{c'})
                     + \tfrac12 \log \frac{\det \Sigma}{\sqrt{\det \Sigma_c \det \Sigma_{c'}}},
        \quad \Sigma = \tfrac12(\Sigma_c + \Sigma_{c'}),
        \qquad \mathrm{GBC} = -\sum_{c} \sum_{c' \ne c} e^{-D_B(c, c')}.

    See `Pándy et al. (2022) <https://arxiv.org/abs/2111.12780>`_. Higher (closer to 0) is better.

    {features_parameters}
    gaussian : {"diagonal", "spherical"}, default="diagonal"
        Per-class covariance: per-dimension variances, or their mean times the identity.
    min_variance : float, default=1e-4
        Floor on every per-class variance, as in the authors' code: it keeps constant features and one-sample
        classes (variance 0) finite.
    n_components : int or float, optional
        Reduce the features by PCA first (the paper reduces to 64 dimensions for speed). Default: no reduction.

    Returns
    -------
    float
        Minus the summed Bhattacharyya coefficients, in :math:`[-C(C-1), 0]`.

    Notes
    -----
    Per-class variances are the biased (divide by :math:`n_c`) ones, as in the authors' code. All pairs come from
    the (C, D) means and variances by broadcasting (no loop over classes).

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="gbc", device=device, dtype=dtype)
    check_choice(gaussian, "gaussian", "gbc", ("diagonal", "spherical"))
    min_variance = check_float(min_variance, "min_variance", "gbc", low=0.0)
    if n_components is not None:
        check_pca_components(n_components, "gbc")
        x = pca(x, n_components)
    means = class_means(x, lab)
    centred = x - means[lab.codes]
    # The floor also stands in for the zero variance of constant features and one-sample classes.
    variances = class_means(centred * centred, lab).clamp_min(min_variance)
    if gaussian == "spherical":
        variances = variances.mean(dim=1, keepdim=True).expand_as(means).contiguous()
    return float(-_overlap(means, variances).sum())


def _overlap(means: torch.Tensor, variances: torch.Tensor) -> torch.Tensor:
    """``exp(-D_B)`` for all ordered pairs of distinct classes, (C, C) with a zero diagonal.

    Pairs are formed for a block of rows at a time so that the (rows, C, D) temporaries stay bounded.
    """
    n_classes, d = means.shape
    half_log_det = 0.5 * torch.log(variances).sum(dim=1)  # log sqrt(det Sigma_c)
    out = torch.empty(n_classes, n_classes, dtype=means.dtype, device=means.device)
    rows = max(1, MAX_BLOCK_ELEMENTS // (4 * n_classes * d))
    for lo in range(0, n_classes, rows):
        hi = min(lo + rows, n_classes)
        pair_var = (variances[lo:hi, None, :] + variances[None, :, :]) / 2  # (rows, C, D)
        diff = means[lo:hi, None, :] - means[None, :, :]
        distance = ((diff * diff / pair_var).sum(dim=2) / 8
                    + 0.5 * (torch.log(pair_var).sum(dim=2) - half_log_det[lo:hi, None] - half_log_det[None, :]))
        out[lo:hi] = torch.exp(-distance)
    return out.fill_diagonal_(0)
