"""LogME and SFDA against the authors' reference values, and their documented deviations from the reference."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
import torch

from _metric_tasks import FIXTURES, make_task, requires_cuda
from fennec.metrics import _logme, _sfda, logme, sfda
from fennec.metrics._logme import (_evidence_eigh, _evidence_tridiagonal, _log_evidence, _posterior_terms,
                                   _spectral_projection)
from fennec.metrics._sfda import _lda_proba, _sfda_cpu
from fennec.metrics._validation import prepare


def _cases() -> list[str]:
    path = FIXTURES / "metrics_expected.json"
    return sorted(json.loads(path.read_text())) if path.is_file() else []


@pytest.fixture(scope="module")
def reference():
    if not (FIXTURES / "metrics_cases.npz").is_file():
        pytest.skip(f"reference fixtures not found in {FIXTURES}")
    arrays = np.load(FIXTURES / "metrics_cases.npz")
    expected = json.loads((FIXTURES / "metrics_expected.json").read_text())
    return arrays, expected


def test_fixture_cases_are_present():
    assert len(_cases()) >= 3, f"expected the reference cases in {FIXTURES}"


@pytest.mark.parametrize("case", _cases())
@pytest.mark.parametrize("name, metric", [("logme", logme), ("sfda", sfda)])
def test_matches_reference_values(reference, case, name, metric):
    arrays, expected = reference
    x, y = arrays[f"{case}__X"], arrays[f"{case}__y"]
    assert x.shape == (expected[case]["N"], expected[case]["D"])
    value = metric(x, y)
    assert value == pytest.approx(expected[case][name], rel=1e-6)


@requires_cuda
@pytest.mark.parametrize("case", _cases())
@pytest.mark.parametrize("name, metric", [("logme", logme), ("sfda", sfda)])
def test_matches_reference_values_on_cuda(reference, case, name, metric):
    arrays, expected = reference
    x = torch.as_tensor(arrays[f"{case}__X"], device="cuda")
    assert metric(x, arrays[f"{case}__y"]) == pytest.approx(expected[case][name], rel=1e-6)


# --- LogME -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, d", [(60, 5), (8, 20)])  # k = D, and k = N < D where the exact log-det matters
def test_logme_evidence_is_the_gaussian_marginal_likelihood(n, d):
    """At any (alpha, beta), the evidence formula must equal log N(y | 0, I/beta + F F^T / alpha)."""
    rng = np.random.default_rng(3)
    f = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.4).astype(float)
    x_t, y_t = torch.as_tensor(f), torch.as_tensor(y)[:, None]
    sigma, proj = _spectral_projection(x_t, y_t)
    r0 = (y_t**2).sum(0) - (proj**2).sum(0)
    for alpha, beta in [(0.7, 3.0), (5.0, 0.2)]:
        t = torch.tensor([alpha / beta], dtype=torch.float64)
        _, m2, res2 = _posterior_terms(t, sigma, proj**2, r0)
        ours = _log_evidence(torch.tensor([alpha]).double(), torch.tensor([beta]).double(), m2, res2, sigma, n, d)
        exact = scipy.stats.multivariate_normal(np.zeros(n), np.eye(n) / beta + f @ f.T / alpha).logpdf(y)
        assert float(ours[0]) == pytest.approx(exact, rel=1e-8)


def test_logme_ignores_all_zero_columns():
    x, y = make_task(n=200, d=10)
    padded = np.hstack([x, np.zeros((200, 6))])
    assert logme(padded, y) == pytest.approx(logme(x, y), rel=1e-9)


def test_logme_ignores_all_zero_columns_when_n_below_d():
    x, y = make_task(n=30, d=40, c=3)
    padded = np.hstack([x, np.zeros((30, 25))])
    assert logme(padded, y) == pytest.approx(logme(x, y), rel=1e-9)


def test_logme_is_unchanged_by_duplicating_every_column():
    """[F, F] is the same model with the prior variance doubled, which the maximisation over alpha absorbs.

    The fixed point starts from alpha = beta = 1 and stops at a relative tolerance of 1e-3, so the two runs reach
    the same optimum only up to that tolerance (the evidence is flat there: second order).
    """
    x, y = make_task(n=200, d=10)
    assert logme(np.hstack([x, x]), y, max_iter=100, tol=1e-10) == pytest.approx(
        logme(x, y, max_iter=100, tol=1e-10), rel=1e-6)


def test_logme_regression_targets_are_columns():
    x, y = make_task(n=150, d=8)
    onehot = (y[:, None] == np.unique(y)[None, :]).astype(float)
    assert logme(x, onehot) == pytest.approx(logme(x, y), rel=1e-12)
    targets = x[:, :2] @ np.array([[1.0, 0.5], [-0.3, 2.0]])
    assert logme(x, targets) > logme(x, np.random.default_rng(0).permutation(targets))


def test_logme_rejects_all_zero_features():
    with pytest.raises(ValueError, match="all zero"):
        logme(np.zeros((10, 3)), [0, 1] * 5)


def _logme_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    low_rank = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 90))  # N < D and rank 6 < N
    doubled = np.hstack([rng.normal(size=(150, 20))] * 2)  # N > D and rank 20 < D
    return {
        "n>d": (rng.normal(size=(300, 50)) + 2 * np.eye(5, 50)[np.arange(300) % 5], np.arange(300) % 5),
        "n<d": (rng.normal(size=(35, 80)), np.arange(35) % 3),
        "n<d rank-deficient": (low_rank, np.arange(40) % 4),
        "n>d rank-deficient": (doubled, rng.integers(0, 3, 150)),
        "fortran-ordered, real targets": (np.asfortranarray(rng.normal(size=(120, 30))), rng.normal(size=(120, 3))),
        "two samples": (rng.normal(size=(2, 7)), np.array([0, 1])),
    }


def _as_targets(y: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.as_tensor(y[:, None] == np.unique(y)[None, :] if y.ndim == 1 else y, dtype=dtype)


@pytest.mark.parametrize("case", list(_logme_cases()))
def test_logme_cpu_route_equals_torch_eigh(case, monkeypatch):
    """The LAPACK route (tridiagonal solves, no eigenvector) gives the evidence of torch.linalg.eigh's route."""
    x, y = _logme_cases()[case]
    x_t, y_t = torch.as_tensor(x), _as_targets(y)
    x_before, y_before = x.copy(), y_t.clone()
    calls = []
    monkeypatch.setattr(_logme, "_evidence_tridiagonal",
                        lambda *a, **k: calls.append(1) or _evidence_tridiagonal(*a, **k))
    score = logme(x, y)
    assert calls == [1]  # CPU tensors take the LAPACK route
    ours = _evidence_tridiagonal(x_t, y_t, max_iter=11, tol=1e-3)
    assert np.array_equal(x, x_before) and torch.equal(y_t, y_before)  # inputs are not modified
    expected = _evidence_eigh(x_t, y_t, max_iter=11, tol=1e-3)
    np.testing.assert_allclose(ours, expected, rtol=1e-9)
    assert score == pytest.approx(float((expected / len(x)).mean()), rel=1e-9)


