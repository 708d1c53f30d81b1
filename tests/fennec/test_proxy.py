"""The proxy interface, checked for every registered proxy, plus the shared task-vector construction."""
from __future__ import annotations

import numpy as np
import pytest
from _image_tasks import clip_checkpoint, photos_task, write_folder

from fennec import config
from fennec.cards import TaskCard
from fennec.errors import InputError, UnknownNameError
from fennec.proxy import TaskFeatures, create_proxy, image_task_vector, list_proxies
from fennec.tasks import Task

IMAGE_PROXIES = {"clip", "default"}


@pytest.fixture(scope="module")
def task() -> Task:
    return photos_task(per_class=2, photos=("coffee", "rocket"))


@pytest.fixture(scope="session")
def clip_weights(tmp_path_factory):
    return clip_checkpoint(tmp_path_factory)


@pytest.fixture()
def make_proxy(request):
    """Build a proxy by name for the common checks (CLIP from a random-init checkpoint file: offline)."""
    def make(name):
        kwargs = {"progress": False} if name in IMAGE_PROXIES else {}
        if name == "clip":
            kwargs["pretrained"] = request.getfixturevalue("clip_weights")
        return create_proxy(name, **kwargs)
    return make


def test_registry():
    assert list_proxies() == ["clip", "default", "labels", "stats"]
    with pytest.raises(UnknownNameError, match="Unknown proxy 'clips'") as info:
        create_proxy("clips")
    assert "'clip'" in info.value.hint


@pytest.mark.parametrize("name", list_proxies())
def test_embed_contract(name, task, make_proxy):
    proxy = make_proxy(name)
    feats = proxy.embed(task)
    assert isinstance(feats, TaskFeatures) and feats.proxy == name
    assert feats.vector.dtype == np.float32 and feats.vector.ndim == 1 and np.isfinite(feats.vector).all()
    assert not feats.vector.flags.writeable
    spans = sorted(feats.parts.values())
    assert spans[0][0] == 0 and spans[-1][1] == feats.dim
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # parts tile the vector
    assert feats.n_classes == 2 and feats.n_images == (0 if name == "labels" else 4)
    assert TaskFeatures.from_dict(feats.to_dict()).vector.tolist() == feats.vector.tolist()
    reordered = task.subset(np.arange(task.n_images)[::-1])
    np.testing.assert_allclose(proxy.embed(reordered, cache=False).vector, feats.vector, atol=1e-5)


@pytest.mark.parametrize("name", list_proxies())
def test_cache_by_content(name, task, make_proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("FENNEC_HOME", str(tmp_path))  # an empty cache
    proxy = make_proxy(name)
    first = proxy.embed(task)
    written = list(config.cache_dir("embeddings").glob("*.npz"))
    if proxy.cacheable:
        monkeypatch.setattr(proxy, "_compute_many", lambda tasks, cache: pytest.fail("recomputed instead of cached"))
    second = proxy.embed(task)
    np.testing.assert_array_equal(first.vector, second.vector)
    assert first.parts == second.parts
    if proxy.cacheable:
        assert len(written) == 1, "one embedding entry is written"
        monkeypatch.undo()
        monkeypatch.setenv("FENNEC_HOME", str(tmp_path))
        renamed = Task.from_arrays(task.images, task.labels, label_names=["mug", "missile"])
        if name != "default":  # label names are content for every proxy that reads them
            assert not np.array_equal(proxy.embed(renamed).vector, first.vector)


def test_text_proxies_accept_cards_and_image_proxies_explain(tmp_path, task):
    card = TaskCard("pets", n_classes=2, n_train=40, label_names=("cat", "dog"), description="pet photos")
    assert create_proxy("labels").embed(card).n_classes == 2
    assert create_proxy("stats").embed(card).n_images == 40
    with pytest.raises(InputError, match="needs images.*no image_dir") as info:
        create_proxy("default").embed(card)
    assert "'labels'" in info.value.hint
    root = write_folder(task, tmp_path / "photos")
    with_dir = TaskCard("photos", image_dir=str(root))
    from_dir = create_proxy("default", progress=False).embed(with_dir)
    np.testing.assert_allclose(from_dir.vector, create_proxy("default").embed(task).vector, atol=1e-5)
    with pytest.raises(InputError, match="Task or a TaskCard"):
        create_proxy("stats").embed(["cat", "dog"])


def test_labels_proxy_batches_many_cards_and_reads_meaning():
    proxy = create_proxy("labels")
    cards = [TaskCard("pets", label_names=("cat", "dog")), TaskCard("young", label_names=("kitten", "puppy")),
             TaskCard("traffic", label_names=("truck", "airplane")), TaskCard("text only", description="bird song")]
    pets, young, traffic, text_only = proxy.embed_many(cards)
    assert np.linalg.norm(pets.vector - young.vector) < np.linalg.norm(pets.vector - traffic.vector)
    np.testing.assert_allclose(text_only.part("labels"), text_only.part("description"))
    one = proxy.embed(TaskCard("one", label_names=("cat",)))
    assert one.part("label_spread")[0] == 0 and pets.part("label_spread")[0] > 0
    with pytest.raises(InputError, match="neither label names nor a description"):
        proxy.embed(TaskCard("empty"))


def test_stats_proxy_values():
    task = Task.from_arrays(np.zeros((6, 4, 4), np.uint8), [0, 0, 0, 0, 1, 2])
    feats = create_proxy("stats").embed(task)
    freq = np.array([4, 1, 1]) / 6
    assert feats.part("balance")[0] == pytest.approx(-(freq * np.log(freq)).sum() / np.log(3), rel=1e-6)
    assert feats.part("min_max")[0] == pytest.approx(0.25)
    assert feats.part("size")[0] == pytest.approx(np.log1p(6))
    with pytest.raises(InputError, match="n_train"):
        create_proxy("stats").embed(TaskCard("x", n_classes=3))


def test_image_task_vector_formulas():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(9, 5)) + 3 * np.eye(3, 5)[[0, 0, 0, 1, 1, 1, 2, 2, 2]]
    labels = np.repeat([0, 1, 2], 3)
    vector, parts = image_task_vector(features, labels)
    assert parts == {"mean": (0, 5), "prototypes": (5, 10), "spread": (10, 12)}
    z = features / np.linalg.norm(features, axis=1, keepdims=True)
    within = np.mean([np.mean([1 - z[i] @ z[j] for i in range(3 * c, 3 * c + 3)
                               for j in range(3 * c, 3 * c + 3) if i != j]) for c in range(3)])
    protos = np.stack([z[labels == c].sum(0) for c in range(3)])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    between = np.mean([1 - protos[a] @ protos[b] for a in range(3) for b in range(3) if a != b])
    np.testing.assert_allclose(vector[10:], [within, between], rtol=1e-5)
    mean = z.mean(0) / np.linalg.norm(z.mean(0))
    np.testing.assert_allclose(vector[:5], mean, rtol=1e-5)
    duplicated, _ = image_task_vector(np.tile(features, (4, 1)), np.tile(labels, 4))
    np.testing.assert_allclose(duplicated[:10], vector[:10], rtol=1e-5)  # counts, not sums
