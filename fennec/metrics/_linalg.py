"""Numerical building blocks shared by the metrics: class statistics, PCA, SPD solves, per-class blocks.

All functions are batched over classes (scatter-adds and batched matrix products) and run unchanged on CPU and CUDA.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from fennec.metrics._lapack import gram_lower, mirror_lower
from fennec.metrics._validation import Labels, check_float, check_int

__all__ = ["one_hot", "class_means", "gram", "gram_blocks", "rank_cutoff", "spd_solve", "pca", "class_blocks",
           "check_pca_components"]

# Upper bound on the elements of one temporary block (float64: 512 MiB); larger jobs are split into chunks.
MAX_BLOCK_ELEMENTS = 2**26


def one_hot(labels: Labels, dtype: torch.dtype) -> torch.Tensor:
    """The (N, C) indicator matrix of the classes.

    On the CPU, one NumPy gather of identity rows: torch's ``one_hot`` and cast wake torch's thread pool, which
    competes there with BLAS's still-spinning threads (as in LogME's fixed point)."""
    numpy_dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)
    if labels.codes.device.type == "cpu" and numpy_dtype is not None:
        return torch.from_numpy(np.eye(labels.n_classes, dtype=numpy_dtype)[labels.codes.numpy()])
    return torch.nn.functional.one_hot(labels.codes, labels.n_classes).to(dtype)


def class_means(x: torch.Tensor, labels: Labels) -> torch.Tensor:
    """Per-class means, shape (C, D), by one scatter-add over the samples."""
    sums = torch.zeros(labels.n_classes, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, labels.codes, x)
    return sums / labels.counts[:, None]


def gram(x: torch.Tensor) -> torch.Tensor:
    """``x^T x`` (D, D), exactly symmetric: one ``?syrk`` of SciPy's BLAS on the CPU (see
    :mod:`fennec.metrics._lapack`), :func:`gram_blocks` elsewhere."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(mirror_lower(gram_lower(x.numpy())))
    return gram_blocks(x)


