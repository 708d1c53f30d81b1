"""Hugging Face models from their ``config.json`` alone: no weights, and no network unless the caller allows it.

``fennec models add hf:ORG/NAME`` registers a model of the Hugging Face hub in a workspace's zoo from what its
configuration says:

- the config is read from the local Hugging Face cache (``<cache>/models--ORG--NAME/snapshots/<rev>/config.json``,
  ``<rev>`` resolved through ``refs/main``; the cache is :func:`fennec.config.hf_hub_cache`), or from a folder
  that holds a ``config.json`` (``hf:./my-model``); only with ``allow_download=True`` is it fetched from the hub;
- ``transformers`` (the optional ``hf`` extra) builds the architecture from it on the meta device (shapes, no
  storage), which gives the parameter count and the graph that archi2vec encodes;
- ``id2label`` gives the card's label set (generic ``LABEL_<i>`` names are left out).

The card keeps the config itself (``extra["hf_config"]``, without its label names, which are the card's
``label_names``), so the architecture can be rebuilt wherever the workspace goes: :func:`config_graph` is what the
side features call for such a card. transformers' image models do not trace with ``torch.fx`` (they unpack tensor
shapes and branch on sizes), so their graph is archi2vec's module-hierarchy graph (``ArchGraph.traced`` is False):
the op mix, widths and depth of the network, not its branching.
"""
from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fennec import config as _env
from fennec.cards import ModelCard
from fennec.errors import DataNotFoundError, InputError

__all__ = ["HF_PREFIX", "build_model", "config_graph", "find_config", "label_names", "model_card", "read_config"]

#: The prefix of a Hugging Face model in ``fennec models add``.
HF_PREFIX = "hf:"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
_GENERIC_LABEL = re.compile(r"LABEL_\d+")
_INSTALL_HINT = "pip install 'fennec[hf]'   (transformers>=4.40)"


def find_config(ref: str, *, allow_download: bool = False) -> Path:
    """The ``config.json`` of a Hugging Face model: from a folder, the local cache or (if allowed) the hub.

    Parameters
    ----------
    ref : str
        ``ORG/NAME`` (a hub id), or a folder holding ``config.json``; a leading ``hf:`` is dropped. An existing
        folder wins over a hub id of the same spelling.
    allow_download : bool, default=False
        Fetch ``config.json`` (that file only) from the hub when the cache does not have it. Refused when
        ``FENNEC_OFFLINE`` or ``HF_HUB_OFFLINE`` is set.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        ``ref`` is neither a folder with a ``config.json`` nor an ``ORG/NAME`` id.
    DataNotFoundError
        The id is not in the local cache (and no download was allowed, or it failed).
    """
    ref = ref[len(HF_PREFIX):] if ref.startswith(HF_PREFIX) else ref
    folder = Path(ref).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise InputError(f"{folder} has no config.json.", hint="pass the folder a Hugging Face model was saved to")
        return folder / "config.json"
    if not _REPO_ID.fullmatch(ref):
        raise InputError(f"{ref!r} is neither a folder nor a Hugging Face model id ORG/NAME.",
                         hint="e.g. fennec models add hf:google/vit-base-patch16-224")
    cached = _cached_config(ref)
    if cached is not None:
        return cached
    if allow_download and not _env.offline():
        return _download_config(ref)
    why = ("offline (FENNEC_OFFLINE / HF_HUB_OFFLINE is set)" if allow_download else "no download was allowed")
    raise DataNotFoundError(
        f"The config of {ref} is not in the local Hugging Face cache ({_env.hf_hub_cache()}); {why}.",
        hint=f"fetch it once (huggingface-cli download {ref} config.json), pass a folder holding its config.json, "
             "or allow the download: fennec models add hf:... --allow-download")


def _cached_config(repo_id: str) -> Path | None:
    """``config.json`` of ``repo_id`` in the hub cache: the snapshot ``refs/main`` names, else the only one."""
    repo = _env.hf_hub_cache() / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / "main"
    if ref.is_file():
        path = repo / "snapshots" / ref.read_text().strip() / "config.json"
        return path if path.is_file() else None
    found = sorted((repo / "snapshots").glob("*/config.json"))
    return found[0] if len(found) == 1 else None


def _download_config(repo_id: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, "config.json", cache_dir=_env.hf_hub_cache()))
    except ImportError:
        raise InputError("Downloading a config needs huggingface_hub (installed with transformers).",
                         hint=_INSTALL_HINT) from None
    except Exception as exc:  # network errors, unknown or gated repositories
        raise DataNotFoundError(f"Could not download the config of {repo_id}: {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}",
                                hint="check the id and the network, or pass a folder holding its config.json"
                                ) from None


def read_config(path: str | Path) -> dict[str, Any]:
    """The JSON object of a ``config.json``, checked to name its ``model_type``.

    Raises
    ------
    InputError
        The file is not JSON, not an object, or has no ``model_type``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a readable JSON config: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise InputError(f"{path} has no `model_type`, so it is not a transformers model config.",
                         hint="pass the config.json that transformers' save_pretrained writes")
    return data


def label_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The class names of ``config["id2label"]`` in label order, generic ``LABEL_<i>`` names left out.

    Examples
    --------
    >>> label_names({"id2label": {"1": "dog", "0": "cat"}})
    ('cat', 'dog')
    >>> label_names({"id2label": {"0": "LABEL_0", "1": "LABEL_1"}})
    ()
    """
    id2label = config.get("id2label") or {}
    try:
        ordered = sorted(id2label.items(), key=lambda item: int(item[0]))
    except (TypeError, ValueError):
        ordered = sorted(id2label.items(), key=lambda item: str(item[0]))
    return tuple(str(name) for _, name in ordered if not _GENERIC_LABEL.fullmatch(str(name)))


