"""The report's plots: per-task weighted tau on cold tasks, the learning curve (tau_w against history size) and the
calibration's reliability plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .protocols import LEVELS


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_per_task_tau(results: list[dict[str, Any]], path: Path) -> Path | None:
    """Bars of each cold-task result's per-task ``tau_w``, one panel per benchmark (None: no cold-task result)."""
    cold = [r for r in results if r["protocol"] == "cold-task"]
    if not cold:
        return None
    plt = _pyplot()
    benches = list(dict.fromkeys(r["benchmark"] for r in cold))
    fig, axes = plt.subplots(len(benches), 1, figsize=(12, 3.2 * len(benches)), squeeze=False)
    for ax, bench in zip(axes[:, 0], benches):
        rows = [r for r in cold if r["benchmark"] == bench]
        tasks = sorted({t for r in rows for t in r["tasks"]})
        width = 0.8 / len(rows)
        for i, r in enumerate(rows):
            values = [r["tasks"].get(t, {}).get("tau_w", np.nan) for t in tasks]
            ax.bar(np.arange(len(tasks)) + i * width, values, width, label=f"{r['method']} ({r['mean']['tau_w']:.3f})")
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=40, ha="right", fontsize=7)
        ax.set_ylabel("tau_w")
        ax.set_title(f"{bench}: cold-task weighted tau per task")
        ax.axhline(0, color="black", lw=0.5)
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curve_points(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A learning-curve result as (mean history size, mean tau_w) per fraction, by growing history."""
    fractions = [key.removeprefix("tau_w@f") for key in result["mean"] if key.startswith("tau_w@f")]
    sizes = np.array([result["mean"][f"n_history@f{f}"] for f in fractions])
    means = np.array([result["mean"][f"tau_w@f{f}"] for f in fractions])
    order = np.argsort(sizes, kind="stable")
    return sizes[order], means[order]


def plot_learning_curves(results: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean cold-task tau_w against the number of history tasks, a line per method, one panel per benchmark (None:
    no learning-curve result). No band: tasks differ far more from each other than the methods do, so a spread over
    tasks would hide the curves; the per-task figures are in the results."""
    curves = [r for r in results if r["protocol"] == "learning-curve" and r["tasks"]]
    if not curves:
        return None
    plt = _pyplot()
    benches = list(dict.fromkeys(r["benchmark"] for r in curves))
    fig, axes = plt.subplots(1, len(benches), figsize=(5.5 * len(benches), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        for r in (r for r in curves if r["benchmark"] == bench):
            sizes, means = curve_points(r)
            ax.plot(sizes, means, marker="o", label=r["method"])
        ax.set_xlabel("history tasks the method was fitted on")
        ax.set_ylabel("mean cold-task tau_w")
        ax.set_title(f"{bench}: learning curve")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(results: list[dict[str, Any]], path: Path) -> Path | None:
    """Nominal against empirical coverage (left) and predicted against realised hit@1 and hit@3 (right), one
    line or marker per benchmark and query; the diagonal is perfect calibration."""
    rows = [r for r in results if r["protocol"] == "calibration"]
    if not rows:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for r in rows:
        for query, style in (("cold", "-o"), ("k3", "--s")):
            empirical = [r["mean"].get(f"{query}:coverage@{round(100 * lv)}", np.nan) for lv in LEVELS]
            left.plot(LEVELS, empirical, style, label=f"{r['benchmark']} {query}", ms=4)
            for n, marker in ((1, "^"), (3, "o")):
                right.scatter(r["mean"].get(f"{query}:p_hit@{n}"), r["mean"].get(f"{query}:hit@{n}"), marker=marker,
                              label=f"{r['benchmark']} {query} hit@{n}", s=30)
    for ax, title in ((left, "interval coverage"), (right, "top-n holds the best model")):
        ax.plot([0, 1], [0, 1], color="black", lw=0.6)
        ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
        ax.legend(fontsize=6, ncol=2)
    left.set(xlabel="nominal", ylabel="empirical (held-out tasks)")
    right.set(xlabel="predicted", ylabel="realised (held-out tasks)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
