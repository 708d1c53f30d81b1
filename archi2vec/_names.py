"""Architecture names: ``timm:<arch>``, ``torchvision:<arch>``, Hugging Face ids, and the family rule.

- ``timm:<arch>`` (a pretrained tag after a dot is dropped: ``timm:resnet50.a1_in1k`` is ``timm:resnet50``) and
  ``torchvision:<arch>`` name architectures of those registries; a bare timm name (``resnet50``) is accepted too.
- A Hugging Face image-model id (``google/vit-base-patch16-224``, optionally prefixed ``hf:``) is mapped to the
  timm architecture it is an instance of by :data:`_HF_RULES`, a small table over the canonical checkpoints of the
  standard families. Fine-tunes under other user names are not guessed from their id: callers that know the
  checkpoint's ``model_type`` (from its config) use :func:`timm_name_for_hf_config` and pass the resolved name.
"""
from __future__ import annotations

import functools
import math
import re

from archi2vec._errors import UnknownArchitectureError, UnmappedModelError

__all__ = ["resolve_name", "family_of", "timm_name_for_hf_config", "list_timm_architectures", "import_timm"]


def import_timm():  # noqa: ANN201 (the timm module)
    """Import timm after making torchvision importable (see :mod:`archi2vec._torchvision_compat`)."""
    from archi2vec._torchvision_compat import ensure_torchvision

    ensure_torchvision()
    import timm

    return timm


def import_torchvision_models():  # noqa: ANN201 (the torchvision.models module)
    """Import ``torchvision.models`` after making torchvision importable."""
    from archi2vec._torchvision_compat import ensure_torchvision

    ensure_torchvision()
    import torchvision.models

    return torchvision.models


@functools.lru_cache(maxsize=1)
def list_timm_architectures() -> tuple[str, ...]:
    """All architecture names timm registers (``timm.list_models()``), sorted."""
    return tuple(import_timm().list_models())


# (pattern over "org/name" in lower case, replacement giving the timm architecture). First match wins.
_HF_RULES: tuple[tuple[str, str], ...] = (
    (r"timm/([a-z0-9_]+)(\.[a-z0-9_]+)?", r"\1"),
    (r"google/vit-(tiny|small|base|large|huge)-patch(\d+)-(\d+)(-in21k)?", r"vit_\1_patch\2_\3"),
    (r"facebook/deit-(tiny|small|base)(-distilled)?-patch16-(\d+)", r"deit_\1\2_patch16_\3"),
    (r"microsoft/swin-(tiny|small|base|large)-patch4-window(\d+)-(\d+)(-in22k)?", r"swin_\1_patch4_window\2_\3"),
    (r"microsoft/swinv2-(tiny|small|base|large)-patch4-window(\d+)-(\d+)", r"swinv2_\1_window\2_\3"),
    (r"facebook/convnext-(tiny|small|base|large|xlarge)-(224|384)(-22k)?(-1k)?", r"convnext_\1"),
    (r"facebook/convnextv2-(atto|femto|pico|nano|tiny|base|large|huge)-.*", r"convnextv2_\1"),
    (r"microsoft/beit-(base|large)-patch16-(\d+)(-pt22k)?(-ft22k)?", r"beit_\1_patch16_\2"),
    # DiT and data2vec-vision checkpoints are BEiT networks (same code in transformers and timm).
    (r"microsoft/dit-(base|large)(-finetuned-[a-z0-9]+)?", r"beit_\1_patch16_224"),
    (r"facebook/data2vec-vision-(base|large)(-ft1k)?", r"beit_\1_patch16_224"),
    (r"microsoft/resnet-(18|26|34|50|101|152)", r"resnet\1"),
    (r"facebook/regnet-([xy])-(\d{3})", r"regnet\1_\2"),
    (r"google/efficientnet-(b[0-7])", r"tf_efficientnet_\1"),
    (r"google/mobilenet_v2_1\.0_224", r"mobilenetv2_100"),
    (r"google/mobilenet_v1_1\.0_224", r"mobilenetv1_100"),
    (r"facebook/levit-(128s|128|192|256|384)", r"levit_\1"),
)

