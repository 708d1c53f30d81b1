"""`fennec models add hf:`: Hugging Face models from their config.json alone (fennec.hf).

The configs are written by transformers' own config classes (``save_pretrained``) into a temporary Hugging Face
cache layout, small enough that building them on the meta device takes milliseconds. archi2vec's encoder here is the
trained one shipped in the package; the nearest-neighbour test asserts what it gives on these configs.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

transformers = pytest.importorskip("transformers", reason="needs the hf extra: pip install 'fennec[hf]'")

import archi2vec  # noqa: E402
from fennec import hf  # noqa: E402
from fennec.cli import main  # noqa: E402
from fennec.side_features import model_side_features  # noqa: E402
from fennec.workspace import Workspace  # noqa: E402

archi2vec.ensure_torchvision()  # transformers' vision models import torchvision


def _vit_like(cls, hidden, layers):
    return cls(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden,
               image_size=32, patch_size=8)


def _stages(cls, width, depth, **kw):
    return cls(hidden_sizes=[width, 2 * width, 4 * width, 8 * width], depths=[depth, depth, 2 * depth, depth], **kw)


T = transformers
# (org, family group, config builder, the two sizes). ViT, DeiT and BEiT are one group: the same transformer
# encoder (patch embedding, then attention + MLP blocks), and their module-hierarchy graphs, which is what archi2vec
# sees of a transformers model (it does not trace with torch.fx), do not carry what tells them apart.
FAMILIES = {
    "vit": ("vit", lambda a, b: _vit_like(T.ViTConfig, a, b), (32, 2), (64, 4)),
    "deit": ("vit", lambda a, b: _vit_like(T.DeiTConfig, a, b), (32, 2), (64, 4)),
    "beit": ("vit", lambda a, b: _vit_like(T.BeitConfig, a, b), (32, 2), (64, 4)),
    "convnext": ("convnext", lambda a, b: _stages(T.ConvNextConfig, a, b), (8, 1), (16, 2)),
    "swin": ("swin", lambda a, b: T.SwinConfig(embed_dim=a, depths=[b, b, 2 * b, b], num_heads=[1, 2, 4, 8],
                                               image_size=64, window_size=4), (8, 1), (16, 1)),
    "resnet": ("resnet", lambda a, b: T.ResNetConfig(embedding_size=a, hidden_sizes=[a, 2 * a, 4 * a, 8 * a],
                                                     depths=[b] * 4, layer_type="bottleneck"), (8, 1), (16, 2)),
    "regnet": ("regnet", lambda a, b: _stages(T.RegNetConfig, a, b, embedding_size=a, groups_width=8),
               (8, 1), (16, 1)),
    "poolformer": ("poolformer", lambda a, b: _stages(T.PoolFormerConfig, a, b), (8, 1), (16, 2)),
    "mobilevit": ("mobilevit", lambda a, b: T.MobileViTConfig(hidden_sizes=[a, 2 * a, 3 * a], image_size=64),
                  (16, 1), (32, 1)),
    "efficientnet": ("efficientnet", lambda a, b: T.EfficientNetConfig(width_coefficient=a, depth_coefficient=b,
                                                                       image_size=64), (0.25, 0.3), (0.5, 0.5)),
    "mobilenet_v2": ("mobilenet", lambda a, b: T.MobileNetV2Config(depth_multiplier=a, image_size=64),
                     (0.35, 1), (0.75, 1)),
}
PETS = {0: "cat", 1: "dog", 2: "bird"}


def _save(cache, repo_id, config, revision="0123abcd", ref=True):
    """``config`` saved by transformers into ``cache`` as the hub's cache layout has it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    config.save_pretrained(repo / "snapshots" / revision)
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A Hugging Face cache with two sizes of each family, and the models' expected parameter counts."""
    cache = tmp_path_factory.mktemp("hub")
    expected = {}
    for org, (_, build, *sizes) in FAMILIES.items():
        for size_name, size in zip(("small", "large"), sizes):
            config = build(*size)
            if org == "vit":
                config.id2label, config.label2id = PETS, {v: k for k, v in PETS.items()}
            repo_id = f"{org}/{org}-{size_name}"
            config.architectures = []  # (transformers' auto classes need a list here, not the default None)
            model = T.AutoModelForImageClassification.from_config(config)  # real (tiny) tensors, on the CPU
            expected[repo_id] = sum(p.numel() for p in model.parameters())
            config.architectures = [type(model).__name__]  # as a checkpoint's config has it
            _save(cache, repo_id, config)
    return cache, expected


@pytest.fixture
def hub(zoo, monkeypatch):
    cache, expected = zoo
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache, expected


