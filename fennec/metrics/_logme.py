"""LogME: the maximum log-evidence of a Bayesian linear model on the features (fixed-point variant)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.linalg import get_blas_funcs, get_lapack_funcs

from fennec.errors import InputError
from fennec.metrics._linalg import gram, one_hot, rank_cutoff
from fennec.metrics._validation import (as_matrix, check_dtype, check_float, check_int, encode_labels,
                                        resolve_device)

__all__ = ["logme"]

_EPS = 1e-5  # the reference's guard in the alpha and beta updates


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
    >>> import numpy as np
    >>> from fennec.metrics import logme
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> x = rng.normal(size=(300, 8)) + 3 * np.eye(3, 8)[y]
    >>> logme(x, y) > logme(x, rng.permutation(y))
    True
    """
    dev = resolve_device(features, device)
    dtype = check_dtype(dtype, "logme")
    max_iter = check_int(max_iter, "max_iter", "logme", low=1)
    tol = check_float(tol, "tol", "logme", low=0.0)
    x = as_matrix(features, name="features", metric="logme", device=dev, dtype=dtype)
    y = _targets(labels, x.shape[0], device=dev, dtype=dtype)
    sigma, proj = _spectral_projection(x, y)
    r0 = ((y * y).sum(dim=0) - (proj * proj).sum(dim=0)).clamp_min(0)  # energy of y outside the column space
    evidence = _max_evidence(sigma, proj * proj, r0, n=x.shape[0], d=x.shape[1], max_iter=max_iter, tol=tol)
    return float((evidence / x.shape[0]).mean())


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
    ``diag(1/s) V^T (X^T y)``, which never forms the N x k matrix U. On the CPU the eigenvectors are never formed
    either (:func:`_eigh_project_cpu`); elsewhere (GPUs) ``torch.linalg.eigh`` gives them
    (:func:`_eigh_project_torch`).
    """
    n, d = x.shape
    route = _eigh_project_cpu if x.device.type == "cpu" and min(n, d) >= 2 else _eigh_project_torch
    evals, rotated = route(x, y, of_columns=n > d)
    if not bool(evals[-1] > 0):
        raise InputError("`features` of `logme` are all zero: there is nothing to score.",
                         hint="check the feature extraction (a dead layer or an all-zero batch)")
    keep = evals > evals[-1] * rank_cutoff(n, d, x.dtype)
    sigma, proj = evals[keep], rotated[keep]
    if n > d:
        proj = proj / sigma.sqrt()[:, None]
    return sigma, proj


def _eigh_project_torch(x: torch.Tensor, y: torch.Tensor, *,
                        of_columns: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) of ``G = X^T X`` (``of_columns``) or ``X X^T``, and ``V^T target`` with ``target``
    ``X^T y`` or ``y`` and ``V`` the eigenvectors of ``G``: the general route, by ``torch.linalg.eigh`` (any
    device)."""
    evals, evecs = torch.linalg.eigh(gram(x) if of_columns else gram(x.T))
    return evals, evecs.T @ (x.T @ y if of_columns else y)