# model_type (a transformers config field) -> timm architectures of that family, smallest to largest.
_HF_MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "vit": ("vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224", "vit_large_patch16_224",
            "vit_huge_patch14_224"),
    "deit": ("deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224"),
    "swin": ("swin_tiny_patch4_window7_224", "swin_small_patch4_window7_224", "swin_base_patch4_window7_224",
             "swin_large_patch4_window7_224"),
    "convnext": ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "convnext_xlarge"),
    "beit": ("beit_base_patch16_224", "beit_large_patch16_224"),
    "data2vec-vision": ("beit_base_patch16_224", "beit_large_patch16_224"),
    "resnet": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
    "regnet": ("regnety_004", "regnety_016", "regnety_040", "regnety_160", "regnety_320"),
    "levit": ("levit_128s", "levit_128", "levit_192", "levit_256", "levit_384"),
}  # fmt: skip

# Name prefixes that mark a port of the same architecture (dropped by the family rule).
_PORT_PREFIXES = ("tf_", "legacy_", "gluon_")
# Families whose timm models are built by another family's model class with the same blocks.
_FAMILY_ALIASES = {
    "deit": "vit",  # DeiT is a ViT trained with distillation (timm: VisionTransformer); deit_tiny == vit_tiny
    "resnetaa": "resnet",  # ResNet with anti-aliased downsampling (timm: ResNet, aa_layer=...)
    "resnetblur": "resnet",  # ResNet with blur-pool downsampling (timm: ResNet, aa_layer=BlurPool2d)
}


