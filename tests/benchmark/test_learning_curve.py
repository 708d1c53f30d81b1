"""The learning-curve protocol: seeded nested subsets of the history, never the held-out task, the full history
equal to the cold task, and a curve that rises where more history should help."""
import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark._types import Benchmark
from benchmark.cli import main
from benchmark.loaders import load
from benchmark.methods import create_method
from benchmark.protocols import (
    cold_task,
    history_subsets,
    learning_curve,
    mean_over_tasks,
)
from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError


def _synthetic(n_models=15, n_tasks=9, noise=1.5, seed=0) -> Benchmark:
    """Values = a model's quality + much per-task noise: the more tasks averaged, the better the ranking."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n_models)
    rows = [(f"m{i}", f"t{j}", float(quality[i] + noise * rng.normal()))
            for i in range(n_models) for j in range(n_tasks)]
    return Benchmark("synthetic", pd.DataFrame(rows, columns=["model", "task", "value"]),
                     {f"m{i}": ModelCard(f"m{i}") for i in range(n_models)},
                     {f"t{j}": TaskCard(f"t{j}") for j in range(n_tasks)})


class Spy:
    """Popularity that remembers the tasks of every fit."""

    fitted: ClassVar[list[set[str]]] = []
    scored: ClassVar[list[tuple[str, set[str]]]] = []

    def __init__(self):
        self.inner = create_method("popularity")

    def fit(self, records, model_cards, task_cards):
        self.tasks = set(records["task"])
        Spy.fitted.append(self.tasks)
        self.inner.fit(records, model_cards, task_cards)
        return self

    def score(self, task_card, revealed):
        Spy.scored.append((task_card.name, self.tasks))
        return self.inner.score(task_card, revealed)


def test_subsets_are_seeded_nested_and_sized_by_the_fraction():
    others = [f"t{j}" for j in range(12)]
    subsets = history_subsets(others, [1.0, 0.25, 0.5], seed=3, task="held")
    assert [len(subsets[f]) for f in (0.25, 0.5, 1.0)] == [3, 6, 12]
    assert set(subsets[0.25]) <= set(subsets[0.5]) <= set(subsets[1.0]) == set(others)
    assert subsets == history_subsets(others, [0.25, 0.5, 1.0], seed=3, task="held")  # deterministic
    assert len(history_subsets(others, [0.01], 0, "x")[0.01]) == 1  # never an empty history
    draws = {tuple(history_subsets(others, [0.25], seed, "held")[0.25]) for seed in range(5)}
    assert len(draws) > 1  # seeds draw different histories
    assert history_subsets(others, [0.25], 0, "a") != history_subsets(others, [0.25], 0, "b")  # and so do tasks


def test_fits_never_see_the_held_out_task_and_the_full_history_is_fitted_once():
    bench = _synthetic(n_tasks=9)
    Spy.fitted, Spy.scored = [], []
    result = learning_curve(bench, Spy, fractions=(0.25, 0.5, 1.0), seeds=range(3))
    assert set(result) == set(bench.targets)
    for task in bench.targets:
        assert result[task]["n_history@f0.25"] == 2 and result[task]["n_history@f1"] == 8
    full = [tasks for tasks in Spy.fitted if len(tasks) == 8]
    assert len(full) == len(bench.targets)  # once per target task, not once per seed
    assert all(len(tasks) in (2, 4, 8) for tasks in Spy.fitted)
    assert len(Spy.fitted) <= len(bench.targets) * (2 * 3 + 1)
    assert len(Spy.scored) == len(Spy.fitted)
    assert all(task not in fitted for task, fitted in Spy.scored)


def test_the_full_history_gives_the_cold_task_figures(data_dir):
    bench = load("sfda11")
    curve = learning_curve(bench, lambda: create_method("popularity-ns"), fractions=(0.3, 1.0), seeds=range(2))
    cold = cold_task(bench, lambda: create_method("popularity-ns"))
    assert {t: r["tau_w@f1"] for t, r in curve.items()} == pytest.approx({t: r["tau_w"] for t, r in cold.items()})
    assert mean_over_tasks(curve)["tau_w@f1"] == pytest.approx(0.837, abs=5e-4)  # the README's cold-task figure


def test_more_history_ranks_better_where_values_are_noisy():
    means = mean_over_tasks(learning_curve(_synthetic(), lambda: create_method("popularity"),
                                           fractions=(0.125, 0.5, 1.0), seeds=range(4)))
    assert means["tau_w@f0.125"] + 0.05 < means["tau_w@f0.5"] < means["tau_w@f1"] + 0.02


def test_bad_fractions_and_seeds_are_clear():
    bench = _synthetic()
    for fractions in [(), (0.0, 1.0), (1.5,)]:
        with pytest.raises(InputError, match="fractions of learning-curve"):
            learning_curve(bench, Spy, fractions=fractions)
    with pytest.raises(InputError, match="seeds"):
        learning_curve(bench, Spy, seeds=[])


def test_the_command_line_runs_it_and_checks_fractions(data_dir, capsys):
    assert main(["run", "--history", "sfda11", "--protocol", "learning-curve", "--method", "popularity",
                 "--fractions", "0.5,1", "--seeds", "2"]) == 0
    header, *_, mean = capsys.readouterr().out.strip().splitlines()[1:]
    assert header.split()[1:] == ["n_history@f0.5", "tau_w@f0.5", "rel@1@f0.5", "n_history@f1", "tau_w@f1",
                                  "rel@1@f1"]
    assert float(mean.split()[4]) == pytest.approx(10.0) and float(mean.split()[5]) == pytest.approx(0.826, abs=5e-4)
    assert main(["run", "--history", "sfda11", "--protocol", "learning-curve", "--method", "popularity",
                 "--fractions", "half"]) == 1
    assert "--fractions must be numbers" in capsys.readouterr().err


def test_a_suite_reports_the_curve_with_a_plot(data_dir, tmp_path):
    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump({
        "name": "curve", "benchmarks": ["sfda11"], "methods": ["popularity", "popularity-ns", "logme"],
        "runs": [{"protocol": "learning-curve", "fractions": [0.3, 1.0], "seeds": 2}]}))
    assert main(["suite", str(config), "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| method | tasks | tau_w@f0.3 (3 tasks) | tau_w@f1 (10 tasks) |" in report
    assert "| learning-curve (fractions=[0.3, 1.0], seeds=2): tau_w@f0.3 | popularity |" in report
    assert "![learning curve](learning_curve.png)" in report
    assert (tmp_path / "out" / "learning_curve.png").stat().st_size > 10_000
    assert "| sfda11 | logme | the benchmark carries no published 'logme' scores" in report.split("## Not run")[1]
    skipped = json.loads((tmp_path / "out" / "skipped.json").read_text())
    assert [row[:2] for row in skipped] == [["sfda11", "logme"]]
    (tmp_path / "out" / "report.md").unlink()  # written again from the results, the skipped ones included
    assert main(["report", str(tmp_path / "out" / "results.json")]) == 0
    assert "## Not run" in (tmp_path / "out" / "report.md").read_text()