def _eigh_project_cpu(x: torch.Tensor, y: torch.Tensor, *,
                      of_columns: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_eigh_project_torch`'s results on the CPU, faster: SciPy's LAPACK, without forming the eigenvectors.

    LogME needs the eigenvalues of ``G`` and the projections of the few target columns on its eigenvectors, never
    the m x m eigenvector matrix ``V`` itself. A full ``eigh`` spends most of its time forming ``V``: it reduces ``G``
    to a tridiagonal ``T = Q^T G Q`` (?sytrd, 4/3 m^3 flops), finds ``T = Z diag(w) Z^T`` (O(m^2) for MRRR) and
    then multiplies ``V = Q Z`` (the back-transformation, 2 m^3 flops). Here ``V^T target = Z^T (Q^T target)``:
    ``Q^T`` is applied to the m x T target from the Householder reflectors that ?sytrd leaves in place
    (?ormqr, O(m^2 T)), and ``Z^T`` is a small product. The Gram matrix is one ?syrk (half the flops of
    ``X^T @ X``). LAPACK's own ?ormtr is not in ``scipy.linalg.lapack``; for the lower triangle it is ?ormqr on the
    reflectors below the first subdiagonal applied to rows 2..m, which is what this calls.

    Equal to ``torch.linalg.eigh``'s route up to rounding (eigenvectors of a repeated eigenvalue are not unique, but
    the energy of ``target`` in its eigenspace, all that LogME uses, is). Works in float32 and float64 (the LAPACK
    prefix follows the dtype); ``x`` and ``y`` are not modified.
    """
    a = x.numpy()
    # syrk computes A A^T (trans=0) or A^T A (trans=1) of a Fortran-ordered A: pick whichever view of ``a`` is
    # Fortran-ordered already, so that f2py does not copy the N x D features.
    if a.flags.f_contiguous:
        mat, trans = a, int(of_columns)  # mat = X
    else:
        mat, trans = np.ascontiguousarray(a).T, int(not of_columns)  # mat = X^T
    syrk, = get_blas_funcs(("syrk",), (mat,))
    sytrd, sytrd_lwork, ormqr, stemr, stemr_lwork = get_lapack_funcs(
        ("sytrd", "sytrd_lwork", "ormqr", "stemr", "stemr_lwork"), (mat,))
    g = syrk(1.0, mat, trans=trans, lower=1)  # lower triangle only, Fortran order: sytrd then works in place
    m = g.shape[0]
    lwork, info = sytrd_lwork(m, lower=1)
    _check_lapack(info, "sytrd_lwork")
    reflectors, diag, offdiag, tau, info = sytrd(g, lower=1, lwork=int(lwork), overwrite_a=1)
    _check_lapack(info, "sytrd")
    # Q^T target: reflector i acts on rows i+1..m, its vector stored below the subdiagonal of column i.
    if of_columns:  # X^T y as the transpose of a C-ordered y^T X: Fortran-ordered, as ormqr wants it
        rotated = (y.numpy().T @ a).T  # (NumPy's BLAS is faster than torch for this skinny product)
    else:
        rotated = np.array(y.numpy(), order="F")  # a copy: ``y`` may be the caller's labels
    vectors = np.asfortranarray(reflectors[1:, :-1])
    _, work, info = ormqr("L", "T", vectors, tau, rotated[1:], lwork=-1)
    _check_lapack(info, "ormqr")
    head, _, info = ormqr("L", "T", vectors, tau, rotated[1:], lwork=int(work[0].real))
    _check_lapack(info, "ormqr")
    rotated[1:] = head
    # The tridiagonal eigenproblem by MRRR (O(m^2) flops; no m^3 step is left). Divide and conquer (?stevd) was
    # measured as about as fast here, and needs an m x m workspace more.
    offdiag = np.append(offdiag, 0.0)  # stemr wants the off-diagonal in an array of length m (a workspace)
    lwork, liwork, info = stemr_lwork(diag, offdiag, 0, 0.0, 0.0, 0, 0, compute_v=1)
    _check_lapack(info, "stemr_lwork")
    _, evals, z, info = stemr(diag, offdiag, 0, 0.0, 0.0, 0, 0, compute_v=1, lwork=int(lwork), liwork=int(liwork))
    _check_lapack(info, "stemr")
    return torch.from_numpy(evals), torch.from_numpy(z.T @ rotated)


def _check_lapack(info: int, routine: str) -> None:
    if info != 0:
        raise RuntimeError(f"LAPACK's ?{routine} failed (info={info}) in `logme`.")


def _posterior_terms(t: torch.Tensor, sigma: torch.Tensor, x2: torch.Tensor,
                     r0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``gamma``, ``||m||^2`` and ``||y - F m||^2`` at ``t = alpha / beta`` for every target column at once.

    With ``a_ic = 1 / (sigma_i + t_c)``: gamma = sum sigma a, m2 = sum sigma x2 a^2, res2 = t^2 sum x2 a^2 + r0
    (the reference's ``x2 / (1 + sigma / t)^2`` rewritten), as few whole-matrix operations as possible: they are
    tiny, so their count, not their size, sets the cost.
    """
    inv = torch.reciprocal(sigma[:, None] + t)  # (k, T)
    inv2 = inv * inv
    gamma = sigma @ inv
    m2 = torch.einsum("ic,ic->c", sigma[:, None] * x2, inv2)
    res2 = t * t * torch.einsum("ic,ic->c", x2, inv2) + r0
    return gamma, m2, res2


def _log_evidence(alpha: torch.Tensor, beta: torch.Tensor, m2: torch.Tensor, res2: torch.Tensor,
                  sigma: torch.Tensor, n: int, d: int) -> torch.Tensor:
    """The evidence formula, with the exact log-determinant (the D - k zero eigenvalues contribute log alpha)."""
    logdet = torch.log(alpha + beta * sigma[:, None]).sum(dim=0) + (d - sigma.shape[0]) * torch.log(alpha)
    return (d / 2 * torch.log(alpha) + n / 2 * torch.log(beta) - logdet / 2 - beta / 2 * res2 - alpha / 2 * m2
            - n / 2 * math.log(2 * math.pi))


def _max_evidence(sigma: torch.Tensor, x2: torch.Tensor, r0: torch.Tensor, *, n: int, d: int, max_iter: int,
                  tol: float) -> torch.Tensor:
    """Fixed-point maximisation of the evidence, all targets together; returns the evidence per target (T,)."""
    ones = torch.ones(x2.shape[1], dtype=x2.dtype, device=x2.device)
    alpha, beta, m2, res2 = ones, ones.clone(), torch.zeros_like(ones), torch.zeros_like(ones)
    active = torch.ones_like(ones, dtype=torch.bool)
    for _ in range(max_iter):
        t = alpha / beta
        gamma, m2_new, res2_new = _posterior_terms(t, sigma, x2, r0)
        alpha_new = gamma / (m2_new + _EPS)
        beta_new = (n - gamma) / (res2_new + _EPS)
        # Converged targets keep the values of the iteration where they stopped, as the reference's `break` does.
        alpha, beta = torch.where(active, alpha_new, alpha), torch.where(active, beta_new, beta)
        m2, res2 = torch.where(active, m2_new, m2), torch.where(active, res2_new, res2)
        active = active & ((alpha_new / beta_new - t).abs() / t > tol)
        if not bool(active.any()):
            break
    return _log_evidence(alpha, beta, m2, res2, sigma, n, d)
