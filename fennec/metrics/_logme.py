"""LogME: the maximum log-evidence of a Bayesian linear model on the features (fixed-point variant)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from fennec.errors import InputError
from fennec.metrics._docs import shared_docs
from fennec.metrics._lapack import (Tridiagonal, class_sums, gram_lower, matmul, reduction_blas, use_lapack,
                                    widened_row_blocks)
from fennec.metrics._linalg import gram, one_hot, rank_cutoff
from fennec.metrics._validation import (as_matrix, check_dtype, check_float, check_int, encode_labels,
                                        resolve_device)

__all__ = ["logme"]

_EPS = 1e-5  # the reference's guard in the alpha and beta updates
Array = TypeVar("Array", np.ndarray, torch.Tensor)  # the fixed point runs in NumPy (CPU route) or torch


@shared_docs
def logme(features: Any, labels: Any, *, device: str | torch.device | None = None,
          dtype: torch.dtype = torch.float64, max_iter: int = 11, tol: float = 1e-3) -> float:
    r"""LogME score of features for a labelled task (You et al., ICML 2021; JMLR 2022, fixed-point variant).

    For each target column :math:`y_c` (the indicator of class :math:`c`, or a real-valued column), the evidence of
    the Bayesian linear model :math:`y_c = F w + \varepsilon`, :math:`w \sim \mathcal N(0, \alpha^{-1} I_D)`,
    :math:`\varepsilon \sim \mathcal N(0, \beta^{-1} I_N)` is maximised over :math:`\alpha, \beta` by fixed-point
    iteration on the thin SVD :math:`F = U S V^\top` (:math:`\sigma_i = s_i^2`, :math:`x = U^\top y_c`):

    .. math::

        \mathcal L = \frac{D}{2}\log\alpha + \frac{N}{2}\log\beta
          - \frac12 \sum_{i=1}^{D} \log(\alpha + \beta\sigma_i) - \frac{\beta}{2}\lVert y_c - F m\rVert^2
          - \frac{\alpha}{2}\lVert m\rVert^2 - \frac{N}{2}\log 2\pi,
        \qquad \mathrm{LogME} = \frac{1}{C}\sum_c \frac{\mathcal L_c}{N}.

    See `You et al. (2021) <https://arxiv.org/abs/2102.11005>`_ and the fixed-point algorithm of
    `You et al. (2022) <https://arxiv.org/abs/2110.10545>`_. Higher is better.

    Parameters
    ----------
    features : ndarray or Tensor of shape (n_samples, n_features)
        Features of the candidate model on the target samples.
    labels : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels (any values, e.g. non-contiguous ints or strings: they are remapped to ``0..C-1`` in sorted
        order), or, as a 2-D float array, real-valued targets (regression or multi-label), one evidence per column.
    device : str or torch.device, optional
        Where to compute; default: the device of ``features`` if it is a tensor, else the CPU.
    dtype : torch.dtype, default=torch.float64
        Computation precision (``torch.float32`` is faster on GPUs, less exact).
    max_iter : int, default=11
        Maximum fixed-point iterations per target (the reference's 11).
    tol : float, default=1e-3
        A target stops iterating when ``|t_new - t| / t <= tol`` with ``t = alpha / beta``.

    Returns
    -------
    float
        The mean over targets of evidence / N.

    Notes
    -----
    Matches the authors' reference code (``LogME._fit_fixed_point``) to 1e-6 relative when the features have full
    column rank, with two documented corrections for rank-deficient features (constant or duplicated columns,
    N < D):

    - the log-determinant sums over all D eigenvalues of :math:`\alpha I + \beta F^\top F`, the missing
      :math:`\sigma_i` being 0 (the reference sums over the k non-zero ones only and so misses
      :math:`(D-k)\log\alpha`);
    - singular values are kept when :math:`\sigma_i > \max(N, D)\,\epsilon\,\sigma_{\max}` (relative), not above an
      absolute 1e-10, so numerically-zero directions, whose singular vectors are noise, are dropped.

    With both, appending all-zero columns (dead units) leaves the score unchanged and so does duplicating every
    column. (A constant non-zero column is an intercept for the linear model and does change it.)
    All targets iterate together (vectorised over classes); each stops at its own convergence, as in the reference.

    Examples
    --------
    {separation_example}
    """
    dev = resolve_device(features, device)
    dtype = check_dtype(dtype, "logme")
    max_iter = check_int(max_iter, "max_iter", "logme", low=1)
    tol = check_float(tol, "tol", "logme", low=0.0)
    x = as_matrix(features, name="features", metric="logme", device=dev, dtype=_storage_dtype(features, dtype, dev))
    y = _targets(labels, x.shape[0], device=dev, dtype=dtype)
    if use_lapack(x):
        evidence = _evidence_tridiagonal(x, y, max_iter=max_iter, tol=tol)
    else:
        evidence = _evidence_eigh(x.to(dtype), y, max_iter=max_iter, tol=tol)
    return float((evidence / x.shape[0]).mean())


def _storage_dtype(features: Any, dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype the validated features are held in: float32 features scored in float64 on the CPU stay float32
    (the CPU route widens them a block of rows at a time, :func:`~fennec.metrics._lapack.widened_row_blocks`);
    otherwise ``dtype``."""
    is_float32 = (features.dtype == torch.float32 if isinstance(features, torch.Tensor)
                  else getattr(features, "dtype", None) == np.float32)
    return torch.float32 if is_float32 and device.type == "cpu" and dtype == torch.float64 else dtype


def _evidence_eigh(x: torch.Tensor, y: torch.Tensor, *, max_iter: int, tol: float) -> torch.Tensor:
    """The evidence of every target column (T,) from the eigendecomposition of the Gram matrix: the torch route
    (any device; GPUs)."""
    sigma, proj = _spectral_projection(x, y)
    x2 = proj * proj
    r0 = ((y * y).sum(dim=0) - x2.sum(dim=0)).clamp_min(0)  # energy of y outside the column space
    return _max_evidence(lambda t, active: _posterior_terms(t, sigma, x2, r0), sigma, y.shape[1],
                         n=x.shape[0], d=x.shape[1], max_iter=max_iter, tol=tol)


def _evidence_tridiagonal(x: torch.Tensor, y: torch.Tensor, *, max_iter: int, tol: float) -> torch.Tensor:
    """:func:`_evidence_eigh`'s result on the CPU without any eigenvector: SciPy's LAPACK on a tridiagonal form.

    With ``G`` the smaller Gram matrix, reduced to ``T = Q^T G Q`` (:class:`~fennec.metrics._lapack.Tridiagonal`),
    ``r = Q^T X^T y`` (N > D, ``G = X^T X``) or ``r = Q^T y`` (``G = X X^T``) and ``s = (T + tI)^{-1} r``, the
    posterior terms at ``t = alpha / beta`` are exact identities of the eigen-sums of the spec
    (``(T + tI) s = r`` gives ``s^T T s = r^T s - t s^T s``):

    - N > D: ``m2 = s^T s`` and ``res2 = ||y||^2 - r^T s - t s^T s``;
    - N <= D: ``m2 = r^T s - t s^T s`` and ``res2 = t^2 s^T s`` (the energy outside the column space included);

    ``gamma`` and the log-determinant need only the eigenvalues. A direction whose eigenvalue is numerical noise
    (below :func:`~fennec.metrics._linalg.rank_cutoff`) holds numerical-noise energy of ``b``, so it adds nothing
    to ``m2`` and its share of ``y`` to ``res2``, as when the spec's route drops it. Each iteration costs one O(m)
    tridiagonal solve per target instead of the m x m eigenvectors (on the CPU the eigenvectors took as long as the
    reduction itself). Only the Gram product uses several BLAS threads (see :mod:`fennec.metrics._lapack`).
    """
    n, d = x.shape
    a, targets = x.numpy(), y.numpy()  # `a` may be float32 features scored in float64: widened as it is read
    of_columns = n > d
    if of_columns:
        g, b = _gram_and_cross_product(a, targets)
    else:
        g, b = gram_lower(a.astype(targets.dtype, copy=False), of_columns=False), targets
    with reduction_blas():
        tri = Tridiagonal.reduce(g)
        evals = tri.eigvalsh()
        r = tri.rotate(b)
    _check_not_all_zero(float(evals[-1]))
    sigma = evals[evals > evals[-1] * rank_cutoff(n, d, y.dtype)]
    norms = np.einsum("ij,ij->j", targets, targets)

    def terms(t: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = active.nonzero()[0]
        shift = t[idx]
        s = tri.solve_shifted(shift, r[:, idx])
        rs, ss = np.einsum("ji,ij->i", r[:, idx], s), np.einsum("ij,ij->i", s, s)
        m2, res2 = np.zeros_like(t), np.zeros_like(t)
        if of_columns:
            m2[idx], res2[idx] = ss, np.maximum(norms[idx] - rs - shift * ss, 0)
        else:
            m2[idx], res2[idx] = np.maximum(rs - shift * ss, 0), shift * shift * ss
        return _gamma(sigma, t), m2, res2

    return torch.from_numpy(_max_evidence(terms, sigma, b.shape[1], n=n, d=d, max_iter=max_iter, tol=tol))


def _gram_and_cross_product(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a^T a`` (:func:`~fennec.metrics._lapack.gram_lower`'s lower triangle) and ``a^T y`` (D, T) in ``y``'s
    dtype, in one pass over the rows of ``a``: per-class sums when ``y`` holds class indicators, else ``?gemm``."""
    codes = y.argmax(axis=1)
    indicators = np.array_equal(y, np.eye(y.shape[1], dtype=y.dtype)[codes])
    g, cross = None, np.zeros((a.shape[1], y.shape[1]), dtype=y.dtype)
    for rows, block in widened_row_blocks(a, y.dtype):
        g = gram_lower(block, add_to=g)
        cross += (class_sums(block, codes[rows], y.shape[1]).T if indicators
                  else matmul(block, y[rows], transpose_a=True))
    return g, cross


def _targets(labels: Any, n: int, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Indicator columns of the classes, or the real-valued target columns of a 2-D ``labels``."""
    is_2d = (labels.ndim if isinstance(labels, torch.Tensor) else np.ndim(labels)) == 2
    if not is_2d:
        return one_hot(encode_labels(labels, n, metric="logme", device=device), dtype)
    y = as_matrix(labels, name="labels", metric="logme", device=device, dtype=dtype)
    if y.shape[0] != n:
        raise InputError(f"`labels` of `logme` must have one row per row of the features ({n}). "
                         f"Got {y.shape[0]} instead.", hint="labels and features must list the samples in one order")
    return y


def _spectral_projection(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The non-zero squared singular values ``sigma`` (k,) of ``x`` and ``U^T y`` (k, T).

    One eigendecomposition of the smaller Gram matrix serves every target. When N > D, ``U^T y`` is computed as
    ``diag(1/s) V^T (X^T y)``, which never forms the N x k matrix U.
    """
    n, d = x.shape
    evals, rotated = _eigh_project_torch(x, y, of_columns=n > d)
    _check_not_all_zero(float(evals[-1]))
    keep = evals > evals[-1] * rank_cutoff(n, d, x.dtype)
    sigma, proj = evals[keep], rotated[keep]
    if n > d:
        proj = proj / sigma.sqrt()[:, None]
    return sigma, proj


def _check_not_all_zero(largest_eigenvalue: float) -> None:
    if not largest_eigenvalue > 0:
        raise InputError("`features` of `logme` are all zero: there is nothing to score.",
                         hint="check the feature extraction (a dead layer or an all-zero batch)")


def _eigh_project_torch(x: torch.Tensor, y: torch.Tensor, *,
                        of_columns: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) of ``G = X^T X`` (``of_columns``) or ``X X^T``, and ``V^T target`` with ``target``
    ``X^T y`` or ``y`` and ``V`` the eigenvectors of ``G``: the general route, by ``torch.linalg.eigh`` (any
    device)."""
    evals, evecs = torch.linalg.eigh(gram(x) if of_columns else gram(x.T))
    return evals, evecs.T @ (x.T @ y if of_columns else y)


def _posterior_terms(t: torch.Tensor, sigma: torch.Tensor, x2: torch.Tensor,
                     r0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``gamma``, ``||m||^2`` and ``||y - F m||^2`` at ``t = alpha / beta`` for every target column at once.

    With ``a_ic = 1 / (sigma_i + t_c)``: gamma = sum sigma a, m2 = sum sigma x2 a^2, res2 = t^2 sum x2 a^2 + r0
    (the reference's ``x2 / (1 + sigma / t)^2`` rewritten), as few whole-matrix operations as possible: they are
    tiny, so their count, not their size, sets the cost.
    """
    inv = torch.reciprocal(sigma[:, None] + t)  # (k, T)
    inv2 = inv * inv
    gamma = sigma @ inv  # = _gamma(sigma, t), from the inverse computed here anyway
    m2 = torch.einsum("ic,ic->c", sigma[:, None] * x2, inv2)
    res2 = t * t * torch.einsum("ic,ic->c", x2, inv2) + r0
    return gamma, m2, res2


def _gamma(sigma: Array, t: Array) -> Array:
    """``gamma = sum_i sigma_i / (sigma_i + t)`` for every target's ``t`` (NumPy arrays or tensors)."""
    return sigma @ (1.0 / (sigma[:, None] + t))


def _log_evidence(alpha: Array, beta: Array, m2: Array, res2: Array, sigma: Array, n: int, d: int) -> Array:
    """The evidence formula, with the exact log-determinant (the D - k zero eigenvalues contribute log alpha)."""
    log = np.log if isinstance(sigma, np.ndarray) else torch.log
    logdet = log(alpha + beta * sigma[:, None]).sum(axis=0) + (d - sigma.shape[0]) * log(alpha)
    return (d / 2 * log(alpha) + n / 2 * log(beta) - logdet / 2 - beta / 2 * res2 - alpha / 2 * m2
            - n / 2 * math.log(2 * math.pi))


Terms = Callable[[Array, Array], tuple[Array, Array, Array]]


def _max_evidence(terms: Terms, sigma: Array, n_targets: int, *, n: int, d: int, max_iter: int,
                  tol: float) -> Array:
    """Fixed-point maximisation of the evidence, all targets together; returns the evidence per target (T,).

    ``terms(t, active)`` gives ``gamma``, ``m2`` and ``res2`` at ``t = alpha / beta`` (T,); entries of targets that
    are no longer ``active`` are not used. Arrays are NumPy's on the CPU route and torch's on the other: on the CPU
    a few dozen tiny torch operations woke torch's thread pool while BLAS's threads still spun, and took longer
    than the tridiagonal solves they wrap.
    """
    xp = np if isinstance(sigma, np.ndarray) else torch
    ones = (np.ones(n_targets, dtype=sigma.dtype) if xp is np
            else torch.ones(n_targets, dtype=sigma.dtype, device=sigma.device))
    alpha, beta, m2, res2 = ones, ones * 1, ones * 0, ones * 0
    active = ones > 0
    for _ in range(max_iter):
        t = alpha / beta
        gamma, m2_new, res2_new = terms(t, active)
        alpha_new = gamma / (m2_new + _EPS)
        beta_new = (n - gamma) / (res2_new + _EPS)
        # Converged targets keep the values of the iteration where they stopped, as the reference's `break` does.
        alpha, beta = xp.where(active, alpha_new, alpha), xp.where(active, beta_new, beta)
        m2, res2 = xp.where(active, m2_new, m2), xp.where(active, res2_new, res2)
        active = active & (abs(alpha_new / beta_new - t) / t > tol)
        if not bool(active.any()):
            break
    return _log_evidence(alpha, beta, m2, res2, sigma, n, d)
