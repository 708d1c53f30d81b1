"""archi2vec: real architectures as typed operation graphs, encoded by a graph neural network.

- :func:`graph_of` turns an ``nn.Module`` or a name (``timm:<arch>``, ``torchvision:<arch>``, a Hugging Face id of
  a standard checkpoint) into an :class:`ArchGraph` (named models are built on the meta device: no weights), and
  :func:`cached_graph` does so through an on-disk cache;
- :class:`Encoder` is the GNN, trained self-supervised over hundreds of timm architectures by
  ``python -m archi2vec train``; the trained default ships in the package;
- :func:`encode` gives architecture vectors with the default encoder (cached on disk by graph hash) and
  :func:`nearest` the closest known architectures;
- :func:`ensure_torchvision` and :func:`import_timm` import torchvision / timm on a CPU-only torch;
- :class:`HintedError` is the base of every error the project raises on purpose, and :func:`run_click` the one
  command-line wrapper that prints them (fennec's CLI uses both).

Names are imported on first use, so ``from archi2vec import HintedError`` does not load torch.

Examples
--------
>>> import archi2vec
>>> archi2vec.encode(["timm:resnet50", "google/vit-base-patch16-224"]).shape
(2, 64)
"""
from __future__ import annotations

from archi2vec._lazy import lazy_exports

# name -> module; imported on first use, so that the light parts (errors, the CLI wrapper) do not load torch.
_EXPORTS = {
    "ArchGraph": "archi2vec._graph",
    "GRAPH_FORMAT": "archi2vec._graph",
    "graph_of": "archi2vec._trace",
    "cached_graph": "archi2vec._cache",
    "instantiate": "archi2vec._trace",
    "ArchTraceWarning": "archi2vec._trace",
    "Encoder": "archi2vec._encoder",
    "encode": "archi2vec._encode",
    "nearest": "archi2vec._encode",
    "default_encoder": "archi2vec._encode",
    "load_corpus": "archi2vec._encode",
    "Corpus": "archi2vec._encode",
    "resolve_name": "archi2vec._names",
    "family_of": "archi2vec._names",
    "timm_name_for_hf_config": "archi2vec._names",
    "import_timm": "archi2vec._names",
    "list_timm_architectures": "archi2vec._names",
    "ensure_torchvision": "archi2vec._torchvision_compat",
    "family_report": "archi2vec._corpus",
    "HELD_OUT": "archi2vec._corpus",
    "OP_TYPES": "archi2vec._ops",
    "ATTRIBUTES": "archi2vec._ops",
    "HintedError": "archi2vec._errors",
    "Archi2VecError": "archi2vec._errors",
    "UnknownArchitectureError": "archi2vec._errors",
    "UnmappedModelError": "archi2vec._errors",
    "ArchTraceError": "archi2vec._errors",
    "ArtifactError": "archi2vec._errors",
    "run_click": "archi2vec._cli_runner",
    "lazy_exports": "archi2vec._lazy",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
