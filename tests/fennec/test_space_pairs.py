"""The space's pairwise term (fennec.space._affinity) on planted histories: a model-task signal the factors cannot
hold (which of eight source datasets a model was trained on, against the task's own distances to them)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import weightedtau

from fennec.errors import InputError
from fennec.space import TransferSpace
from fennec.space._affinity import PairTerm

FAST = dict(n_factors=3, hidden=16, min_steps=200, batch_size=1024, list_size=16)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Tiny spaces: one thread."""


class Sourced:
    """values = b_m + 1.5 * closeness(source of m, task) + noise; each task a random point among 8 sources."""

    def __init__(self, n_models: int = 60, n_tasks: int = 20, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.source = rng.integers(0, 8, n_models)
        self.closeness = rng.normal(size=(n_tasks, 8))  # the task's (negated) distance to each source dataset
        self.b = 0.5 * rng.normal(size=n_models)
        self.values = self.b[:, None] + 1.5 * self.closeness[:, self.source].T + 0.05 * rng.normal(
            size=(n_models, n_tasks))
        self.models = [f"m{i:02d}" for i in range(n_models)]
        self.tasks = [f"t{j:02d}" for j in range(n_tasks)]
        self.model_pairs = {"domain": {m: np.eye(8)[self.source[i]] for i, m in enumerate(self.models)}}
        self.task_pairs = {"domain": {t: self.closeness[j] for j, t in enumerate(self.tasks)}}

    def records(self, tasks) -> pd.DataFrame:
        rows = [(m, t, self.values[i, j]) for i, m in enumerate(self.models) for j, t in enumerate(self.tasks)
                if t in tasks]
        return pd.DataFrame(rows, columns=["model", "task", "value"])


@pytest.fixture(scope="module")
def sourced() -> Sourced:
    return Sourced()


@pytest.fixture(scope="module")
def fitted(sourced) -> TransferSpace:
    """Fitted on all tasks but t00, with the domain view."""
    train = sourced.records(set(sourced.tasks[1:]))
    return TransferSpace(**FAST, random_state=0).fit(train, model_pairs=sourced.model_pairs,
                                                     task_pairs=sourced.task_pairs)


def test_affinities_are_standardised_over_the_models_that_have_the_view():
    term = PairTerm.of(["a", "b", "c", "d"], {"v": {"a": [1, 0], "b": [0, 1], "c": [1, 1]}})
    a = term.affinities({"v": np.array([2.0, 1.0])})[0]
    assert a[3] == 0.0  # d lacks the view
    assert a[:3].mean() == pytest.approx(0.0) and a[:3].std() == pytest.approx(1.0)
    assert np.argsort(a[:3]).tolist() == [1, 0, 2]
    assert not term.used and term.scores({"v": np.ones(2)}) == 0.0  # weights zero until fit
    with pytest.raises(InputError, match="length 3"):
        term.affinities({"v": np.ones(3)})


def test_the_fitted_term_ranks_a_cold_task_by_its_sources(sourced, fitted):
    assert fitted.pair_term_.views == ("domain",) and fitted.pair_term_.weights[0] > 0.5
    truth = sourced.values[:, 0]
    ids, with_pairs, _ = fitted.score(None, pairs={"domain": sourced.closeness[0]})
    _, without, _ = fitted.score(None)
    rows = [fitted.model_ids_.index(m) for m in sourced.models]
    tau_with = weightedtau(with_pairs[rows], truth)[0]
    assert tau_with > weightedtau(without[rows], truth)[0] + 0.3 and tau_with > 0.8


def test_a_view_that_carries_nothing_stays_off(sourced):
    rng = np.random.default_rng(1)
    noise = {"noise": {m: rng.normal(size=4) for m in sourced.models}}
    tasks = {"noise": {t: rng.normal(size=4) for t in sourced.tasks}}
    train = sourced.records(set(sourced.tasks[1:]))
    space = TransferSpace(**FAST, random_state=0).fit(train, model_pairs=noise, task_pairs=tasks)
    assert space.pair_term_.views == ("noise",) and abs(space.pair_term_.weights[0]) < 0.05


def test_recommend_with_pairs_is_the_top_of_score(sourced, fitted):
    pairs = {"domain": sourced.closeness[0]}
    ids, scores, _ = fitted.score(None, pairs=pairs)
    top, top_scores = fitted.recommend(None, k=5, pairs=pairs)
    assert top.tolist() == ids[np.argsort(-scores, kind="stable")[:5]].tolist()
    assert np.allclose(top_scores, np.sort(scores)[::-1][:5])


def test_the_term_survives_save_and_load_and_grows_with_new_models(sourced, fitted, tmp_path):
    pairs = {"domain": sourced.closeness[0]}
    fitted.save(tmp_path / "space")
    loaded = TransferSpace.load(tmp_path / "space")
    assert np.allclose(loaded.score(None, pairs=pairs)[1], fitted.score(None, pairs=pairs)[1], atol=1e-5)
    best_source = int(np.argmax(sourced.closeness[0]))
    loaded.add_model(["new-near", "new-plain"], pairs={"domain": {"new-near": np.eye(8)[best_source]}})
    ids, scores, _ = loaded.score(None, pairs=pairs)
    near, plain = scores[list(ids).index("new-near")], scores[list(ids).index("new-plain")]
    assert near > plain + 0.5  # the same side features (none); only the new model's source tells them apart


def test_an_update_without_new_models_keeps_the_term(sourced, fitted, tmp_path):
    fitted.save(tmp_path / "space")
    space = TransferSpace.load(tmp_path / "space")
    space.update(sourced.records({"t00"}))
    assert space.pair_term_.used and space.pair_term_.matrices[0].shape == (len(space.model_ids_), 8)


def test_rank_weights_follow_the_weighted_tau():
    """A record weighs 1 / rank (ties share their mean rank), one in all per task."""
    from fennec.space._affinity import rank_weights

    w = rank_weights(np.array([0.1, 3.0, 0.1, -2.0]))
    assert w.sum() == pytest.approx(1.0)
    assert w[1] > w[0] == w[2] > w[3]
    assert w[1] / w[3] == pytest.approx(4.0)


def test_fit_weighs_the_top_of_each_list():
    """Tasks where the affinity singles out the best model and is noise below it (TransferGraph's food101: two
    checkpoints learn, the rest end at chance): the rank-weighted fit puts the matched model first on new tasks of
    that kind far more often than an unweighted fit of the same residuals would."""
    rng = np.random.default_rng(0)
    n_models = 40

    def problem():
        affinity = rng.normal(size=n_models)
        z = 0.3 * rng.normal(size=n_models)
        z[np.argmax(affinity)] = 3.0
        return z, affinity

    problems = [(np.arange(n_models), z, np.zeros(n_models), {"v": a}) for z, a in (problem() for _ in range(8))]
    term = PairTerm(("v",), (np.eye(n_models, dtype=np.float32),), (np.ones(n_models, bool),), np.zeros(1))
    term.fit(problems)
    pooled = np.concatenate([p[3]["v"] for p in problems])
    plain = float(pooled @ np.concatenate([p[1] for p in problems]) / (pooled @ pooled))
    assert term.weights[0] > 2 * plain > 0
    found = {"fitted": 0, "plain": 0}
    for _ in range(50):
        z, affinity = problem()
        prior = 0.5 * rng.normal(size=n_models)  # the history's view of the models, blind to the task
        standard = (affinity - affinity.mean()) / affinity.std()
        found["fitted"] += int(np.argmax(prior + term.scores({"v": affinity})) == np.argmax(z))
        found["plain"] += int(np.argmax(prior + plain * standard) == np.argmax(z))
    assert found["fitted"] >= 20 and found["fitted"] > 2 * found["plain"], found
