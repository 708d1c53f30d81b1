"""Tests of fennec.index.ModelIndex: agreement with brute force, persistence, bad inputs."""
from __future__ import annotations

import numpy as np
import pytest

from fennec.errors import InputError
from fennec.index import EXACT_LIMIT, ModelIndex, auto_factory


def _zoo(n: int = 300, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"model{i}" for i in range(n)]
    return ids, rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=n).astype(np.float32), rng


def _brute_force(vectors, bias, queries, k):
    scores = queries @ vectors.T + bias
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), order


def test_flat_search_agrees_with_brute_force_including_bias():
    ids, vectors, bias, rng = _zoo()
    index = ModelIndex(8)
    index.add(ids, vectors, bias)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    scores, found = index.search(queries, k=7)
    want_scores, want_rows = _brute_force(vectors, bias, queries, 7)
    assert found.shape == (5, 7) and scores.shape == (5, 7)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)
    assert (found == np.asarray(ids, dtype=object)[want_rows]).all()


def test_bias_changes_the_ranking():
    index = ModelIndex(2)
    index.add(["a", "b"], np.array([[1.0, 0.0], [0.9, 0.0]]), bias=[0.0, 1.0])
    _, ids = index.search(np.array([1.0, 0.0]), k=1)
    assert list(ids) == ["b"]


def test_adding_in_parts_equals_adding_at_once_and_keeps_the_index_object():
    ids, vectors, bias, rng = _zoo(100)
    whole, parts = ModelIndex(8), ModelIndex(8)
    whole.add(ids, vectors, bias)
    parts.add(ids[:60], vectors[:60], bias[:60])
    inner = parts._index
    parts.add(ids[60:], vectors[60:], bias[60:])
    assert parts._index is inner and parts.ntotal == 100 and len(parts) == 100
    query = rng.normal(size=8)
    assert list(whole.search(query, 10)[1]) == list(parts.search(query, 10)[1])


def test_hnsw_recall_is_high_and_factory_is_kept():
    ids, vectors, bias, rng = _zoo(3000, 16)
    index = ModelIndex(16, "HNSW32", ef_search=256)
    index.add(ids, vectors, bias)
    queries = rng.normal(size=(40, 16)).astype(np.float32)
    _, found = index.search(queries, 10)
    _, want = _brute_force(vectors, bias, queries, 10)
    names = np.asarray(ids, dtype=object)
    recall = np.mean([len(set(f) & set(names[w])) / 10 for f, w in zip(found, want)])
    assert recall > 0.9
    assert index.factory == "HNSW32" and "HNSW" in type(index._index).__name__


def test_auto_factory_switches_at_the_exact_limit():
    assert auto_factory(EXACT_LIMIT - 1) == "Flat"
    assert auto_factory(EXACT_LIMIT) == "HNSW32"


def test_single_query_gives_1d_results_and_k_is_clipped():
    ids, vectors, bias, rng = _zoo(5)
    index = ModelIndex(8)
    index.add(ids, vectors, bias)
    scores, found = index.search(rng.normal(size=8), k=50)
    assert scores.shape == (5,) and found.shape == (5,)
    assert sorted(found) == sorted(ids) and (np.diff(scores) <= 1e-6).all()


@pytest.mark.parametrize("factory", ["Flat", "HNSW32"])
def test_write_read_round_trip(tmp_path, factory):
    ids, vectors, bias, rng = _zoo(200)
    index = ModelIndex(8, factory)
    index.add(ids, vectors, bias)
    index.write(tmp_path / "idx")
    again = ModelIndex.read(tmp_path / "idx")
    queries = rng.normal(size=(3, 8))
    first, second = index.search(queries, 5), again.search(queries, 5)
    np.testing.assert_array_equal(first[0], second[0])
    assert (first[1] == second[1]).all()
    assert again.factory == factory and again.d == 8 and again.ntotal == 200


def test_reset_empties_the_index():
    ids, vectors, bias, _ = _zoo(10)
    index = ModelIndex(8)
    index.add(ids, vectors, bias)
    index.reset()
    assert index.ntotal == 0 and index.ids == []
    index.add(ids[:2], vectors[:2])
    assert index.ntotal == 2


def test_dimension_mismatch_names_both_dimensions():
    index = ModelIndex(8)
    with pytest.raises(ValueError, match=r"dimension 8.*Got dimension 5"):
        index.add(["a"], np.zeros((1, 5)))
    index.add(["a"], np.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"dimension 8.*Got dimension 3"):
        index.search(np.zeros(3), 1)


@pytest.mark.parametrize("call, message", [
    (lambda ix: ix.add(["a", "b"], np.zeros((1, 4))), "same length"),
    (lambda ix: ix.add(["a", "a"], np.zeros((2, 4))), "new to the index"),
    (lambda ix: ix.add(["a"], np.zeros((1, 4)), bias=[1.0, 2.0]), "one value per id"),
    (lambda ix: ix.add(["a"], np.full((1, 4), np.nan)), "finite"),
    (lambda ix: ix.add(["a"], np.zeros(4)), "2-D array"),
    (lambda ix: ix.search(np.zeros(4), 3), "non-empty"),
])
def test_bad_inputs_raise_value_errors(call, message):
    index = ModelIndex(4)
    with pytest.raises(ValueError, match=message):
        call(index)


def test_bad_constructor_arguments():
    with pytest.raises(InputError, match="positive integer"):
        ModelIndex(0)
    with pytest.raises(InputError, match="index_factory"):
        ModelIndex(4, "NotAnIndex")
    with pytest.raises(InputError, match="training"):
        ModelIndex(4, "IVF4,Flat")
    index = ModelIndex(4)
    index.add(["a"], np.zeros((1, 4)))
    with pytest.raises(InputError, match="positive integer"):
        index.search(np.zeros(4), 0)


def test_read_of_a_missing_directory_says_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="ModelIndex.write"):
        ModelIndex.read(tmp_path)
