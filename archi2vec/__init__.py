"""archi2vec: real architectures as typed operation graphs, encoded by a graph neural network.

- :func:`graph_of` turns an ``nn.Module`` or a name (``timm:<arch>``, ``torchvision:<arch>``, a Hugging Face id of
  a standard checkpoint) into an :class:`ArchGraph` (named models are built on the meta device: no weights);
- :class:`Encoder` is the GNN, trained self-supervised over hundreds of timm architectures by
  ``python -m archi2vec train``; the trained default ships in the package;
- :func:`encode` gives architecture vectors with the default encoder (cached on disk by graph hash) and
  :func:`nearest` the closest known architectures.

Examples
--------
>>> import archi2vec
>>> archi2vec.encode(["timm:resnet50", "google/vit-base-patch16-224"]).shape
(2, 64)
"""
from archi2vec._corpus import HELD_OUT, family_report
from archi2vec._encode import Corpus, default_encoder, encode, load_corpus, nearest
from archi2vec._encoder import Encoder
from archi2vec._errors import (
    Archi2VecError,
    ArchTraceError,
    ArtifactError,
    UnknownArchitectureError,
    UnmappedModelError,
)
from archi2vec._graph import GRAPH_FORMAT, ArchGraph
from archi2vec._names import family_of, resolve_name, timm_name_for_hf_config
from archi2vec._ops import ATTRIBUTES, OP_TYPES
from archi2vec._trace import ArchTraceWarning, graph_of, instantiate

__all__ = [
    "ArchGraph",
    "graph_of",
    "instantiate",
    "Encoder",
    "encode",
    "nearest",
    "default_encoder",
    "load_corpus",
    "Corpus",
    "resolve_name",
    "family_of",
    "timm_name_for_hf_config",
    "family_report",
    "HELD_OUT",
    "OP_TYPES",
    "ATTRIBUTES",
    "GRAPH_FORMAT",
    "Archi2VecError",
    "UnknownArchitectureError",
    "UnmappedModelError",
    "ArchTraceError",
    "ArchTraceWarning",
    "ArtifactError",
]
