"""``ArchGraph``: an architecture as a typed data-flow graph of operations."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archi2vec._errors import ArtifactError
from archi2vec._ops import ATTRIBUTES, OP_TYPES

__all__ = ["ArchGraph", "GRAPH_FORMAT", "N_FEATURES", "STAT_NAMES"]

#: Version of the graph format (vocabulary, attributes, extraction rules); part of every hash and cache key.
GRAPH_FORMAT = 1

_OP_INDEX = {op: i for i, op in enumerate(OP_TYPES)}
_WIDTH_OPS = frozenset({"conv", "conv_depthwise", "conv_grouped", "conv_transpose", "linear", "attention"})

# How each raw attribute is squashed to roughly [0, 1] for the GNN (see ``ArchGraph.to_pyg``).
_SCALES: dict[str, tuple[str, float]] = {
    "kernel": ("lin", 7.0),
    "stride": ("lin", 4.0),
    "groups": ("log2", 10.0),
    "in_width": ("log2", 12.0),
    "out_width": ("log2", 12.0),
    "heads": ("log2", 6.0),
    "depth": ("lin", 1.0),
    "log_params": ("lin", 8.0),
}

#: Number of node features of :meth:`ArchGraph.to_pyg`: op-type one-hot plus normalised attributes.
N_FEATURES = len(OP_TYPES) + len(ATTRIBUTES)

#: Graph-level statistics of :meth:`ArchGraph.stats`, besides the op-mix histogram (one entry per op type).
STAT_NAMES: tuple[str, ...] = ("log_nodes", "log_depth", "log_params", "mean_width", "max_width", "frac_attention")


@dataclass(eq=False)
class ArchGraph:
    """An architecture as a directed acyclic graph of operations.

    Nodes are operations (one op type from :data:`archi2vec.OP_TYPES` each, with the numeric attributes of
    :data:`archi2vec.ATTRIBUTES`), edges are data flow from producer to consumer, in a topological node order.

    Parameters
    ----------
    op_types : list of str
        The op type of each node.
    attrs : ndarray of shape (n_nodes, len(ATTRIBUTES))
        Raw attribute values: kernel, stride, groups, input/output width (channels or features), attention heads,
        relative depth in [0, 1] (longest path from the input, over the longest path in the graph) and
        ``log10(1 + #params)`` of the op. 0 where an attribute does not apply.
    edge_index : ndarray of shape (2, n_edges)
        Source and target node of each edge.
    name : str, optional
        Where the graph came from (``"timm:resnet50"``); not part of :meth:`hash`.
    traced : bool, default=True
        False for the module-hierarchy fallback graph (leaf modules chained in registration order), built when a
        module cannot be traced symbolically.
    n_params : int, default=0
        Number of parameters of the whole module.

    Examples
    --------
    >>> import archi2vec
    >>> g = archi2vec.graph_of("timm:resnet18")
    >>> g.traced, g.op_types[0], g.op_types[-1]
    (True, 'input', 'output')
    """

    op_types: list[str]
    attrs: np.ndarray
    edge_index: np.ndarray
    name: str | None = None
    traced: bool = True
    n_params: int = 0
    _hash: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Quantised once here, so a graph read back from JSON is bit-identical (and hashes the same).
        attrs = np.asarray(self.attrs, dtype=np.float64).reshape(len(self.op_types), len(ATTRIBUTES))
        self.attrs = np.round(attrs, 4).astype(np.float32)
        self.edge_index = np.asarray(self.edge_index, dtype=np.int64).reshape(2, -1)
        unknown = sorted(set(self.op_types) - set(OP_TYPES))
        if unknown:
            raise ValueError(f"`op_types` of ArchGraph must come from OP_TYPES. Got {unknown} instead.")
        if self.edge_index.size and (self.edge_index.min() < 0 or self.edge_index.max() >= self.num_nodes):
            raise ValueError(f"`edge_index` of ArchGraph must index nodes 0..{self.num_nodes - 1}.")

    @property
    def num_nodes(self) -> int:
        """Number of operation nodes."""
        return len(self.op_types)

    @property
    def num_edges(self) -> int:
        """Number of data-flow edges."""
        return int(self.edge_index.shape[1])

    def __repr__(self) -> str:
        kind = "traced" if self.traced else "module-hierarchy fallback"
        return f"ArchGraph({self.name or '<module>'}: {self.num_nodes} nodes, {self.num_edges} edges, {kind})"

    def hash(self) -> str:
        """A content hash of the graph (op types, rounded attributes, edges, format version), for caching.

        Two graphs with the same structure hash the same whatever their ``name``; the hash changes with
        ``GRAPH_FORMAT``.
        """
        if self._hash is None:
            digest = hashlib.sha256()
            digest.update(f"archi2vec-graph-{GRAPH_FORMAT}-{int(self.traced)}\n".encode())
            digest.update("\n".join(self.op_types).encode())
            digest.update(np.round(self.attrs.astype(np.float64), 4).tobytes())
            digest.update(np.ascontiguousarray(self.edge_index).tobytes())
            self._hash = digest.hexdigest()[:32]
        return self._hash

    def op_counts(self) -> dict[str, int]:
        """How many nodes of each op type the graph has (only the types present)."""
        types, counts = np.unique(np.asarray(self.op_types), return_counts=True)
        return {str(t): int(c) for t, c in zip(types, counts)}

    def longest_path(self) -> int:
        """Number of edges on the longest input-to-output path (the graph's depth)."""
        return int(_longest_path(self.num_nodes, self.edge_index).max(initial=0))

    def stats(self) -> np.ndarray:
        """Graph-level statistics: :data:`STAT_NAMES` followed by the op-mix histogram (fractions per op type).

        Returns
        -------
        ndarray of shape (len(STAT_NAMES) + len(OP_TYPES),)
        """
        hist = np.zeros(len(OP_TYPES), dtype=np.float32)
        for op in self.op_types:
            hist[_OP_INDEX[op]] += 1
        hist /= max(self.num_nodes, 1)
        width_rows = [i for i, op in enumerate(self.op_types) if op in _WIDTH_OPS]
        widths = np.log2(1.0 + self.attrs[width_rows, ATTRIBUTES.index("out_width")]) if width_rows else np.zeros(1)
        total_params = self.n_params or float(np.sum(10.0 ** self.attrs[:, ATTRIBUTES.index("log_params")] - 1.0))
        frac_attention = hist[_OP_INDEX["attention"]] + hist[_OP_INDEX["matmul"]]
        head = [math.log(1 + self.num_nodes), math.log(1 + self.longest_path()), math.log10(1 + total_params),
                float(widths.mean()), float(widths.max()), float(frac_attention)]  # fmt: skip
        return np.concatenate([np.asarray(head, dtype=np.float32), hist])

    def node_features(self) -> np.ndarray:
        """Node features: op-type one-hot followed by the normalised attributes, shape (n_nodes, N_FEATURES)."""
        onehot = np.zeros((self.num_nodes, len(OP_TYPES)), dtype=np.float32)
        onehot[np.arange(self.num_nodes), [_OP_INDEX[op] for op in self.op_types]] = 1.0
        scaled = np.empty_like(self.attrs)
        for j, attr in enumerate(ATTRIBUTES):
            kind, scale = _SCALES[attr]
            column = np.maximum(self.attrs[:, j], 0.0)
            scaled[:, j] = (np.log2(1.0 + column) if kind == "log2" else column) / scale
        return np.concatenate([onehot, np.clip(scaled, 0.0, 2.0)], axis=1)

    def to_pyg(self) -> Any:
        """The graph as a ``torch_geometric.data.Data``.

        Returns
        -------
        torch_geometric.data.Data
            ``x`` of shape (n_nodes, N_FEATURES) (op-type one-hot + normalised attributes), ``edge_index`` of
            shape (2, n_edges) (data flow, producer to consumer) and ``num_nodes``.
        """
        from torch_geometric.data import Data

        return Data(
            x=torch.from_numpy(self.node_features()),
            edge_index=torch.from_numpy(self.edge_index.copy()),
            num_nodes=self.num_nodes,
        )

    # ---------------------------------------------------------------- persistence (JSON, no pickle)
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the graph (see :meth:`from_dict`)."""
        return {
            "format": GRAPH_FORMAT,
            "name": self.name,
            "traced": self.traced,
            "n_params": int(self.n_params),
            "op_types": list(self.op_types),
            "attrs": np.round(self.attrs.astype(np.float64), 4).tolist(),
            "edge_index": self.edge_index.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ArchGraph":
        """Rebuild a graph written by :meth:`to_dict`; raises ``ArtifactError`` for another graph format."""
        if data.get("format") != GRAPH_FORMAT:
            raise ArtifactError(
                f"Graph format {data.get('format')!r} is not this archi2vec's format {GRAPH_FORMAT}.",
                hint="delete the cached graph; it is rebuilt on the next use",
            )
        return cls(
            op_types=list(data["op_types"]),
            attrs=np.asarray(data["attrs"], dtype=np.float32).reshape(len(data["op_types"]), len(ATTRIBUTES)),
            edge_index=np.asarray(data["edge_index"], dtype=np.int64).reshape(2, -1),
            name=data.get("name"),
            traced=bool(data.get("traced", True)),
            n_params=int(data.get("n_params", 0)),
        )

    def save(self, path: str | Path) -> None:
        """Write the graph as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> "ArchGraph":
        """Read a graph written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _longest_path(n_nodes: int, edge_index: np.ndarray) -> np.ndarray:
    """Longest-path distance from any source to each node; nodes are in topological order (edges go forward)."""
    depth = np.zeros(n_nodes, dtype=np.int64)
    if n_nodes == 0 or edge_index.size == 0:
        return depth
    order = np.argsort(edge_index[1], kind="stable")
    src, dst = edge_index[0][order], edge_index[1][order]
    for s, d in zip(src.tolist(), dst.tolist()):
        # Edges sorted by target and sources precede targets, so depth[s] is final when read.
        if depth[s] + 1 > depth[d]:
            depth[d] = depth[s] + 1
    return depth


def relative_depth(n_nodes: int, edge_index: np.ndarray) -> np.ndarray:
    """Each node's longest-path depth divided by the graph's longest path (0 for a graph without edges)."""
    depth = _longest_path(n_nodes, edge_index).astype(np.float32)
    return depth / max(float(depth.max(initial=0)), 1.0)
