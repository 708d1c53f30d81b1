"""The CLIP proxy: a user's checkpoint file (random-init ViT-B-32 here) embeds real images and label names on CPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from _image_tasks import clip_checkpoint, photos_task

from fennec.errors import DataNotFoundError, InputError, UnknownNameError
from fennec.proxy import ClipProxy, create_proxy
from fennec.proxy._clip import _resolve_weights


@pytest.fixture(scope="session")
def clip_weights(tmp_path_factory):
    return clip_checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def task():
    return photos_task(per_class=2, photos=("chelsea", "coffee", "rocket"))


def _open_clip():
    from archi2vec import ensure_torchvision

    ensure_torchvision()
    import open_clip

    return open_clip


def test_checkpoint_path_embeds_images_and_label_names(clip_weights, task):
    proxy = create_proxy("clip", model="ViT-B-32", pretrained=str(clip_weights), progress=False)
    feats = proxy.embed(task, cache=False)
    assert feats.parts == {"mean": (0, 512), "prototypes": (512, 1024), "spread": (1024, 1026),
                           "labels": (1026, 1538)}
    assert feats.n_images == 6 and feats.n_classes == 3
    clip = proxy._clip()
    saved = torch.load(clip_weights, weights_only=True, map_location="cpu", mmap=True)
    for name in ("visual.proj", "text_projection", "visual.conv1.weight"):  # the file's weights, not a fresh init
        torch.testing.assert_close(clip.state_dict()[name], saved[name])

    # Independent reference: open_clip's own preprocessing and towers give the same parts.
    open_clip = _open_clip()
    transform = open_clip.image_transform(224, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN,
                                          std=open_clip.OPENAI_DATASET_STD)
    images = torch.stack([transform(task.load_image(i)) for i in range(task.n_images)])
    tokens = open_clip.get_tokenizer("ViT-B-32")([f"a photo of a {n}." for n in task.label_names])
    with torch.inference_mode():
        z = clip.encode_image(images, normalize=True).numpy()
        text = clip.encode_text(tokens, normalize=True).numpy().mean(0)
    mean = z.mean(0) / np.linalg.norm(z.mean(0))
    assert float(mean @ feats.part("mean")) > 0.999
    np.testing.assert_allclose(feats.part("labels"), text / np.linalg.norm(text), atol=1e-5)


def test_label_names_change_only_the_labels_part(clip_weights, task):
    proxy = ClipProxy(pretrained=clip_weights, progress=False)
    renamed = type(task).from_arrays(task.images, task.labels, label_names=["cat", "cup", "launch"])
    a = proxy.embed(task)
    b = proxy.embed(renamed)  # same images: their features come from the cache, only the text tower runs
    assert proxy.last_timings["forward"] == 0
    np.testing.assert_allclose(a.vector[:1026], b.vector[:1026], atol=1e-5)
    assert not np.allclose(a.part("labels"), b.part("labels"))


def test_offline_tag_without_file_says_what_to_put_where(monkeypatch):
    monkeypatch.setenv("FENNEC_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="ViT-B-32/laion2b_s34b_b79k .* offline") as info:
        _resolve_weights("ViT-B-32", "laion2b_s34b_b79k")
    hint = info.value.hint
    assert "huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in hint
    assert "open_clip/ViT-B-32.laion2b_s34b_b79k.safetensors" in hint


def test_tag_file_at_the_documented_place_is_used(clip_weights, monkeypatch):
    monkeypatch.setenv("FENNEC_OFFLINE", "1")
    from fennec import config

    target = config.cache_dir("weights") / "open_clip" / "ViT-B-32.openai.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(clip_weights)
    try:
        assert _resolve_weights("ViT-B-32", "openai") == target
    finally:
        target.unlink()


def test_bad_names_and_files(tmp_path):
    with pytest.raises(UnknownNameError, match="pretrained tag") as info:
        _resolve_weights("ViT-B-32", "laion2b_s34b_b78k")
    assert "laion2b_s34b_b79k" in info.value.hint
    with pytest.raises(InputError, match="does not exist"):
        _resolve_weights("ViT-B-32", tmp_path / "nope.pt")
    task = photos_task(per_class=1, photos=("coffee", "rocket"))
    torch.save({"w": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UnknownNameError, match="open_clip model"):
        ClipProxy(model="ViT-B-33", pretrained=tmp_path / "other.pt").embed(task)
    with pytest.raises(InputError, match="not a checkpoint of open_clip model ViT-B-32"):
        ClipProxy(model="ViT-B-32", pretrained=tmp_path / "other.pt").embed(task)
