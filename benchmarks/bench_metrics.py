"""Time fennec's LogME and SFDA against straightforward NumPy implementations of the same formulas.

The NumPy baselines below follow the papers and the authors' reference code: one Python loop iteration per class
(per-class evidence maximisation for LogME; per-class covariances, a generalized eigendecomposition and ``M W W^T``
for SFDA). fennec's versions share one eigendecomposition across classes and vectorise the fixed point over
classes (LogME), and replace the eigenbasis by one Cholesky solve, ``W W^T = shrink(S_w)^{-1}`` (SFDA).

Usage::

    python benchmarks/bench_metrics.py            # both sizes, default threading then one thread, medians of 5
    python benchmarks/bench_metrics.py --quick    # only N=5,000, D=1,024, C=50
    python benchmarks/bench_metrics.py --device cuda
    python benchmarks/bench_metrics.py --threads 1  # only with both sides single-threaded

Every threading runs both sides alike: ``default`` sets nothing (torch and the BLAS libraries use what they pick,
all the cores here); a count limits torch's pool and every BLAS library (threadpoolctl) to it. The implementations
run on the same synthetic features, in the same process; the ratio is against fennec in float64 (the default),
and fennec's float32 option is shown with its relative difference. Memory: "tracemalloc"
is the peak of NumPy's own allocations (LAPACK's internal workspaces are not tracked); "RSS" is the peak increase
of the process's resident memory during a call, sampled every millisecond by a thread (it sees everything,
including torch's allocations and LAPACK workspaces); on CUDA, torch's peak allocated device memory.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from fennec.metrics import logme, sfda

SIZES = [(5_000, 1_024, 50), (20_000, 2_048, 100)]


# --- NumPy baselines: the formulas as the papers state them, one class at a time ---------------------------------


def logme_numpy(f: np.ndarray, y: np.ndarray, gram_svd: bool = True) -> float:
    """LogME (fixed-point variant), per-class loop.

    ``gram_svd=True`` decomposes ``F^T F`` with ``np.linalg.svd`` as the authors' ``truncated_svd`` does;
    ``False`` uses ``np.linalg.eigh`` (the cheaper route the spec suggests), to show how much of the speed-up
    comes from the decomposition alone.
    """
    f = f.astype(np.float64)
    n, d = f.shape
    gram = f.T @ f
    if gram_svd:
        vecs, sigma, _ = np.linalg.svd(gram)
    else:
        sigma, vecs = np.linalg.eigh(gram)
    keep = sigma > sigma.max() * max(n, d) * np.finfo(np.float64).eps
    sigma, vecs = sigma[keep], vecs[:, keep]
    u = f @ vecs / np.sqrt(sigma)
    evidences = []
    for c in np.unique(y):
        target = (y == c).astype(np.float64)
        x2 = (u.T @ target) ** 2
        r0 = target @ target - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(11):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / (t + sigma) ** 2).sum()
            res2 = (x2 / (1 + sigma / t) ** 2).sum() + r0
            alpha, beta = gamma / (m2 + 1e-5), (n - gamma) / (res2 + 1e-5)
            if abs(alpha / beta - t) / t <= 1e-3:
                break
        logdet = np.log(alpha + beta * sigma).sum() + (d - len(sigma)) * np.log(alpha)
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - logdet / 2 - beta / 2 * res2 - alpha / 2 * m2
                    - n / 2 * np.log(2 * np.pi))
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _shrink(s: np.ndarray, lam: float) -> np.ndarray:
    return (1 - lam) * s + lam * np.trace(s) / s.shape[0] * np.eye(s.shape[0])


def _lda_numpy(x: np.ndarray, y: np.ndarray, lam: float | None) -> tuple[np.ndarray, float, np.ndarray]:
    classes = np.unique(y)
    priors = np.array([np.mean(y == c) for c in classes])
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    s_w = sum(p * np.cov(x[y == c].T, bias=True) for c, p in zip(classes, priors))
    if lam is None:  # power-iteration estimate of the largest eigenvalue, as in the reference
        v = s_w.sum(axis=1)
        for _ in range(3):
            u = s_w @ v
            u /= np.linalg.norm(u)
            v = s_w @ u
            v /= np.linalg.norm(v)
        lam = max(np.exp(-5 * (v @ s_w @ u)), 1e-10)
    s_w = _shrink(s_w, lam)
    s_b = _shrink(np.cov(x.T, bias=True), lam) - s_w
    evals, evecs = scipy.linalg.eigh(s_b, s_w)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.sum(means * coef, axis=1) + np.log(priors)
    return _softmax(x @ coef.T + intercept), lam, means


def sfda_numpy(f: np.ndarray, y: np.ndarray) -> float:
    """SFDA, per-class loops for the scatter matrices and for ConfMix, generalized eigenproblem per pass."""
    x = f.astype(np.float64)  # a copy: the reference mixes the features in place
    classes = np.unique(y)
    proba, lam, means = _lda_numpy(x, y, None)
    proba = _softmax(proba)
    for i, c in enumerate(classes):
        rows = y == c
        others = (means.sum(axis=0) - means[i]) / (len(classes) - 1)
        keep = proba[rows, i][:, None]
        x[rows] = keep * x[rows] + (1 - keep) * others
    proba, _, _ = _lda_numpy(x, y, lam)
    codes = np.searchsorted(classes, y)
    return float(proba[np.arange(len(y)), codes].mean())


# --- measurement -------------------------------------------------------------------------------------------------


class _RssPeak:
    """Peak increase of resident memory while the block runs, sampled by a thread."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss() - self._start)
            time.sleep(0.001)

    def __enter__(self) -> "_RssPeak":
        self._start, self._stop = self._rss(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss() - self._start)