def _architecture_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config without its label names (kept: ``num_labels``, which sizes the head), as stored on the card."""
    out = {k: v for k, v in config.items() if k not in ("id2label", "label2id")}
    if config.get("id2label"):
        out["num_labels"] = len(config["id2label"])
    return out


def _import_transformers():  # noqa: ANN202 (the transformers module)
    import archi2vec

    archi2vec.ensure_torchvision()  # transformers' vision models import torchvision
    try:
        import transformers
    except ImportError:
        raise InputError("Hugging Face models need transformers, which is not installed.",
                         hint=_INSTALL_HINT) from None
    return transformers


def build_model(config: Mapping[str, Any]):  # noqa: ANN201 (a torch.nn.Module)
    """The architecture of a transformers config, built on the meta device (no weights), in eval mode.

    The image-classification class of the model type when there is one (its head is part of the parameter
    count), else the bare model (``AutoModel``).

    Raises
    ------
    InputError
        transformers is missing, does not know the ``model_type``, or cannot build it.
    """
    import torch

    transformers = _import_transformers()
    model_type = config.get("model_type")
    fields = {k: v for k, v in _architecture_config(config).items() if k != "model_type"}
    try:
        hf_config = transformers.AutoConfig.for_model(model_type, **fields)
    except (ValueError, KeyError) as exc:
        raise InputError(f"transformers {transformers.__version__} does not know the model type {model_type!r} "
                         f"({str(exc).splitlines()[0]}).",
                         hint="upgrade transformers (pip install -U transformers), or add the model as "
                              "timm:<arch> of the same architecture") from None
    if not getattr(hf_config, "architectures", None):  # null in a config saved from a bare config class: the
        hf_config.architectures = []  # auto classes iterate over it where a type has several heads (DeiT)
    try:
        with torch.device("meta"):
            try:
                model = transformers.AutoModelForImageClassification.from_config(hf_config)
            except ValueError:  # "Unrecognized configuration class": no classification head for this type
                model = transformers.AutoModel.from_config(hf_config)
    except Exception as exc:  # any failure of third-party model code
        raise InputError(f"transformers could not build a {model_type!r} model from this config: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                         hint="check the config, or add the model as timm:<arch> of the same architecture"
                         ) from None
    return model.eval()


@functools.lru_cache(maxsize=256)
def _graph_of_json(config_json: str):  # noqa: ANN202 (an archi2vec.ArchGraph)
    import archi2vec

    model = build_model(json.loads(config_json))
    with warnings.catch_warnings():  # expected: see the module docstring
        warnings.simplefilter("ignore", archi2vec.ArchTraceWarning)
        return archi2vec.graph_of(model, fallback=True)


def config_graph(config: Mapping[str, Any]):  # noqa: ANN201 (an archi2vec.ArchGraph)
    """archi2vec's graph of the architecture a transformers config describes (built once per process and config).

    Parameters
    ----------
    config : mapping
        A ``config.json`` object (label names are ignored; ``num_labels`` sizes the head).

    Returns
    -------
    archi2vec.ArchGraph
        Usually a module-hierarchy graph (``traced`` False; see the module docstring).
    """
    return _graph_of_json(json.dumps(_architecture_config(config), sort_keys=True))


def model_card(ref: str, *, name: str | None = None, allow_download: bool = False, encoder: Any = None,
               imagenet_top1: float | None = None, pretrain_data: str | None = None) -> ModelCard:
    """The model card of a Hugging Face model from its config, checked to encode with archi2vec.

    Parameters
    ----------
    ref : str
        ``hf:ORG/NAME``, ``ORG/NAME`` or a folder with a ``config.json`` (see :func:`find_config`).
    name : str, optional
        The model id in the history. Default: ``ORG/NAME``, or the folder's name.
    allow_download : bool, default=False
        See :func:`find_config`.
    encoder : archi2vec.Encoder, optional
        The encoder the architecture is checked with (default: archi2vec's shipped one).
    imagenet_top1, pretrain_data : optional
        Copied to the card.

    Returns
    -------
    ModelCard
        ``family`` from the ``model_type`` (archi2vec's family rule), ``n_params`` from the meta model,
        ``label_names`` from ``id2label``, ``extra`` with ``hf_id`` (or ``hf_path``) and ``hf_config``.
    """
    import archi2vec

    path = find_config(ref, allow_download=allow_download)
    config = read_config(path)
    bare = ref[len(HF_PREFIX):] if ref.startswith(HF_PREFIX) else ref
    is_folder = Path(bare).expanduser().is_dir()
    graph = config_graph(config)
    n_params = float(graph.n_params)  # every parameter of the meta model, the head included
    archi2vec.encode([graph], encoder=encoder)  # fails here, not at training time
    source = {"hf_path": str(path.parent.resolve())} if is_folder else {"hf_id": bare}
    return ModelCard(name=name or (Path(bare).expanduser().resolve().name if is_folder else bare),
                     family=archi2vec.family_of(config["model_type"].replace("-", "_")), n_params=n_params or None,
                     pretrain_data=pretrain_data, imagenet_top1=imagenet_top1, label_names=label_names(config),
                     extra={**source, "hf_config": _architecture_config(config)})