def resolve_name(name: str) -> str:
    """The canonical ``timm:<arch>`` / ``torchvision:<arch>`` name of an architecture name or Hugging Face id.

    Parameters
    ----------
    name : str
        ``timm:<arch>[.<tag>]``, ``torchvision:<arch>``, a bare timm name, or a Hugging Face model id
        (``google/vit-base-patch16-224``, ``hf:microsoft/resnet-50``).

    Returns
    -------
    str
        E.g. ``"timm:vit_base_patch16_224"``.

    Raises
    ------
    UnknownArchitectureError
        The registry has no such architecture; the hint lists close names.
    UnmappedModelError
        A Hugging Face id that the table of standard families does not cover.

    Examples
    --------
    >>> resolve_name("microsoft/resnet-50")
    'timm:resnet50'
    >>> resolve_name("timm:convnext_tiny.fb_in1k")
    'timm:convnext_tiny'
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownArchitectureError(f"An architecture name must be a non-empty string. Got {name!r} instead.")
    name = name.strip()
    source, _, rest = name.partition(":")
    if rest and source == "timm":
        return "timm:" + _check_timm(rest.split(".", 1)[0])
    if rest and source == "torchvision":
        return "torchvision:" + _check_torchvision(rest)
    if rest and source in ("hf", "huggingface"):
        return _resolve_hf(rest)
    if rest:
        raise UnknownArchitectureError(
            f"Unknown architecture source {source!r} in {name!r}.",
            hint="use 'timm:<arch>', 'torchvision:<arch>' or a Hugging Face id such as 'google/vit-base-patch16-224'",
        )
    if "/" in name:
        return _resolve_hf(name)
    return "timm:" + _check_timm(name.split(".", 1)[0])


def _check_timm(arch: str) -> str:
    known = list_timm_architectures()
    if arch in known:
        return arch
    timm = import_timm()
    if timm.is_model(arch):  # a deprecated alias timm still builds
        return arch
    raise UnknownArchitectureError.of(arch, known, "timm")


def _check_torchvision(arch: str) -> str:
    known = import_torchvision_models().list_models()
    if arch in known:
        return arch
    raise UnknownArchitectureError.of(arch, known, "torchvision")


def _resolve_hf(model_id: str) -> str:
    key = model_id.strip().lower()
    for pattern, replacement in _HF_RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return "timm:" + _check_timm(match.expand(replacement).replace("-", "_"))
    raise UnmappedModelError(
        f"The Hugging Face model {model_id!r} is not one of the standard checkpoints archi2vec maps to a timm "
        "architecture.",
        hint="pass the architecture it is an instance of, e.g. 'timm:vit_base_patch16_224' (for a fine-tune, "
        "archi2vec.timm_name_for_hf_config(model_type, n_params) picks one from its config), or pass the nn.Module",
    )


def timm_name_for_hf_config(model_type: str, n_params: float | None = None) -> str:
    """The timm architecture for a Hugging Face checkpoint of a standard family, from its config.

    Fine-tuned checkpoints keep their base model's architecture; ``model_type`` (from ``config.json``) names the
    family and the parameter count picks the variant of closest size (in log scale).

    Parameters
    ----------
    model_type : str
        The ``model_type`` of the checkpoint's config, e.g. ``"vit"``, ``"swin"``, ``"convnext"``.
    n_params : float, optional
        The checkpoint's number of parameters (with its classification head). Without it, the base variant.

    Returns
    -------
    str
        A ``timm:<arch>`` name.

    Raises
    ------
    UnmappedModelError
        ``model_type`` is not a family archi2vec maps.

    Examples
    --------
    >>> timm_name_for_hf_config("vit", 85_800_194)
    'timm:vit_base_patch16_224'
    """
    candidates = _HF_MODEL_TYPES.get(str(model_type).strip().lower())
    if candidates is None:
        raise UnmappedModelError(
            f"`model_type` {model_type!r} is not a family archi2vec maps to timm.",
            hint=f"known model types: {', '.join(sorted(_HF_MODEL_TYPES))}; or pass the nn.Module itself",
        )
    if n_params is None or not n_params > 0:
        base = [c for c in candidates if "base" in c]
        return "timm:" + (base[0] if base else candidates[len(candidates) // 2])
    target = math.log(float(n_params))
    best = min(candidates, key=lambda arch: abs(math.log(_timm_param_count(arch)) - target))
    return "timm:" + best


@functools.lru_cache(maxsize=64)
def _timm_param_count(arch: str) -> int:
    import torch

    with torch.device("meta"):  # counts only: no weights are allocated
        model = import_timm().create_model(arch)
    return sum(p.numel() for p in model.parameters())


def family_of(name: str) -> str:
    """The family of a timm architecture name, by a fixed rule on the name.

    The rule: take the architecture (drop a ``timm:`` prefix and a ``.tag`` suffix), drop a port prefix
    (``tf_``, ``legacy_``, ``gluon_``: the same network ported from another framework), keep the leading letters
    of the first ``_``-separated token, drop a trailing version marker ``v`` (``mobilenetv3`` and ``swinv2`` are
    versions of ``mobilenet`` and ``swin``), and map the few names that timm builds with another family's model
    class (``deit`` is ``vit``, ``resnetaa`` and ``resnetblur`` are ``resnet``; see ``_FAMILY_ALIASES``).
    So ``resnet50d`` -> ``resnet``, ``resnext101_32x8d`` -> ``resnext``, ``tf_efficientnet_b3`` ->
    ``efficientnet``, ``mobilenetv3_large_100`` -> ``mobilenet``, ``regnety_040`` -> ``regnety``,
    ``deit3_base_patch16_224`` -> ``vit``, ``swinv2_tiny_window8_256`` -> ``swin``.

    Parameters
    ----------
    name : str
        A timm architecture name, with or without ``timm:``.

    Returns
    -------
    str

    Examples
    --------
    >>> family_of("timm:seresnext50_32x4d"), family_of("densenet121")
    ('seresnext', 'densenet')
    """
    arch = name.split(":", 1)[-1].split(".", 1)[0].lower()
    for prefix in _PORT_PREFIXES:
        if arch.startswith(prefix):
            arch = arch[len(prefix) :]
            break
    match = re.match(r"[a-z]+", arch.split("_", 1)[0])
    family = match.group(0) if match else arch
    if family.endswith("v") and len(family) > 3:
        family = family[:-1]
    return _FAMILY_ALIASES.get(family, family)
