"""Task side features: blocks that match the vector, domain distances of TransferGraph-like cards, stored image
embeddings, fill values for what a task lacks, and a JSON round trip."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fennec.cards import TaskCard
from fennec.errors import NotFittedError
from fennec.proxy import TaskFeatures, image_task_vector
from fennec.side_features import TaskFeaturizer, shared_domains


@pytest.fixture(scope="module")
def cards() -> dict[str, TaskCard]:
    def card(name, labels, distances):
        return TaskCard(name=name, n_classes=len(labels), n_train=500, label_names=labels,
                        extra={"domain_similarity": distances})

    return {"birds": card("birds", ["sparrow", "eagle"], {"cars": 0.8, "planes": 0.5, "extra": 0.1}),
            "cars": card("cars", ["sedan", "truck"], {"birds": 0.8, "planes": 0.3}),
            "planes": card("planes", ["jet", "glider"], {"birds": 0.5, "cars": 0.3})}


def test_blocks_cover_the_vector_and_domains_are_the_shared_ones(cards):
    featurizer = TaskFeaturizer().fit(cards)
    assert featurizer.domains_ == ["birds", "cars", "planes"]  # "extra" is known to one card only
    assert featurizer.block_names == ["labels:labels", "labels:description", "stats", "domains"]
    vector = featurizer.transform(cards["cars"])
    assert sum(featurizer.block_sizes) == len(vector) and featurizer.block_sizes[2:] == [2, 3]
    np.testing.assert_allclose(vector[-5:-3], [np.log1p(2), np.log1p(500)], rtol=1e-6)  # stats: classes, size
    np.testing.assert_allclose(vector[-3:], [0.8, 0.0, 0.3])  # 0 to itself
    # a new task missing a distance gets the mean of its known ones there
    boats = TaskCard(name="boats", n_classes=2, label_names=["yacht", "canoe"],
                     extra={"domain_similarity": {"birds": 0.2, "planes": 0.6}})
    np.testing.assert_allclose(featurizer.transform(boats)[-3:], [0.2, 0.4, 0.6], rtol=1e-6)
    # one with no table at all (a user's new task) gets the training tasks' mean row, not zeros
    rows = featurizer.transform_many([cards[n] for n in sorted(cards)])
    unknown = TaskCard(name="ships", n_classes=2, label_names=["ferry", "tanker"])
    np.testing.assert_allclose(featurizer.transform(unknown)[-3:], rows[:, -3:].mean(0), rtol=1e-6)


def test_no_domains_without_a_shared_table(cards):
    plain = {n: TaskCard(name=n, n_classes=2, label_names=["a", "b"]) for n in ("x", "y")}
    assert shared_domains(plain) == [] and shared_domains({}) == []
    featurizer = TaskFeaturizer().fit(plain)
    assert "domains" not in featurizer.block_names
    # no card has a size: the stats block is left out (the labels proxy alone is enough)
    assert featurizer.block_names == ["labels:labels", "labels:description"]


def _stored(seed: int) -> dict:
    """A stored image-proxy embedding, as the mini-zoo's cards carry it (``extra["proxy"]["default"]``)."""
    rng = np.random.default_rng(seed)
    vector, parts = image_task_vector(rng.normal(size=(12, 6)), np.repeat([0, 1, 2], 4))
    return TaskFeatures(vector, parts, "default", 12, 3).to_dict()


def test_stored_image_embeddings_become_blocks_and_a_task_without_one_gets_the_mean():
    cards = {f"t{i}": TaskCard(f"t{i}", n_classes=3, n_train=100, label_names=["a", "b", "c"],
                               extra={"proxy": {"default": _stored(i)}}) for i in range(3)}
    featurizer = TaskFeaturizer({"stats": None}, image_proxy="default").fit(cards)
    assert featurizer.block_names == ["stats", "default:prototypes", "default:spread"]
    assert featurizer.block_sizes == [5, 6, 2]
    rows = featurizer.transform_many([cards[n] for n in sorted(cards)])
    stored = [TaskFeatures.from_dict(cards[n].extra["proxy"]["default"]) for n in sorted(cards)]
    np.testing.assert_allclose(rows[:, 5:11], [s.part("prototypes") for s in stored], rtol=1e-6)
    bare = TaskCard("bare", n_classes=3, n_train=100)  # no images, no stored embedding: the training mean
    np.testing.assert_allclose(featurizer.transform(bare)[5:], rows[:, 5:].mean(0), rtol=1e-5)
    # without the image proxy the blocks are the other proxies' only
    assert TaskFeaturizer({"stats": None}).fit(cards).block_names == ["stats"]


def test_json_round_trip_gives_the_same_vectors(cards):
    featurizer = TaskFeaturizer().fit(cards)
    again = TaskFeaturizer.from_dict(json.loads(json.dumps(featurizer.to_dict())))
    assert again.block_sizes == featurizer.block_sizes
    np.testing.assert_array_equal(again.transform(cards["birds"]), featurizer.transform(cards["birds"]))


def test_transform_before_fit_says_so(cards):
    with pytest.raises(NotFittedError, match="fit"):
        TaskFeaturizer().transform(cards["birds"])


def test_cards_with_names_only_give_zero_columns_and_the_space_answers_with_its_prior():
    """A bare model,task,value table: no training task has a side feature. The featurizer gives no column (it used
    to fail concatenating nothing) and a space fitted on zero-width features ranks a cold task by its prior, the
    same as a query without features, for one query or several."""
    import pandas as pd

    from fennec.space import TransferSpace

    names = [f"t{j}" for j in range(4)]
    featurizer = TaskFeaturizer().fit({n: TaskCard(n) for n in names})
    assert featurizer.block_sizes == []
    features = featurizer.transform_many([TaskCard(n) for n in names])
    assert features.shape == (4, 0)
    assert featurizer.transform(TaskCard("new")).shape == (0,)

    rng = np.random.default_rng(0)
    records = pd.DataFrame([(f"m{i}", t, float(i + rng.normal())) for i in range(6) for t in names],
                           columns=["model", "task", "value"])
    space = TransferSpace(n_factors=2, hidden=0, min_steps=50, random_state=0,
                          task_blocks=featurizer.block_sizes).fit(records, task_features=dict(zip(names, features)))
    _, prior, _ = space.score()
    _, cold, _ = space.score(task_features=featurizer.transform(TaskCard("new")))
    _, batch, _ = space.score(task_features=np.zeros((3, 0)))
    np.testing.assert_allclose(cold, prior)
    assert batch.shape == (3, 6)
    np.testing.assert_allclose(batch, np.tile(prior, (3, 1)))
    assert np.corrcoef(prior, np.arange(6))[0, 1] > 0.9  # the prior is the models' quality
