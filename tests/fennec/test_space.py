"""Tests of fennec.space.TransferSpace on small planted low-rank transfer histories."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from fennec.errors import HistoryFormatError, InputError, NotFittedError, UnknownNameError
from fennec.space import KernelSetting
from fennec.space import TransferSpace

FAST = dict(n_factors=4, hidden=16, min_steps=250, batch_size=1024, list_size=16)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """The module's spaces (fixtures included) are tiny: one thread. (The library leaves torch's thread count
    alone.)"""


class Planted:
    """A planted space: values = b_m + <U_m, V_t> + noise, with side features that carry U, b and V."""

    def __init__(self, n_models: int = 80, n_tasks: int = 24, rank: int = 3, density: float = 0.6, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.U = rng.normal(size=(n_models, rank))
        self.V = rng.normal(size=(n_tasks, rank))
        self.b = 0.7 * rng.normal(size=n_models)
        self.values = self.b[:, None] + self.U @ self.V.T + 0.05 * rng.normal(size=(n_models, n_tasks))
        self.models = [f"m{i:03d}" for i in range(n_models)]
        self.tasks = [f"t{j:02d}" for j in range(n_tasks)]
        proj_m, proj_t = rng.normal(size=(rank + 1, 6)), rng.normal(size=(rank, 5))
        self.model_features = {m: np.r_[self.U[i], self.b[i]] @ proj_m for i, m in enumerate(self.models)}
        self.task_features = {t: self.V[j] @ proj_t for j, t in enumerate(self.tasks)}
        self.mask = rng.random((n_models, n_tasks)) < density

    def records(self, models=None, tasks=None) -> pd.DataFrame:
        rows = [(m, t, self.values[i, j]) for i, m in enumerate(self.models) for j, t in enumerate(self.tasks)
                if self.mask[i, j] and (models is None or m in models) and (tasks is None or t in tasks)]
        return pd.DataFrame(rows, columns=["model", "task", "value"])

    def truth(self, model_ids, task: str) -> np.ndarray:
        j = self.tasks.index(task)
        return np.array([self.values[self.models.index(m), j] for m in model_ids])


@pytest.fixture(scope="module")
def planted() -> Planted:
    return Planted()


@pytest.fixture(scope="module")
def held_task_space(planted) -> TransferSpace:
    """Fitted without the records of task t00 (the cold task), with side features."""
    train = planted.records(tasks=set(planted.tasks[1:]))
    return TransferSpace(**FAST, random_state=0).fit(train, planted.model_features, planted.task_features)


def _popularity(planted: Planted, ids, held: str) -> np.ndarray:
    z = planted.records().query("task != @held")
    z["value"] = z.groupby("task")["value"].transform(lambda v: (v - v.mean()) / v.std())
    mean = z.groupby("model")["value"].mean()
    return mean.reindex(ids).to_numpy()


def test_fit_sets_fitted_attributes_and_returns_self(planted):
    space = TransferSpace(**FAST, random_state=0)
    assert not [k for k in vars(space) if k.endswith("_")]
    assert space.fit(planted.records()) is space
    assert space.model_factors_.shape == (80, 4) and space.task_factors_.shape == (24, 4)
    assert space.model_bias_.shape == (80,) and space.model_ids_ == planted.models


def test_training_fits_the_history(planted):
    records = planted.records()
    space = TransferSpace(**FAST, random_state=0).fit(records)
    pred = space.predict(records)
    assert stats.spearmanr(pred, records["value"]).statistic > 0.9


def test_cold_task_from_side_features_beats_popularity(planted, held_task_space):
    ids, scores, confidence = held_task_space.score(task_features=planted.task_features["t00"])
    truth = planted.truth(ids, "t00")
    tau = stats.weightedtau(scores, truth)[0]
    tau_pop = stats.weightedtau(_popularity(planted, ids, "t00"), truth)[0]
    assert tau > tau_pop + 0.1 and tau > 0.5
    assert scores.shape == confidence.shape == (80,)
    assert ((confidence > 0) & (confidence <= 1)).all()


def test_calibration_uses_informative_task_features_and_ignores_noise(planted):
    train = planted.records(tasks=set(planted.tasks[1:]))
    informative = TransferSpace(**FAST, random_state=0).fit(train, task_features=planted.task_features)
    rng = np.random.default_rng(5)
    noise = {t: rng.normal(size=5) for t in planted.tasks}
    ignored = TransferSpace(**FAST, random_state=0).fit(train, task_features=noise)
    assert informative.task_kernel_.used
    assert not ignored.task_kernel_.used and ignored.task_kernel_.settings == ()
    _, scores, confidence = ignored.score(task_features=noise["t00"])
    np.testing.assert_allclose(scores, ignored.score()[1])
    assert (confidence == 0).all()


def test_far_task_is_shrunk_to_the_prior_with_low_confidence(planted, held_task_space):
    far = 1e3 * np.ones(5)
    _, scores, confidence = held_task_space.score(task_features=far)
    _, prior, _ = held_task_space.score()
    assert confidence.max() < 1e-6
    np.testing.assert_allclose(scores, prior, atol=1e-4)


def test_fold_in_recovers_a_planted_task_vector(held_task_space, monkeypatch):
    space = held_task_space
    monkeypatch.setattr(space, "fold_in_alpha", 1e-3)  # let the 40 results speak
    rng = np.random.default_rng(1)
    planted_v = 2.0 * rng.normal(size=4)
    values = space.model_bias_ + space.model_factors_ @ planted_v
    shown = rng.choice(len(values), 40, replace=False)
    _, scores, _ = space.score(revealed={space.model_ids_[i]: values[i] for i in shown})
    vector = np.linalg.lstsq(space.model_factors_, scores - space.model_bias_, rcond=None)[0]
    cosine = vector @ planted_v / np.linalg.norm(vector) / np.linalg.norm(planted_v)
    assert cosine > 0.99
    assert stats.spearmanr(scores, values).statistic > 0.99


def test_few_shot_improves_on_cold(planted, held_task_space):
    rng = np.random.default_rng(3)
    ids = held_task_space.model_ids_
    truth = planted.truth(ids, "t00")
    shown = rng.choice(len(ids), 15, replace=False)
    revealed = {ids[i]: truth[i] for i in shown}
    rest = np.setdiff1d(np.arange(len(ids)), shown)
    _, cold, _ = held_task_space.score()
    _, few, conf = held_task_space.score(revealed=revealed)
    tau_cold = stats.weightedtau(cold[rest], truth[rest])[0]
    tau_few = stats.weightedtau(few[rest], truth[rest])[0]
    assert tau_few > tau_cold + 0.2
    _, _, conf_cold = held_task_space.score()
    assert (conf > conf_cold).all() and np.allclose(conf_cold, 0)


def test_batch_queries_match_single_queries(planted, held_task_space):
    feats = np.stack([planted.task_features["t00"], planted.task_features["t01"]])
    revealed = [{"m000": 1.0, "m001": 0.0}, {}]
    _, batch, conf = held_task_space.score(task_features=feats, revealed=revealed)
    assert batch.shape == conf.shape == (2, 80)
    for row, (f, r) in enumerate(zip(feats, revealed)):
        np.testing.assert_allclose(batch[row], held_task_space.score(task_features=f, revealed=r)[1], atol=1e-5)


def test_recommend_agrees_with_score_and_filters_revealed(planted, held_task_space):
    feats = planted.task_features["t00"]
    ids, scores, _ = held_task_space.score(task_features=feats)
    top, top_scores = held_task_space.recommend(task_features=feats, k=5)
    assert list(top) == list(ids[np.argsort(-scores)[:5]])
    np.testing.assert_allclose(top_scores, np.sort(scores)[::-1][:5], rtol=1e-5, atol=1e-5)
    revealed = {top[0]: 1.0, top[1]: 0.5}
    again, _ = held_task_space.recommend(task_features=feats, revealed=revealed, k=5)
    assert not set(revealed) & set(again) and len(again) == 5
    batch, _ = held_task_space.recommend(task_features=np.stack([feats, feats]), k=3)
    assert batch.shape == (2, 3)


def test_cold_models_from_side_features(planted):
    held = set(planted.models[:10])
    space = TransferSpace(**FAST, random_state=0).fit(planted.records(models=set(planted.models) - held),
                                                      planted.model_features, planted.task_features)
    index = space.index_
    space.add_model(sorted(held), np.stack([planted.model_features[m] for m in sorted(held)]))
    assert space.index_ is index and index.ntotal == 80  # grown, not rebuilt
    pairs = planted.records(models=held)
    pred = space.predict(pairs)
    assert stats.spearmanr(pred, pairs["value"]).statistic > 0.6
    conf = space.model_confidence_
    assert (conf[-10:] < conf[:70].min()).all() and (conf[-10:] > 0).all()
    space.add_model("bare")
    assert space.model_confidence_[-1] == 0.0
    np.testing.assert_allclose(space.model_factors_[-1], space.net_.model_default.detach().numpy())
    assert space.model_bias_[-1] == pytest.approx(space.model_bias_[:70].mean(), abs=0.05)


def test_update_warm_starts_new_rows_and_keeps_the_rest(planted):
    old = planted.records(models=set(planted.models[:70]), tasks=set(planted.tasks[:20]))
    new = planted.records().merge(old, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    space = TransferSpace(**FAST, random_state=0).fit(old, planted.model_features, planted.task_features)
    before = space.predict(old)
    space.update(new, planted.model_features, planted.task_features)
    assert len(space.model_ids_) == 80 and len(space.task_ids_) == 24
    after = space.predict(old)
    assert stats.pearsonr(before, after).statistic > 0.97
    assert stats.spearmanr(space.predict(new), new["value"]).statistic > 0.8


def test_update_replaces_known_pairs(planted):
    records = planted.records()
    space = TransferSpace(**FAST, random_state=0).fit(records)
    changed = records.iloc[:3].assign(value=lambda f: f["value"] + 10.0)
    space.update(changed)
    assert len(space._records.value) == len(records)


def test_next_folds_in_and_never_repeats(planted, held_task_space):
    truth = dict(zip(held_task_space.model_ids_, planted.truth(held_task_space.model_ids_, "t00")))
    tried: dict[str, float] = {}
    for _ in range(5):
        model = held_task_space.next(planted.task_features["t00"], tried)
        assert model not in tried
        tried[model] = truth[model]
    best = max(truth.values())
    assert best - max(tried.values()) < np.std(list(truth.values()))
    ids, values = held_task_space.next_scores(planted.task_features["t00"], tried)
    assert np.isneginf(values[[held_task_space.model_ids_.index(m) for m in tried]]).all()
    assert ids[np.argmax(values)] == held_task_space.next(planted.task_features["t00"], tried)
    everything_but_one = {m: truth[m] for m in held_task_space.model_ids_[1:]}
    assert held_task_space.next(tried=everything_but_one) == held_task_space.model_ids_[0]
    with pytest.raises(InputError, match="untried"):
        held_task_space.next(tried=truth)


def test_next_chooses_among_the_candidates_only(planted, held_task_space):
    feats = planted.task_features["t00"]
    pool = held_task_space.model_ids_[10:13]
    assert held_task_space.next(feats, {}, candidates=pool) in pool
    assert held_task_space.next(feats, {pool[0]: 0.5, pool[1]: 0.2}, candidates=pool) == pool[2]
    with pytest.raises(InputError, match="at least one untried"):
        held_task_space.next(feats, {pool[0]: 0.5}, candidates=pool[:1])


def test_next_hedges_away_from_near_copies_of_a_tried_model(planted, held_task_space):
    space = clone(held_task_space).fit(planted.records(tasks=set(planted.tasks[1:])), planted.model_features,
                                       planted.task_features)
    feats = planted.task_features["t00"]
    first = space.next(feats, {})
    tried = {first: 0.5}
    corr = dict(zip(space.model_ids_, space._geometry.correlation([space._model_pos[first]])[:, 0]))
    space.diversity = 0.0
    greedy = space.next(feats, tried)
    space.diversity = 10.0
    hedged = space.next(feats, tried)
    assert corr[first] == pytest.approx(1.0)
    assert corr[hedged] < corr[greedy] and corr[hedged] < 0.5


def test_task_blocks_give_a_small_informative_block_its_say(planted, tmp_path):
    """An informative 5-column block beside 60 columns of noise: one kernel over all columns drowns it, the
    per-block views let the calibration find it."""
    train = planted.records(tasks=set(planted.tasks[1:]))
    rng = np.random.default_rng(1)
    mixed = {t: np.r_[rng.normal(size=60), planted.task_features[t]] for t in planted.tasks}
    space = TransferSpace(**FAST, random_state=0, task_blocks=[60, 5]).fit(train, task_features=mixed)
    settings = space.task_kernel_.settings
    assert sum(s.share for s in settings) == pytest.approx(1.0)
    assert sum(s.share for s in settings if s.blocks == ((60, 65),)) > 0.5
    truth = planted.truth(space.model_ids_, "t00")
    cold = stats.weightedtau(space.score(task_features=mixed["t00"])[1], truth).statistic
    prior = stats.weightedtau(space.score()[1], truth).statistic
    assert cold > prior
    space.save(tmp_path / "space")
    np.testing.assert_array_equal(TransferSpace.load(tmp_path / "space").score(task_features=mixed["t00"])[1],
                                  space.score(task_features=mixed["t00"])[1])
    with pytest.raises(InputError, match="task_blocks"):
        TransferSpace(**FAST, task_blocks=[60, 4]).fit(train, task_features=mixed)


def test_similar_tasks_finds_a_training_task_from_its_own_features(planted, held_task_space):
    t = planted.tasks[5]
    nearest = held_task_space.similar_tasks(planted.task_features[t], k=3)
    assert nearest[0] == (t, pytest.approx(1.0))
    assert len(nearest) == 3 and 1.0 >= nearest[1][1] >= nearest[2][1] > 0.0
    unfitted = TransferSpace(**FAST).fit(planted.records())  # no task features: nothing to compare
    with pytest.raises(InputError, match="task features"):
        unfitted.similar_tasks(planted.task_features[t])


def test_task_weights_are_what_the_cold_start_vector_averages(planted, held_task_space):
    feats = planted.task_features["t00"]
    ids, weights = held_task_space.task_weights(feats)
    assert list(ids) == held_task_space.task_ids_ and weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    vector = weights @ held_task_space.task_factors_ - held_task_space.task_factors_.mean(0)
    np.testing.assert_allclose(held_task_space.score(task_features=feats)[1],
                               held_task_space.model_bias_ + held_task_space.model_factors_ @ vector, atol=1e-5)
    with pytest.raises(InputError, match="one vector"):
        held_task_space.task_weights(np.stack([feats, feats]))


def test_save_load_round_trip_gives_identical_scores(tmp_path, planted, held_task_space):
    space = clone(held_task_space).fit(planted.records(tasks=set(planted.tasks[1:])), planted.model_features,
                                       planted.task_features)
    space.add_model("cold", planted.model_features["m000"] + 0.1)
    space.save(tmp_path / "space")
    loaded = TransferSpace.load(tmp_path / "space")
    feats = planted.task_features["t00"]
    revealed = {"m001": 0.3, "m002": 0.9, "m003": 0.1}
    for query in ({}, {"task_features": feats}, {"revealed": revealed}, {"task_features": feats,
                                                                            "revealed": revealed}):
        for a, b in zip(space.score(**query), loaded.score(**query)):
            np.testing.assert_array_equal(a, b)
    assert loaded.get_params() == space.get_params()
    assert list(loaded.recommend(task_features=feats, k=5)[0]) == list(space.recommend(task_features=feats, k=5)[0])
    assert not any(p.suffix in {".pkl", ".pt"} for p in (tmp_path / "space").iterdir())


def test_a_space_saved_with_a_single_kernel_setting_still_loads(tmp_path, planted, held_task_space):
    """Spaces written before the bagged kernel stored one (width, prior, blocks); they load as that one setting."""
    space = clone(held_task_space).fit(planted.records(tasks=set(planted.tasks[1:])), planted.model_features,
                                       planted.task_features)
    best = max(space.task_kernel_.settings, key=lambda s: s.share)
    space.task_kernel_.settings = (KernelSetting(best.blocks, best.width, best.prior),)
    space.save(tmp_path / "space")
    meta_file = tmp_path / "space" / "space.json"
    meta = json.loads(meta_file.read_text())
    del meta["kernel_settings"]
    meta.update(kernel_width=best.width, kernel_prior=best.prior, kernel_blocks=[list(b) for b in best.blocks])
    meta_file.write_text(json.dumps(meta))
    feats = planted.task_features["t00"]
    np.testing.assert_array_equal(TransferSpace.load(tmp_path / "space").score(task_features=feats)[1],
                                  space.score(task_features=feats)[1])
    meta.update(kernel_prior=float("inf"))
    meta_file.write_text(json.dumps(meta))
    assert not TransferSpace.load(tmp_path / "space").task_kernel_.used


def test_normal_scores_make_the_space_blind_to_monotone_changes_of_a_task_scale(planted):
    """Under the default normalisation only the order within a task counts; z-scores see the change."""
    records = planted.records()
    warped = records.assign(value=np.where(records["task"] == "t03", np.exp(4.0 * records["value"]),
                                           records["value"]))
    fitted = {(norm, name): TransferSpace(**FAST, normalize=norm, random_state=3).fit(table, planted.model_features)
              for norm in ("normal-scores", "zscore") for name, table in (("plain", records), ("warped", warped))}
    np.testing.assert_array_equal(fitted["normal-scores", "plain"].model_factors_,
                                  fitted["normal-scores", "warped"].model_factors_)
    assert not np.allclose(fitted["zscore", "plain"].model_factors_, fitted["zscore", "warped"].model_factors_)


def test_an_unknown_normalization_is_refused_before_training(planted):
    with pytest.raises(UnknownNameError, match="zscore"):
        TransferSpace(**FAST, normalize="ranks").fit(planted.records())


def test_a_space_saved_before_the_normalization_choice_loads_as_zscore(tmp_path, planted):
    space = TransferSpace(**FAST, normalize="zscore", random_state=0).fit(planted.records(), planted.model_features)
    space.save(tmp_path / "space")
    params_file = tmp_path / "space" / "params.json"
    saved = json.loads(params_file.read_text())
    del saved["params"]["normalize"]
    params_file.write_text(json.dumps(saved))
    loaded = TransferSpace.load(tmp_path / "space")
    assert loaded.normalize == "zscore"
    revealed = {"m001": 0.3, "m002": 0.9, "m003": 0.1, "m004": 0.5}
    np.testing.assert_array_equal(loaded.score(revealed=revealed)[1], space.score(revealed=revealed)[1])


def test_same_seed_same_space_other_seed_other_space(planted):
    records = planted.records()
    a = TransferSpace(**FAST, random_state=7).fit(records, planted.model_features)
    b = TransferSpace(**FAST, random_state=7).fit(records, planted.model_features)
    c = TransferSpace(**FAST, random_state=8).fit(records, planted.model_features)
    np.testing.assert_array_equal(a.model_factors_, b.model_factors_)
    np.testing.assert_array_equal(a.task_factors_, b.task_factors_)
    assert not np.allclose(a.model_factors_, c.model_factors_)


def test_fit_is_independent_of_record_order(planted):
    records = planted.records()
    shuffled = records.sample(frac=1.0, random_state=0)
    a = TransferSpace(**FAST, random_state=0).fit(records)
    b = TransferSpace(**FAST, random_state=0).fit(shuffled)
    assert a.model_ids_ == b.model_ids_
    np.testing.assert_array_equal(a.predict(records), b.predict(records))


def test_models_and_tasks_without_side_features_are_allowed(planted):
    some = {m: v for m, v in planted.model_features.items() if m < "m040"}
    space = TransferSpace(**FAST, random_state=0).fit(planted.records(), some, {"t00": planted.task_features["t00"]})
    assert space._model_features.has.sum() == 40 and space._task_features.has.sum() == 1


def test_history_object_is_read_with_best_aggregate(planted):
    from fennec.history import TransferHistory

    records = planted.records()
    history = TransferHistory(":memory:")
    history.add(records)
    history.add(records.iloc[:1].assign(value=records["value"].iloc[0] + 5.0))  # a second, better run of one pair
    space = TransferSpace(**FAST, random_state=0).fit(history)
    assert len(space.model_ids_) == 80 and len(space._records.value) == len(records)
    first = records.iloc[0]
    pair = (np.asarray(space.model_ids_)[space._records.model] == first["model"]) & (
        np.asarray(space.task_ids_)[space._records.task] == first["task"])
    assert space._records.value[pair] == pytest.approx([first["value"] + 5.0])


def test_not_fitted():
    space = TransferSpace()
    for call in (space.score, lambda: space.recommend(k=1), lambda: space.add_model("m"), lambda: space.next(),
                 lambda: space.save("x"), lambda: space.update(pd.DataFrame({"model": ["a"], "task": ["b"],
                                                                             "value": [1.0]}))):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


@pytest.mark.parametrize("records, error, message", [
    ([("a", "b", 1.0)], InputError, "DataFrame"),
    (pd.DataFrame({"model": ["a"], "value": [1.0]}), HistoryFormatError, "Missing task"),
    (pd.DataFrame({"model": ["a", "b"], "task": ["t", "t"], "value": [1.0, "x"]}), HistoryFormatError, "row 1"),
    (pd.DataFrame({"model": ["a", "a"], "task": ["t", "t"], "value": [1.0, 2.0]}), HistoryFormatError,
     "one value per"),
    (pd.DataFrame({"model": [], "task": [], "value": []}), InputError, "at least one"),
    (pd.DataFrame({"model": ["a", None], "task": ["t", "t"], "value": [1.0, 2.0]}), HistoryFormatError, "Row 1"),
])
def test_bad_records(records, error, message):
    with pytest.raises(error, match=message):
        TransferSpace(**FAST).fit(records)


@pytest.mark.parametrize("params, message", [
    ({"n_factors": 0}, "`n_factors` of TransferSpace must be"),
    ({"free_dropout": 1.5}, r"in \[0.0, 1.0\]"),
    ({"temperature": 0}, "temperature"),
    ({"random_state": np.random.default_rng(0)}, "random_state"),
])
def test_bad_hyper_parameters(planted, params, message):
    with pytest.raises(InputError, match=message):
        TransferSpace(**{**FAST, **params}).fit(planted.records())


def test_bad_query_inputs(planted, held_task_space):
    with pytest.raises(InputError, match="dimension 5"):
        held_task_space.score(task_features=np.zeros(3))
    with pytest.raises(UnknownNameError, match="nope"):
        held_task_space.score(revealed={"nope": 1.0})
    with pytest.raises(InputError, match="finite"):
        held_task_space.score(revealed={"m000": float("nan")})
    with pytest.raises(InputError, match="one mapping or a sequence of 2"):
        held_task_space.score(task_features=np.zeros((2, 5)), revealed=[{}])
    with pytest.raises(InputError, match="new to the space"):
        held_task_space.add_model("m000", planted.model_features["m000"])
    with pytest.raises(InputError, match="dimension 5"):
        TransferSpace(**FAST).fit(planted.records(), task_features={"t00": np.zeros(5), "t01": np.zeros(3)})
    bare = TransferSpace(**FAST).fit(planted.records(tasks={"t00", "t01"}))
    with pytest.raises(InputError, match="without task features"):
        bare.score(task_features=np.zeros(5))


def test_load_of_a_missing_directory(tmp_path):
    with pytest.raises(InputError, match="lacks params.json"):
        TransferSpace.load(tmp_path)


def test_config_file_matches_the_constructor_defaults():
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "space.yaml").read_text())["space"]
    assert config == TransferSpace().get_params()
