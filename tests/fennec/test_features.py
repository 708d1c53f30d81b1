"""Feature extraction: registry, real ImageNet predictions, caching, heads, sub-sampling and checkpoint loading."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from _image_tasks import digits_task, truncate, write_folder
from torch import nn

from fennec.errors import InputError, UnknownNameError
from fennec.features import (
    PreprocessConfig,
    extract_features,
    get_model_spec,
    list_models,
    load_state_dict,
    preprocess_images,
)
from fennec.tasks import Task, load_task

# ImageNet classes: tabby/tiger/Persian/Siamese/Egyptian cat; coffee mug, espresso, cup.
CATS = {281, 282, 283, 284, 285}
COFFEE = {504, 967, 968}


def test_registry_names_and_unknown_name():
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"} <= set(list_models())
    assert get_model_spec("efficientnet_lite2").preprocess.input_size == 260
    with pytest.raises(UnknownNameError, match="Unknown model") as info:
        get_model_spec("efficientnet_lite")
    assert "efficientnet_lite0" in info.value.hint


def test_lite0_recognises_real_photos():
    """The weights and the preprocessing are right: whole photos get their ImageNet class."""
    import skimage.data

    task = Task.from_arrays([skimage.data.chelsea(), skimage.data.coffee()], ["cat", "coffee"])
    feats = extract_features("efficientnet_lite0", task, cache=False, progress=False)
    assert feats.features.shape == (2, 1280) and feats.logits.shape == (2, 1000)
    top3 = np.argsort(-feats.logits, axis=1)[:, :3]
    assert CATS & set(top3[0].tolist()) and COFFEE & set(top3[1].tolist())
    assert feats.timings["forward"] > 0 and feats.features.dtype == np.float32


def test_cache_hit_and_miss_on_changed_content():
    task = digits_task([0, 1], per_class=3)
    first = extract_features("efficientnet_lite0", task, progress=False)
    again = extract_features("efficientnet_lite0", task, progress=False)
    assert again.timings.get("cached") == 1.0 and "cached" not in first.timings
    np.testing.assert_array_equal(first.features, again.features)
    np.testing.assert_array_equal(first.logits, again.logits)
    changed = Task.from_arrays([255 - im for im in task.images], task.labels, label_names=task.label_names)
    other = extract_features("efficientnet_lite0", changed, progress=False)
    assert "cached" not in other.timings and not np.allclose(other.features, first.features)


def test_rows_follow_images_whatever_the_order_and_batch():
    task = digits_task([0, 1, 2], per_class=2)
    order = np.array([5, 3, 1, 0, 2, 4])
    forward = extract_features("efficientnet_lite0", task, batch_size=4, cache=False, progress=False)
    shuffled = extract_features("efficientnet_lite0", task.subset(order), batch_size=2, cache=False, progress=False)
    np.testing.assert_allclose(shuffled.features, forward.features[order], atol=1e-4)
    np.testing.assert_array_equal(shuffled.labels, task.labels[order])


def test_sub_sampling_and_unreadable_images_give_indices_into_the_task(tmp_path):
    root = write_folder(digits_task([4, 5], per_class=4), tmp_path / "t")
    truncate(next((root / "5").glob("*.png")))
    task = load_task(root)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable"):
        feats = extract_features("efficientnet_lite0", task, progress=False, cache=False)
    assert feats.n_images == 7 and len(set(feats.indices.tolist())) == 7
    np.testing.assert_array_equal(feats.labels, task.labels[feats.indices])
    sub = extract_features("efficientnet_lite0", task, max_per_class=2, seed=1, progress=False, cache=False)
    assert sub.n_images <= 4 and set(sub.indices.tolist()) <= set(feats.indices.tolist())
    np.testing.assert_allclose(sub.features, feats.features[np.searchsorted(feats.indices, sub.indices)],
                               atol=1e-4)


class _TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


def test_bare_module_head_is_found_and_features_are_its_input():
    torch.manual_seed(0)
    net = _TinyNet()
    task = digits_task([0, 1], per_class=2)
    config = PreprocessConfig(input_size=16)
    feats = extract_features(net, task, preprocess=config, cache=False, progress=False)
    with torch.inference_mode():
        expected = net.body(preprocess_images([task.load_image(i) for i in range(task.n_images)], config))
        logits = net.fc(expected)
    np.testing.assert_allclose(feats.features, expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(feats.logits, logits.numpy(), atol=1e-5)
    no_head = extract_features(net.body[:2], task, preprocess=config, cache=False, progress=False)
    assert no_head.logits is None and no_head.features.shape == (4, 4)  # 4-D output averaged over space


def test_bad_arguments():
    task = digits_task([0, 1], per_class=1)
    with pytest.raises(InputError, match="model name, a ModelSpec or an nn.Module"):
        extract_features(42, task)
    with pytest.raises(InputError, match="batch_size"):
        extract_features("efficientnet_lite0", task, batch_size=0)
    with pytest.raises(UnknownNameError):
        PreprocessConfig(interpolation="cubic")


def test_load_state_dict_is_safe_and_unwraps(tmp_path):
    tensors = {"module.w": torch.ones(2), "module.b": torch.zeros(1)}
    torch.save({"state_dict": tensors}, tmp_path / "wrapped.pt")
    assert set(load_state_dict(tmp_path / "wrapped.pt")) == {"w", "b"}
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, str(tmp_path / "w.safetensors"))
    assert load_state_dict(tmp_path / "w.safetensors")["w"].tolist() == [1.0, 1.0]
    torch.save(_TinyNet(), tmp_path / "pickled_module.pt")  # a whole pickled object: refused, not unpickled
    with pytest.raises(InputError, match="Cannot load weights") as info:
        load_state_dict(tmp_path / "pickled_module.pt")
    assert "state_dict" in info.value.hint
    with pytest.raises(InputError, match="does not exist"):
        load_state_dict(tmp_path / "missing.pt")


def test_a_task_with_no_readable_image_is_an_input_error(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated right after the JPEG header")
    task = load_task(tmp_path)
    with pytest.warns(UserWarning, match="Skipped 2 unreadable"), pytest.raises(InputError, match="No readable"):
        extract_features("efficientnet_lite0", task, cache=False, progress=False)


def test_convolutional_networks_run_channels_last_with_the_same_features_and_keep_their_layout():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten())
    task = digits_task([0, 1], per_class=3)
    config = PreprocessConfig(input_size=16)
    feats = extract_features(net, task, preprocess=config, head=None, cache=False, progress=False)
    with torch.inference_mode():
        expected = net(preprocess_images([task.load_image(i) for i in range(task.n_images)], config).contiguous())
    np.testing.assert_allclose(feats.features, expected.numpy(), atol=1e-5)
    assert all(p.is_contiguous() for p in net.parameters())  # the caller's module is given back as it was


def test_batch_size_follows_the_input_size():
    from fennec.features import auto_batch_size

    assert auto_batch_size(32) == 256 and auto_batch_size(224) == 64 and auto_batch_size(448) == 16
    assert auto_batch_size(300) < auto_batch_size(260) < auto_batch_size(224)
