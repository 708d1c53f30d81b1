"""Input checks shared by every metric: one place that turns user arrays into tensors or explains what is wrong.

Every metric validates at its public boundary, once, through :func:`prepare` (features + class labels) or the
smaller helpers below, so all metrics reject bad input with the same messages.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from fennec.errors import InputError

__all__ = ["Labels", "resolve_device", "check_dtype", "as_matrix", "encode_labels", "prepare", "check_int",
           "check_float", "check_choice"]

_FLOAT_DTYPES = (torch.float32, torch.float64)


class Labels(NamedTuple):
    """Class labels remapped to ``0..C-1``.

    ``codes[i]`` is the index of sample i's label in ``classes`` (the sorted distinct labels, as ``np.unique``
    orders them), ``counts[c]`` the number of samples of class c (a float tensor, ready for division).
    """

    codes: torch.Tensor
    classes: np.ndarray
    counts: torch.Tensor

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def resolve_device(x: Any, device: str | torch.device | None) -> torch.device:
    """The device to compute on: ``device`` if given, else the input tensor's device, else the CPU."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise InputError(f"`device` must be a torch device such as 'cpu' or 'cuda'. Got {device!r} instead.",
                             hint="pass device='cpu', 'cuda' or 'cuda:0'") from exc
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def check_dtype(dtype: Any, metric: str) -> torch.dtype:
    """Accept only the two floating dtypes the metrics are written for."""
    if dtype not in _FLOAT_DTYPES:
        raise InputError(f"`dtype` of `{metric}` must be torch.float64 or torch.float32. Got {dtype!r} instead.",
                         hint="leave the default (float64) or pass dtype=torch.float32 for speed on GPUs")
    return dtype


def _to_tensor(x: Any, name: str, metric: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise InputError(f"`{name}` of `{metric}` must be a numeric array. Got a ragged sequence instead.",
                         hint="pass a numpy array or torch tensor of shape (n_samples, n_dims)") from exc
    if arr.dtype.kind not in "biuf":
        raise InputError(f"`{name}` of `{metric}` must hold numbers. Got dtype {arr.dtype} instead.",
                         hint="convert with np.asarray(x, dtype=float)")
    # torch.from_numpy shares memory (no copy); read-only arrays (memory maps) are copied to avoid torch's warning.
    return torch.from_numpy(arr) if arr.flags.writeable else torch.tensor(arr)


def as_matrix(x: Any, *, name: str, metric: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A finite 2-D float tensor on ``device``.

    The result may share memory with ``x`` (no copy when nothing needs converting): callers never write into it.
    """
    t = _to_tensor(x, name, metric)
    if t.ndim != 2:
        hint = ("a single feature per sample is x.reshape(-1, 1)" if t.ndim == 1 else
                "flatten each sample's features: x.reshape(len(x), -1)")
        raise InputError(f"`{name}` of `{metric}` must be a 2-D array of shape (n_samples, n_dims). "
                         f"Got an array of shape {tuple(t.shape)} instead.", hint=hint)
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"`{name}` of `{metric}` must not be empty. Got shape {tuple(t.shape)} instead.",
                         hint="extract features for at least two labelled samples per class")
    if device.type == "cpu" and t.device.type == "cpu" and t.dtype != torch.bfloat16:  # (NumPy has no bfloat16)
        # NumPy casts and sums an (N, D) array in a fifth of torch's time on the CPU, on one thread.
        arr = t.numpy().astype(np.float64 if dtype == torch.float64 else np.float32, copy=False)
        finite = bool(np.isfinite(arr.sum()))
        t = torch.from_numpy(arr)
    else:
        t = t.to(device=device, dtype=dtype)
        finite = bool(torch.isfinite(t.sum()))
    # A NaN or inf makes the sum non-finite; only then (or on overflow of the sum) look at every element.
    bad = 0 if finite else int((~torch.isfinite(t)).any(dim=1).sum())
    if bad:
        raise InputError(f"`{name}` of `{metric}` must be finite. Got NaN or inf in {bad} of {t.shape[0]} rows.",
                         hint="drop or repair those samples (e.g. features of corrupt images), or check the "
                              "model for overflow in float16")
    return t


def encode_labels(labels: Any, n_samples: int, *, metric: str, device: torch.device) -> Labels:
    """Remap arbitrary labels (ints, not necessarily contiguous; strings; bools) to codes ``0..C-1``.

    At least two classes are required: every metric compares classes, so one class cannot be scored.
    """
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1:
        raise InputError(f"`labels` of `{metric}` must be a 1-D array with one label per sample. "
                         f"Got an array of shape {arr.shape} instead.",
                         hint="pass class ids, not one-hot rows: labels.argmax(axis=1)" if arr.ndim == 2 else
                         "pass one class label per sample, e.g. np.asarray(labels).ravel()")
    if len(arr) != n_samples:
        raise InputError(f"`labels` of `{metric}` must have one entry per row of the features ({n_samples}). "
                         f"Got {len(arr)} instead.", hint="labels and features must list the samples in one order")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"`labels` of `{metric}` must not contain NaN or inf.",
                         hint="drop the unlabelled samples (and their feature rows) first")
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:  # e.g. a mix of str and int in an object array
        raise InputError(f"`labels` of `{metric}` must be of one comparable type (all ints or all strings).",
                         hint="convert them, e.g. [str(v) for v in labels]") from exc
    if len(classes) < 2:
        raise InputError(f"`labels` of `{metric}` must contain at least 2 classes. Got {len(classes)} instead.",
                         hint="a transferability score compares classes; a one-class task cannot be scored")
    codes_t = torch.as_tensor(codes.reshape(-1), dtype=torch.long, device=device)
    counts = torch.bincount(codes_t, minlength=len(classes))
    return Labels(codes_t, classes, counts)


def prepare(features: Any, labels: Any, *, metric: str, device: Any, dtype: Any,
            name: str = "features") -> tuple[torch.Tensor, Labels]:
    """Validate a (features, labels) pair: features as a float tensor, labels as :class:`Labels`, same device."""
    dev = resolve_device(features, device)
    dtype = check_dtype(dtype, metric)
    x = as_matrix(features, name=name, metric=metric, device=dev, dtype=dtype)
    lab = encode_labels(labels, x.shape[0], metric=metric, device=dev)
    return x, lab._replace(counts=lab.counts.to(dtype))


def check_int(value: Any, name: str, metric: str, *, low: int, high: int | None = None) -> int:
    """An integer option within ``[low, high]``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"`{name}` of `{metric}` must be an integer {bound}. Got {value!r} instead.")
    return int(value)


def check_float(value: Any, name: str, metric: str, *, low: float, high: float | None = None,
                low_open: bool = True) -> float:
    """A real option in ``(low, high]`` (or ``[low, high]`` with ``low_open=False``)."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > low if low_open else value >= low)
    ok = ok and (high is None or value <= high)
    if not ok:
        left = "(" if low_open else "["
        right = "inf)" if high is None else f"{high}]"
        raise InputError(f"`{name}` of `{metric}` must be a number in {left}{low}, {right}. Got {value!r} instead.")
    return float(value)


def check_choice(value: Any, name: str, metric: str, choices: tuple[str, ...]) -> str:
    """A string option among ``choices``."""
    if value not in choices:
        raise InputError(f"`{name}` of `{metric}` must be one of {', '.join(map(repr, choices))}. "
                         f"Got {value!r} instead.")
    return value
