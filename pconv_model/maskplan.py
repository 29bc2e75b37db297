"""Every window count of the PConv U-Net from one pass over the input mask, before any convolution.

A partial convolution's ratio sum(1)/sum(M) and new mask (Eq. 1-2) depend on the mask alone, so the U-Net
computes them for all its layers up front (:func:`plan_masks`) instead of a dozen small steps inside each
layer. On a GPU that turns about ten kernels per layer into two per level plus six for the whole network;
under ``torch.compile`` the plan fuses into a few kernels.

Per level the plan runs one average pool (the count divided by the window, ``fraction``) and one ``sign``
(the new mask, which the next level pools). Decoder windows cover the nearest-upsampled mask of the level
below (``C_up`` channels) and the skip mask (``C_skip`` channels); their multi-channel fraction
(C_up·Σ up + C_skip·Σ skip) / ((C_up + C_skip)·k²) is one average pool of ``lerp(up, skip, C_skip/C_in)``,
where the lerp broadcasts the coarse mask over 2×2 blocks (the upsampling costs no kernel of its own).
All fractions are then concatenated once, and the ratios 1/fraction (0 where nothing is valid) and the
clamp bounds come from three element-wise kernels on that one buffer.

Exactness: every fraction is a count over a window of at most a few thousand entries, rounded once to
float32 (float64 for float64 masks), so ratio = 1/fraction is within two roundings of window/count, as the
ratio of :func:`pconv.pconv_model.layers.partial_conv2d` is. ``fraction > 0`` exactly where count > 0.

Range: :meth:`MaskPlan.bounds` gives per-layer clamp bounds, 0 at holes and ±65504 (the largest finite
float16) elsewhere for float16 activations, ±inf for wider ones: a clamp with them re-masks a layer's
output, and in float16 saturates it instead of overflowing (see :mod:`pconv.pconv_model.unet`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DecoderWindow", "EncoderWindow", "MaskPlan", "plan_masks"]


class EncoderWindow(NamedTuple):
    """A strided encoder convolution's window: ``kernel`` × ``kernel``, padding ``kernel // 2``."""

    kernel: int
    stride: int


class DecoderWindow(NamedTuple):
    """A decoder convolution (stride 1, padding ``kernel // 2``) over [upsampled features, skip]."""

    kernel: int
    up_channels: int
    skip_channels: int


class MaskPlan:
    """Ratios, new masks and clamp bounds of every layer, encoder layers first, then decoder layers.

    Attributes:
        ratios: per layer (N, 1, H', W'), float32 (float64 for float64 masks): sum(1)/sum(M), 0 where
            sum(M) = 0. Views into one buffer.
        masks: per layer (N, 1, H', W'), same dtype, {0, 1}: the new mask of Eq. 2.
    """

    def __init__(self, fractions: Sequence[Tensor], masks: Sequence[Tensor]) -> None:
        self._shapes = [f.shape for f in fractions]
        self._sizes = [f.numel() for f in fractions]
        self._fractions = flat = torch.cat([f.reshape(-1) for f in fractions])
        # 1/0 = inf at windows without a valid entry, where Eq. 1 wants 0
        self.ratios = self._unflatten(flat.reciprocal().nan_to_num_(posinf=0.0))
        self.masks = list(masks)
        self._bounds: dict[torch.dtype, tuple[Tensor, list[Tensor], list[Tensor]]] = {}

    def _unflatten(self, flat: Tensor) -> list[Tensor]:
        return [part.view(shape) for part, shape in zip(flat.split(self._sizes), self._shapes, strict=True)]

    def __len__(self) -> int:
        return len(self.masks)

    def bounds(self, dtype: torch.dtype, index: int) -> tuple[Tensor, Tensor, Tensor]:
        """Clamp bounds of layer ``index`` for activations of ``dtype``, all in that dtype: a 0-dim zero,
        and (N, 1, H', W') lower and upper bounds, 0 at holes and ∓``torch.finfo(float16).max`` for float16
        (∓inf for wider dtypes) elsewhere. Built for every layer at the first call per dtype, in a few
        element-wise kernels."""
        if dtype not in self._bounds:
            limit = torch.finfo(dtype).max if dtype == torch.float16 else float("inf")
            upper = torch.where(self._fractions > 0, limit, 0.0).to(dtype)
            self._bounds[dtype] = (upper.new_zeros(()), self._unflatten(upper.neg()), self._unflatten(upper))
        zero, lower, upper = self._bounds[dtype]
        return zero, lower[index], upper[index]


def plan_masks(
    mask: Tensor, *, encoder: Sequence[EncoderWindow], decoder: Sequence[DecoderWindow]
) -> MaskPlan:
    """The :class:`MaskPlan` of a U-Net: ``encoder`` windows from the input level down, then ``decoder``
    windows from the deepest level up, each decoder level 2× the size of the one below.

    Shape:
        mask: (N, 1, H, W) float32 or float64 in {0, 1}, 1 = valid; H and W divisible by the product of
            the encoder strides. No gradient flows through the plan.
    """
    if len(decoder) != len(encoder):
        raise ValueError(f"need one decoder window per encoder window, got {len(decoder)} and {len(encoder)}")
    mask = mask.detach()
    fractions, masks, levels = [], [], [mask]
    current = mask
    for window in encoder:
        fraction = F.avg_pool2d(current, window.kernel, window.stride, window.kernel // 2)  # count / k²
        current = torch.sign(fraction)
        fractions.append(fraction)
        masks.append(current)
        levels.append(current)
    levels.pop()  # the deepest level's mask is ``current``
    for window in decoder:
        # nearest ×2 upsampling as a broadcast: the lerp reads each coarse pixel for its 2×2 block
        n, _, h, w = current.shape
        skip = levels.pop().reshape(n, 1, h, 2, w, 2)
        share = window.skip_channels / (window.up_channels + window.skip_channels)
        mixed = torch.lerp(current.view(n, 1, h, 1, w, 1), skip, share).view(n, 1, 2 * h, 2 * w)
        fraction = F.avg_pool2d(mixed, window.kernel, 1, window.kernel // 2)
        current = torch.sign(fraction)
        fractions.append(fraction)
        masks.append(current)
    return MaskPlan(fractions, masks)
