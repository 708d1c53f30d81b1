"""NLEEP: LEEP with a Gaussian mixture on the features in place of the source classifier."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from fennec.errors import ModelFitError
from fennec.metrics._docs import shared_docs
from fennec.metrics._leep import expected_empirical_prediction
from fennec.metrics._linalg import MAX_BLOCK_ELEMENTS, pca
from fennec.metrics._validation import check_float, check_int, prepare

__all__ = ["nleep", "gaussian_mixture"]

_KMEANS_STEPS = 10  # Lloyd steps that initialise the mixture (scikit-learn initialises with k-means too)


@shared_docs
def nleep(features: Any, labels: Any, *, device: str | torch.device | None = None,
          dtype: torch.dtype = torch.float64, variance: float = 0.8, components_per_class: int = 5,
          seed: int = 0, max_iter: int = 100, tol: float = 1e-3, reg_covar: float = 1e-6,
          log: bool = False) -> float:
    r"""NLEEP: Gaussian-mixture LEEP (Li et al., CVPR 2021).

    The features are reduced by PCA to the components holding ``variance`` of the variance; a Gaussian mixture
    with :math:`K = 5C` full-covariance components is fitted, its posteriors :math:`p(v \mid x_i)` play the role
    of a source classifier, and, with :math:`\hat P(y \mid v)` estimated from the soft assignments as in
    :func:`leep`,

    .. math::

        \mathrm{NLEEP} = \frac1N \sum_{i=1}^{N} \sum_{v=1}^{K} \hat P(y_i \mid v)\, p(v \mid x_i).

    See `Li et al. (2021) <https://arxiv.org/abs/2011.11200>`_. Higher is better; in (0, 1] (<= 0 with ``log``).

    {features_parameters}
    variance : float, default=0.8
        Fraction of the variance the PCA keeps.
    components_per_class : int, default=5
        Mixture components per class (capped so that there are at most N components).
    seed : int, default=0
        Seed of the mixture's initialisation (drawn on the CPU, so CPU and CUDA start alike).
    max_iter, tol, reg_covar : int, float, float
        EM iterations, convergence threshold on the mean log-likelihood, and ridge added to every covariance
        (scikit-learn's ``GaussianMixture`` defaults).
    log : bool, default=False
        Average :math:`\log` of the expected prediction, the paper's form, instead of the prediction itself (the
        form of the SFDA benchmark code and of this project's specification).

    Returns
    -------
    float
        The mean expected empirical prediction of the true labels.

    Notes
    -----
    The mixture starts from k-means (K random samples, then Lloyd steps) and runs EM with every component updated
    at once (batched Cholesky factors; the E-step is one product of the samples with the stacked precision factors),
    split into blocks only to bound memory. The result depends on ``seed``; it is deterministic for a fixed seed and
    sample order. Each EM iteration costs O(N K d^2) for d PCA dimensions: the slowest metric of the package on
    wide, many-class tasks.

    Examples
    --------
    {separation_example}
    """
    x, lab = prepare(features, labels, metric="nleep", device=device, dtype=dtype)
    variance = check_float(variance, "variance", "nleep", low=0.0, high=1.0)
    per_class = check_int(components_per_class, "components_per_class", "nleep", low=1)
    check_int(seed, "seed", "nleep", low=0)
    check_int(max_iter, "max_iter", "nleep", low=1)
    check_float(tol, "tol", "nleep", low=0.0, low_open=False)
    check_float(reg_covar, "reg_covar", "nleep", low=0.0, low_open=False)
    z = pca(x, variance)
    n_components = min(per_class * lab.n_classes, x.shape[0])
    resp = gaussian_mixture(z, n_components, seed=seed, max_iter=max_iter, tol=tol, reg_covar=reg_covar)
    eep = expected_empirical_prediction(resp, lab)
    return float(torch.log(eep).mean() if log else eep.mean())


class _Mixture(NamedTuple):
    log_weights: torch.Tensor  # (K,)
    precision: torch.Tensor  # (K, d, d): L_k^{-1} for the Cholesky factor L_k of covariance k
    shift: torch.Tensor  # (K, d): L_k^{-1} mu_k
    log_det: torch.Tensor  # (K,): log det Sigma_k


def gaussian_mixture(z: torch.Tensor, n_components: int, *, seed: int = 0, max_iter: int = 100,
                     tol: float = 1e-3, reg_covar: float = 1e-6) -> torch.Tensor:
    """Fit a full-covariance Gaussian mixture by EM; return the posteriors p(component | z_i), shape (N, K)."""
    resp = torch.nn.functional.one_hot(_kmeans(z, n_components, seed), n_components).to(z.dtype)
    mixture = _m_step(z, resp, reg_covar)
    previous = -math.inf
    for _ in range(max_iter):
        log_resp, mean_loglik = _e_step(z, mixture)
        mixture = _m_step(z, log_resp.exp(), reg_covar)
        if abs(mean_loglik - previous) < tol:
            break
        previous = mean_loglik
    return _e_step(z, mixture)[0].exp()


def _kmeans(z: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """Hard assignments (N,) after a few Lloyd steps from k distinct random samples."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    centres = z[torch.randperm(z.shape[0], generator=generator)[:k].to(z.device)]
    sq = (z * z).sum(dim=1, keepdim=True)
    for _ in range(_KMEANS_STEPS + 1):
        assign = (sq - 2 * z @ centres.T + (centres * centres).sum(dim=1)).argmin(dim=1)
        counts = torch.bincount(assign, minlength=k).to(z.dtype)[:, None]
        sums = torch.zeros_like(centres).index_add_(0, assign, z)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)  # an empty cluster keeps its centre
    return assign