@pytest.fixture
def ws(tmp_path, capsys):
    path = tmp_path / "ws"
    assert main(["init", str(path)]) == 0
    capsys.readouterr()
    return path


def test_models_add_hf_registers_cards_from_configs(hub, ws, capsys, tmp_path):
    _, expected = hub
    listing = tmp_path / "zoo.txt"
    listing.write_text("# the whole zoo\n" + "\n".join(sorted(expected)[1:]) + "\n\n")  # bare ids: hf:
    first = sorted(expected)[0]
    assert main(["models", "add", f"hf:{first}", "--from-file", str(listing), "-w", str(ws), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["added"] for r in rows) == sorted(expected)
    cards = Workspace.open(ws).model_cards()
    assert len(cards) == 2 * len(FAMILIES) >= 16
    for repo_id, n_params in expected.items():
        card = cards[repo_id]
        assert card.n_params == n_params  # from the meta model: the same count as the real one
        assert card.extra["hf_id"] == repo_id and card.extra["hf_config"]["model_type"] == repo_id.split("/")[0]
        assert "id2label" not in card.extra["hf_config"] and card.arch is None
    assert cards["vit/vit-small"].label_names == ("cat", "dog", "bird")
    assert cards["resnet/resnet-small"].label_names == ()  # LABEL_0, LABEL_1: generic names are left out
    assert cards["vit/vit-small"].family == "vit" and cards["deit/deit-small"].family == "vit"  # archi2vec's rule
    # the side features encode each card's architecture from its stored config
    features = model_side_features(cards)
    assert {f[-1] for f in features.values()} == {1.0}  # archi2vec's "architecture known" flag


def test_archi2vec_places_same_family_models_nearest(hub):
    cache, expected = hub
    ids = sorted(expected)
    graphs = [hf.config_graph(hf.read_config(hf.find_config(i))) for i in ids]
    vectors = archi2vec.encode(graphs)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    group = {i: FAMILIES[i.split("/")[0]][0] for i in ids}
    nearest = {i: ids[int(np.argmax(row))] for i, row in zip(ids, sims)}
    # (cosines run from -0.58 to 1 here; the closest calls, RegNet, Swin and ResNet, win by 0.002-0.009)
    assert {i: group[j] for i, j in nearest.items()} == group
    # and the two sizes of one family are not the same vector (widths and depths reach the encoder)
    assert sims[ids.index("convnext/convnext-small"), ids.index("convnext/convnext-large")] < 0.999


def test_a_folder_and_a_cache_without_refs(tmp_path, monkeypatch, ws, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    _save(tmp_path / "hub", "team/resnet-noref", FAMILIES["resnet"][1](8, 1), ref=False)  # one snapshot, no ref
    folder = tmp_path / "my-deit"
    FAMILIES["deit"][1](32, 2).save_pretrained(folder)  # "architectures": null, and DeiT has two heads
    assert main(["models", "add", "hf:team/resnet-noref", f"hf:{folder}", "-w", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "Added team/resnet-noref (resnet" in out and "Added my-deit (vit" in out
    assert main(["models", "list", "-w", str(ws)]) == 0
    assert "hf:team/resnet-noref" in capsys.readouterr().out


def test_clear_errors(tmp_path, monkeypatch, ws, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["models", "add", "hf:nobody/nothing", "-w", str(ws)]) == 1
    err = capsys.readouterr().err
    assert "not in the local Hugging Face cache" in err and "--allow-download" in err and "Traceback" not in err
    assert main(["models", "add", "hf:nobody/nothing", "--allow-download", "-w", str(ws)]) == 1  # offline here
    assert "offline" in capsys.readouterr().err
    unknown = tmp_path / "alien"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model_type": "alien-net-9000", "hidden_size": 8}))
    assert main(["models", "add", f"hf:{unknown}", "-w", str(ws)]) == 1
    err = capsys.readouterr().err
    assert "does not know the model type 'alien-net-9000'" in err and "upgrade transformers" in err
    assert "Traceback" not in err
    odd = tmp_path / "vit-missing-transformers"
    _vit_like(T.ViTConfig, 24, 1).save_pretrained(odd)  # a config not built yet in this process
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if transformers were not installed
    assert main(["models", "add", f"hf:{odd}", "-w", str(ws)]) == 1
    err = capsys.readouterr().err
    assert "need transformers" in err and "pip install 'fennec[hf]'" in err and "Traceback" not in err


def test_label_names_order_and_generic_names():
    assert hf.label_names({"id2label": {"10": "k", "2": "b", "1": "a"}}) == ("a", "b", "k")
    assert hf.label_names({"id2label": {"0": "LABEL_0", "1": "LABEL_1"}}) == ()
    assert hf.label_names({}) == ()
