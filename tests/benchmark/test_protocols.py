"""Protocols: leakage (no held-out record reaches fit), shapes of results, and the baselines' behaviour."""
import numpy as np
import pandas as pd
import pytest

from benchmark._types import Benchmark
from benchmark.methods import Popularity, available, create_method
from benchmark.protocols import budget, cold_model, cold_task, few_shot, mean_over_tasks, run
from fennec.cards import ModelCard, TaskCard
from fennec.errors import InputError, UnknownNameError


def _synthetic(n_models=12, n_tasks=6, seed=0) -> Benchmark:
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n_models)
    rows = [(f"m{i}", f"t{j}", float(quality[i] + 0.3 * rng.normal()))
            for i in range(n_models) for j in range(n_tasks)]
    records = pd.DataFrame(rows, columns=["model", "task", "value"])
    return Benchmark("synthetic", records, {f"m{i}": ModelCard(f"m{i}", n_params=float(i + 1))
                                            for i in range(n_models)},
                     {f"t{j}": TaskCard(f"t{j}") for j in range(n_tasks)})


class Spy:
    """A method that remembers what it was fitted on and what it was shown."""

    fits: list[pd.DataFrame] = []
    shown: list[tuple[str, pd.DataFrame]] = []

    def fit(self, records, model_cards, task_cards):
        Spy.fits.append(records.copy())
        self.models_ = sorted(model_cards)
        return self

    def score(self, task_card, revealed):
        Spy.shown.append((task_card.name, revealed.copy()))
        return {m: float(i) for i, m in enumerate(self.models_)}


@pytest.fixture(autouse=True)
def _reset_spy():
    Spy.fits, Spy.shown = [], []


def test_cold_task_never_fits_on_the_held_out_task():
    bench = _synthetic()
    cold_task(bench, Spy)
    assert len(Spy.fits) == len(bench.tasks)
    for (task, revealed), fitted in zip(Spy.shown, Spy.fits):
        assert task not in set(fitted["task"])
        assert revealed.empty


def test_few_shot_reveals_exactly_k_records_of_the_task_and_fits_without_it():
    bench = _synthetic()
    few_shot(bench, Spy, k=3, n_draws=4)
    assert all(len(revealed) == 3 and set(revealed["task"]) == {task} for task, revealed in Spy.shown)
    for fitted in Spy.fits:
        assert fitted["task"].nunique() == len(bench.tasks) - 1


def test_few_shot_measures_only_unrevealed_models():
    bench = _synthetic(n_models=6)
    results = few_shot(bench, Spy, k=2, n_draws=3)
    assert all(r["n_models"] == 4 for r in results.values())


def test_cold_model_fits_without_any_record_of_held_out_models():
    bench = _synthetic(n_models=20)
    results = cold_model(bench, Spy, fraction=0.2, seeds=[0, 1])
    assert len(Spy.fits) == 2
    for fitted in Spy.fits:
        held = set(bench.models) - set(fitted["model"])
        assert len(held) == 4
    assert all(r["n_models"] == 4 for r in results.values())


def test_budget_tries_models_in_order_and_regret_decreases_with_budget():
    bench = _synthetic()
    results = budget(bench, lambda: create_method("popularity"), budgets=[1, 3, 5])
    for r in results.values():
        assert r["regret@B1"] >= r["regret@B3"] >= r["regret@B5"] >= 0
        assert 0 < r["rel@B1"] <= 1


def test_budget_uses_next_when_a_method_offers_it():
    class Oracle(Spy):
        def next(self, task_card, tried, candidates):
            truth = bench.records.loc[bench.records["task"] == task_card.name].set_index("model")["value"]
            assert set(candidates) == set(truth.index) - set(tried["model"])
            return truth.drop(list(tried["model"])).idxmax()

    bench = _synthetic()
    results = budget(bench, Oracle, budgets=[1])
    assert all(r["regret@B1"] == 0 for r in results.values())


def test_budget_refuses_a_proposal_outside_the_candidates():
    class Stubborn(Spy):
        def next(self, task_card, tried, candidates):
            return "a model with no result on this task"

    with pytest.raises(ValueError, match="not an untried candidate"):
        budget(_synthetic(), Stubborn, budgets=[1])


def test_popularity_matches_its_definition():
    records = pd.DataFrame({"model": ["a", "b", "c", "a", "b"], "task": ["x", "x", "x", "y", "y"],
                            "value": [1.0, 2.0, 3.0, 10.0, 0.0]})
    pop = Popularity().fit(records, {}, {})
    # task x: z = (-1, 0, 1); task y: sample std of (10, 0) = 7.07 -> z = (0.707, -0.707)
    assert pop.scores_["a"] == pytest.approx((-1 + 1 / np.sqrt(2)) / 2)
    assert pop.scores_["b"] == pytest.approx((0 - 1 / np.sqrt(2)) / 2)
    assert pop.scores_["c"] == pytest.approx(1.0)


def test_popularity_beats_random_on_a_benchmark_driven_by_model_quality():
    bench = _synthetic(n_models=30)
    pop = mean_over_tasks(cold_task(bench, lambda: create_method("popularity")))
    rnd = mean_over_tasks(cold_task(bench, lambda: create_method("random")))
    assert pop["tau_w"] > 0.8 > abs(rnd["tau_w"])


def test_pool_subsampling_restricts_models():
    bench = _synthetic(n_models=20)
    results = run(bench, "cold-task", lambda: create_method("params"), pools=3, pool_fraction=0.5)
    assert all(r["n_models"] == 10 for r in results.values())


def test_unknown_names_and_bad_options_are_clear():
    bench = _synthetic()
    with pytest.raises(UnknownNameError, match="protocol"):
        run(bench, "cold-tsk", Spy)
    with pytest.raises(UnknownNameError, match="popularity"):
        create_method("popularty")
    with pytest.raises(InputError, match="k of few-shot"):
        few_shot(bench, Spy, k=0)
    assert {"popularity", "random", "logme", "imagenet-top1", "params"} <= set(available())
