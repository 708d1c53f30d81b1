"""The training corpus of timm architectures, the held-out evaluation set, and the family nearest-neighbour check.

Corpus rule: every timm architecture except the ``test_*`` toy models and :data:`HELD_OUT`, grouped by
:func:`archi2vec.family_of`; from each family at most ``per_family`` names, evenly spaced over the family's sorted
names (deterministic, and spread over sizes and variants). Architectures that ``torch.fx`` cannot trace are left out
of training (their fallback graphs are a different kind of graph).

:data:`HELD_OUT` was fixed before training: two or three mid-range members of 14 families, never trained on. The
family check embeds them with the trained encoder and asks, for each, whether its nearest other architecture (cosine
similarity, over the training corpus and the other held-out ones) is from the same family.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from archi2vec._cache import cached_graph
from archi2vec._graph import ArchGraph
from archi2vec._names import family_of, list_timm_architectures
from archi2vec._trace import ArchTraceWarning

__all__ = ["HELD_OUT", "corpus_names", "extract_graphs", "FamilyReport", "family_report"]

#: Architectures never trained on; the family nearest-neighbour check is run on them.
HELD_OUT: tuple[str, ...] = (
    "resnet34", "resnet101", "resnet50d",
    "resnext50_32x4d", "resnext101_32x8d",
    "densenet169", "densenet201",
    "efficientnet_b1", "efficientnet_b4", "efficientnet_lite2",
    "mobilenetv2_100", "mobilenetv3_large_100", "mobilenetv3_small_075",
    "regnetx_016", "regnetx_080",
    "regnety_016", "regnety_080",
    "convnext_tiny", "convnext_base",
    "vit_base_patch16_224", "vit_large_patch16_224", "vit_small_patch32_224",
    "deit_tiny_patch16_224", "deit_small_distilled_patch16_224", "deit3_base_patch16_224",
    "swin_tiny_patch4_window7_224", "swin_base_patch4_window12_384",
    "beit_base_patch16_224", "beit_large_patch16_512",
    "xcit_small_12_p16_224", "xcit_tiny_24_p8_224",
    "levit_256", "levit_conv_192",
    "dla60x", "dla102",
)  # fmt: skip


def corpus_names(per_family: int = 24) -> list[str]:
    """Training architectures (timm names): at most ``per_family`` per family, held-out ones excluded.

    Parameters
    ----------
    per_family : int, default=24
        Cap per family; the picks are evenly spaced over the family's sorted names.

    Returns
    -------
    list of str
        Sorted timm architecture names (without the ``timm:`` prefix).
    """
    if per_family < 1:
        raise ValueError(f"`per_family` of corpus_names must be >= 1. Got {per_family} instead.")
    held_out = set(HELD_OUT)
    families: dict[str, list[str]] = defaultdict(list)
    for arch in list_timm_architectures():
        if not arch.startswith("test_") and arch not in held_out:
            families[family_of(arch)].append(arch)
    chosen = []
    for members in families.values():
        members = sorted(members)
        if len(members) <= per_family:
            chosen.extend(members)
        else:
            picks = np.linspace(0, len(members) - 1, per_family).round().astype(int)
            chosen.extend(members[i] for i in sorted(set(picks.tolist())))
    return sorted(chosen)


def extract_graphs(names: Sequence[str], *, traced_only: bool = True, progress: bool = True) -> dict[str, ArchGraph]:
    """Graphs of timm architectures through the on-disk cache, skipping those that cannot be built.

    Parameters
    ----------
    names : sequence of str
        timm architecture names.
    traced_only : bool, default=True
        Leave out architectures that only have a module-hierarchy fallback graph.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    dict of str to ArchGraph
        Keyed by name, in the order given.
    """
    graphs: dict[str, ArchGraph] = {}
    skipped: list[str] = []
    for name in tqdm(list(names), desc="graphs", disable=not progress, unit="arch"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ArchTraceWarning)
                graph = cached_graph(f"timm:{name}")
        except Exception as exc:  # a model whose code fails on the meta device: report and go on
            skipped.append(f"{name} ({type(exc).__name__})")
            continue
        if graph.traced or not traced_only:
            graphs[name] = graph
        else:
            skipped.append(f"{name} (not traceable)")
    if skipped and progress:
        tqdm.write(f"skipped {len(skipped)}: {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}")
    return graphs


@dataclass
class FamilyReport:
    """Outcome of the family nearest-neighbour check.

    Attributes
    ----------
    rate : float
        Fraction of the queries whose nearest other architecture is from the same family.
    rows : list of tuple
        ``(query, its family, nearest name, nearest family, cosine similarity)`` per query.
    n_families : int
        Number of distinct families among the queries.
    """

    rate: float
    rows: list[tuple[str, str, str, str, float]]
    n_families: int

    def __str__(self) -> str:
        lines = [f"{q:36s} {fq:12s} -> {nn:36s} {fn:12s} cos={s:.3f} {'ok' if fq == fn else 'MISS'}"
                 for q, fq, nn, fn, s in self.rows]  # fmt: skip
        lines.append(f"same-family nearest neighbour: {self.rate:.1%} of {len(self.rows)} held-out architectures "
                     f"from {self.n_families} families")  # fmt: skip
        return "\n".join(lines)


def family_report(names: Sequence[str], vectors: np.ndarray, queries: Sequence[str]) -> FamilyReport:
    """For each query, whether its nearest other architecture by cosine similarity is from the same family.

    Parameters
    ----------
    names : sequence of str
        Names of all candidate architectures (queries included), one per row of ``vectors``.
    vectors : ndarray of shape (n, d)
        Their embeddings.
    queries : sequence of str
        The names to check (each must be in ``names``).

    Returns
    -------
    FamilyReport
    """
    names = [n.split(":", 1)[-1] for n in names]
    index = {n: i for i, n in enumerate(names)}
    missing = [q for q in queries if q.split(":", 1)[-1] not in index]
    if missing:
        raise ValueError(f"`queries` of family_report must be among `names`. Got unknown {missing[:5]} instead.")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rows = []
    for query in queries:
        i = index[query.split(":", 1)[-1]]
        sims = unit @ unit[i]
        sims[i] = -np.inf
        j = int(np.argmax(sims))
        rows.append((names[i], family_of(names[i]), names[j], family_of(names[j]), float(sims[j])))
    hits = sum(fq == fn for _, fq, _, fn, _ in rows)
    return FamilyReport(rate=hits / max(len(rows), 1), rows=rows, n_families=len({r[1] for r in rows}))
