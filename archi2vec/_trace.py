"""``graph_of``: turn a module (or a timm / torchvision / Hugging Face name) into an :class:`ArchGraph`.

Named architectures are instantiated on the meta device (``with torch.device("meta"):``): parameters have shapes
but no storage, so even a billion-parameter model costs no weight memory, and tracing never runs a kernel.

The graph comes from ``torch.fx`` symbolic tracing, with timm's own list of modules and functions that must not be
traced through treated as leaves (the same lists timm's feature extraction uses). Extraction rules (what becomes a
node, what is wired through, what is dropped) are described in :mod:`archi2vec._ops`; the walk from the traced
graph to an :class:`ArchGraph` is :mod:`archi2vec._extract`.

Fallback: a module that ``torch.fx`` cannot trace (data-dependent control flow such as ``if x.sum() > 0``,
``len(x)``, calls into non-torch code) gets a *module-hierarchy graph*: its leaf modules (those without children)
in registration order (``named_modules()``), chained input -> leaf_1 -> ... -> leaf_n -> output, typed and
attributed like traced modules, and flagged ``ArchGraph.traced = False``. It keeps the op mix and widths, not the
branching. ``graph_of(..., fallback=False)`` raises :class:`ArchTraceError` instead.
"""
from __future__ import annotations

import inspect
import math
import sys
import warnings

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode

from archi2vec._errors import ArchTraceError
from archi2vec._extract import graph_from_fx, hierarchy_graph
from archi2vec._graph import ArchGraph
from archi2vec._names import import_timm, import_torchvision_models, resolve_name

__all__ = ["ArchTraceWarning", "graph_of", "instantiate"]

# In-place ops that weight initialisers apply to parameters. On meta tensors they compute nothing but still cost
# Python-level shape checks (timm's trunc_normal_ is ~10 of them per weight), so instantiate() skips them.
_INIT_OPS = frozenset({
    "uniform_", "normal_", "erfinv_", "mul_", "add_", "sub_", "div_", "clamp_", "clamp_min_", "clamp_max_", "fill_",
    "zero_", "copy_", "exp_", "log_", "sqrt_", "abs_", "neg_", "bernoulli_", "random_", "exponential_",
    "log_normal_", "trunc_normal_", "orthogonal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
    "xavier_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
})  # fmt: skip


class _SkipMetaInit(TorchFunctionMode):
    """Return in-place initialisers applied to meta tensors unchanged (they keep shapes, and there is no data)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if args and getattr(func, "__name__", "") in _INIT_OPS:
            first = args[0]
            if isinstance(first, torch.Tensor) and first.is_meta:
                return first
        return func(*args, **(kwargs or {}))


class ArchTraceWarning(UserWarning):
    """A module could not be traced and its module-hierarchy fallback graph is used instead."""


def instantiate(name: str) -> nn.Module:
    """Build a named architecture on the meta device (no weights allocated), in eval mode.

    Parameters
    ----------
    name : str
        Anything :func:`archi2vec.resolve_name` accepts.

    Returns
    -------
    nn.Module
        The model, every parameter and buffer on the ``meta`` device.
    """
    canonical = resolve_name(name)
    source, arch = canonical.split(":", 1)
    try:
        with torch.device("meta"), _SkipMetaInit():
            if source == "timm":
                model = import_timm().create_model(arch, pretrained=False)
            else:
                model = import_torchvision_models().get_model(arch, weights=None)
    except Exception as exc:  # any failure of third-party model code
        raise ArchTraceError(
            f"Could not build {canonical} on the meta device: {type(exc).__name__}: {exc}",
            hint="build the model yourself and pass the nn.Module to archi2vec",
        ) from exc
    return model.eval()


def graph_of(model: nn.Module | str, *, fallback: bool = True) -> ArchGraph:
    """The typed operation graph of a module or a named architecture.

    Parameters
    ----------
    model : nn.Module or str
        A module (traced as it is; its weights are never read), or a name: ``timm:<arch>``,
        ``torchvision:<arch>``, a bare timm name or a Hugging Face id of a standard checkpoint (built on the meta
        device, so no weights are allocated).
    fallback : bool, default=True
        When tracing fails, return the module-hierarchy graph (``traced=False``) with an
        :class:`ArchTraceWarning`; when False, raise :class:`ArchTraceError`.

    Returns
    -------
    ArchGraph

    Raises
    ------
    UnknownArchitectureError, UnmappedModelError
        A name that cannot be resolved.
    ArchTraceError
        Tracing failed and ``fallback`` is False, or the module has no submodules to fall back on.

    Examples
    --------
    >>> g = graph_of("timm:resnet18")
    >>> g.op_counts()["conv"] > 10
    True
    """
    name = None
    if isinstance(model, str):
        name = resolve_name(model)
        model = instantiate(name)
    elif not isinstance(model, nn.Module):
        raise TypeError(
            f"`model` of graph_of must be an nn.Module or an architecture name. Got {type(model).__name__} instead."
        )
    label = name or type(model).__name__
    try:
        traced = _trace(model)
    except Exception as exc:  # fx raises many types (TraceError, TypeError, NotImplementedError, ...)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if not fallback:
            raise ArchTraceError(
                f"torch.fx could not trace {label} ({reason}).",
                hint="make the forward free of data-dependent control flow, or call graph_of(..., fallback=True) "
                "for the module-hierarchy graph",
            ) from exc
        graph = hierarchy_graph(model, name, reason)
        warnings.warn(
            f"torch.fx could not trace {label} ({reason}); using its module-hierarchy graph (traced=False).",
            ArchTraceWarning,
            stacklevel=2,
        )
        return graph
    return graph_from_fx(traced, model, name)


def _trace(model: nn.Module) -> fx.Graph:
    """Symbolic trace, then remove the ``_tensor_constant<i>`` attributes fx sets on the traced module."""
    before = set(vars(model))
    try:
        return _ArchTracer().trace(model, concrete_args=_concrete_args(model))
    finally:
        for attr in set(vars(model)) - before:
            if attr.startswith("_tensor_constant"):
                delattr(model, attr)


class _ArchTracer(fx.Tracer):
    """``torch.fx`` tracer that keeps torch.nn modules and timm's registered no-trace modules as leaves."""

    def __init__(self) -> None:
        fx_lists = sys.modules.get("timm.layers._fx")
        self._timm_leaves = frozenset(fx_lists.get_notrace_modules()) if fx_lists else frozenset()
        functions = tuple(fx_lists.get_notrace_functions()) if fx_lists else ()
        super().__init__(autowrap_modules=(math,), autowrap_functions=functions)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return type(m) in self._timm_leaves or super().is_leaf_module(m, module_qualified_name)


def _concrete_args(model: nn.Module) -> dict[str, object]:
    """Fix the forward's optional flag arguments (``is_causal=False``) to their defaults so branches on them trace."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    concrete = {}
    for param in params[1:]:
        default = param.default
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or default is inspect.Parameter.empty:
            continue
        if isinstance(default, (bool, int, float, str)):
            concrete[param.name] = default
    return concrete
