"""Partial convolutions for irregular-hole inpainting (Liu et al., ECCV 2018): layer, U-Nets, losses, VGG.

Mask convention everywhere: float tensors (B, 1, H, W) in {0, 1}, **1 = valid, 0 = hole** (the paper's M).
Images are RGB float in [0, 1].
"""

from pconv.core.weights import IMAGENET_MEAN, IMAGENET_STD

from .layers import PartialConv2d, partial_conv2d, partial_conv2d_cat
from .losses import InpaintingLoss, LossWeights, gram_matrix, hole_border_region, total_variation
from .unet import ConvUNet, PConvUNet
from .vgg import VGG16Pools, load_vgg16_features

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ConvUNet",
    "InpaintingLoss",
    "LossWeights",
    "PConvUNet",
    "PartialConv2d",
    "VGG16Pools",
    "gram_matrix",
    "hole_border_region",
    "load_vgg16_features",
    "partial_conv2d",
    "partial_conv2d_cat",
    "total_variation",
]
