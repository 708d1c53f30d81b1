"""PARC: Pairwise Annotation Representation Comparison."""
from __future__ import annotations

from typing import Any

import torch

from fennec.errors import InputError
from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import check_pca_components, pca
from fennec.metrics._validation import prepare

__all__ = ["parc"]


@shared_docs
def parc(features: Any, labels: Any, *, device: str | torch.device | None = None,
         dtype: torch.dtype = torch.float64, n_components: int | float | None = 32) -> float:
    r"""PARC (Bolya et al., NeurIPS 2021).

    The Spearman correlation between the representation dissimilarity matrices of the features and of the one-hot
    labels, over all pairs of distinct samples, times 100:

    .. math::

        \mathrm{PARC} = 100\,\rho_{\mathrm{Spearman}}\!\left(\{1 - r(\tilde f_i, \tilde f_j)\}_{i<j},
                        \{1 - r(e_{y_i}, e_{y_j})\}_{i<j}\right)

    where :math:`r` is Pearson's correlation and :math:`\tilde f` are the features reduced by PCA and standardised
    per dimension. See `Bolya, Mittapalli & Hoffman (2021) <https://arxiv.org/abs/2111.06977>`_. Higher is better;
    the score is in [-100, 100].

    {features_parameters}
    n_components : int or float or None, default=32
        PCA reduction before comparing (the authors' setting is 32 dimensions); ``None`` keeps all features.

    Returns
    -------
    float
        100 times the Spearman correlation.

    Notes
    -----
    For hard labels the label dissimilarity only takes two values (0 for a pair of one class, :math:`C/(C-1)`
    otherwise), so its Spearman correlation with the feature dissimilarities equals their Pearson correlation with
    the indicator "different class" after ranking the feature dissimilarities (ties get their average rank). The
    authors' code computes ``1 - corrcoef`` of the one-hot rows, whose two values carry float noise that
    ``spearmanr`` then ranks as if it were signal; here the two values are exact, so scores can differ from the
    authors' by that noise (a few points of 100 on small tasks).
    Time O(N^2 log N) and memory O(N^2): about 1 GB for N = 5,000; subsample larger tasks. The PCA is exact
    (the authors use a randomised one). At least one pair of samples must share a class.

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="parc", device=device, dtype=dtype)
    if int(lab.counts.max()) < 2:
        raise InputError("`labels` of `parc` must give at least one class two samples. Got only singletons.",
                         hint="PARC compares same-class and different-class pairs")
    if n_components is not None:
        check_pca_components(n_components, "parc")
        x = pca(x, n_components)
    std = x.std(dim=0, unbiased=False)
    z = (x - x.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))  # StandardScaler's zero-std rule
    rows = z - z.mean(dim=1, keepdim=True)
    rows = rows / torch.linalg.vector_norm(rows, dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)
    upper = torch.ones(z.shape[0], z.shape[0], dtype=torch.bool, device=z.device).triu_(1)
    dissimilarity = 1 - (rows @ rows.T)[upper]
    different = (lab.codes[:, None] != lab.codes[None, :])[upper].to(z.dtype)
    return float(100 * _pearson(_average_ranks(dissimilarity), different))


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..M of ``values``, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    sorted_values, order = torch.sort(values)
    _, inverse, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(values.dtype)
    mean_rank = ends - (counts.to(values.dtype) - 1) / 2
    ranks = torch.empty_like(values)
    ranks[order] = mean_rank[inverse]
    return ranks


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))
