"""The vocabulary of operation types and the rules that map modules, functions and methods onto it.

Every node of an :class:`~archi2vec.ArchGraph` has one op type from :data:`OP_TYPES` and the numeric attributes of
:data:`ATTRIBUTES`. Three kinds of things are *not* nodes:

- pass-through ops (dropout, identity, drop-path, ``contiguous``, dtype casts): the node is removed and its inputs are
  wired straight to its users ("dropout-free" graphs, so a model's train/eval mode does not change its graph);
- shape arithmetic (``x.shape``, ``x.size()``, ``getitem`` on sizes, ``_assert``) and constants made without any
  tensor input (``torch.arange(7)``): they carry no activations, so they are dropped with their edges;
- the weights of functional layers (``F.layer_norm(x, shape, self.weight)``): folded into the op's parameter count.

Mapping is by name: the lower-cased function/method name or module class name, with a trailing ``_`` (in-place
variants) removed, is looked up in :data:`_NAME_TO_OP`. Modules of the common ``torch.nn`` base classes are matched by
``isinstance`` first so that subclasses (timm's ``Conv2dSame``, ``StdConv2d``, ...) get their attributes.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["OP_TYPES", "ATTRIBUTES", "PASS", "OpInfo", "module_op", "name_op"]

#: The op-type vocabulary, in one-hot order. Changing it changes the graph format (see ``GRAPH_FORMAT``).
OP_TYPES: tuple[str, ...] = (
    "input", "output", "param",
    "conv", "conv_depthwise", "conv_grouped", "conv_transpose", "linear", "embedding",
    "attention", "matmul", "softmax",
    "bn", "ln", "gn", "norm_other",
    "act_relu", "act_gelu", "act_silu", "act_sigmoid", "act_hswish", "act_tanh", "act_other",
    "pool_max", "pool_avg", "pool_global",
    "add", "sub", "mul", "div", "concat", "split", "index",
    "reshape", "permute", "reduce", "pad", "resize", "roll", "elementwise",
    "module_other", "function_other",
)  # fmt: skip

#: Numeric node attributes, in column order (raw values; :meth:`ArchGraph.to_pyg` normalises them).
ATTRIBUTES: tuple[str, ...] = (
    "kernel", "stride", "groups", "in_width", "out_width", "heads", "depth", "log_params",
)  # fmt: skip

#: Marker op type for nodes removed with their inputs wired to their users.
PASS = "<pass>"
#: Marker op type for nodes that carry no tensor data (shape arithmetic); removed with their edges.
SHAPE = "<shape>"


@dataclass
class OpInfo:
    """The op type of one node and whatever attributes its module or weights tell (0 where unknown)."""

    op: str
    kernel: float = 0.0
    stride: float = 0.0
    groups: float = 0.0
    in_width: float = 0.0
    out_width: float = 0.0
    heads: float = 0.0
    n_params: int = 0


def _names(op: str, *names: str) -> dict[str, str]:
    return {name: op for name in names}


_NAME_TO_OP: dict[str, str] = {
    **_names(PASS, "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
             "droppath", "drop_path", "dropblock", "dropblock2d", "drop_block_2d", "identity", "contiguous",
             "clone", "detach", "to", "type", "type_as", "float", "half", "bfloat16", "double", "cpu", "cuda"),
    **_names(SHAPE, "size", "dim", "numel", "item", "tolist", "_assert", "eq", "ne", "lt", "le", "gt", "ge",
             "floordiv", "mod", "len", "zeros", "ones", "empty", "arange", "full", "linspace", "zeros_like",
             "ones_like", "empty_like", "new_zeros", "new_ones", "new_empty", "new_full", "full_like", "meshgrid",
             "tensor", "as_tensor", "is_tensor", "_assert_async", "fill_"),
    **_names("linear", "linear", "bilinear"),
    **_names("conv", "conv1d", "conv2d", "conv3d"),
    **_names("conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
    **_names("embedding", "embedding", "embedding_bag"),
    **_names("attention", "scaled_dot_product_attention", "multi_head_attention_forward", "multiheadattention"),
    **_names("matmul", "matmul", "bmm", "mm", "baddbmm", "addmm", "einsum", "__matmul__", "mv", "outer"),
    **_names("softmax", "softmax", "log_softmax", "softmin", "logsoftmax"),
    **_names("bn", "batch_norm", "batchnorm", "batchnorm1d", "batchnorm2d", "batchnorm3d", "syncbatchnorm",
             "frozenbatchnorm2d"),
    **_names("ln", "layer_norm", "layernorm", "layernorm2d", "layernormexp2d"),
    **_names("gn", "group_norm", "groupnorm", "groupnorm1"),
    **_names("norm_other", "rms_norm", "rmsnorm", "rmsnorm2d", "instance_norm", "instancenorm1d",
             "instancenorm2d", "local_response_norm", "localresponsenorm", "normalize", "simplenorm"),
    **_names("act_relu", "relu", "relu6", "leaky_relu", "leakyrelu", "prelu", "rrelu", "elu", "selu", "celu",
             "threshold", "hardshrink", "softshrink"),
    **_names("act_gelu", "gelu", "geglu", "quick_gelu", "quickgelu", "gelutanh", "gelu_tanh"),
    **_names("act_silu", "silu", "swish", "mish", "hard_mish", "hardmish", "swiglu"),
    **_names("act_sigmoid", "sigmoid", "hardsigmoid", "hard_sigmoid", "logsigmoid", "gate"),
    **_names("act_hswish", "hardswish", "hard_swish"),
    **_names("act_tanh", "tanh", "hardtanh", "tanhshrink", "softsign"),
    **_names("act_other", "softplus", "glu", "star_relu", "starrelu"),
    **_names("pool_max", "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
             "adaptive_max_pool3d", "maxpool1d", "maxpool2d", "maxpool3d", "adaptivemaxpool1d",
             "adaptivemaxpool2d", "max_pool2d_with_indices", "maxpool2dsame"),
    **_names("pool_avg", "avg_pool1d", "avg_pool2d", "avg_pool3d", "avgpool1d", "avgpool2d", "avgpool3d",
             "lp_pool2d", "avgpool2dsame", "blurpool2d"),
    **_names("pool_global", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
             "adaptiveavgpool1d", "adaptiveavgpool2d", "adaptiveavgpool3d", "selectadaptivepool2d"),
    **_names("add", "add", "iadd", "__add__", "__radd__", "addcmul", "lerp"),
    **_names("sub", "sub", "isub", "__sub__", "__rsub__", "rsub", "subtract"),
    **_names("mul", "mul", "imul", "__mul__", "__rmul__", "multiply"),
    **_names("div", "truediv", "itruediv", "div", "__truediv__", "__rtruediv__", "divide", "true_divide"),
    **_names("concat", "cat", "concat", "concatenate", "stack", "hstack", "vstack"),
    **_names("split", "split", "chunk", "unbind", "tensor_split", "split_with_sizes"),
    **_names("index", "getitem", "__getitem__", "gather", "index_select", "narrow", "select", "masked_select",
             "take_along_dim"),
    **_names("reshape", "reshape", "view", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze", "expand",
             "expand_as", "repeat", "repeat_interleave", "tile", "broadcast_to", "pixel_shuffle",
             "pixel_unshuffle", "unfold", "fold", "flip", "reshape_as"),
    **_names("permute", "permute", "transpose", "movedim", "swapaxes", "swapdims", "t"),
    **_names("reduce", "mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm", "prod",
             "cumsum", "argmax", "argmin", "topk", "sort", "median", "var_mean", "std_mean", "vector_norm"),
    **_names("pad", "pad", "zeropad2d", "constantpad2d", "reflectionpad2d", "replicationpad2d", "padsame"),
    **_names("resize", "interpolate", "upsample", "upsample_bilinear", "upsample_nearest", "grid_sample",
             "upsamplingbilinear2d", "upsamplingnearest2d"),
    **_names("roll", "roll"),
    **_names("elementwise", "neg", "pow", "sqrt", "rsqrt", "exp", "log", "abs", "clamp", "clip", "clamp_min",
             "clamp_max", "sin", "cos", "erf", "where", "masked_fill", "square", "reciprocal", "sign", "floor",
             "ceil", "round", "maximum", "minimum", "__neg__", "__pow__", "__rpow__", "scale", "layerscale",
             "layerscale2d", "logical_not", "invert", "sigmoid_", "log1p", "expm1", "fmod", "remainder", "addcdiv"),
}  # fmt: skip

# Fallback for helper functions and classes of model code (``window_reverse``, ``resample_abs_pos_embed``): the
# first keyword contained in the name decides. Checked only after an exact name match failed.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("partition", "reshape"), ("reverse", "reshape"), ("blockify", "reshape"), ("reshape", "reshape"),
    ("resample", "resize"), ("interpolate", "resize"), ("scale_image", "resize"),
    ("softmax", "softmax"), ("layernorm", "ln"), ("batchnorm", "bn"), ("groupnorm", "gn"),
)  # fmt: skip

# Ops whose result is a tuple: a ``getitem`` on them picks one output and is wired through, not an "index" op.
MULTI_OUTPUT: frozenset[str] = frozenset({"split", "attention", "reduce", "module_other", "function_other"})

# ``getattr(x, name)`` on a tensor that gives sizes/metadata rather than data.
SHAPE_ATTRIBUTES: frozenset[str] = frozenset({"shape", "dtype", "device", "ndim", "is_cuda", "requires_grad",
                                              "layout", "is_sparse"})

_OPERATOR_NAMES: dict[object, str] = {
    operator.add: "add", operator.iadd: "add", operator.sub: "sub", operator.isub: "sub",
    operator.mul: "mul", operator.imul: "mul", operator.truediv: "div", operator.itruediv: "div",
    operator.matmul: "matmul", operator.getitem: "getitem", operator.neg: "neg", operator.pow: "pow",
    operator.floordiv: "floordiv", operator.mod: "mod", operator.eq: "eq", operator.ne: "ne",
    operator.lt: "lt", operator.le: "le", operator.gt: "gt", operator.ge: "ge", getattr: "getattr", len: "len",
}  # fmt: skip


def name_op(name_or_callable: object) -> str:
    """The op type of a function, method name or module class name (``"function_other"`` when unknown).

    Returns :data:`PASS` for pass-through ops and :data:`SHAPE` for shape arithmetic.
    """
    if not isinstance(name_or_callable, str):
        key = _OPERATOR_NAMES.get(name_or_callable) if _hashable(name_or_callable) else None
        name_or_callable = key or getattr(name_or_callable, "__name__", str(name_or_callable))
    name = str(name_or_callable).lower()
    if name in _NAME_TO_OP:
        return _NAME_TO_OP[name]
    stripped = name.rstrip("_") if not name.startswith("__") else name
    if stripped in _NAME_TO_OP:
        return _NAME_TO_OP[stripped]
    for keyword, op in _KEYWORDS:
        if keyword in stripped:
            return op
    return "function_other"


def _hashable(obj: object) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def _n_params(module: nn.Module) -> int:
    # numel() is metadata, so this also works for modules on the meta device.
    return sum(p.numel() for p in module.parameters())


def _pair_max(value: object) -> float:
    if isinstance(value, (tuple, list)):
        return float(max(value)) if value else 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0


def module_op(module: nn.Module) -> OpInfo:
    """The op type and attributes of a leaf module (one ``call_module`` node).

    Parameters
    ----------
    module : nn.Module
        The module called by the node.

    Returns
    -------
    OpInfo
        Its op type and the attributes its hyperparameters give (kernel, stride, groups, widths, heads, #params).
    """
    params = _n_params(module)
    if isinstance(module, nn.modules.conv._ConvNd):
        return _conv_info(module, params)
    if all(hasattr(module, a) for a in ("in_channels", "out_channels", "kernel_size")) and not list(
        module.children()
    ):  # conv-like layers outside torch.nn (timm's CondConv2d)
        return _conv_info(module, params)
    if isinstance(module, nn.Linear):
        return OpInfo("linear", in_width=module.in_features, out_width=module.out_features, n_params=params)
    if isinstance(module, nn.MultiheadAttention):
        return OpInfo("attention", in_width=module.embed_dim, out_width=module.embed_dim,
                      heads=module.num_heads, n_params=params)  # fmt: skip
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return OpInfo("embedding", in_width=module.num_embeddings, out_width=module.embedding_dim, n_params=params)
    if isinstance(module, nn.modules.batchnorm._NormBase):
        op = "bn" if isinstance(module, nn.modules.batchnorm._BatchNorm) else "norm_other"
        return OpInfo(op, in_width=module.num_features, out_width=module.num_features, n_params=params)
    if isinstance(module, nn.LayerNorm):
        width = math.prod(module.normalized_shape)
        return OpInfo("ln", in_width=width, out_width=width, n_params=params)
    if isinstance(module, nn.GroupNorm):
        return OpInfo("gn", groups=module.num_groups, in_width=module.num_channels,
                      out_width=module.num_channels, n_params=params)  # fmt: skip
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        op = "pool_max" if "Max" in type(module).__name__ else "pool_avg"
        stride = module.stride if module.stride is not None else module.kernel_size
        return OpInfo(op, kernel=_pair_max(module.kernel_size), stride=_pair_max(stride), n_params=params)
    for cls in type(module).__mro__:
        if cls in (nn.Module, object):
            break
        op = name_op(cls.__name__)
        if op != "function_other":
            return OpInfo(op, n_params=params)
    return OpInfo("module_other", n_params=params)


def _conv_info(module: nn.Module, params: int) -> OpInfo:
    groups = int(getattr(module, "groups", 1) or 1)
    if getattr(module, "transposed", False):
        op = "conv_transpose"
    elif groups > 1 and groups == module.in_channels:
        op = "conv_depthwise"
    elif groups > 1:
        op = "conv_grouped"
    else:
        op = "conv"
    return OpInfo(op, kernel=_pair_max(module.kernel_size), stride=_pair_max(module.stride), groups=groups,
                  in_width=module.in_channels, out_width=module.out_channels, n_params=params)  # fmt: skip


def weight_op(op: str, weight: torch.Tensor, groups: int = 1, stride: object = 1) -> OpInfo:
    """Attributes of a functional conv/linear/norm whose weight tensor is known (``F.conv2d(x, self.weight)``)."""
    shape = tuple(weight.shape)
    if op in ("conv", "conv_transpose") and len(shape) >= 3:
        in_width = shape[1] * groups
        if op == "conv" and groups > 1:
            op = "conv_depthwise" if groups == in_width else "conv_grouped"
        return OpInfo(op, kernel=float(max(shape[2:])), stride=_pair_max(stride), groups=groups,
                      in_width=in_width, out_width=shape[0], n_params=weight.numel())  # fmt: skip
    if op == "linear" and len(shape) == 2:
        return OpInfo(op, in_width=shape[1], out_width=shape[0], n_params=weight.numel())
    width = shape[0] if shape else 0
    return OpInfo(op, in_width=width, out_width=width, n_params=weight.numel())