def test_logme_cpu_route_in_float32():
    """float32 runs single-precision LAPACK (not a silent upcast) and stays within 1e-5 of float64."""
    x, y = _logme_cases()["n>d"]
    evidence = _evidence_tridiagonal(torch.as_tensor(x, dtype=torch.float32), _as_targets(y, torch.float32),
                                     max_iter=11, tol=1e-3)
    assert evidence.dtype == torch.float32
    assert logme(x, y, dtype=torch.float32) == pytest.approx(logme(x, y), rel=1e-5)


# --- SFDA ------------------------------------------------------------------------------------------------------


def test_sfda_closed_form_equals_generalized_eigenbasis():
    """coef = M shrink(S_w)^{-1} must equal the reference's M W W^T from eigh(S_b, shrink(S_w))."""
    x, y = make_task(n=60, d=5, c=3, separation=1.0)
    x_t, lab = prepare(x, y, metric="sfda", device=None, dtype=torch.float64)
    proba, lam, means = _lda_proba(x_t, lab, shrinkage=None)
    codes = lab.codes.numpy()
    priors = np.bincount(codes) / len(codes)
    mu = means.numpy()
    s_w = sum(p * np.cov(x[codes == c].T, bias=True) for c, p in enumerate(priors))
    shrink = lambda s: (1 - lam) * s + lam * np.trace(s) / 5 * np.eye(5)  # noqa: E731
    s_b = shrink(np.cov(x.T, bias=True)) - shrink(s_w)
    _, w = scipy.linalg.eigh(s_b, shrink(s_w))
    coef = mu @ w @ w.T
    logits = x @ coef.T - 0.5 * np.sum(mu * coef, axis=1) + np.log(priors)
    expected = scipy.special.softmax(logits, axis=1)
    np.testing.assert_allclose(proba.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_sfda_saturates_with_few_samples_and_pca_restores_a_ranking():
    """Documented behaviour: with N << D every labelling scores about 1; n_components brings back a ranking."""
    x, y = make_task(n=40, d=400, c=4, separation=4.0)
    shuffled = np.random.default_rng(1).permutation(y)
    assert sfda(x, y) > 0.99 and sfda(x, shuffled) > 0.99
    assert sfda(x, y, n_components=8) > sfda(x, shuffled, n_components=8) + 0.2


def test_sfda_pca_with_all_components_keeps_the_score():
    """PCA keeping every component is a rotation plus a shift, to which the discriminant is invariant.

    (The power-iteration estimate of the shrinkage is not rotation-invariant: the features are scaled so that the
    shrinkage sits at its 1e-10 floor in both runs.)
    """
    x, y = make_task(n=120, d=6)
    x = 10 * x
    assert sfda(x, y, n_components=6) == pytest.approx(sfda(x, y), rel=1e-9)


@pytest.mark.parametrize("case", ["n>d", "n<d", "n>d rank-deficient", "fortran-ordered"])
def test_sfda_cpu_route_equals_the_torch_route(case, monkeypatch):
    """SciPy's LAPACK route (the CPU) and the torch route (any device) compute the same score."""
    rng = np.random.default_rng(5)
    y = np.arange(120) % 4
    x = {"n>d": rng.normal(size=(120, 10)) + np.eye(4, 10)[y],
         "n<d": rng.normal(size=(30, 50)) + np.eye(4, 50)[y[:30]],
         "n>d rank-deficient": np.hstack([rng.normal(size=(120, 8)) + np.eye(4, 8)[y]] * 2),
         "fortran-ordered": np.asfortranarray(rng.normal(size=(120, 10)) + 0.5 * np.eye(4, 10)[y])}[case]
    y = y[: len(x)]
    calls = []
    monkeypatch.setattr(_sfda, "_sfda_cpu", lambda *a, **k: calls.append(1) or _sfda_cpu(*a, **k))
    ours = sfda(x, y)
    assert calls == [1]
    monkeypatch.setattr(_sfda, "use_lapack", lambda x: False)
    assert ours == pytest.approx(sfda(x, y), rel=1e-9)
    if case != "n<d":  # (where the scatter is singular, float32 rounding moves both routes' scores alike)
        assert sfda(x, y, dtype=torch.float32) == pytest.approx(ours, rel=1e-6)
