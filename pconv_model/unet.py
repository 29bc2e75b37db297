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

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import PartialConv2d
from .maskplan import DecoderWindow, EncoderWindow, MaskPlan, plan_masks

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


class _MaskedReLU(torch.autograd.Function):
    """relu(x)·M' as one clamp between 0 and the plan's upper bound (0 at holes). Its backward is ReLU's,
    read from the output alone, so it keeps nothing that the next convolution does not keep anyway."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, zero: Tensor, upper: Tensor) -> Tensor:
        out = torch.clamp(x, zero, upper)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out, 0), None, None


class PConvBlock(nn.Module):
    """Partial conv → BN → re-mask → activation, with its layer's ratio and new mask taken from a
    :class:`~pconv.pconv_model.maskplan.MaskPlan`. Output is zero wherever the new mask is zero.

    Eq. 1 as it runs: ``conv(X⊙M)·ratio + b·M'`` (X⊙M is the input itself: U-Net features are already zero
    at their holes). BN moves the zeros at holes, so its output is re-masked: for ReLU blocks re-masking
    and ReLU are one clamp between 0 and the plan's upper bound (0 at holes), with ReLU's backward; for
    the others a multiply by the new mask before the activation.

    Range: with float16 activations every block's output is clamped to ±65504, the largest finite float16,
    so it saturates instead of becoming inf (and NaN in the next layer). float32, bfloat16 and float64
    outputs are never clamped beyond re-masking: their range holds any activation of this network.

    Shape:
        forward: x (N, C_in, H, W), zero wherever its mask is zero; ``plan`` and this block's ``index`` in
            it. Returns (N, C_out, H/stride, W/stride) features and the new mask (N, 1, H/stride,
            W/stride) in {0, 1}, float32 (float64 for float64 masks).
    """

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        self.spec = spec
        self.conv = _block_conv(PartialConv2d, spec)
        self.bn = nn.BatchNorm2d(spec.out_channels) if spec.batch_norm else None
        _init_conv(self.conv.weight, spec.activation)

    def forward(self, x: Tensor, plan: MaskPlan, index: int) -> tuple[Tensor, Tensor]:
        conv, new_mask, relu = self.conv, plan.masks[index], self.spec.activation == "relu"
        out = F.conv2d(x, conv.weight, None, conv.stride, conv.padding, conv.dilation)
        # In place: the conv's backward needs its inputs, not its output; the multiply runs in the ratio's
        # float32 and writes back in the output dtype, so half-precision activations see a float32 ratio.
        out = out.mul_(plan.ratios[index])
        if conv.bias is not None:  # ReLU's clamp zeroes the holes' bias; elsewhere it is multiplied by M'
            bias = conv.bias.view(1, -1, 1, 1)
            out = out.add_(bias) if relu else out.addcmul_(bias, new_mask)
        if self.bn is not None:
            out = self.bn(out)
        recording = torch.is_grad_enabled()
        if relu:
            zero, _, upper = plan.bounds(out.dtype, index)
            out = _MaskedReLU.apply(out, zero, upper) if recording else out.clamp_(zero, upper)
            return out, new_mask
        if out.dtype == torch.float16:  # saturate instead of overflowing; re-masks on the way
            _, lower, upper = plan.bounds(out.dtype, index)
            out = torch.clamp(out, lower, upper) if recording else out.clamp_(lower, upper)
        elif self.bn is not None and not _all_valid_on_cpu(new_mask):
            out = out.mul_(new_mask)  # in place: BN's backward needs its input, not its output
        return _activate_(out, self.spec.activation), new_mask


def _all_valid_on_cpu(mask: Tensor) -> bool:
    """Whether re-masking can be skipped: on the CPU, outside torch.compile, with a mask that is all valid
    (on a GPU the check would stall the stream, and costs more than it saves)."""
    if mask.device.type != "cpu" or torch.compiler.is_compiling():
        return False
    return bool(mask.all())


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
        self.encoder_windows = tuple(EncoderWindow(s.kernel_size, s.stride) for s in encoder)
        ups = [encoder[-1].out_channels] + [s.out_channels for s in decoder[:-1]]
        self.decoder_windows = tuple(
            DecoderWindow(s.kernel_size, up, s.in_channels - up) for s, up in zip(decoder, ups, strict=True)
        )

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        self._check_inputs(image, mask)
        mask = mask.detach().to(torch.promote_types(image.dtype, torch.float32))  # bool/uint8 masks too
        plan = plan_masks(mask, encoder=self.encoder_windows, decoder=self.decoder_windows)
        # where, not image * mask: NaN or inf under a hole (an unfilled pixel) must not matter either
        h = torch.where(mask > 0, image, 0.0)
        skips = [h]
        for index, block in enumerate(self.encoder):
            h, _ = block(h, plan, index)
            skips.append(h)
        skips.pop()  # the deepest output is h itself
        for index, block in enumerate(self.decoder, start=len(self.encoder)):
            h, _ = block(
                torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), skips.pop()], 1), plan, index
            )
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
