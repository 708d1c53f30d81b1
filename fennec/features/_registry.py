"""Models by name: :class:`ModelSpec` (a builder, its preprocessing and weights id) and the registry of specs."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from torch import nn

from fennec.errors import UnknownNameError
from fennec.features._preprocess import PreprocessConfig

__all__ = ["ModelSpec", "get_model_spec", "is_registered", "list_models", "load_model", "register_model"]



@dataclass(frozen=True)
class ModelSpec:
    """A model that can be built on demand, with its preprocessing and an id of its weights.

    Parameters
    ----------
    name : str
        Registry name (``efficientnet_lite0``).
    build : callable returning nn.Module
        Builds the model with its weights loaded (called once per process for registered specs).
    preprocess : PreprocessConfig
        Input size and normalisation the weights were trained with.
    weights_id : str
        Identifies the weights (part of every cache key).
    head : str or None, default=None
        Name of the submodule whose input is the penultimate feature and whose output is the logits; ``None``
        means the model's output is the feature (no logits).
    """

    name: str
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    preprocess: PreprocessConfig
    weights_id: str
    head: str | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry under ``spec.name`` (replacing any spec of that name) and return it."""
    _REGISTRY[spec.name] = spec
    load_model.cache_clear()
    return spec


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """The registered :class:`ModelSpec` called ``name`` (:class:`~fennec.errors.UnknownNameError` otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError.of("model", name, _REGISTRY) from None


@lru_cache(maxsize=4)
def load_model(name: str) -> nn.Module:
    """Build the registered model ``name`` in eval mode (kept in memory for the next call)."""
    return get_model_spec(name).build().eval()


def is_registered(spec: ModelSpec) -> bool:
    """Whether ``spec`` is the very spec registered under its name (then its module is built once per process)."""
    return _REGISTRY.get(spec.name) is spec
