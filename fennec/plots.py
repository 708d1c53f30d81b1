"""Pictures of a recommendation: the top-k with uncertainty bands, and where the task sits among historical tasks."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .recommend import TASK_FEATURES, Recommendation
from .workspace import Workspace

__all__ = ["plot_recommendation"]


def plot_recommendation(result: Recommendation, workspace: Workspace, path: str | Path) -> Path:
    """Write a PNG: left, the ranking's predicted values with their widest interval (split-conformal, in the
    task's units; a space saved before intervals shows its scores alone); right, the historical tasks' side
    features in 2-D (PCA) with the new task marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranking = result.ranking[::-1]
    has_values = all("predicted" in r for r in ranking)
    values = np.array([r["predicted"] if has_values else r["score"] for r in ranking])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(3.5, 0.35 * len(ranking) + 1)))
    if has_values and ranking[0].get("interval"):
        level = max(ranking[0]["interval"], key=lambda lv: float(lv.rstrip("%")))
        bounds = np.array([r["interval"][level] for r in ranking])
        left.barh(range(len(ranking)), values, xerr=[values - bounds[:, 0], bounds[:, 1] - values],
                  color="tab:blue", alpha=0.8, capsize=3)
        left.set_xlabel(f"predicted value with its {level} interval ({result.confidence.get('units_from', '')})")
    else:
        left.barh(range(len(ranking)), values, color="tab:blue", alpha=0.8)
        left.set_xlabel("predicted score (normalised units)")
    left.set_yticks(range(len(ranking)), [r["model"] for r in ranking], fontsize=8)
    left.set_title(f"Top {len(ranking)} for {result.task}")

    stored = np.load(workspace.version_dir(result.space_version) / TASK_FEATURES)
    names, matrix = stored["names"].tolist(), stored["features"].astype(np.float64)
    points = np.vstack([matrix, result.task_features[None, :]]) if result.task_features is not None else matrix
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    right.scatter(xy[:-1, 0], xy[:-1, 1], s=18, color="tab:gray")
    for (x, y), name in zip(xy[:-1], names):
        right.annotate(name, (x, y), fontsize=6, alpha=0.8)
    if result.task_features is not None:
        right.scatter(xy[-1:, 0], xy[-1:, 1], s=80, color="tab:red", marker="*", label=result.task)
        right.legend(fontsize=8)
    right.set_title("Task side features (PCA): historical tasks and the new one")
    right.set_xticks([])
    right.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
