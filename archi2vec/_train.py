"""Self-supervised training of the default :class:`Encoder` over a corpus of real timm architectures.

Objective, per batch of graphs:

- **contrastive** (NT-Xent, `Chen et al., 2020 <https://arxiv.org/abs/2002.05709>`_; on graphs as in GraphCL,
  `You et al., 2020 <https://arxiv.org/abs/2010.13902>`_): two random views of each graph (node dropping, edge
  dropping, a crop to a window of relative depth) must be closer to each other, by cosine similarity of the graph
  vectors themselves (no projection head), than to the views of the other graphs in the batch;
- **statistics**: a linear head on the graph vector predicts the graph's standardised statistics
  (:meth:`ArchGraph.stats`: log #nodes, log depth, log #params, mean and max width, attention share, op-mix
  histogram), so the vector keeps size and composition, which a view-invariance objective alone could wash out.

``python -m archi2vec train`` runs :func:`train` and writes the encoder and the corpus embeddings into the package
(``archi2vec/_data``) unless ``--out`` says otherwise.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from archi2vec._config import package_data_dir
from archi2vec._corpus import HELD_OUT, corpus_names, extract_graphs, family_report
from archi2vec._encoder import Encoder
from archi2vec._graph import ArchGraph
from archi2vec._names import family_of, import_timm
from archi2vec._ops import ATTRIBUTES, OP_TYPES

__all__ = ["TrainResult", "train", "write_corpus"]

_DEPTH_COLUMN = len(OP_TYPES) + ATTRIBUTES.index("depth")
CORPUS_WEIGHTS = "corpus.safetensors"
CORPUS_INDEX = "corpus.json"


@dataclass
class TrainResult:
    """What a training run did.

    Attributes
    ----------
    n_graphs : int
        Training graphs.
    epochs : int
        Passes over them.
    seconds : float
        Wall time of the optimisation (graph extraction excluded).
    final_loss, final_contrastive, final_stats : float
        Mean losses over the last epoch (total, NT-Xent part, statistics part).
    heldout_family_rate : float
        Same-family nearest-neighbour rate of the held-out architectures.
    """

    n_graphs: int
    epochs: int
    seconds: float
    final_loss: float
    final_contrastive: float
    final_stats: float
    heldout_family_rate: float


class _GraphStore:
    """All training graphs as flat tensors, so that a batch (and its random views) is a few tensor ops."""

    def __init__(self, graphs: Sequence[ArchGraph]) -> None:
        self.x = [torch.from_numpy(g.node_features()) for g in graphs]
        self.edges = [torch.from_numpy(g.edge_index) for g in graphs]

    def batch(self, idx: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Node features, edges and graph index of the graphs ``idx``, as one disconnected graph."""
        sizes = torch.tensor([self.x[i].shape[0] for i in idx])
        offsets = torch.cumsum(sizes, 0) - sizes
        x = torch.cat([self.x[i] for i in idx])
        edges = torch.cat([self.edges[i] + offsets[k] for k, i in enumerate(idx)], dim=1)
        return x, edges, torch.repeat_interleave(torch.arange(len(idx)), sizes)


