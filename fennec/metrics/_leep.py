"""LEEP and NCE: transferability from the source classifier's predictions on the target samples."""
from __future__ import annotations

from typing import Any

import torch

from fennec.errors import InputError
from fennec.metrics._docs import shared_docs
from fennec.metrics._linalg import one_hot
from fennec.metrics._validation import Labels, prepare

__all__ = ["leep", "nce", "expected_empirical_prediction"]

_ROW_SUM_TOL = 1e-3  # probabilities saved in float16/float32 do not sum to 1 exactly


@shared_docs
def leep(probabilities: Any, labels: Any, *, device: str | torch.device | None = None,
         dtype: torch.dtype = torch.float64) -> float:
    r"""LEEP: Log Expected Empirical Prediction (Nguyen et al., ICML 2020).

    From the source classifier's probabilities :math:`\theta(x_i)` over its K classes :math:`z`, the empirical
    joint :math:`\hat P(y, z) = \frac1N \sum_{i: y_i = y} \theta(x_i)_z` gives :math:`\hat P(y \mid z)`, and

    .. math::

        \mathrm{LEEP} = \frac1N \sum_{i=1}^N \log \sum_{z} \hat P(y_i \mid z)\, \theta(x_i)_z .

    See `Nguyen et al. (2020) <https://arxiv.org/abs/2002.12462>`_. Higher is better; the score is <= 0.

    Parameters
    ----------
    probabilities : ndarray or Tensor of shape (n_samples, n_source_classes)
        The source model's softmax outputs on the target samples (rows sum to 1), not its features.
    {labels_after_probabilities}

    Returns
    -------
    float
        The mean log-likelihood of the true labels under the expected empirical predictor.

    Notes
    -----
    Source classes that no sample predicts (:math:`\hat P(z) = 0`) contribute nothing. Some public benchmark code
    (e.g. the SFDA repository) averages the probability instead of its log; this follows the paper.

    Examples
    --------
    >>> import numpy as np
    >>> from fennec.metrics import leep
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
    >>> leep(probs, [0, 1, 0, 1]) > leep(probs, [0, 1, 1, 0])
    True
    """
    p, lab = _prepare_probabilities(probabilities, labels, "leep", device, dtype)
    eep = expected_empirical_prediction(p, lab)
    return float(torch.log(eep).mean())


@shared_docs
def nce(probabilities: Any, labels: Any, *, device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64) -> float:
    r"""NCE: Negative Conditional Entropy of target labels given source labels (Tran et al., ICCV 2019).

    With :math:`z_i = \arg\max_z \theta(x_i)_z` the source classifier's hard prediction and :math:`\hat P(y, z)`
    the empirical joint distribution of :math:`(y_i, z_i)`,

    .. math::

        \mathrm{NCE} = -H(Y \mid Z) = \sum_{y, z} \hat P(y, z) \log \frac{\hat P(y, z)}{\hat P(z)} .

    See `Tran et al. (2019) <https://arxiv.org/abs/1908.08142>`_. Higher is better; the score is <= 0.

    Parameters
    ----------
    probabilities : ndarray or Tensor of shape (n_samples, n_source_classes)
        The source model's softmax outputs (or logits: only their arg-max is used) on the target samples.
    {labels_after_probabilities}

    Returns
    -------
    float
        Minus the conditional entropy, in nats.

    Examples
    --------
    >>> import numpy as np
    >>> from fennec.metrics import nce
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]])
    >>> nce(probs, [0, 1, 0, 1])
    0.0
    """
    p, lab = prepare(probabilities, labels, metric="nce", device=device, dtype=dtype, name="probabilities")
    k = p.shape[1]
    pairs = lab.codes * k + p.argmax(dim=1)
    joint = torch.bincount(pairs, minlength=lab.n_classes * k).reshape(lab.n_classes, k).to(dtype) / p.shape[0]
    marginal = joint.sum(dim=0, keepdim=True)
    ratio = torch.where(joint > 0, joint / marginal.clamp_min(torch.finfo(dtype).tiny), torch.ones_like(joint))
    return float((joint * torch.log(ratio)).sum())


def expected_empirical_prediction(p: torch.Tensor, lab: Labels) -> torch.Tensor:
    """``sum_z P(y_i | z) p[i, z]`` for each sample's own label, shape (N,), from soft assignments ``p`` (N, K).

    Shared by LEEP (``p`` = source-classifier probabilities) and NLEEP (``p`` = mixture responsibilities).
    """
    joint = one_hot(lab, p.dtype).T @ p / p.shape[0]  # (C, K)
    marginal = joint.sum(dim=0, keepdim=True)
    conditional = torch.where(marginal > 0, joint / marginal.clamp_min(torch.finfo(p.dtype).tiny),
                              torch.zeros_like(joint))
    return (p * conditional[lab.codes]).sum(dim=1)


def _prepare_probabilities(probabilities: Any, labels: Any, metric: str, device: Any,
                           dtype: Any) -> tuple[torch.Tensor, Labels]:
    p, lab = prepare(probabilities, labels, metric=metric, device=device, dtype=dtype, name="probabilities")
    rows = p.sum(dim=1)
    if bool((p < 0).any()) or bool(((rows - 1).abs() > _ROW_SUM_TOL).any()):
        raise InputError(f"`probabilities` of `{metric}` must be non-negative with rows summing to 1 "
                         f"(the source classifier's softmax outputs). Got row sums in "
                         f"[{float(rows.min()):.4g}, {float(rows.max()):.4g}] instead.",
                         hint="apply torch.softmax(logits, dim=1) to the source model's logits first")
    return p, lab
