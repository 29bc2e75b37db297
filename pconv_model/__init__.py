"""Partial convolutions for irregular-hole inpainting (Liu et al., ECCV 2018): layer, U-Nets, losses, VGG.

Mask convention everywhere: float tensors (B, 1, H, W) in {0, 1}, **1 = valid, 0 = hole** (the paper's M).
Images are RGB float in [0, 1].

The names below are imported on first use (PEP 562), so ``pconv train --help`` and the other commands
that live in this package start without the seconds torch takes to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_SOURCES = {
    "IMAGENET_MEAN": "pconv.core.weights",
    "IMAGENET_STD": "pconv.core.weights",
    "PartialConv2d": "pconv.pconv_model.layers",
    "partial_conv2d": "pconv.pconv_model.layers",
    "partial_conv2d_cat": "pconv.pconv_model.layers",
    "InpaintingLoss": "pconv.pconv_model.losses",
    "LossWeights": "pconv.pconv_model.losses",
    "gram_matrix": "pconv.pconv_model.losses",
    "hole_border_region": "pconv.pconv_model.losses",
    "total_variation": "pconv.pconv_model.losses",
    "ConvUNet": "pconv.pconv_model.unet",
    "PConvUNet": "pconv.pconv_model.unet",
    "VGG16Pools": "pconv.pconv_model.vgg",
    "load_vgg16_features": "pconv.pconv_model.vgg",
}

__all__ = list(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
