"""Task side features: blocks that match the vector, and the domain distances of TransferGraph-like cards."""
from __future__ import annotations

import numpy as np
import pytest

from fennec.cards import TaskCard
from fennec.proxy import create_proxy
from fennec.side_features import shared_domains, task_feature_blocks, task_side_features


@pytest.fixture(scope="module")
def cards() -> dict[str, TaskCard]:
    def card(name, labels, distances):
        return TaskCard(name=name, n_classes=len(labels), n_train=500, label_names=labels,
                        extra={"domain_similarity": distances})

    return {"birds": card("birds", ["sparrow", "eagle"], {"cars": 0.8, "planes": 0.5, "extra": 0.1}),
            "cars": card("cars", ["sedan", "truck"], {"birds": 0.8, "planes": 0.3}),
            "planes": card("planes", ["jet", "glider"], {"birds": 0.5, "cars": 0.3})}


def test_blocks_cover_the_vector_and_domains_are_the_shared_ones(cards):
    proxy = create_proxy("labels")
    domains = shared_domains(cards)
    assert domains == ["birds", "cars", "planes"]  # "extra" is known to one card only
    vector = task_side_features(cards["cars"], proxy, domains)
    blocks = task_feature_blocks(cards["cars"], proxy, domains=domains)
    assert sum(blocks) == len(vector) and blocks[-1] == 3
    np.testing.assert_allclose(vector[-3:], [0.8, 0.0, 0.3])  # 0 to itself
    # a new task missing a distance gets the mean of its known ones there
    boats = TaskCard(name="boats", n_classes=2, label_names=["yacht", "canoe"],
                     extra={"domain_similarity": {"birds": 0.2, "planes": 0.6}})
    np.testing.assert_allclose(task_side_features(boats, proxy, domains)[-3:], [0.2, 0.4, 0.6], rtol=1e-6)


def test_no_domains_without_a_shared_table(cards):
    plain = {n: TaskCard(name=n, n_classes=2, label_names=["a", "b"]) for n in ("x", "y")}
    assert shared_domains(plain) == [] and shared_domains({}) == []
    proxy = create_proxy("labels")
    assert len(task_side_features(plain["x"], proxy)) == sum(task_feature_blocks(plain["x"], proxy))