def _component_blocks(n: int, d: int, k: int) -> range:
    return range(0, k, max(1, MAX_BLOCK_ELEMENTS // (4 * n * d)))


def _m_step(z: torch.Tensor, resp: torch.Tensor, reg_covar: float) -> _Mixture:
    n, d = z.shape
    k = resp.shape[1]
    nk = resp.sum(dim=0) + 10 * torch.finfo(z.dtype).eps  # scikit-learn's guard against empty components
    means = resp.T @ z / nk[:, None]
    cov = torch.empty(k, d, d, dtype=z.dtype, device=z.device)
    step = _component_blocks(n, d, k).step
    for lo in _component_blocks(n, d, k):
        diff = z[None] - means[lo:lo + step, None, :]  # (b, N, d), centred per component for accuracy
        cov[lo:lo + step] = (resp.T[lo:lo + step, :, None] * diff).transpose(1, 2) @ diff
    cov = cov / nk[:, None, None] + reg_covar * torch.eye(d, dtype=z.dtype, device=z.device)
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ModelFitError("NLEEP's Gaussian mixture has a component with an ill-defined covariance.",
                            hint="lower components_per_class, raise reg_covar, or give more samples per class")
    eye = torch.eye(d, dtype=z.dtype, device=z.device).expand(k, d, d)
    precision = torch.linalg.solve_triangular(chol, eye, upper=False)
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(dim=1)
    return _Mixture(torch.log(nk / n), precision, (precision @ means[:, :, None])[..., 0], log_det)


def _e_step(z: torch.Tensor, mixture: _Mixture) -> tuple[torch.Tensor, float]:
    """Log-posteriors (N, K) and the mean log-likelihood of the samples.

    The whitened residuals ``L_k^{-1}(z - mu_k)`` of all components come from one product of the samples with the
    stacked precision factors (K d, d), in blocks of samples to bound memory.
    """
    n, d = z.shape
    k = mixture.shift.shape[0]
    stacked = mixture.precision.reshape(k * d, d)
    constant = mixture.log_det + d * math.log(2 * math.pi)
    log_prob = torch.empty(n, k, dtype=z.dtype, device=z.device)
    rows = max(1, MAX_BLOCK_ELEMENTS // (4 * k * d))
    for lo in range(0, n, rows):
        white = (z[lo:lo + rows] @ stacked.T).reshape(-1, k, d) - mixture.shift
        log_prob[lo:lo + rows] = -0.5 * ((white * white).sum(dim=2) + constant)
    weighted = log_prob + mixture.log_weights
    log_norm = torch.logsumexp(weighted, dim=1, keepdim=True)
    return weighted - log_norm, float(log_norm.mean())
