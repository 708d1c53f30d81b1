"""From a traced ``torch.fx`` graph, or a module hierarchy, to an :class:`ArchGraph`.

The walk keeps one node per typed operation (the rules are in :mod:`archi2vec._ops`): pass-through nodes are wired
through, shape arithmetic is dropped, weights of functional ops are folded into them, and opaque leaf blocks are
inlined as a chain of their leaf modules. Nodes that do not reach the output are then dropped and the attributes
(widths, depth, parameter counts) filled.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import fx, nn

from archi2vec._errors import ArchTraceError
from archi2vec._graph import ArchGraph, relative_depth
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

__all__ = ["graph_from_fx", "hierarchy_graph"]

# Functional ops whose non-first tensor arguments are weights: those get_attr nodes are folded into the op.
_PARAMETRIC = frozenset({"linear", "conv", "conv_transpose", "embedding", "bn", "ln", "gn", "norm_other"})
_HEAD_OPS = frozenset({"attention", "matmul", "softmax"})


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


def graph_from_fx(traced: fx.Graph, root: nn.Module, name: str | None) -> ArchGraph:
    """The graph of a traced module: one node per typed op, wired as the values flow."""
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


def hierarchy_graph(model: nn.Module, name: str | None, reason: str) -> ArchGraph:
    """The fallback graph of an untraceable module: its typed leaf modules chained input -> ... -> output."""
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
