"""The deep tower: a torchvision trunk without its class layer, plus a projection to d dims.

ImageNet weights come only from a local file or torchvision's cache: nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from .data import IMAGENET_MEAN, IMAGENET_STD
from .errors import TrainError

BACKBONES = (
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "resnet18",
    "resnet34",
    "resnet50",
    "efficientnet_b0",
    "efficientnet_b1",
    "convnext_tiny",
    "regnet_y_400mf",
    "resnet18_l3",
)
# ResNet-18 cut after its third stage (256 channels, 2.8 M parameters): the default model's tower,
# small enough to ship and to train on a laptop CPU.
_CUT_AFTER_LAYER3 = {"resnet18_l3": "resnet18"}


class Tower(nn.Module):
    """images [N,3,H,W] (normalised) -> embeddings [N,d] in the joint space."""

    def __init__(self, trunk: nn.Module, features: int, dim: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.proj = nn.Linear(features, dim)
        # (mean, std) of the input on a 0..1 scale: torchvision's ImageNet rule, unless the trunk's
        # weights were trained with another (TensorFlow's MobileNetV2 sees [-1, 1]: 0.5, 0.5)
        self.input_norm: tuple[tuple[float, ...], tuple[float, ...]] = (IMAGENET_MEAN, IMAGENET_STD)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.trunk(images))


def _strip_head(model: nn.Module) -> int:
    """Replace the ImageNet classifier by Identity; return the feature width it consumed."""
    if hasattr(model, "fc") and isinstance(model.fc, nn.Linear):
        n = model.fc.in_features
        model.fc = nn.Identity()
        return n
    cls = getattr(model, "classifier", None)
    if isinstance(cls, nn.Sequential):
        first = next(m for m in cls if isinstance(m, nn.Linear))
        n = first.in_features
        # ConvNeXt keeps its LayerNorm + Flatten before the Linear: keep everything but Linears/Dropout.
        keep = [m for m in cls if not isinstance(m, (nn.Linear, nn.Dropout, nn.Hardswish))]
        model.classifier = nn.Sequential(*keep) if keep else nn.Identity()
        return n
    raise TrainError(f"do not know how to remove the class layer of {type(model).__name__}")


def imagenet_cache_file(backbone: str) -> Path | None:
    """torchvision's cached ImageNet weights for ``backbone``, if already on disk."""
    try:
        weights = torchvision.models.get_model_weights(backbone).DEFAULT  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return None
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    return path if path.is_file() else None


def build_tower(backbone: str, dim: int, imagenet: str | None = None) -> Tower:
    """Build the tower; ``imagenet`` is a state-dict file path, "cache", or None (random init)."""
    if backbone not in BACKBONES:
        raise TrainError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    if backbone == "mobilenet_v2":
        return _tflite_mobilenet_v2_tower(dim, imagenet)
    model = torchvision.models.get_model(_CUT_AFTER_LAYER3.get(backbone, backbone), weights=None)
    if imagenet is not None:
        path = imagenet_cache_file(_CUT_AFTER_LAYER3.get(backbone, backbone)) if imagenet == "cache" else Path(imagenet)
        if path is None or not path.is_file():
            where = f"{imagenet}" if imagenet != "cache" else "torchvision's cache"
            raise TrainError(f"ImageNet weights for {backbone} not found in {where} (nothing is downloaded)")
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(sd, dict) and "state_dict" in sd:
                sd = sd["state_dict"]
            model.load_state_dict(sd)
        except Exception as exc:  # noqa: BLE001 - wrong file or architecture
            raise TrainError(f"cannot load ImageNet weights {path} into {backbone}: {exc}".splitlines()[0]) from exc
    if backbone in _CUT_AFTER_LAYER3:
        m = model
        model = nn.Sequential(
            m.conv1,
            m.bn1,
            m.relu,
            m.maxpool,
            m.layer1,
            m.layer2,
            m.layer3,  # type: ignore[arg-type]
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        features = 256
    else:
        features = _strip_head(model)
    for m in model.modules():
        # torchvision's MobileNet/EfficientNet use momentum 0.01: after a short run the running
        # statistics would still be near their initial values and eval-mode outputs collapse.
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    return Tower(model, features, dim)


def _tflite_mobilenet_v2_tower(dim: int, imagenet: str | None) -> Tower:
    """MobileNetV2 laid out as TensorFlow trained it (tflite_import.py: conv biases, SAME padding, [-1, 1]
    input); its ImageNet weights come from a .tflite file or that file's conversion, never from a download."""
    from .tflite_import import FEATURES, load_imagenet_mobilenet_v2, tflite_mobilenet_v2

    if imagenet == "cache":
        raise TrainError("mobilenet_v2 takes its ImageNet weights from a file: --init imagenet:FILE.tflite")
    net = load_imagenet_mobilenet_v2(imagenet) if imagenet else tflite_mobilenet_v2()
    trunk = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # type: ignore[attr-defined]
    return Tower(trunk, FEATURES, dim)
