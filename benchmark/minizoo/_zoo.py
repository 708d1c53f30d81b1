"""The zoo: six small timm architectures at 32 x 32 pixels, each pre-trained on each of the eight source tasks.

Every architecture is a timm definition with narrower widths (and fewer blocks) than its smallest released size,
so a model trains in seconds on a CPU core. A zoo model's id is ``<arch>.<source>`` (timm's ``architecture.tag``
convention), e.g. ``convnext.src_emoji``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from fennec.errors import UnknownNameError

from ._tasks import SOURCE_TASKS

__all__ = ["Arch", "ARCHS", "ZOO", "INPUT_SIZE", "MEAN", "STD", "create", "split_model_id"]

INPUT_SIZE = 32
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def _timm():  # noqa: ANN202 (the timm module)
    from archi2vec import import_timm

    return import_timm()


@dataclass(frozen=True)
class Arch:
    """One architecture of the zoo: a timm definition plus the width/depth overrides that make it small.

    Parameters
    ----------
    name : str
        Short name, the first part of a zoo model id.
    timm_name : str
        The timm architecture the definition comes from (what archi2vec resolves, as ``timm:<timm_name>``).
    family : str
        Architecture family.
    overrides : dict
        Keyword arguments that shrink it (passed to ``timm.create_model`` or to timm's generator function).
    generator : str, optional
        For timm families whose width multiplier is not a ``create_model`` argument: the generator function
        ``module:function`` called as ``function(timm_name, **overrides)``.
    head : str, default="classifier"
        Name of the classifier submodule (its input is the penultimate feature).
    """

    name: str
    timm_name: str
    family: str
    overrides: dict[str, Any] = field(default_factory=dict)
    generator: str | None = None
    head: str = "classifier"

    def build(self, num_classes: int) -> nn.Module:
        """A freshly initialised model with a ``num_classes`` head (initialisation follows torch's global seed)."""
        timm = _timm()
        if self.generator is None:
            return timm.create_model(self.timm_name, pretrained=False, num_classes=num_classes, **self.overrides)
        module_name, function = self.generator.split(":")
        make: Callable[..., nn.Module] = getattr(__import__(module_name, fromlist=[function]), function)
        return make(self.timm_name, pretrained=False, num_classes=num_classes, **self.overrides)


ARCHS: dict[str, Arch] = {arch.name: arch for arch in (
    Arch("resnet", "resnet10t", "resnet", {"channels": (16, 32, 64, 128), "stem_width": 16}, head="fc"),
    Arch("convnext", "convnext_atto", "convnext", {"dims": (16, 32, 64, 128), "depths": (1, 1, 2, 1)},
         head="head.fc"),
    Arch("vit", "vit_tiny_patch16_224", "vit",
         {"img_size": INPUT_SIZE, "patch_size": 8, "embed_dim": 96, "depth": 4, "num_heads": 3, "mlp_ratio": 2.0},
         head="head"),
    Arch("densenet", "densenet121", "densenet", {"growth_rate": 12, "block_config": (2, 2, 2, 2)}),
    Arch("efficientnet", "efficientnet_b0", "efficientnet", {"channel_multiplier": 0.25, "depth_multiplier": 0.34},
         generator="timm.models.efficientnet:_gen_efficientnet"),
    Arch("mobilenetv3", "mobilenetv3_small_050", "mobilenetv3", {"channel_multiplier": 0.5},
         generator="timm.models.mobilenetv3:_gen_mobilenet_v3"),
)}

#: Every zoo model id, architecture-major: ``resnet.src_glyphs``, ``resnet.src_emoji``, ...
ZOO: tuple[str, ...] = tuple(f"{arch}.{source}" for arch in ARCHS for source in SOURCE_TASKS)


def split_model_id(model_id: str) -> tuple[Arch, str]:
    """``(arch, source task)`` of a zoo model id; raises a clear error for an unknown id."""
    arch, _, source = model_id.partition(".")
    if arch not in ARCHS or source not in SOURCE_TASKS:
        raise UnknownNameError.of("minizoo model", model_id, ZOO)
    return ARCHS[arch], source


def create(model_id: str, num_classes: int) -> nn.Module:
    """The architecture of zoo model ``model_id`` with a fresh ``num_classes`` head (no weights loaded)."""
    arch, _ = split_model_id(model_id)
    return arch.build(num_classes)
