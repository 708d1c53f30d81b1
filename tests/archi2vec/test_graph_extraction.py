"""graph_of: op types, attributes, data flow, meta-device instantiation, hashing and serialisation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archi2vec
from archi2vec import ATTRIBUTES, OP_TYPES, ArchGraph, graph_of

COL = {name: i for i, name in enumerate(ATTRIBUTES)}


def _rows(graph: ArchGraph, op: str) -> np.ndarray:
    return graph.attrs[[i for i, t in enumerate(graph.op_types) if t == op]]


def test_resnet18_graph_matches_the_architecture() -> None:
    g = graph_of("timm:resnet18")
    counts = g.op_counts()
    # 1 stem conv + 8 basic blocks x 2 convs + 3 downsample 1x1 convs; one BN per conv; one fc.
    assert counts["conv"] == 20 and counts["bn"] == 20 and counts["linear"] == 1
    assert counts["add"] == 8 and counts["pool_max"] == 1 and counts["pool_global"] == 1
    assert g.op_types[0] == "input" and g.op_types[-1] == "output" and g.traced
    assert g.n_params == 11_689_512
    # Edges go forward in the node order (a DAG in topological order), every node but the input has a producer.
    assert (g.edge_index[0] < g.edge_index[1]).all()
    assert set(g.edge_index[1].tolist()) == set(range(1, g.num_nodes))
    convs = _rows(g, "conv")
    assert convs[0, COL["kernel"]] == 7 and convs[0, COL["stride"]] == 2 and convs[0, COL["out_width"]] == 64
    assert sorted(set(convs[:, COL["out_width"]].tolist())) == [64, 128, 256, 512]
    fc = _rows(g, "linear")[0]
    assert fc[COL["in_width"]] == 512 and fc[COL["out_width"]] == 1000
    assert fc[COL["log_params"]] == pytest.approx(np.log10(1 + 512 * 1000 + 1000), abs=1e-4)
    depth = g.attrs[:, COL["depth"]]
    assert depth[0] == 0 and depth[-1] == 1 and (depth >= 0).all() and (depth <= 1).all()


def test_named_models_are_built_on_the_meta_device() -> None:
    model = archi2vec.instantiate("timm:vit_base_patch16_224")
    tensors = list(model.parameters()) + list(model.buffers())
    assert tensors and all(t.is_meta for t in tensors)
    assert not model.training


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set size
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def test_graph_of_a_large_model_allocates_no_weights() -> None:
    graph_of("timm:vit_tiny_patch16_224")  # warm up imports and timm's lazy registries
    if not _peak_rss_reset():
        pytest.skip("cannot reset the peak RSS counter on this system")
    start = _peak_rss_bytes()
    g = graph_of("timm:vit_large_patch16_224")
    grown = _peak_rss_bytes() - start
    weights = g.n_params * 4
    print(f"\nvit_large_patch16_224: {g.n_params / 1e6:.0f}M params = {weights / 2**20:.0f} MiB of fp32 weights; "
          f"peak RSS grew by {grown / 2**20:.0f} MiB while building and tracing it")
    assert g.n_params > 300_000_000
    assert grown < weights / 5


def test_grouped_depthwise_and_attention_ops_are_typed() -> None:
    assert "conv_grouped" in graph_of("timm:resnext50_32x4d").op_counts()
    assert "conv_grouped" not in graph_of("timm:resnet50").op_counts()
    mobilenet = graph_of("timm:mobilenetv2_100").op_counts()
    assert mobilenet["conv_depthwise"] == 17
    vit = graph_of("timm:vit_small_patch16_224")
    attention = _rows(vit, "attention")
    assert len(attention) == 12 and (attention[:, COL["heads"]] == 6).all()


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.drop = nn.Dropout(0.5)
        self.skip = nn.Identity()
        self.attn = nn.MultiheadAttention(16, num_heads=4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(F.relu(self.dw(self.drop(x))))
        tokens = self.skip(y.flatten(2).transpose(1, 2))
        out, _ = self.attn(tokens, tokens, tokens)
        return torch.cat([out, tokens], dim=-1).softmax(-1)


def test_a_custom_module_is_traced_without_dropout_or_identity() -> None:
    g = graph_of(_Tiny())
    assert g.op_types == ["input", "conv_depthwise", "act_relu", "conv", "reshape", "permute", "attention",
                          "concat", "softmax", "output"]  # fmt: skip
    attention = _rows(g, "attention")[0]
    assert attention[COL["heads"]] == 4 and attention[COL["in_width"]] == 16
    # The attention consumes the tokens (three times, one edge) and concat takes attention and tokens.
    edges = set(map(tuple, g.edge_index.T.tolist()))
    assert (5, 6) in edges and (6, 7) in edges and (5, 7) in edges
    module = _Tiny()
    assert graph_of(module.train()).hash() == graph_of(module.eval()).hash()


def test_hash_is_content_based_and_stable() -> None:
    timm_resnet = graph_of("timm:resnet50")
    assert timm_resnet.hash() == graph_of("resnet50").hash()
    # torchvision's ResNet-50 is the same network as timm's: same graph, same hash, whatever the name.
    assert graph_of("torchvision:resnet50").hash() == timm_resnet.hash()
    assert graph_of("timm:resnet34").hash() != timm_resnet.hash()
    assert len(timm_resnet.hash()) == 32


def test_json_round_trip_keeps_the_graph(tmp_path: Path) -> None:
    g = graph_of("timm:convnext_atto")
    g.save(tmp_path / "g.json")
    back = ArchGraph.load(tmp_path / "g.json")
    assert back.hash() == g.hash() and back.name == "timm:convnext_atto" and back.n_params == g.n_params
    data = json.loads((tmp_path / "g.json").read_text())
    data["format"] = -1
    with pytest.raises(archi2vec.ArtifactError, match="format"):
        ArchGraph.from_dict(data)


def test_to_pyg_features() -> None:
    g = graph_of("timm:efficientnet_b0")
    data = g.to_pyg()
    assert data.num_nodes == g.num_nodes and data.x.shape == (g.num_nodes, len(OP_TYPES) + len(ATTRIBUTES))
    assert torch.equal(data.edge_index, torch.from_numpy(g.edge_index))
    onehot = data.x[:, : len(OP_TYPES)]
    assert torch.all(onehot.sum(1) == 1)
    assert float(data.x[:, len(OP_TYPES) :].min()) >= 0 and float(data.x[:, len(OP_TYPES) :].max()) <= 2
    stats = g.stats()
    assert stats.shape == (len(archi2vec._graph.STAT_NAMES) + len(OP_TYPES),)
    assert stats[len(archi2vec._graph.STAT_NAMES) :].sum() == pytest.approx(1.0)


def test_arch_graph_validates_its_input() -> None:
    with pytest.raises(ValueError, match="OP_TYPES"):
        ArchGraph(["input", "warp_drive"], np.zeros((2, len(ATTRIBUTES))), np.array([[0], [1]]))
    with pytest.raises(ValueError, match="edge_index"):
        ArchGraph(["input", "output"], np.zeros((2, len(ATTRIBUTES))), np.array([[0], [5]]))