@dataclass
class Result:
    value: float
    median_s: float
    rss_mb: float
    traced_mb: float | None  # tracemalloc peak (NumPy) or CUDA peak allocated (fennec on CUDA)


def _timed(fn: Callable[[], float], cuda: bool) -> tuple[float, float]:
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    value = fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start, value


def _memory(fn: Callable[[], float], *, numpy_side: bool, cuda: bool) -> tuple[float, float | None]:
    """Peak memory of one extra, untimed call (tracing slows NumPy down and must not touch the timings)."""
    traced = None
    with _RssPeak() as rss:
        if numpy_side:
            tracemalloc.start()
            fn()
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        elif cuda:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            fn()
            traced = (torch.cuda.max_memory_allocated() - before) / 2**20
        else:
            fn()
    return rss.peak / 2**20, traced


def measure(impls: list[tuple[str, Callable[[], float], bool]], repeats: int, cuda: bool) -> dict[str, Result]:
    """Median time of each implementation; runs are interleaved so that a change of machine load (the cores are
    shared) affects all implementations alike. Each run starts after a pause of 0.2 s, so that BLAS worker threads
    still spinning after the previous run (OpenBLAS's spin for about 0.1 s) do not slow the next one down."""
    times: dict[str, list[float]] = {label: [] for label, _, _ in impls}
    values: dict[str, float] = {}
    for _ in range(repeats):
        for label, fn, numpy_side in impls:
            time.sleep(0.2)
            elapsed, values[label] = _timed(fn, cuda and not numpy_side)
            times[label].append(elapsed)
    results = {}
    for label, fn, numpy_side in impls:
        rss, traced = _memory(fn, numpy_side=numpy_side, cuda=cuda and not numpy_side)
        results[label] = Result(values[label], statistics.median(times[label]), rss, traced)
    return results


