"""The calibration protocol on a real benchmark (two held-out tasks of sfda11, a quickly trained space)."""
import numpy as np

from benchmark.loaders import load
from benchmark.methods._fennec import FennecMethod
from benchmark.protocols import LEVELS, calibration
from benchmark.reports import calibration_rows


def test_calibration_measures_coverage_and_hit_rates_on_held_out_tasks():
    bench = load("sfda11")
    tasks = bench.targets[:2]
    results = calibration(bench, lambda: FennecMethod(min_steps=60, n_epochs=2), n_draws=2, tasks=tasks)
    assert set(results) == set(tasks)
    for task, row in results.items():
        # a cold query's unrevealed models are all of the task's: their mean is the task's own
        assert np.isclose(row["cold:mean"], bench.records.loc[bench.records["task"] == task, "value"].mean())
        assert np.isfinite(row["cold:location"]) and np.isfinite(row["k3:location"])
        for query in ("cold", "k3"):
            coverage = [row[f"{query}:coverage@{round(100 * lv)}"] for lv in LEVELS]
            assert all(0 <= c <= 1 for c in coverage) and np.all(np.diff(coverage) >= 0)  # nested intervals
            assert row[f"{query}:width@90"] > 0 and 0 <= row[f"{query}:p_hit@3"] <= 1
            assert row[f"{query}:hit@3"] in (0.0, 0.5, 1.0)
    table = calibration_rows([{"protocol": "calibration", "benchmark": "sfda11", "method": "fennec",
                               "mean": results[tasks[0]]}])
    assert len(table) == 4 and "sfda11" in table[2]


def test_a_percent_benchmark_bounds_the_space_to_0_100_and_a_fraction_one_to_0_1():
    """sfda11 records top-1 in percent (its ``metric`` column says so): the harness's space stops there; a bare table
    of fractions (no `metric` column) gets the space's own [0, 1]."""
    bench = load("sfda11")
    percent = FennecMethod(min_steps=20, n_epochs=1).fit(bench.records, bench.model_cards, bench.task_cards)
    assert percent.space_.value_range_ == (0.0, 100.0)
    prediction = percent.predict(bench.task_cards[bench.targets[0]], bench.records.iloc[:0])
    low, high = prediction.intervals[0.9]
    assert np.all(low >= 0) and np.all(high <= 100) and np.any(high == 100)  # else the bound was never needed
    fractions = bench.records[["model", "task", "value"]].assign(value=lambda r: r["value"] / 100)
    bare = FennecMethod(min_steps=20, n_epochs=1).fit(fractions, bench.model_cards, bench.task_cards)
    assert bare.space_.value_range_ == (0.0, 1.0)