def gram_blocks(x: torch.Tensor) -> torch.Tensor:
    """``x^T x`` (D, D) in torch, computing only its upper block triangle, as BLAS's ``syrk`` does.

    The columns are cut into up to 8 blocks of at least 256; row block i is one product with the columns from
    block i on, mirrored below the diagonal. That is (b + 1) / (2b) of a full product's flops (5/8 for D = 1,024),
    with the same dot products: equal to ``x.T @ x`` up to rounding, and exactly symmetric.
    """
    d = x.shape[1]
    n_blocks = max(1, min(8, d // 256))
    edges = [round(i * d / n_blocks) for i in range(n_blocks + 1)]
    out = torch.empty(d, d, dtype=x.dtype, device=x.device)
    for lo, hi in zip(edges[:-1], edges[1:]):
        out[lo:hi, lo:] = x[:, lo:hi].T @ x[:, lo:]
    # Mirror the upper triangle (a product's two halves are rounded differently).
    return torch.triu(out) + torch.triu(out, diagonal=1).T


def rank_cutoff(n: int, d: int, dtype: torch.dtype) -> float:
    """Relative threshold below which an eigenvalue of a Gram or covariance matrix is numerical noise.

    Eigenvalues of ``X^T X`` carry an absolute error of about ``max(n, d) * eps * lambda_max``; anything smaller is
    indistinguishable from zero (the usual ``matrix_rank`` rule, applied to the squared singular values).
    """
    return max(n, d) * torch.finfo(dtype).eps


def spd_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a^{-1} b`` for a symmetric positive (semi-)definite ``a``.

    Cholesky first (cheap, exact for a well-conditioned ``a``). When ``a`` is numerically singular (Cholesky fails,
    e.g. in float32) the solve falls back to the pseudo-inverse: eigenvalues below :func:`rank_cutoff` of the
    largest count as zero, which gives the minimum-norm answer instead of an overflow along noise directions.
    """
    chol, info = torch.linalg.cholesky_ex(a)
    if int(info) == 0:
        return torch.cholesky_solve(b, chol)
    evals, evecs = torch.linalg.eigh(a)
    cutoff = evals[-1].clamp_min(torch.finfo(a.dtype).tiny) * rank_cutoff(a.shape[0], a.shape[0], a.dtype)
    inv = torch.where(evals > cutoff, 1.0 / evals.clamp_min(cutoff), torch.zeros_like(evals))
    return evecs @ (inv[:, None] * (evecs.T @ b))


def check_pca_components(n_components: int | float, metric: str) -> None:
    """Validate ``n_components`` of a PCA: an int >= 1 or a variance fraction in (0, 1]."""
    if isinstance(n_components, float):
        check_float(n_components, "n_components", metric, low=0.0, high=1.0)
    else:
        check_int(n_components, "n_components", metric, low=1)


def pca(x: torch.Tensor, n_components: int | float) -> torch.Tensor:
    """Principal-component scores of ``x`` (centred), shape (N, k).

    ``n_components`` is a number of components (capped at the rank) or, as a float in (0, 1], the smallest number
    whose explained variance reaches that fraction (scikit-learn's rule: components are added while the cumulative
    ratio is <= the fraction, plus one). The eigendecomposition is of the smaller of ``X^T X`` and ``X X^T``;
    component signs follow scikit-learn (largest loading positive).
    """
    n, d = x.shape
    xc = x - x.mean(dim=0)
    evals, evecs = torch.linalg.eigh(gram(xc) if n >= d else gram(xc.T))
    evals, evecs = evals.flip(0), evecs.flip(1)  # descending
    rank = int((evals > evals[0] * rank_cutoff(n, d, x.dtype)).sum()) if evals[0] > 0 else 0
    rank = max(rank, 1)
    if isinstance(n_components, float):
        ratio = torch.cumsum(evals[:rank], 0) / evals[:rank].sum()
        k = min(int((ratio <= n_components).sum()) + 1, rank)
    else:
        k = min(int(n_components), rank)
    if n >= d:
        loadings = evecs[:, :k]
    else:  # V = X^T U / s from the left singular vectors
        loadings = xc.T @ evecs[:, :k] / evals[:k].sqrt()
    # scikit-learn's sign convention (the largest loading of each component is positive): scores are then
    # reproducible, which matters to metrics that are not invariant to flipping a component (PARC).
    top = loadings.abs().argmax(dim=0)
    signs = torch.sign(loadings[top, torch.arange(k, device=x.device)])
    return xc @ (loadings * torch.where(signs == 0, torch.ones_like(signs), signs))


def class_blocks(x: torch.Tensor, labels: Labels,
                 max_elements: int | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """The samples of each class as zero-padded blocks ``(c, n_max, D)``, a few classes at a time.

    Yields ``(class_slice, block)`` where ``block[j, :n_c]`` are the rows of class ``class_slice.start + j`` and
    the rest is zeros. Classes are grouped so that one block stays under ``max_elements`` (default
    ``MAX_BLOCK_ELEMENTS``; usually all classes fit in one block: the loop only bounds memory for very large or very
    unbalanced tasks).
    """
    max_elements = MAX_BLOCK_ELEMENTS if max_elements is None else max_elements
    codes, counts = labels.codes, labels.counts.long()
    order = torch.argsort(codes, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    sorted_codes = codes[order]
    position = torch.arange(len(codes), device=x.device) - starts[sorted_codes]
    n_max = int(counts.max())
    per_block = max(1, max_elements // max(1, n_max * x.shape[1]))
    for lo in range(0, labels.n_classes, per_block):
        hi = min(lo + per_block, labels.n_classes)
        keep = (sorted_codes >= lo) & (sorted_codes < hi)
        block = torch.zeros(hi - lo, n_max, x.shape[1], dtype=x.dtype, device=x.device)
        block[sorted_codes[keep] - lo, position[keep]] = x[order[keep]]
        yield slice(lo, hi), block
