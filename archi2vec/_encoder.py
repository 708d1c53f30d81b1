"""``Encoder``: a GINE graph neural network that maps an :class:`ArchGraph` to a fixed-size vector."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from archi2vec._errors import ArtifactError
from archi2vec._graph import GRAPH_FORMAT, N_FEATURES, ArchGraph
from archi2vec._ops import ATTRIBUTES, OP_TYPES

__all__ = ["Encoder"]

_WEIGHTS = "encoder.safetensors"
_CONFIG = "encoder.json"


class Encoder(nn.Module):
    r"""Graph encoder: GINE message passing over the op graph, mean+max readout of every layer, an MLP head.

    Each layer updates node states with a GINE convolution (`Hu et al., 2020 <https://arxiv.org/abs/1905.12265>`_)
    over the data-flow edges in both directions, the direction being the edge feature:

    .. math::
        \mathbf{h}_i^{(l+1)} = \mathbf{h}_i^{(l)} + \mathrm{MLP}^{(l)}\Big((1+\epsilon)\,\mathbf{h}_i^{(l)}
        + \sum_{j \in \mathcal{N}(i)} \mathrm{ReLU}\big(\mathbf{h}_j^{(l)} + \mathbf{W}\mathbf{e}_{ji}\big)\Big)

    The graph vector is an MLP of the concatenated mean and max pools of :math:`\mathbf{h}^{(0)},\dots,
    \mathbf{h}^{(L)}` and of :math:`\log(1+|V|)`, so that both the op mix (mean), distinctive ops (max) and size
    reach it.

    Parameters
    ----------
    hidden : int, default=64
        Width of node states.
    out_dim : int, default=64
        Size of the graph vector.
    num_layers : int, default=4
        Number of message-passing layers.

    Examples
    --------
    >>> import archi2vec
    >>> enc = Encoder(hidden=16, out_dim=8, num_layers=2)
    >>> enc.embed([archi2vec.graph_of("timm:resnet18")]).shape
    (1, 8)
    """

    def __init__(self, hidden: int = 64, out_dim: int = 64, num_layers: int = 4) -> None:
        super().__init__()
        from torch_geometric.nn import GINEConv

        self.hidden = hidden
        self.out_dim = out_dim
        self.num_layers = num_layers
        self.input = nn.Sequential(nn.Linear(N_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, hidden)),
                train_eps=True,
                edge_dim=2,
            )
            for _ in range(num_layers)
        )
        readout = 2 * hidden * (num_layers + 1) + 1
        self.head = nn.Sequential(nn.Linear(readout, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, out_dim))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
        """Graph vectors of a batch of graphs.

        Parameters
        ----------
        x : Tensor of shape (n_nodes, N_FEATURES)
            Node features (:meth:`ArchGraph.to_pyg`).
        edge_index : LongTensor of shape (2, n_edges)
            Data-flow edges, producer to consumer.
        batch : LongTensor of shape (n_nodes,)
            Graph index of each node.
        num_graphs : int
            Number of graphs in the batch.

        Returns
        -------
        Tensor of shape (num_graphs, out_dim)
        """
        from torch_geometric.nn import global_max_pool, global_mean_pool

        both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        direction = torch.zeros(both.shape[1], 2, device=x.device)
        direction[: edge_index.shape[1], 0] = 1.0
        direction[edge_index.shape[1] :, 1] = 1.0
        h = self.input(x)
        pooled = [global_mean_pool(h, batch, num_graphs), global_max_pool(h, batch, num_graphs)]
        for conv in self.convs:
            h = h + conv(h, both, direction)
            pooled += [global_mean_pool(h, batch, num_graphs), global_max_pool(h, batch, num_graphs)]
        sizes = torch.bincount(batch, minlength=num_graphs).to(x.dtype)
        pooled.append(torch.log1p(sizes).unsqueeze(1) / 8.0)
        return self.head(torch.cat(pooled, dim=1))

    def forward_batch(self, batch: Any) -> torch.Tensor:
        """Graph vectors of a ``torch_geometric`` ``Batch``, shape (num_graphs, out_dim)."""
        return self(batch.x, batch.edge_index, batch.batch, batch.num_graphs)

    @torch.no_grad()
    def embed(self, graphs: Sequence[ArchGraph], batch_size: int = 32) -> np.ndarray:
        """Vectors of graphs, shape (len(graphs), out_dim), in eval mode."""
        from torch_geometric.data import Batch

        was_training = self.training
        self.eval()
        out = []
        for start in range(0, len(graphs), batch_size):
            batch = Batch.from_data_list([g.to_pyg() for g in graphs[start : start + batch_size]])
            out.append(self.forward_batch(batch).numpy())
        self.train(was_training)
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.out_dim), np.float32)

    # ---------------------------------------------------------------- persistence (safetensors + JSON)
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments plus the graph format and vocabulary the weights were trained for."""
        return {
            "hidden": self.hidden,
            "out_dim": self.out_dim,
            "num_layers": self.num_layers,
            "graph_format": GRAPH_FORMAT,
            "op_types": list(OP_TYPES),
            "attributes": list(ATTRIBUTES),
        }

    def fingerprint(self) -> str:
        """A hash of the weights and config (keys the embedding cache)."""
        digest = hashlib.sha256(json.dumps(self.get_config(), sort_keys=True).encode())
        for key, value in sorted(self.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().numpy().tobytes())
        return digest.hexdigest()[:16]

    def save(self, directory: str | Path, info: dict[str, Any] | None = None) -> None:
        """Write ``encoder.safetensors`` and ``encoder.json`` (config, fingerprint and ``info``) to ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / _WEIGHTS))
        meta = {**self.get_config(), "fingerprint": self.fingerprint(), "info": info or {}}
        (directory / _CONFIG).write_text(json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> "Encoder":
        """Read an encoder written by :meth:`save`; raises ``ArtifactError`` if missing or for another format."""
        from safetensors.torch import load_file

        directory = Path(directory)
        if not (directory / _WEIGHTS).exists() or not (directory / _CONFIG).exists():
            raise ArtifactError(
                f"No trained encoder in {directory} (expected {_WEIGHTS} and {_CONFIG}).",
                hint="train one with `python -m archi2vec train`",
            )
        meta = json.loads((directory / _CONFIG).read_text())
        if meta.get("graph_format") != GRAPH_FORMAT or meta.get("op_types") != list(OP_TYPES):
            raise ArtifactError(
                f"The encoder in {directory} was trained for another graph format "
                f"({meta.get('graph_format')} vs {GRAPH_FORMAT}).",
                hint="retrain it with `python -m archi2vec train`",
            )
        encoder = cls(hidden=meta["hidden"], out_dim=meta["out_dim"], num_layers=meta["num_layers"])
        encoder.load_state_dict(load_file(str(directory / _WEIGHTS)))
        encoder.info = meta.get("info", {})
        return encoder.eval()
