"""fennec+metric: the blend weight is chosen on the training tasks, and the blend is what its docstring says."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.methods._fennec_metric import _blend, choose_weight
from benchmark.runner import method_applies


def _records(n_models: int = 30, n_tasks: int = 8, seed: int = 0) -> pd.DataFrame:
    """Tasks that disagree with each other (so the history is a weak prior) around a shared model quality."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n_models)
    rows = [(f"m{i}", f"t{j}", 0.3 * quality[i] + rng.normal()) for i in range(n_models) for j in range(n_tasks)]
    return pd.DataFrame(rows, columns=["model", "task", "value"])


def test_a_metric_that_knows_the_truth_takes_all_the_weight():
    records = _records()
    exact = {t: dict(zip(g["model"], g["value"])) for t, g in records.groupby("task")}
    assert choose_weight(records, exact) == 0.0


def test_a_noise_metric_leaves_the_space_alone():
    records = _records()
    rng = np.random.default_rng(1)
    noise = {t: dict(zip(g["model"], rng.normal(size=len(g)))) for t, g in records.groupby("task")}
    assert choose_weight(records, noise) >= 0.7


def test_a_space_prior_that_knows_each_tasks_twin_takes_more_weight_than_popularity():
    """Tasks in pairs of twins: popularity (equal weights) is a weak prior, the twin a strong one, so blending
    with the twin-weighted prior leaves less to the metric."""
    rng = np.random.default_rng(2)
    quality = rng.normal(size=(4, 30))
    rows = [(f"m{i}", f"t{j}", quality[j // 2, i] + 0.1 * rng.normal()) for i in range(30) for j in range(8)]
    records = pd.DataFrame(rows, columns=["model", "task", "value"])
    metric = {f"t{j}": {f"m{i}": quality[j // 2, i] + rng.normal() for i in range(30)} for j in range(8)}

    def twin(task: str) -> pd.Series:
        j = int(task[1:])
        return pd.Series({f"t{k}": 1.0 if k == j ^ 1 else 0.0 for k in range(8)})

    plain, with_twins = choose_weight(records, metric), choose_weight(records, metric, twin)
    assert with_twins > plain and with_twins >= 0.7


def test_a_pairwise_term_that_knows_each_task_takes_more_weight_than_the_prior_alone():
    """Tasks that share nothing (a weak prior) and a pairwise term that knows each task's own quality, as a
    task's own-dataset checkpoints are: the space's prior with the term leaves less to a fair metric."""
    rng = np.random.default_rng(3)
    quality = rng.normal(size=(8, 30))
    rows = [(f"m{i}", f"t{j}", quality[j, i]) for i in range(30) for j in range(8)]
    records = pd.DataFrame(rows, columns=["model", "task", "value"])
    metric = {f"t{j}": {f"m{i}": quality[j, i] + rng.normal() for i in range(30)} for j in range(8)}

    def pairs(task: str) -> pd.Series:
        return pd.Series(2.0 * quality[int(task[1:])], index=[f"m{i}" for i in range(30)])

    plain, with_pairs = choose_weight(records, metric), choose_weight(records, metric, pair_scores=pairs)
    assert plain <= 0.3 and with_pairs >= 0.5


def test_without_metric_scores_the_weight_is_the_space():
    assert choose_weight(_records(), {}) == 1.0


def test_blend_is_the_weighted_mean_of_z_scores_and_missing_scores_count_as_average():
    space = {"a": 3.0, "b": 1.0, "c": 2.0}
    metric = {"a": 0.0, "b": 10.0}
    blended = _blend(space, metric, 0.5)
    z_space = (np.array([3.0, 1.0, 2.0]) - 2.0) / np.std([3.0, 1.0, 2.0])
    assert blended["a"] == pytest.approx(0.5 * z_space[0] - 0.5)
    assert blended["b"] == pytest.approx(0.5 * z_space[1] + 0.5)
    assert blended["c"] == pytest.approx(0.5 * z_space[2])
    assert _blend(space, metric, 1.0) == pytest.approx(dict(zip("abc", z_space)))


def test_fennec_metric_applies_only_where_a_metric_is_published():
    class Bench:
        def __init__(self, metrics):
            self._metrics = metrics

        def published_metrics(self):
            return self._metrics

    assert method_applies(Bench(["knn1"]), "fennec+metric")
    assert not method_applies(Bench([]), "fennec+metric")
    assert not method_applies(Bench(["knn1"]), "logme")
    assert method_applies(Bench([]), "popularity")
