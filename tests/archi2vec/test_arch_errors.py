"""Bad inputs to graph_of / encode: clear errors, or the documented module-hierarchy fallback."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import archi2vec
from archi2vec import ArchTraceError, ArchTraceWarning, UnknownArchitectureError, graph_of


class _DataDependent(nn.Module):
    """Branches on a tensor value: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)
        self.drop = nn.Dropout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        if x.sum() > 0:
            x = x.relu()
        return self.fc(self.drop(x.mean((2, 3))))


class _NoSubmodules(nn.Module):
    """Not traceable (converts a tensor to a Python int) and nothing to fall back on."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * int(x.max())


def test_unknown_name_lists_close_names() -> None:
    with pytest.raises(UnknownArchitectureError) as info:
        graph_of("timm:efficientnet_b9")
    assert "efficientnet_b" in str(info.value) and "hint" in str(info.value)


def test_dynamic_control_flow_raises_when_fallback_is_off() -> None:
    with pytest.raises(ArchTraceError, match="control flow") as info:
        graph_of(_DataDependent(), fallback=False)
    assert "fallback=True" in info.value.hint


def test_dynamic_control_flow_falls_back_to_the_module_hierarchy() -> None:
    with pytest.warns(ArchTraceWarning, match="module-hierarchy"):
        g = graph_of(_DataDependent())
    assert not g.traced
    # Leaf modules in registration order; the dropout is left out as in traced graphs.
    assert g.op_types == ["input", "conv", "bn", "linear", "output"]
    assert g.edge_index.tolist() == [[0, 1, 2, 3], [1, 2, 3, 4]]
    assert g.n_params == sum(p.numel() for p in _DataDependent().parameters())


def test_untraceable_module_without_submodules_is_a_clear_error() -> None:
    with pytest.raises(ArchTraceError, match="no submodules"):
        graph_of(_NoSubmodules())


def test_not_a_module_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="nn.Module or an architecture name"):
        graph_of(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="names, nn.Modules or ArchGraphs"):
        archi2vec.encode([3.5])  # type: ignore[list-item]


def test_a_timm_model_that_does_not_trace_gets_the_fallback_graph() -> None:
    # gemma4's vision tower branches on tensor values in its forward.
    with pytest.warns(ArchTraceWarning):
        g = graph_of("timm:gemma4_vit_167m")
    assert not g.traced and g.op_counts()["linear"] > 50
    with pytest.raises(ArchTraceError, match="gemma4"):
        graph_of("timm:gemma4_vit_167m", fallback=False)


def test_encode_accepts_the_fallback_graph() -> None:
    with pytest.warns(ArchTraceWarning):
        vectors = archi2vec.encode([_DataDependent()])
    assert vectors.shape == (1, archi2vec.default_encoder().out_dim)
    assert torch.isfinite(torch.from_numpy(vectors)).all()