def make_features(n: int, d: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate-layer-like features: correlated, non-negative-ish, with class structure, in float32."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, size=n)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(n, d)) @ mixing + 0.5 * rng.normal(size=(c, d))[y]
    return np.maximum(x, -0.2).astype(np.float32), y


def _threadings(values: list[str]) -> list[int | None]:
    """``default`` (None: no setting, what torch and BLAS pick) or a thread count, in the order given."""
    try:
        return [None if v == "default" else int(v) for v in values]
    except ValueError:
        raise SystemExit(f"--threads takes 'default' or integers. Got {values} instead.") from None


def run_sizes(sizes: list[tuple[int, int, int]], device: str, repeats: int, cuda: bool) -> None:
    """The table for one threading: every size, LogME then SFDA, fennec in float64 and float32 and the baselines."""
    header = (f"{'N':>6} {'D':>5} {'C':>4}  {'metric':6} {'implementation':22} {'median s':>9} {'ratio':>6} "
              f"{'rel diff':>9} {'RSS MB':>7} {'traced MB':>10}")
    print(header)
    print("-" * len(header))
    for n, d, c in sizes:
        x, y = make_features(n, d, c)
        x_dev = torch.as_tensor(x, device=device)  # the transfer to the device is not timed
        runs = {
            "logme": [("fennec (float64)", lambda x_dev=x_dev, y=y: logme(x_dev, y), False),
                      ("fennec (float32)", lambda x_dev=x_dev, y=y: logme(x_dev, y, dtype=torch.float32), False),
                      ("numpy, SVD (reference)", lambda x=x, y=y: logme_numpy(x, y), True),
                      ("numpy, eigh", lambda x=x, y=y: logme_numpy(x, y, gram_svd=False), True)],
            "sfda": [("fennec (float64)", lambda x_dev=x_dev, y=y: sfda(x_dev, y), False),
                     ("fennec (float32)", lambda x_dev=x_dev, y=y: sfda(x_dev, y, dtype=torch.float32), False),
                     ("numpy (reference)", lambda x=x, y=y: sfda_numpy(x, y), True)],
        }
        for metric, impls in runs.items():
            results = measure(impls, repeats, cuda)
            ours = results[impls[0][0]]
            for label, res in results.items():
                ratio = res.median_s / ours.median_s
                rel = abs(res.value - ours.value) / abs(res.value)
                traced = "-" if res.traced_mb is None else f"{res.traced_mb:.0f}"
                print(f"{n:>6} {d:>5} {c:>4}  {metric:6} {label:22} {res.median_s:>9.3f} {ratio:>5.1f}x "
                      f"{rel:>9.1e} {res.rss_mb:>7.0f} {traced:>10}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the first size (N=5,000, D=1,024, C=50)")
    parser.add_argument("--device", default="cpu", help="device for fennec's metrics, e.g. cuda")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per implementation (median reported)")
    parser.add_argument("--threads", nargs="+", default=["default", "1"],
                        help="threadings to run, in order: 'default' (no setting: what torch and BLAS choose) "
                             "and/or a count for both sides, torch's pool and every BLAS (default: default 1)")
    args = parser.parse_args()
    cuda = torch.device(args.device).type == "cuda"
    print(f"torch {torch.__version__}, numpy {np.__version__}; CPU cores visible: {os.cpu_count()}; fennec on "
          f"{args.device}; medians of {args.repeats}")
    warm_x, warm_y = make_features(300, 32, 4)
    for fn in (logme, sfda):  # first-call costs (thread pools, kernels) are not what we measure
        fn(torch.as_tensor(warm_x, device=args.device), warm_y)
    for threads in _threadings(args.threads):
        if threads is None:
            limits = threadpool_limits(None)  # changes nothing
        else:
            torch.set_num_threads(threads)
            limits = threadpool_limits(threads)
        with limits:
            pools = ", ".join(f"{i['prefix']} {i['num_threads']}" for i in threadpool_info())
            print(f"\n== threads: {'default' if threads is None else threads} (torch {torch.get_num_threads()}; "
                  f"{pools}); load average (1, 5, 15 min): " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
            run_sizes(SIZES[:1] if args.quick else SIZES, args.device, args.repeats, cuda)
    print("\nratio = median time of the row / median time of fennec (float64); rel diff = |value - fennec float64's| "
          "/ |value|.")
    print("traced MB: tracemalloc peak for NumPy rows" + (", CUDA peak allocated for fennec rows." if cuda else "."))
    print("load average at end (1, 5, 15 min): " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
