"""``graph_of``: turn a module (or a timm / torchvision / Hugging Face name) into an :class:`ArchGraph`.

Named architectures are instantiated on the meta device (``with torch.device("meta"):``): parameters have shapes
but no storage, so even a billion-parameter model costs no weight memory, and tracing never runs a kernel.

The graph comes from ``torch.fx`` symbolic tracing, with timm's own list of modules and functions that must not be
traced through treated as leaves (the same lists timm's feature extraction uses). Extraction rules (what becomes a
node, what is wired through, what is dropped) are described in :mod:`archi2vec._ops`.

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
from collections.abc import Iterable

import numpy as np
import torch
import torch.fx as fx
from torch import nn
from torch.overrides import TorchFunctionMode

from archi2vec._errors import ArchTraceError
from archi2vec._graph import ArchGraph, relative_depth
from archi2vec._names import import_timm, import_torchvision_models, resolve_name
from archi2vec._ops import (
    ATTRIBUTES,
    MULTI_OUTPUT,
    PASS,
    SHAPE,
    SHAPE_ATTRIBUTES,
    OpInfo,
    module_op,
    name_op,
    weight_op,
)

__all__ = ["graph_of", "instantiate", "ArchTraceWarning"]

# Functional ops whose non-first tensor arguments are weights: those get_attr nodes are folded into the op.
_PARAMETRIC = frozenset({"linear", "conv", "conv_transpose", "embedding", "bn", "ln", "gn", "norm_other"})
_HEAD_OPS = frozenset({"attention", "matmul", "softmax"})


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

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204 (torch protocol)
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
        graph = _hierarchy_graph(model, name, reason)
        warnings.warn(
            f"torch.fx could not trace {label} ({reason}); using its module-hierarchy graph (traced=False).",
            ArchTraceWarning,
            stacklevel=2,
        )
        return graph
    return _graph_from_fx(traced, model, name)


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


def _fetch_attr(root: nn.Module, target: str) -> torch.Tensor | None:
    obj: object = root
    for part in target.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, torch.Tensor) else None


class _Builder:
    """Accumulates kept nodes and edges while walking an fx graph in topological order."""

    def __init__(self) -> None:
        self.infos: list[OpInfo] = []
        self.edges: list[tuple[int, int]] = []

    def add(self, info: OpInfo, sources: Iterable[int]) -> int:
        index = len(self.infos)
        self.infos.append(info)
        self.edges.extend((s, index) for s in sorted(set(sources)))
        return index

    def chain(self, infos: list[OpInfo], sources: Iterable[int]) -> int:
        """Add ``infos`` as a path fed by ``sources``; the index of its last node."""
        for info in infos:
            sources = (self.add(info, sources),)
        return next(iter(sources))


def _graph_from_fx(traced: fx.Graph, root: nn.Module, name: str | None) -> ArchGraph:
    modules = dict(root.named_modules())
    buffers = {name for name, _ in root.named_buffers()}
    builder = _Builder()
    # fx node -> indices of kept nodes that stand for its value (itself, or its inputs for pass-through nodes).
    reps: dict[fx.Node, tuple[int, ...]] = {}
    seen_input = False
    for node in traced.nodes:
        if node.op == "placeholder":
            if not seen_input:  # the first argument is the data; the rest are options
                reps[node] = (builder.add(OpInfo("input"), ()),)
                seen_input = True
            continue
        if node.op == "get_attr":
            # Buffers (index tables, running stats) are constants, not learned inputs: they are not nodes.
            constant = node.target in buffers or node.target.startswith("_tensor_constant")
            tensor = None if constant else _fetch_attr(root, node.target)
            if tensor is not None and not _folded(node):
                reps[node] = (builder.add(OpInfo("param", n_params=tensor.numel()), ()),)
            continue
        sources = tuple(sorted({i for arg in node.all_input_nodes for i in reps.get(arg, ())}))
        if node.op == "output":
            builder.add(OpInfo("output"), sources)
            continue
        if not sources:  # computed from sizes and constants only: no activations flow through it
            continue
        info = _classify(node, root, modules, builder)
        if info.op == SHAPE:
            continue
        if info.op == PASS:
            reps[node] = sources
            continue
        if info.op == "module_other" and node.op == "call_module":
            # An opaque leaf (timm marks some blocks as not traceable): inline its leaf modules as a chain.
            reps[node] = (builder.chain(_opaque_chain(modules[node.target]), sources),)
            continue
        reps[node] = (builder.add(info, sources),)
    return _finish(builder, name, sum(p.numel() for p in root.parameters()), traced=True)


def _folded(node: fx.Node) -> bool:
    """Whether a get_attr is only a weight of functional parametric ops (then it is not a node of its own)."""
    if not node.users:
        return True
    for user in node.users:
        if user.op not in ("call_function", "call_method") or name_op(user.target) not in _PARAMETRIC:
            return False
        if user.args and user.args[0] is node:
            return False
    return True


def _classify(node: fx.Node, root: nn.Module, modules: dict[str, nn.Module], builder: _Builder) -> OpInfo:
    if node.op == "call_module":
        return module_op(modules[node.target])
    target = node.target
    if target is getattr:
        attr = node.args[1] if len(node.args) > 1 else None
        return OpInfo(SHAPE if attr in SHAPE_ATTRIBUTES else ("permute" if attr in ("T", "mT") else PASS))
    op = name_op(target)
    if op == "index" and node.args and isinstance(node.args[0], fx.Node):
        producer = node.args[0]
        if producer.op == "call_module":
            producer_op = module_op(modules[producer.target]).op
        elif producer.op == "get_attr":
            producer_op = "param"
        else:
            producer_op = name_op(producer.target)
        if producer_op in MULTI_OUTPUT or producer.op == "placeholder":
            return OpInfo(PASS)  # picks one output of a tuple-valued op
    if op in _PARAMETRIC:
        return _functional_parametric(node, op, root)
    if op == "reduce" and _is_spatial_mean(node):
        return OpInfo("pool_global")  # x.mean((2, 3)) is global average pooling, as F.adaptive_avg_pool2d(x, 1)
    info = OpInfo(op)
    if op in _HEAD_OPS:
        info.heads = _enclosing_heads(node, modules)
    return info


def _is_spatial_mean(node: fx.Node) -> bool:
    """``mean`` over two or more dimensions (the global pooling of SE blocks and classifier heads)."""
    if getattr(node.target, "__name__", node.target) != "mean":
        return False
    dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    return isinstance(dims, (tuple, list)) and len(dims) >= 2


def _functional_parametric(node: fx.Node, op: str, root: nn.Module) -> OpInfo:
    weights = [
        _fetch_attr(root, arg.target)
        for arg in node.all_input_nodes
        if arg.op == "get_attr" and not (node.args and node.args[0] is arg)
    ]
    weights = [w for w in weights if w is not None]
    if not weights:
        return OpInfo(op)
    groups = node.kwargs.get("groups", node.args[6] if len(node.args) > 6 else 1)
    stride = node.kwargs.get("stride", node.args[3] if len(node.args) > 3 else 1)
    info = weight_op(op, weights[0], groups=groups if isinstance(groups, int) else 1, stride=stride)
    info.n_params = sum(w.numel() for w in weights)
    return info


def _enclosing_heads(node: fx.Node, modules: dict[str, nn.Module]) -> float:
    """``num_heads`` of the innermost enclosing module that has one (timm attention blocks do)."""
    for path in reversed(list(node.meta.get("nn_module_stack", {}).values())):
        module = modules.get(path[0] if isinstance(path, tuple) else path)
        heads = getattr(module, "num_heads", None) if module is not None else None
        if isinstance(heads, int) and heads > 0:
            return float(heads)
    return 0.0


def _leaf_infos(model: nn.Module) -> list[OpInfo]:
    """Typed leaf modules (no children) of ``model`` in registration order, pass-through ones left out."""
    infos = []
    for qualified_name, module in model.named_modules():
        if qualified_name and next(module.children(), None) is None:
            info = module_op(module)
            if info.op not in (PASS, SHAPE):
                infos.append(info)
    return infos


def _opaque_chain(module: nn.Module) -> list[OpInfo]:
    """Nodes standing for an opaque leaf block: its leaf modules, then an attention op if it is an attention block."""
    infos = _leaf_infos(module) if next(module.children(), None) is not None else []
    name = type(module).__name__.lower()
    if "attn" in name or "attention" in name:
        heads = getattr(module, "num_heads", 0)
        infos.append(OpInfo("attention", heads=float(heads) if isinstance(heads, int) else 0.0))
    return infos or [module_op(module)]


def _hierarchy_graph(model: nn.Module, name: str | None, reason: str) -> ArchGraph:
    builder = _Builder()
    builder.chain([OpInfo("input"), *_leaf_infos(model)], ())
    if len(builder.infos) == 1:
        raise ArchTraceError(
            f"torch.fx could not trace {name or type(model).__name__} ({reason}), and it has no submodules for the "
            "module-hierarchy fallback.",
            hint="make the forward free of data-dependent control flow, or wrap its operations in nn.Modules",
        )
    builder.add(OpInfo("output"), (len(builder.infos) - 1,))
    return _finish(builder, name, sum(p.numel() for p in model.parameters()), traced=False)


def _finish(builder: _Builder, name: str | None, n_params: int, traced: bool) -> ArchGraph:
    """Keep the nodes that reach the output, then fill depth, widths and parameter counts."""
    n = len(builder.infos)
    edges = np.asarray(builder.edges, dtype=np.int64).reshape(-1, 2).T
    keep = _reaches_output(n, edges)
    new_index = np.cumsum(keep) - 1
    infos = [info for info, k in zip(builder.infos, keep) if k]
    mask = keep[edges[0]] & keep[edges[1]] if edges.size else np.zeros(0, dtype=bool)
    edges = new_index[edges[:, mask]] if edges.size else edges
    attrs = np.zeros((len(infos), len(ATTRIBUTES)), dtype=np.float32)
    for i, info in enumerate(infos):
        attrs[i] = (info.kernel, info.stride, info.groups, info.in_width, info.out_width, info.heads, 0.0,
                    math.log10(1.0 + info.n_params))  # fmt: skip
    _propagate_widths(attrs, edges)
    attrs[:, ATTRIBUTES.index("depth")] = relative_depth(len(infos), edges)
    return ArchGraph([i.op for i in infos], attrs, edges, name=name, traced=traced, n_params=n_params)


def _reaches_output(n: int, edges: np.ndarray) -> np.ndarray:
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    keep[n - 1] = True  # the output node is added last
    preds: list[list[int]] = [[] for _ in range(n)]
    for s, d in edges.T.tolist():
        preds[d].append(s)
    for d in range(n - 1, -1, -1):
        if keep[d]:
            keep[preds[d]] = True
    return keep


def _propagate_widths(attrs: np.ndarray, edges: np.ndarray) -> None:
    """Ops without their own width (activations, adds, ...) take the widest output among their inputs."""
    col_in, col_out = ATTRIBUTES.index("in_width"), ATTRIBUTES.index("out_width")
    incoming: list[list[int]] = [[] for _ in range(len(attrs))]
    for s, d in edges.T.tolist():
        incoming[d].append(s)
    for i, sources in enumerate(incoming):
        if attrs[i, col_in] == 0 and sources:
            attrs[i, col_in] = max(attrs[s, col_out] for s in sources)
        if attrs[i, col_out] == 0:
            attrs[i, col_out] = attrs[i, col_in]
