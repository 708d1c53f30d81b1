"""Checks every registered metric must pass (a new metric gets them by registering)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from _metric_tasks import inputs_for, make_task, requires_cuda
from fennec import metrics
from fennec.errors import InputError, UnknownNameError

NAMES = metrics.available()
# NLEEP's mixture is initialised from randomly drawn samples: reordering the samples changes the draw.
ORDER_DEPENDENT = {"nleep"}


@pytest.fixture(scope="module")
def task():
    return make_task()


def test_registry_lists_every_metric():
    assert NAMES == sorted(["logme", "sfda", "nleep", "leep", "nce", "hscore", "hscore_reg", "knn", "gbc",
                            "transrate", "parc"])
    assert metrics.available("probabilities") == ["leep", "nce"]
    assert set(metrics.available("features")) == set(NAMES) - {"leep", "nce"}
    assert all(getattr(metrics, name) is metrics.get(name).function for name in NAMES)


def test_unknown_metric_names_the_close_ones():
    with pytest.raises(UnknownNameError, match="Unknown metric 'sfdaa'") as info:
        metrics.get("sfdaa")
    assert "'sfda'" in info.value.hint


@pytest.mark.parametrize("name", NAMES)
def test_separated_classes_beat_shuffled_labels(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    shuffled = np.random.default_rng(5).permutation(y)
    assert metric(inputs, y) > metric(inputs, shuffled)


@pytest.mark.parametrize("name", NAMES)
def test_score_is_a_finite_python_float(name, task):
    metric = metrics.get(name)
    value = metric(inputs_for(metric, task[0]), task[1])
    assert type(value) is float and np.isfinite(value)


@pytest.mark.parametrize("name", sorted(set(NAMES) - ORDER_DEPENDENT))
def test_invariant_to_sample_order(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    order = np.random.default_rng(2).permutation(len(y))
    assert metric(inputs[order], y[order]) == pytest.approx(metric(inputs, y), rel=1e-9, abs=1e-12)


def test_nleep_is_deterministic_for_a_seed(task):
    x, y = task
    assert metrics.nleep(x, y, seed=3) == metrics.nleep(x, y, seed=3)


@pytest.mark.parametrize("name", NAMES)
def test_invariant_to_renaming_classes(name, task):
    """Labels are remapped to 0..C-1: strings or a permutation of the ids must not change the score."""
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    ids = np.unique(y)
    renamed = dict(zip(ids, np.random.default_rng(4).permutation(ids) * 11 + 2, strict=True))
    as_ints = np.array([renamed[v] for v in y])
    as_strings = np.array([f"class-{v}" for v in y])
    reference = metric(inputs, y)
    assert metric(inputs, as_ints) == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert metric(inputs, as_strings) == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert metric(inputs, list(as_strings)) == pytest.approx(reference, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_modified(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    for features in (inputs.copy(), torch.tensor(inputs), torch.tensor(inputs, dtype=torch.float32)):
        before = features.clone() if isinstance(features, torch.Tensor) else features.copy()
        labels = torch.tensor(y)
        metric(features, labels)
        assert (features == before).all()
        assert (labels.numpy() == y).all()


@pytest.mark.parametrize("name", NAMES)
def test_tensor_and_array_inputs_agree(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    assert metric(torch.tensor(inputs, dtype=torch.float32), torch.tensor(y)) == pytest.approx(
        metric(inputs.astype(np.float32), y), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_float32_is_close_to_float64(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    assert metric(inputs, y, dtype=torch.float32) == pytest.approx(metric(inputs, y), rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_class_with_a_single_sample_is_scored(name, task):
    """Documented behaviour: a one-sample class is accepted and gives a finite score."""
    metric = metrics.get(name)
    x, y = task
    y = y.copy()
    y[0] = 999
    assert np.isfinite(metric(inputs_for(metric, x), y))


@pytest.mark.parametrize("name", NAMES)
def test_fewer_samples_than_dimensions_is_scored(name):
    """Documented behaviour: N < D gives a finite score (rank-deficient covariances are handled)."""
    metric = metrics.get(name)
    x, y = make_task(n=30, d=80, c=3)
    assert np.isfinite(metric(inputs_for(metric, x), y))


@requires_cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_equals_cpu(name, task):
    metric = metrics.get(name)
    x, y = task
    inputs = inputs_for(metric, x)
    assert metric(torch.tensor(inputs, device="cuda"), y) == pytest.approx(metric(inputs, y), rel=1e-6, abs=1e-9)
    assert metric(inputs, y, device="cuda") == pytest.approx(metric(inputs, y), rel=1e-6, abs=1e-9)


# --- bad input ---------------------------------------------------------------------------------------------------


def _bad_cases(x: np.ndarray, y: np.ndarray) -> dict[str, tuple[object, object, str]]:
    nan = x.copy()
    nan[3, 1] = np.nan
    inf = x.copy()
    inf[5, 0] = np.inf
    return {
        "nan": (nan, y, "finite"),
        "inf": (inf, y, "finite"),
        "one class": (x, np.zeros(len(y), dtype=int), "at least 2 classes"),
        "labels too short": (x, y[:-1], "one entry per row"),
        "empty": (x[:0], y[:0], "must not be empty"),
        "1-D features": (x[:, 0], y, "2-D array"),
        "3-D features": (x[None], y, "2-D array"),
        "nan label": (x, np.where(np.arange(len(y)) == 0, np.nan, y.astype(float)), "NaN"),
        "mixed label types": (x, np.array([1, "a"] * (len(y) // 2), dtype=object), "one comparable type"),
        "text features": (x.astype(str), y, "hold numbers"),
    }


@pytest.mark.parametrize("case", list(_bad_cases(*make_task(n=8, d=3, c=2))))
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_a_clear_error(name, case):
    metric = metrics.get(name)
    x, y = make_task(n=8, d=3, c=2)
    inputs, labels, message = _bad_cases(inputs_for(metric, x), y)[case]
    with pytest.raises(InputError, match=message) as info:
        metric(inputs, labels)
    assert info.value.hint, "every bad-input error says how to fix it"


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"logme"}))
def test_two_dimensional_labels_are_rejected_with_a_hint(name, task):
    metric = metrics.get(name)
    x, y = task
    onehot = (y[:, None] == np.unique(y)[None, :]).astype(int)
    with pytest.raises(InputError, match="1-D array") as info:
        metric(inputs_for(metric, x), onehot)
    assert "argmax" in info.value.hint


@pytest.mark.parametrize("name", NAMES)
def test_bad_dtype_and_device_are_clear_errors(name, task):
    metric = metrics.get(name)
    x, y = task
    with pytest.raises(InputError, match="torch.float64 or torch.float32"):
        metric(inputs_for(metric, x), y, dtype=torch.int32)
    with pytest.raises(InputError, match="torch device"):
        metric(inputs_for(metric, x), y, device="gpu-please")


@pytest.mark.parametrize("name, options, message", [
    ("knn", {"k": 0}, "integer >= 1"),
    ("knn", {"metric": "manhattan"}, "one of 'euclidean', 'cosine'"),
    ("logme", {"max_iter": 0}, "integer >= 1"),
    ("sfda", {"n_components": 0}, "integer >= 1"),
    ("sfda", {"n_components": 1.5}, r"number in \(0.0, 1.0\]"),
    ("nleep", {"variance": 0.0}, r"number in \(0.0, 1.0\]"),
    ("gbc", {"gaussian": "full"}, "one of 'diagonal', 'spherical'"),
    ("transrate", {"eps": -1.0}, "number in"),
    ("parc", {"n_components": "all"}, "integer"),
])
def test_bad_options_are_clear_errors(name, options, message, task):
    with pytest.raises(InputError, match=message):
        metrics.get(name)(task[0], task[1], **options)


@pytest.mark.parametrize("name", ["leep"])
def test_leep_rejects_logits_with_a_hint(name, task):
    x, y = task
    with pytest.raises(InputError, match="rows summing to 1") as info:
        metrics.get(name)(x, y)
    assert "softmax" in info.value.hint
