"""SFDA: Self-challenging Fisher Discriminant Analysis."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from scipy.linalg import get_blas_funcs

from fennec.errors import InputError
from fennec.metrics._docs import shared_docs
from fennec.metrics._lapack import (cholesky_solve_lower, class_sums, gram_lower, matmul, mirror_lower,
                                    reduction_blas, row_sums_lower, use_lapack)
from fennec.metrics._linalg import check_pca_components, class_means, gram, pca, spd_solve
from fennec.metrics._validation import Labels, prepare

__all__ = ["sfda"]

_POWER_STEPS = 3  # the reference's power iterations for the largest eigenvalue of S_w
_MIN_SHRINKAGE = 1e-10
_ROW_BLOCK_ELEMENTS = 1 << 16  # 512 KiB of float64: a gathered block of rows is reused from L2 cache
_CONSTANT_WITHIN_CLASSES = ("`features` of `sfda` are constant within every class: the within-class scatter is "
                            "zero.")
_CONSTANT_HINT = "give at least one class two samples with different features"


@shared_docs
def sfda(features: Any, labels: Any, *, device: str | torch.device | None = None,
         dtype: torch.dtype = torch.float64, n_components: int | float | None = None) -> float:
    r"""SFDA score of features for a classification task (Shao et al., ECCV 2022).

    A regularised Fisher discriminant gives class posteriors :math:`p(c \mid x)`; ConfMix then moves each sample
    towards the mean of the other classes in proportion to its confusion, and a second discriminant, with the same
    shrinkage, scores how well the mixed samples are still classified:

    .. math::

        x_i' = q_{i y_i} x_i + (1 - q_{i y_i})\,\frac{1}{C-1}\sum_{j \ne y_i}\mu_j,
        \quad q_i = \operatorname{softmax}(p(\cdot \mid x_i)),
        \qquad \mathrm{SFDA} = \frac1N \sum_i p_2(y_i \mid x_i').

    Each discriminant uses :math:`\tilde S_w = (1-\lambda) S_w + \lambda \frac{\operatorname{tr} S_w}{D} I`
    with :math:`\lambda = \max(e^{-5 \hat\lambda_{\max}(S_w)}, 10^{-10})` and
    :math:`p(c \mid x) = \operatorname{softmax}_c(x^\top \tilde S_w^{-1}\mu_c - \frac12 \mu_c^\top
    \tilde S_w^{-1}\mu_c + \log\pi_c)`. See `Shao et al. (2022) <https://arxiv.org/abs/2207.03036>`_.
    Higher is better; the score is in (0, 1].

    Parameters
    ----------
    features : ndarray or Tensor of shape (n_samples, n_features)
        Features of the candidate model on the target samples.
    labels : array-like of shape (n_samples,)
        Class labels (any values, e.g. non-contiguous ints or strings: they are remapped to ``0..C-1``).
    device : str or torch.device, optional
        Where to compute; default: the device of ``features`` if it is a tensor, else the CPU.
    dtype : torch.dtype, default=torch.float64
        Computation precision (``torch.float32`` is faster on GPUs, less exact).
    n_components : int or float, optional
        Reduce the features by PCA first: a number of components, or a float in (0, 1] for a fraction of the
        variance. Default ``None``: no reduction (the reference behaviour).

    Returns
    -------
    float
        The mean probability of the true class after ConfMix.

    Notes
    -----
    Matches the authors' reference code (``SFDA_Score``) to 1e-6 relative. The reference solves the generalized
    eigenproblem :math:`S_b w = e \tilde S_w w` and sets ``coef = M W W^T``; with the full eigenbasis normalised so
    that :math:`W^\top \tilde S_w W = I`, :math:`W W^\top = \tilde S_w^{-1}`, so one Cholesky solve with the C class
    means replaces the eigendecomposition (and :math:`S_b`, :math:`S_t` are never needed). :math:`S_w` comes from one
    product of the class-centred features, not a loop over classes. :math:`\hat\lambda_{\max}` is the reference's
    three-step power-iteration estimate, not the exact eigenvalue.

    With few samples per dimension (N small against D) every class becomes separable and scores saturate at 1.0
    (reference issue #5); ``n_components`` (e.g. 64, or 0.9 of the variance) restores a ranking in that regime.
    A class with a single sample is allowed (its covariance is zero); features that are constant within every
    class are rejected.

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="sfda", device=device, dtype=dtype)
    if n_components is not None:
        check_pca_components(n_components, "sfda")
        x = pca(x, n_components)
    if use_lapack(x):
        return _sfda_cpu(x.numpy(), lab.codes.numpy(), lab.counts.numpy())
    proba, shrinkage, means = _lda_proba(x, lab, shrinkage=None)
    soft = torch.softmax(proba, dim=1)  # the reference softens the probabilities themselves
    others = (means.sum(dim=0) - means) / (lab.n_classes - 1)
    keep = soft.gather(1, lab.codes[:, None])
    # x' = q x + (1 - q) nu, built in one new (N, D) buffer: the features are the largest arrays here.
    mixed = others.index_select(0, lab.codes).mul_(1 - keep).addcmul_(keep, x)
    del x  # only the mixed features are needed from here on
    proba2, _, _ = _lda_proba(mixed, lab, shrinkage=shrinkage)
    return float(proba2.gather(1, lab.codes[:, None]).mean())


def _lda_proba(x: torch.Tensor, lab: Labels, *,
               shrinkage: float | None) -> tuple[torch.Tensor, float, torch.Tensor]:
    """Posteriors (N, C) of the shrunk Fisher discriminant, the shrinkage used and the class means (C, D)."""
    n, d = x.shape
    means = class_means(x, lab)
    centred = means.index_select(0, lab.codes).neg_().add_(x)  # x - mu_y without a second (N, D) temporary
    s_w = gram(centred) / n  # = sum_c pi_c Cov_c with biased class covariances
    scale = torch.trace(s_w) / d
    if not bool(scale > 0):
        raise InputError(_CONSTANT_WITHIN_CLASSES, hint=_CONSTANT_HINT)
    if shrinkage is None:
        shrinkage = _shrinkage(_largest_eigenvalue(s_w))
    s_w = (1 - shrinkage) * s_w + shrinkage * scale * torch.eye(d, dtype=x.dtype, device=x.device)
    coef = spd_solve(s_w, means.T).T  # = M W W^T of the reference
    intercept = -0.5 * (means * coef).sum(dim=1) + torch.log(lab.counts / n)
    return torch.softmax(x @ coef.T + intercept, dim=1), shrinkage, means


def _sfda_cpu(x: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> float:
    """:func:`sfda` on the CPU through SciPy's BLAS and LAPACK (:mod:`fennec.metrics._lapack`), in NumPy.

    The same steps as the torch route (:func:`_lda_proba` twice, ConfMix between them) on NumPy arrays: on the CPU
    torch's row gathers and MKL's products took about 2.5x the time (see :mod:`fennec.metrics._lapack`). One (N, D)
    work buffer holds the centred features, then the mixed ones (centred in place): ``x`` may be the caller's array
    and is never written, and each fresh (N, D) array costs page faults worth about a tenth of a ``?syrk``.
    """
    work = np.empty_like(x)
    proba, shrinkage, means = _lda_proba_cpu(x, codes, counts, work, shrinkage=None)
    soft = _softmax(proba)  # the reference softens the probabilities themselves
    others = (means.sum(axis=0) - means) / (len(counts) - 1)
    keep = np.take_along_axis(soft, codes[:, None], axis=1)
    for rows in _row_blocks(*x.shape):  # x' = q x + (1 - q) nu
        np.multiply(x[rows], keep[rows], out=work[rows])
        block = np.take(others, codes[rows], axis=0)
        block *= 1 - keep[rows]
        work[rows] += block
    proba2, _, _ = _lda_proba_cpu(work, codes, counts, work, shrinkage=shrinkage)
    return float(np.take_along_axis(proba2, codes[:, None], axis=1).mean())


def _lda_proba_cpu(x: np.ndarray, codes: np.ndarray, counts: np.ndarray, work: np.ndarray, *,
                   shrinkage: float | None) -> tuple[np.ndarray, float, np.ndarray]:
    """:func:`_lda_proba` in NumPy: the Gram product on BLAS's threads, the solve in ``reduction_blas``.

    The class-centred features are written to ``work``, which may be ``x`` itself (then ``x`` is centred in place).
    """
    n, d = x.shape
    means = class_sums(x, codes, len(counts)) / counts[:, None]
    for rows in _row_blocks(n, d):
        np.subtract(x[rows], np.take(means, codes[rows], axis=0), out=work[rows])
    s_w = gram_lower(work)  # lower triangle of sum_c n_c Cov_c
    s_w /= n
    scale = np.trace(s_w) / d
    if not scale > 0:
        raise InputError(_CONSTANT_WITHIN_CLASSES, hint=_CONSTANT_HINT)
    with reduction_blas():
        if shrinkage is None:
            shrinkage = _shrinkage(_largest_eigenvalue_lower(s_w))
        s_w *= 1 - shrinkage
        s_w.flat[:: d + 1] += shrinkage * scale
        coef = cholesky_solve_lower(s_w, np.asfortranarray(means.T))  # (D, C) = (M W W^T)^T of the reference
    intercept = -0.5 * np.einsum("cd,dc->c", means, coef) + np.log(counts / n)
    # x coef = (x - mu_y) coef + mu_y coef: the logits from the centred features, so x itself may be gone. Every
    # product goes through SciPy's BLAS: one of NumPy's (``@``) left its threads spinning through the next ?syrk.
    logits = matmul(work, coef)
    logits += np.take(matmul(means, coef) + intercept, codes, axis=0)
    return _softmax(logits), shrinkage, means


def _row_blocks(n: int, d: int) -> Iterator[slice]:
    """Slices of about ``_ROW_BLOCK_ELEMENTS`` elements of an (n, d) array: a gathered block stays in cache."""
    step = max(1, _ROW_BLOCK_ELEMENTS // d)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax (a new array)."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def _largest_eigenvalue_lower(a: np.ndarray) -> float:
    """:func:`_largest_eigenvalue` of the symmetric matrix whose lower triangle is ``a`` (``?symv`` products)."""
    symv, = get_blas_funcs(("symv",), (a,))
    v = row_sums_lower(a)
    u = v
    for _ in range(_POWER_STEPS):
        u = symv(1.0, a, v, lower=1)
        u = u / np.linalg.norm(u)
        v = symv(1.0, a, u, lower=1)
        v = v / np.linalg.norm(v)
    estimate = float(v @ symv(1.0, a, u, lower=1))
    return estimate if math.isfinite(estimate) else float(np.linalg.eigvalsh(mirror_lower(a))[-1])


def _shrinkage(largest_eigenvalue: float) -> float:
    """The reference's shrinkage ``max(exp(-5 lmax), 1e-10)``."""
    return max(math.exp(-5 * largest_eigenvalue), _MIN_SHRINKAGE)


def _largest_eigenvalue(a: torch.Tensor) -> float:
    """The reference's estimate of the largest eigenvalue: power iteration from the row sums, three double steps.

    When the row sums are zero (features whose sum is constant within classes, e.g. probabilities) the iteration
    is undefined (the reference returns NaN); the exact largest eigenvalue is used instead.
    """
    v = a.sum(dim=1)
    u = v
    for _ in range(_POWER_STEPS):
        u = a @ v
        u = u / torch.linalg.vector_norm(u)
        v = a @ u
        v = v / torch.linalg.vector_norm(v)
    estimate = float(v @ (a @ u))
    return estimate if math.isfinite(estimate) else float(torch.linalg.eigvalsh(a)[-1])
