"""Leave-one-out k-nearest-neighbour accuracy on the features."""
from __future__ import annotations

from typing import Any

import torch

from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import MAX_BLOCK_ELEMENTS
from fennec.metrics._validation import check_choice, check_int, prepare

__all__ = ["knn"]


@shared_docs
def knn(features: Any, labels: Any, *, device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64, k: int = 5, metric: str = "euclidean") -> float:
    r"""Leave-one-out k-nearest-neighbour accuracy of the features.

    Each sample is classified by a majority vote of its k nearest other samples:

    .. math::

        \mathrm{kNN} = \frac1N \sum_{i=1}^N \mathbb 1\!\left[y_i = \arg\max_c
                       \sum_{j \in \mathcal N_k(i)} \mathbb 1[y_j = c]\right],
        \quad i \notin \mathcal N_k(i).

    A simple, strong baseline among transferability estimates: see e.g.
    `Agostinelli et al. (2022) <https://arxiv.org/abs/2204.01403>`_ and
    `Kornblith et al. (2019) <https://arxiv.org/abs/1805.08974>`_. Higher is better; the score is in [0, 1].

    {features_parameters}
    k : int, default=5
        Number of neighbours (capped at N - 1).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between samples.

    Returns
    -------
    float
        The fraction of samples whose leave-one-out vote is their own label.

    Notes
    -----
    A sample never votes for itself (it is excluded by index, so exact duplicates still count as neighbours).
    Ties between classes go to the class holding the nearest neighbour among the tied ones (votes are weighted
    ``1 + 2^-(rank+1)``, which never outweighs a whole vote). Distances are computed in row blocks, so memory stays
    O(N) per block, not O(N^2).

    Examples
    --------
    >>> from fennec.metrics import knn
    >>> knn([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]], [0, 0, 0, 1, 1, 1], k=1)
    1.0
    """
    x, lab = prepare(features, labels, metric="knn", device=device, dtype=dtype)
    k = min(check_int(k, "k", "knn", low=1), x.shape[0] - 1)
    check_choice(metric, "metric", "knn", ("euclidean", "cosine"))
    if metric == "cosine":
        x = torch.nn.functional.normalize(x, dim=1)
    sq = (x * x).sum(dim=1)
    weights = 1 + 0.5 ** torch.arange(1, k + 1, dtype=x.dtype, device=x.device)
    correct = torch.zeros((), dtype=x.dtype, device=x.device)
    rows = max(1, MAX_BLOCK_ELEMENTS // (4 * x.shape[0]))
    for lo in range(0, x.shape[0], rows):
        hi = min(lo + rows, x.shape[0])
        dist = sq[lo:hi, None] - 2 * x[lo:hi] @ x.T + sq[None, :]
        dist[torch.arange(hi - lo, device=x.device), torch.arange(lo, hi, device=x.device)] = torch.inf
        neighbours = dist.topk(k, dim=1, largest=False).indices  # sorted nearest first
        votes = torch.zeros(hi - lo, lab.n_classes, dtype=x.dtype, device=x.device)
        votes.scatter_add_(1, lab.codes[neighbours], weights.expand(hi - lo, k))
        correct += (votes.argmax(dim=1) == lab.codes[lo:hi]).sum()
    return float(correct / x.shape[0])
