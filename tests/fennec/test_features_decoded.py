"""Decoded pixels kept per task: the second model reads them instead of the files, with the same features."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from _image_tasks import photos_task, truncate, write_folder
from torch import nn

from fennec.features import PreprocessConfig, _decoded, extract_features
from fennec.tasks import _task, load_task


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


@pytest.fixture
def counted_decodes(monkeypatch):
    """Clears the kept pixels and counts the images decoded from their files."""
    _decoded.clear_decoded()
    calls = []
    real = _task.decode
    monkeypatch.setattr(_task, "decode", lambda source, draft: calls.append(source) or real(source, draft))
    yield calls
    _decoded.clear_decoded()


def _features(task, config, **kwargs):
    return extract_features(_Net(), task, preprocess=config, cache=False, progress=False, **kwargs)


def test_a_second_model_reuses_the_pixels_and_gets_the_streamed_features(tmp_path, counted_decodes, monkeypatch):
    task = load_task(write_folder(photos_task(per_class=5), tmp_path / "t", suffix=".jpg"))
    config = PreprocessConfig(input_size=24, crop_pct=0.9)
    first = _features(task, config, batch_size=4)
    assert len(counted_decodes) == task.n_images and first.timings["load"] > 0
    other_norm = PreprocessConfig(input_size=24, crop_pct=0.9, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    second = _features(load_task(tmp_path / "t"), other_norm, batch_size=3)  # same files, another Task object
    assert len(counted_decodes) == task.n_images and second.timings["load"] < first.timings["load"]
    monkeypatch.setenv("FENNEC_DECODED_CACHE_MB", "0")  # no budget: decoded batch by batch, as before
    streamed = _features(task, other_norm, batch_size=5)
    assert len(counted_decodes) == 2 * task.n_images
    np.testing.assert_allclose(second.features, streamed.features, atol=1e-6)
    assert not np.allclose(first.features, second.features)  # the normalisation is applied per model
    _features(task, PreprocessConfig(input_size=20), batch_size=4)  # another geometry: decoded again
    assert len(counted_decodes) == 3 * task.n_images


def test_kept_pixels_still_report_unreadable_images_to_each_task(tmp_path, counted_decodes):
    root = write_folder(photos_task(per_class=3), tmp_path / "t", suffix=".jpg")
    truncate(sorted(root.rglob("*.jpg"))[0])
    config = PreprocessConfig(input_size=16)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable"):
        first = _features(load_task(root), config)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable"):
        again = _features(load_task(root), config)
    assert first.n_images == again.n_images == sum(1 for _ in root.rglob("*.jpg")) - 1
    np.testing.assert_array_equal(first.indices, again.indices)


def test_the_budget_evicts_the_least_recently_used_task(monkeypatch, counted_decodes):
    size = 16
    tasks = [photos_task(per_class=2, seed=seed) for seed in (0, 1)]
    one_task = tasks[0].n_images * size * size * 3
    monkeypatch.setenv("FENNEC_DECODED_CACHE_MB", str(1.5 * one_task / 2 ** 20))
    config = PreprocessConfig(input_size=size)
    for task in (*tasks, tasks[1], tasks[0]):
        _features(task, config)
    assert len(counted_decodes) == 3 * tasks[0].n_images  # task 1 kept, task 0 evicted by it and decoded again
