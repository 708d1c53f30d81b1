"""Acceptance on real images: default-proxy task vectors place similar tasks near each other.

Tasks: scikit-learn digits split into 0-4 and 5-9, the same 0-4 task re-sampled with another seed (other images),
scikit-image LFW faces against non-faces, and crops of four scikit-image photos (one class per photo).
"""
from __future__ import annotations

import numpy as np
import pytest
from _image_tasks import digits_task, faces_task, photos_task

from fennec.proxy import create_proxy

PER_CLASS = 8


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # Module fixtures run before conftest's function-level home isolation: isolate the cache here too.
        patch.setenv("FENNEC_HOME", str(tmp_path_factory.getbasetemp() / "fennec-home"))
        return _embed_tasks()


def _embed_tasks():
    tasks = {
        "digits0-4": digits_task(range(5), PER_CLASS, seed=0),
        "digits5-9": digits_task(range(5, 10), PER_CLASS, seed=0),
        "digits0-4 resampled": digits_task(range(5), PER_CLASS, seed=1),
        "faces": faces_task(PER_CLASS),
        "photos": photos_task(PER_CLASS),
    }
    proxy = create_proxy("default", progress=False)
    return {name: proxy.embed(task).vector for name, task in tasks.items()}


def _distance(vectors, a, b):
    return float(np.linalg.norm(vectors[a] - vectors[b]))


def test_digit_tasks_are_nearer_to_each_other_than_to_faces_or_photos(vectors):
    between_digits = _distance(vectors, "digits0-4", "digits5-9")
    for other in ("faces", "photos"):
        assert between_digits < _distance(vectors, "digits0-4", other)
        assert between_digits < _distance(vectors, "digits5-9", other)


def test_a_resampled_task_is_nearest_to_itself(vectors):
    own = _distance(vectors, "digits0-4", "digits0-4 resampled")
    others = {name: _distance(vectors, "digits0-4", name) for name in vectors
              if name not in ("digits0-4", "digits0-4 resampled")}
    assert own < min(others.values()), (own, others)
    assert own < 0.5 * others["digits5-9"]  # a clear margin, not a tie


def test_vector_does_not_depend_on_sample_size():
    proxy = create_proxy("default", progress=False)
    small = proxy.embed(digits_task(range(3), 4, seed=2)).vector
    large = proxy.embed(digits_task(range(3), 12, seed=3)).vector
    other = proxy.embed(digits_task(range(3, 6), 4, seed=2)).vector
    assert np.linalg.norm(small - large) < np.linalg.norm(small - other)
