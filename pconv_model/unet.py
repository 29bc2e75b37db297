"""The paper's PConv U-Net and its same-architecture ordinary-convolution baseline ("Conv").

Architecture (supplementary material of Liu et al. 2018): encoder 7×7→64 (no BN), 5×5→128, 5×5→256, then
3×3→512 for the remaining layers, all stride 2, BN (except the first) and ReLU. Decoder: nearest ×2
upsampling of features and mask, concatenation with the encoder's skip features (and skip masks), 3×3
stride 1, BN and LeakyReLU(0.2); the last layer sees the upsampled features concatenated with the input
image (and the input mask) and gives ``in_channels`` outputs without BN or activation. 8 layers for
512×512, 7 for 256×256; any H, W divisible by 2**layers.

Value range: images are RGB in [0, 1] and enter the network as they are (no normalisation inside); the
output is the raw I_out in the same units, not clamped. Convolutions followed by BN have no bias (BN's
shift replaces it).

Invariant used for speed in :class:`PConvUNet`: every block output is zero where its new mask is zero
(holes stay 0 through BN by re-masking before the activation; ReLU and LeakyReLU keep 0), so the decoder's
concatenations need no X⊙M multiply and the network equals the multi-channel partial convolution network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import PartialConv2d

_ConvT = TypeVar("_ConvT", nn.Conv2d, PartialConv2d)

__all__ = ["BlockSpec", "ConvUNet", "PConvUNet", "unet_specs"]

# (kernel, channels) of the first encoder layers; every later layer is (3, 512).
_ENCODER_HEAD: tuple[tuple[int, int], ...] = ((7, 64), (5, 128), (5, 256))
_ENCODER_TAIL: tuple[int, int] = (3, 512)
Activation = Literal["relu", "leaky_relu", "none"]


@dataclass(frozen=True)
class BlockSpec:
    """One convolution block of the U-Net: conv (padding k//2) → optional BN → activation."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    batch_norm: bool
    activation: Activation


def unet_specs(*, layers: int, in_channels: int, width: float) -> tuple[list[BlockSpec], list[BlockSpec]]:
    """Encoder and decoder block specs; ``width`` scales every hidden channel count (min 1)."""
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    shape = [_ENCODER_HEAD[i] if i < len(_ENCODER_HEAD) else _ENCODER_TAIL for i in range(layers)]
    chans = [max(1, round(c * width)) for _, c in shape]
    encoder = [
        BlockSpec(in_channels if i == 0 else chans[i - 1], chans[i], k, 2, i > 0, "relu")
        for i, (k, _) in enumerate(shape)
    ]
    # Decoder block j upsamples the previous output (chans[i]) and concatenates encoder skip i-1
    # (chans[i-1]); the last one concatenates the input image instead.
    decoder = [
        BlockSpec(chans[i] + chans[i - 1], chans[i - 1], 3, 1, True, "leaky_relu")
        for i in range(layers - 1, 0, -1)
    ]
    decoder.append(BlockSpec(chans[0] + in_channels, in_channels, 3, 1, False, "none"))
    return encoder, decoder


def _activate_(x: Tensor, activation: Activation) -> Tensor:
    if activation == "relu":
        return F.relu_(x)
    if activation == "leaky_relu":
        return F.leaky_relu_(x, 0.2)
    return x


def _block_conv(kind: type[_ConvT], spec: BlockSpec) -> _ConvT:
    """The block's convolution: "same" padding for odd kernels, and a bias only where no BatchNorm follows
    (BN's shift would cancel it)."""
    return kind(
        spec.in_channels,
        spec.out_channels,
        spec.kernel_size,
        stride=spec.stride,
        padding=spec.kernel_size // 2,
        bias=not spec.batch_norm,
    )


def _init_conv(weight: Tensor, activation: Activation) -> None:
    """He et al. initialisation (fan-in, normal), as in the paper."""
    if activation == "leaky_relu":
        nn.init.kaiming_normal_(weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
    elif activation == "relu":
        nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
    else:
        nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="linear")


class PConvBlock(nn.Module):
    """Partial conv → BN → re-mask → activation. Output is zero wherever the new mask is zero.

    Shape:
        forward: features [(N, C_i, H, W)] each zero where its mask is zero; masks [(N, 1, H, W)] {0, 1}.
            Returns (N, C_out, H/stride, W/stride) features and a (N, 1, H/stride, W/stride) float32 mask.
    """

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        self.spec = spec
        self.conv = _block_conv(PartialConv2d, spec)
        self.bn = nn.BatchNorm2d(spec.out_channels) if spec.batch_norm else None
        _init_conv(self.conv.weight, spec.activation)

    def forward(self, features: Sequence[Tensor], masks: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        out, new_mask = self.conv.forward_cat(features, masks, premasked=True)
        if self.bn is not None:
            out = self.bn(out)
            # BN moves the zeros at holes; put them back in place (BN's backward does not need its output).
            # On the CPU, skip it once the mask is all valid (checking would stall a CUDA stream).
            if out.device.type != "cpu" or not bool(new_mask.all()):
                out = out.mul_(new_mask)
        return _activate_(out, self.spec.activation), new_mask


class ConvBlock(nn.Module):
    """Ordinary conv (zero padding) → BN → activation; the Conv baseline's block."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        self.spec = spec
        self.conv = _block_conv(nn.Conv2d, spec)
        self.bn = nn.BatchNorm2d(spec.out_channels) if spec.batch_norm else None
        _init_conv(self.conv.weight, spec.activation)
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        if self.bn is not None:
            out = self.bn(out)
        return _activate_(out, self.spec.activation)


class _UNet(nn.Module):
    """Shared bookkeeping: input checks and freezing the encoder's BatchNorm for fine-tuning."""

    encoder: nn.ModuleList
    decoder: nn.ModuleList

    def __init__(self, *, layers: int, in_channels: int, width: float) -> None:
        super().__init__()
        self.layers = layers
        self.in_channels = in_channels
        self.width = width
        self.encoder_bn_frozen = False

    def _check_inputs(self, image: Tensor, mask: Tensor) -> None:
        if image.dim() != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"image must have shape (B, {self.in_channels}, H, W), got {tuple(image.shape)}")
        b, _, h, w = image.shape
        if tuple(mask.shape) != (b, 1, h, w):
            raise ValueError(f"mask must have shape ({b}, 1, {h}, {w}), got {tuple(mask.shape)}")
        step = 2**self.layers
        if h % step or w % step:
            raise ValueError(
                f"H and W must be divisible by 2**layers = {step} for layers={self.layers}, got {h}×{w}"
            )

    def _encoder_bns(self) -> list[nn.BatchNorm2d]:
        return [block.bn for block in self.encoder if block.bn is not None]

    def freeze_encoder_bn(self) -> None:
        """Fix the encoder BN's running statistics and affine parameters (the paper's fine-tuning stage).

        Stays in force across later ``.train()`` and ``.requires_grad_()`` calls. Not stored in the state
        dict: call it again after rebuilding the model for fine-tuning.
        """
        self.encoder_bn_frozen = True
        self._hold_frozen()

    def _hold_frozen(self) -> None:
        if self.encoder_bn_frozen:
            for bn in self._encoder_bns():
                bn.eval()
                bn.weight.requires_grad_(False)
                bn.bias.requires_grad_(False)

    def train(self, mode: bool = True) -> _UNet:
        super().train(mode)
        self._hold_frozen()
        return self

    def requires_grad_(self, requires_grad: bool = True) -> _UNet:
        super().requires_grad_(requires_grad)
        self._hold_frozen()
        return self


class PConvUNet(_UNet):
    """The paper's partial-convolution U-Net; hole-agnostic: values under the holes never matter.

    Shape:
        forward: image (B, in_channels, H, W) float in [0, 1]; mask (B, 1, H, W) float {0, 1}, 1 = valid;
            H, W divisible by 2**layers. Returns the raw output I_out, (B, in_channels, H, W), same units
            as the image, not clamped; the caller composites M⊙I_gt + (1−M)⊙I_out.
    """

    def __init__(self, *, layers: int = 8, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__(layers=layers, in_channels=in_channels, width=width)
        encoder, decoder = unet_specs(layers=layers, in_channels=in_channels, width=width)
        self.encoder = nn.ModuleList(PConvBlock(s) for s in encoder)
        self.decoder = nn.ModuleList(PConvBlock(s) for s in decoder)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        self._check_inputs(image, mask)
        mask = mask.detach().to(torch.promote_types(image.dtype, torch.float32))  # bool/uint8 masks too
        # where, not image * mask: NaN or inf under a hole (an unfilled pixel) must not matter either
        h, m = torch.where(mask > 0, image, 0.0), mask
        skips = [(h, m)]
        for block in self.encoder:
            h, m = block([h], [m])
            skips.append((h, m))
        skips.pop()  # the deepest output is h itself
        for block in self.decoder:
            skip_h, skip_m = skips.pop()
            with torch.no_grad():
                m = F.interpolate(m, scale_factor=2.0, mode="nearest")
            h, m = block([F.interpolate(h, scale_factor=2.0, mode="nearest"), skip_h], [m, skip_m])
        return h


class ConvUNet(_UNet):
    """The paper's "Conv" baseline: the same U-Net with ordinary zero-padded convolutions.

    Holes are filled with ``hole_fill`` (per channel, in [0, 1] image units) before the first layer: the
    paper tried 127.5/255 grey (the default) and the ImageNet mean (:data:`IMAGENET_MEAN`). The mask is not
    an input channel, so the multiply-adds equal :class:`PConvUNet`'s.

    Shape:
        forward: as :class:`PConvUNet`: image (B, C, H, W) in [0, 1], mask (B, 1, H, W) {0, 1} 1 = valid;
            returns raw I_out (B, C, H, W).
    """

    def __init__(
        self,
        *,
        layers: int = 8,
        in_channels: int = 3,
        width: float = 1.0,
        hole_fill: tuple[float, ...] = (0.5, 0.5, 0.5),
    ) -> None:
        super().__init__(layers=layers, in_channels=in_channels, width=width)
        if len(hole_fill) != in_channels:
            raise ValueError(f"hole_fill needs {in_channels} values (one per channel), got {hole_fill!r}")
        encoder, decoder = unet_specs(layers=layers, in_channels=in_channels, width=width)
        self.encoder = nn.ModuleList(ConvBlock(s) for s in encoder)
        self.decoder = nn.ModuleList(ConvBlock(s) for s in decoder)
        self.hole_fill = tuple(float(v) for v in hole_fill)
        self.register_buffer("_fill", torch.tensor(self.hole_fill).view(1, -1, 1, 1), persistent=False)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        self._check_inputs(image, mask)
        fill = self._fill.to(image.dtype)
        h = torch.where(mask.detach() > 0, image, fill)  # as PConvUNet: any value under a hole is ignored
        skips = [h]
        for block in self.encoder:
            h = block(h)
            skips.append(h)
        skips.pop()
        for block in self.decoder:
            h = block(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), skips.pop()], dim=1))
        return h
