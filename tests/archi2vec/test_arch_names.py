"""Architecture names: timm / torchvision / Hugging Face ids, unknown names, and the family rule."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import archi2vec
from archi2vec import UnknownArchitectureError, UnmappedModelError, family_of, resolve_name, timm_name_for_hf_config


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("timm:resnet50", "timm:resnet50"),
        ("timm:convnext_tiny.fb_in22k_ft_in1k", "timm:convnext_tiny"),
        ("resnet50", "timm:resnet50"),
        ("torchvision:resnet50", "torchvision:resnet50"),
        ("google/vit-base-patch16-224", "timm:vit_base_patch16_224"),
        ("google/vit-large-patch32-384", "timm:vit_large_patch32_384"),
        ("google/vit-base-patch16-224-in21k", "timm:vit_base_patch16_224"),
        ("microsoft/resnet-50", "timm:resnet50"),
        ("hf:microsoft/resnet-18", "timm:resnet18"),
        ("facebook/deit-base-distilled-patch16-384", "timm:deit_base_distilled_patch16_384"),
        ("facebook/deit-tiny-patch16-224", "timm:deit_tiny_patch16_224"),
        ("microsoft/swin-base-patch4-window12-384-in22k", "timm:swin_base_patch4_window12_384"),
        ("facebook/convnext-xlarge-384-22k-1k", "timm:convnext_xlarge"),
        ("microsoft/beit-large-patch16-512", "timm:beit_large_patch16_512"),
        ("microsoft/beit-base-patch16-224-pt22k-ft22k", "timm:beit_base_patch16_224"),
        ("facebook/data2vec-vision-large-ft1k", "timm:beit_large_patch16_224"),
        ("microsoft/dit-base-finetuned-rvlcdip", "timm:beit_base_patch16_224"),
        ("timm/vit_huge_patch14_224_in21k", "timm:vit_huge_patch14_224_in21k"),
    ],
)
def test_resolve_name(name: str, expected: str) -> None:
    assert resolve_name(name) == expected


def test_every_canonical_benchmark_checkpoint_resolves_or_says_it_is_unmapped(data_dir: Path) -> None:
    ids = []
    for path, column in [("shift/huggingface_cv_models.csv", "model_identifier"),
                         ("transfergraph/model_config_dataset.csv", "model")]:  # fmt: skip
        with open(data_dir / path, newline="") as handle:
            ids += [row[column] for row in csv.DictReader(handle)]
    canonical = sorted({i for i in ids if re.match(r"(google|facebook|microsoft|timm)/", i)})
    resolved, unmapped = {}, []
    for model_id in canonical:
        try:
            resolved[model_id] = resolve_name(model_id)
        except UnmappedModelError:
            unmapped.append(model_id)
    print(f"\n{len(resolved)} of {len(canonical)} canonical checkpoints resolved; unmapped: {unmapped}")
    families = {family_of(name) for name in resolved.values()}
    assert {"vit", "swin", "convnext", "beit", "resnet"} <= families
    pattern = r"facebook/(convnext|deit|data2vec)|google/vit|microsoft/(swin|beit|dit|resnet)|timm/"
    assert all(re.match(pattern, i) for i in resolved) and not unmapped
    assert len(resolved) >= 50


def test_unknown_timm_name_lists_close_names() -> None:
    with pytest.raises(UnknownArchitectureError, match="resnet5O") as info:
        resolve_name("timm:resnet5O")
    assert "resnet50" in info.value.hint
    with pytest.raises(UnknownArchitectureError, match="torchvision"):
        resolve_name("torchvision:resnet_fifty")
    with pytest.raises(UnknownArchitectureError, match="source"):
        resolve_name("keras:resnet50")
    with pytest.raises(UnknownArchitectureError, match="non-empty"):
        resolve_name("  ")


def test_unmapped_hugging_face_model_says_what_to_pass() -> None:
    with pytest.raises(UnmappedModelError, match="nvidia/mit-b0") as info:
        resolve_name("nvidia/mit-b0")
    assert "timm:" in info.value.hint
    with pytest.raises(UnmappedModelError):
        resolve_name("nateraw/vit-base-beans")  # a fine-tune: its id alone does not say its architecture


def test_hf_config_picks_the_variant_of_closest_size() -> None:
    assert timm_name_for_hf_config("vit", 85_800_194) == "timm:vit_base_patch16_224"
    assert timm_name_for_hf_config("vit", 303_000_000) == "timm:vit_large_patch16_224"
    assert timm_name_for_hf_config("swin", 28_288_354) == "timm:swin_tiny_patch4_window7_224"
    assert timm_name_for_hf_config("convnext") == "timm:convnext_base"
    with pytest.raises(UnmappedModelError, match="perceiver"):
        timm_name_for_hf_config("perceiver", 1e6)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("timm:resnet50d", "resnet"),
        ("resnext101_32x8d", "resnext"),
        ("tf_efficientnet_b3", "efficientnet"),
        ("mobilenetv3_large_100", "mobilenet"),
        ("swinv2_tiny_window8_256", "swin"),
        ("resnetaa50d", "resnet"),
        ("regnety_040.ra3_in1k", "regnety"),
        ("deit3_base_patch16_224", "vit"),
        ("vit_base_patch16_224", "vit"),
        ("legacy_seresnet18", "seresnet"),
    ],
)
def test_family_rule(name: str, family: str) -> None:
    assert family_of(name) == family


def test_held_out_set_spans_at_least_ten_families() -> None:
    assert len({family_of(n) for n in archi2vec.HELD_OUT}) >= 10
