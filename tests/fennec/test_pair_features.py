"""PairFeaturizer: the views built from cards (the labels view needs the MiniLM proxy and is tested with the space)."""
import numpy as np

from fennec.cards import ModelCard, TaskCard
from fennec.pair_features import PairFeaturizer


def _cards():
    models = {
        "on-food": ModelCard("on-food", pretrain_data="food101", extra={"domain_key": "food101"}),
        "on-cars": ModelCard("on-cars", pretrain_data="stanford_cars", extra={"domain_key": "stanfordcars"}),
        "on-imagenet": ModelCard("on-imagenet", pretrain_data="imagenet"),
    }
    # A task's table row leaves out its own dataset, as TransferGraph's (of distances) does.
    distance = {"domain_similarity_is_distance": True}
    tasks = {
        "food101": TaskCard("food101", extra={"domain_similarity": {"stanfordcars": 0.2}, **distance}),
        "stanfordcars": TaskCard("stanfordcars", extra={"domain_similarity": {"food101": 0.3}, **distance}),
    }
    return models, tasks


def test_views_are_kept_where_two_models_carry_them():
    models, tasks = _cards()
    featurizer = PairFeaturizer().fit(models, tasks)
    assert featurizer.fitted_views_ == ["domain", "source"]
    assert set(featurizer.model_pairs_["domain"]) == {"on-food", "on-cars"}
    assert set(featurizer.model_pairs_["source"]) == {"on-food", "on-cars", "on-imagenet"}


def test_a_task_is_nearest_its_own_dataset():
    models, tasks = _cards()
    featurizer = PairFeaturizer().fit(models, tasks)
    vectors = featurizer.transform(tasks["food101"])
    affinity = {m: float(v @ vectors["domain"]) for m, v in featurizer.model_pairs_["domain"].items()}
    assert affinity["on-food"] == 0.0 and affinity["on-cars"] < 0.0
    same = {m: float(v @ vectors["source"]) for m, v in featurizer.model_pairs_["source"].items()}
    assert same == {"on-food": 1.0, "on-cars": 0.0, "on-imagenet": 0.0}


def test_the_fitted_state_round_trips():
    models, tasks = _cards()
    featurizer = PairFeaturizer().fit(models, tasks)
    loaded = PairFeaturizer.from_dict(featurizer.to_dict())
    for view, vector in featurizer.transform(tasks["stanfordcars"]).items():
        np.testing.assert_allclose(loaded.transform(tasks["stanfordcars"])[view], vector)


def test_on_a_similarity_table_the_own_dataset_is_the_most_similar():
    models, _ = _cards()
    tasks = {"food101": TaskCard("food101", extra={"domain_similarity": {"stanfordcars": 0.9}}),
             "stanfordcars": TaskCard("stanfordcars", extra={"domain_similarity": {"food101": 0.9}})}
    featurizer = PairFeaturizer(views=("domain",)).fit(models, tasks)
    vectors = featurizer.transform(tasks["food101"])["domain"]
    affinity = {m: float(v @ vectors) for m, v in featurizer.model_pairs_["domain"].items()}
    assert affinity == {"on-food": 1.0, "on-cars": 0.9}


def test_the_image_view_puts_a_zoo_model_near_targets_like_its_training_data():
    """The mini-zoo's real embeddings (the default proxy on the source and target images): every glyph target is
    nearest the models trained on glyphs, every photo target nearest those trained on photos."""
    from benchmark.minizoo import load_minizoo

    bench = load_minizoo()
    featurizer = PairFeaturizer(("image",)).fit(bench.model_cards, bench.task_cards)
    assert featurizer.fitted_views_ == ["image"] and len(featurizer.model_pairs_["image"]) == len(bench.models)
    for task, card in bench.task_cards.items():
        if card.domain not in {"glyphs", "photos"}:
            continue
        x = featurizer.transform(card)["image"]
        nearest = max(featurizer.model_pairs_["image"], key=lambda m: float(featurizer.model_pairs_["image"][m] @ x))
        assert bench.model_cards[nearest].extra["source_domain"] == card.domain, task
    without = PairFeaturizer(("image",)).fit({m: ModelCard(m) for m in bench.models}, bench.task_cards)
    assert without.fitted_views_ == []  # no model card carries its training data's embedding


def test_image_vectors_are_compared_apart_from_the_history_mean():
    """Raw mean features of the mini-zoo's sources and targets all point one way (every cosine above 0.5); minus the
    training tasks' mean they take both signs and spread over a wider range, and the fitted centre survives the
    round trip a workspace makes."""
    from benchmark.minizoo import load_minizoo
    from fennec.pair_features import _unit_mean

    bench = load_minizoo()
    featurizer = PairFeaturizer(("image",)).fit(bench.model_cards, bench.task_cards)
    raw = np.array([[float(_unit_mean(m.extra["source_proxy"]["default"]) @
                           _unit_mean(t.extra["proxy"]["default"])) for m in bench.model_cards.values()]
                    for t in bench.task_cards.values()])
    centred = np.array([[float(v @ featurizer.transform(t)["image"]) for v in featurizer.model_pairs_["image"].values()]
                        for t in bench.task_cards.values()])
    assert raw.min() > 0.5 and centred.min() < 0.0 < centred.max()
    assert np.ptp(centred, axis=1).mean() > 3 * np.ptp(raw, axis=1).mean()
    restored = PairFeaturizer.from_dict(featurizer.to_dict())
    card = next(iter(bench.task_cards.values()))
    np.testing.assert_allclose(restored.transform(card)["image"], featurizer.transform(card)["image"])