def _view(
    x: torch.Tensor,
    edges: torch.Tensor,
    batch: torch.Tensor,
    num_graphs: int,
    generator: torch.Generator,
    node_drop: float = 0.1,
    edge_drop: float = 0.1,
    crop: float = 0.8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random view of a batch of graphs: drop nodes and edges, and crop half of the graphs to a window of
    relative depth (of width ``crop``). Each graph keeps its first node (the input), so no graph is empty."""
    n = x.shape[0]
    keep = torch.rand(n, generator=generator) >= node_drop
    cropped = torch.rand(num_graphs, generator=generator) < 0.5
    start = torch.rand(num_graphs, generator=generator) * (1.0 - crop)
    depth = x[:, _DEPTH_COLUMN]
    in_window = (depth >= start[batch]) & (depth <= start[batch] + crop)
    keep &= ~cropped[batch] | in_window
    keep[torch.cat([torch.zeros(1, dtype=torch.long), torch.nonzero(batch[1:] != batch[:-1]).flatten() + 1])] = True
    new_index = torch.cumsum(keep.long(), 0) - 1
    kept_edges = keep[edges[0]] & keep[edges[1]] & (torch.rand(edges.shape[1], generator=generator) >= edge_drop)
    return x[keep], new_index[edges[:, kept_edges]], batch[keep]


def _nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    z = F.normalize(torch.cat([a, b]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    n = a.shape[0]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def train(
    out_dir: str | Path | None = None,
    *,
    per_family: int = 24,
    epochs: int = 20,
    batch_size: int = 64,
    hidden: int = 64,
    out_dim: int = 64,
    num_layers: int = 4,
    lr: float = 2e-3,
    temperature: float = 0.2,
    stats_weight: float = 1.0,
    seed: int = 0,
    threads: int = 1,
    corpus: Sequence[str] | None = None,
    held_out: Sequence[str] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the encoder on the timm corpus and write it, with the corpus embeddings, to ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path, optional
        Where to write ``encoder.safetensors``, ``encoder.json``, ``corpus.safetensors`` and ``corpus.json``;
        default: the package's own ``archi2vec/_data`` (the default encoder).
    per_family : int, default=24
        Corpus size per family (:func:`archi2vec._corpus.corpus_names`).
    epochs, batch_size, lr : int, int, float
        Optimisation (Adam).
    hidden, out_dim, num_layers : int
        Encoder size.
    temperature : float, default=0.2
        NT-Xent temperature.
    stats_weight : float, default=1.0
        Weight of the statistics-prediction loss.
    seed : int, default=0
        Seeds weights and views.
    threads : int, default=1
        torch threads while training. One is fastest on a small machine that other jobs share (with two threads,
        each matrix product waits for the slower of two contended cores).
    corpus, held_out : sequence of str, optional
        timm names to train on and to hold out; default :func:`archi2vec._corpus.corpus_names` and
        :data:`archi2vec.HELD_OUT`.
    progress : bool, default=True
        Show progress bars.

    Returns
    -------
    TrainResult
    """
    if epochs < 1:
        raise ValueError(f"`epochs` of train must be >= 1. Got {epochs} instead.")
    out_dir = Path(out_dir) if out_dir is not None else package_data_dir()
    graphs, held_graphs = _corpus_graphs(corpus, held_out, per_family, progress)
    with _torch_threads(threads):
        torch.manual_seed(seed)
        encoder = Encoder(hidden=hidden, out_dim=out_dim, num_layers=num_layers)
        losses, seconds = _optimise(encoder, list(graphs.values()), epochs, batch_size, lr, temperature,
                                    stats_weight, seed, progress)  # fmt: skip
        report = write_corpus(encoder, {**graphs, **held_graphs}, held_out=list(held_graphs), out_dir=out_dir)
    result = TrainResult(len(graphs), epochs, seconds, *losses, heldout_family_rate=report.rate)
    encoder.save(out_dir, info=_run_info(result, per_family=per_family, lr=lr, batch_size=batch_size,
                                         temperature=temperature, stats_weight=stats_weight, seed=seed,
                                         threads=threads))
    if progress:
        tqdm.write(str(report))
    return result


def _corpus_graphs(corpus: Sequence[str] | None, held_out: Sequence[str] | None, per_family: int,
                   progress: bool) -> tuple[dict[str, ArchGraph], dict[str, ArchGraph]]:
    """The graphs to train on and the held-out ones (a held-out name is never trained on)."""
    held_names = list(HELD_OUT if held_out is None else held_out)
    train_names = [n for n in (corpus_names(per_family) if corpus is None else corpus) if n not in set(held_names)]
    return extract_graphs(train_names, progress=progress), extract_graphs(held_names, progress=progress)


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the caller's setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_info(result: TrainResult, **settings: object) -> dict[str, object]:
    """What ``encoder.json`` records of a run: its result, the timm version and the settings."""
    return {**asdict(result), "timm_version": import_timm().__version__, **settings}


def _optimise(
    encoder: Encoder,
    graphs: Sequence[ArchGraph],
    epochs: int,
    batch_size: int,
    lr: float,
    temperature: float,
    stats_weight: float,
    seed: int,
    progress: bool,
) -> tuple[tuple[float, float, float], float]:
    store = _GraphStore(graphs)
    stats = torch.from_numpy(np.stack([g.stats() for g in graphs]))
    stats = (stats - stats.mean(0)) / stats.std(0).clamp_min(1e-3)
    stats_head = nn.Linear(encoder.out_dim, stats.shape[1])
    params = [*encoder.parameters(), *stats_head.parameters()]
    optimiser = torch.optim.Adam(params, lr=lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs, 1))
    generator = torch.Generator().manual_seed(seed)
    encoder.train()
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="train", disable=not progress, unit="epoch")
    for _ in bar:
        order = torch.randperm(len(graphs), generator=generator).tolist()
        totals = np.zeros(3)
        for first in range(0, len(order), batch_size):
            idx = order[first : first + batch_size]
            if len(idx) < 2:
                continue
            x, edges, batch = store.batch(idx)
            z1, z2 = (encoder(*_view(x, edges, batch, len(idx), generator), len(idx)) for _ in (0, 1))
            # NT-Xent on the graph vectors themselves (no projection head): cosine similarity between vectors is
            # what nearest-neighbour lookups use, so that is the space the objective shapes.
            contrastive = _nt_xent(z1, z2, temperature)
            stat_loss = 0.5 * (F.mse_loss(stats_head(z1), stats[idx]) + F.mse_loss(stats_head(z2), stats[idx]))
            loss = contrastive + stats_weight * stat_loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            totals += np.array([loss.item(), contrastive.item(), stat_loss.item()]) * len(idx)
        scheduler.step()
        mean = totals / len(graphs)
        bar.set_postfix(loss=f"{mean[0]:.3f}", ntxent=f"{mean[1]:.3f}", stats=f"{mean[2]:.3f}")
    encoder.eval()
    return tuple(float(v) for v in mean), time.perf_counter() - start


def write_corpus(encoder: Encoder, graphs: dict[str, ArchGraph], held_out: Sequence[str], out_dir: str | Path):
    """Embed ``graphs`` and write ``corpus.safetensors`` + ``corpus.json`` (nearest-neighbour lookup table).

    Returns the :class:`~archi2vec._corpus.FamilyReport` of ``held_out`` against all of them.
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(graphs)
    vectors = encoder.embed([graphs[n] for n in names])
    save_file({"vectors": vectors}, str(out_dir / CORPUS_WEIGHTS))
    held = set(held_out)
    index = {
        "encoder_fingerprint": encoder.fingerprint(),
        "timm_version": import_timm().__version__,
        "names": [f"timm:{n}" for n in names],
        "families": [family_of(n) for n in names],
        "held_out": [n in held for n in names],
        "graph_hashes": [graphs[n].hash() for n in names],
    }
    (out_dir / CORPUS_INDEX).write_text(json.dumps(index, indent=0) + "\n")
    return family_report(names, vectors, [n for n in names if n in held])
