"""Partial convolution (Liu et al., ECCV 2018, Eq. 1-2): pure functions and a thin module.

Mask convention (the paper's M): float tensors in {0, 1}, **1 = valid, 0 = hole**.

Eq. 1:  out = Wᵀ(X⊙M)·sum(1)/sum(M) + b   where sum(M) > 0,   0 (no bias) elsewhere.
Eq. 2:  new_mask = 1 where sum(M) > 0, else 0.

sum(1) is the window size: k_h·k_w for a single-channel mask (one mask for every input channel) and
C_in·k_h·k_w for a multi-channel mask. The mask is zero-padded, so the area outside the image counts as
hole and border outputs are re-normalized ("partial convolution based padding").

Why it is cheap: the window count sum(M) is a k×k box sum of the channel-summed single-channel mask
(without autograd, in float32: two strided reductions on the CPU, one average pool on a GPU) instead of
the official layer's convolution of the multi-channel mask with a C_out×C_in×k×k ones kernel, which costs
as many multiply-adds as the layer itself. The count is exact for any mask whose channel sums are
integers below 2**24. (The U-Net computes all its layers' counts up front instead:
:mod:`pconv.pconv_model.maskplan`.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PartialConv2d", "partial_conv2d", "partial_conv2d_cat"]

IntPair = int | tuple[int, int]


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


def _check_4d(t: Tensor, name: str) -> None:
    if t.dim() != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {tuple(t.shape)}")


def _check_mask(mask: Tensor, x: Tensor, name: str, allowed_channels: tuple[int, ...]) -> None:
    _check_4d(mask, name)
    n, _, h, w = x.shape
    if mask.shape[0] != n or mask.shape[2:] != (h, w) or mask.shape[1] not in allowed_channels:
        expected = " or ".join(f"({n}, {c}, {h}, {w})" for c in allowed_channels)
        raise ValueError(f"{name} must have shape {expected}, got {tuple(mask.shape)}")


def _window_sum(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    *,
    pooled: bool | None = None,
) -> Tensor:
    """Sum of ``x`` over every (zero-padded) convolution window: conv2d with a k×k ones kernel, but either
    as two strided-view reductions (several times cheaper than a single-channel conv or avg_pool2d on the
    CPU) or, with ``pooled``, as one average pool that divides by 1 (one kernel instead of three on a
    GPU; undilated windows with padding up to half the kernel only). ``pooled=None`` picks by device.
    Both sum exactly in float32 while the sums stay below 2**24.

    Shape:
        x: (N, 1, H, W) float32. Returns (N, 1, H', W') with the conv's output size.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if pooled is None:
        pooled = x.device.type != "cpu"
    if pooled and (dh, dw) == (1, 1) and 2 * ph <= kh and 2 * pw <= kw:
        return F.avg_pool2d(x, kernel, stride, padding, divisor_override=1)
    x = F.pad(x, (pw, pw, ph, ph))
    x = x.unfold(3, dw * (kw - 1) + 1, sw)[..., ::dw].sum(-1)
    return x.unfold(2, dh * (kh - 1) + 1, sh)[..., ::dh].sum(-1)


def _normalized_conv(
    x_masked: Tensor,
    mask_sum: Tensor,
    window: int,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[Tensor, Tensor]:
    """Eq. 1-2 given X⊙M and the channel sum of M.

    Shape:
        x_masked: (N, C_in, H, W), any float dtype; zero wherever the mask is zero.
        mask_sum: (N, 1, H, W), Σ_c M_c (number of valid channels per pixel); no grad needed.
        returns: out (N, C_out, H', W') in the conv's dtype, new_mask (N, 1, H', W') in {0, 1}, float32
            (float64 for float64 inputs).
    """
    # The count and the ratio run in float32 (float64 for float64 inputs) without autocast: float16 cannot
    # count past 2048 exactly, and 0/0 must never reach the output; only the final ratio multiply touches
    # the activations.
    acc = torch.promote_types(x_masked.dtype, torch.float32)
    with torch.no_grad(), torch.autocast(device_type=x_masked.device.type, enabled=False):
        count = _window_sum(mask_sum.to(acc), tuple(weight.shape[-2:]), stride, padding, dilation)
        valid = count > 0
        ratio = torch.where(valid, window / count, 0.0)  # the inf of window/0 is never selected
        new_mask = valid.to(acc)
    out = F.conv2d(x_masked, weight, None, stride=stride, padding=padding, dilation=dilation)
    # In place: the conv's backward needs its inputs, not its output; the multiply runs in float32 and
    # writes back in the output dtype, so half-precision activations see a float32-accurate ratio.
    out.mul_(ratio)
    if bias is not None:
        out = out.addcmul(bias.view(1, -1, 1, 1).to(out.dtype), new_mask.to(out.dtype))
    return out, new_mask


def partial_conv2d(
    x: Tensor,
    mask: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    multi_channel: bool = False,
) -> tuple[Tensor, Tensor]:
    """Partial convolution, exactly Eq. 1-2 of the paper, with zero-padded (hole) borders.

    With ``multi_channel=False`` one mask applies to every input channel and sum(1) = k_h·k_w; with
    ``multi_channel=True`` each input channel has its own mask and sum(M) counts all C_in·k_h·k_w window
    entries (a (N, 1, H, W) mask is then broadcast to every channel). Gradients flow to ``x``, ``weight``
    and ``bias`` only; the mask path runs without autograd, so hole pixels of ``x`` receive zero gradient.

    Shape:
        x: (N, C_in, H, W) float (float32, float16 or bfloat16).
        mask: (N, 1, H, W), or (N, C_in, H, W) with ``multi_channel=True``; float in {0, 1}, 1 = valid.
        weight: (C_out, C_in, k_h, k_w); bias: (C_out,) or None.
        returns: out (N, C_out, H', W') in x's dtype (the conv's dtype under autocast);
            new_mask (N, 1, H', W') in mask's dtype, {0, 1}, the same for every output channel.
    """
    _check_4d(x, "x")
    channels = x.shape[1]
    _check_mask(mask, x, "mask", (1, channels) if multi_channel else (1,))
    if weight.dim() != 4 or weight.shape[1] != channels:
        raise ValueError(f"weight must have shape (C_out, {channels}, k_h, k_w), got {tuple(weight.shape)}")
    mask = mask.detach()
    kh, kw = weight.shape[-2:]
    with torch.no_grad():
        if not multi_channel:
            mask_sum, window = mask, kh * kw
        elif mask.shape[1] == 1:
            mask_sum, window = mask * channels, channels * kh * kw
        else:
            mask_sum, window = mask.float().sum(1, keepdim=True), channels * kh * kw
    out, new_mask = _normalized_conv(
        x * mask.to(x.dtype),
        mask_sum,
        window,
        weight,
        bias,
        _pair(stride, "stride"),
        _pair(padding, "padding"),
        _pair(dilation, "dilation"),
    )
    return out, new_mask.to(mask.dtype)


def partial_conv2d_cat(
    features: Sequence[Tensor],
    masks: Sequence[Tensor],
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    premasked: bool = False,
) -> tuple[Tensor, Tensor]:
    """Partial convolution of a channel concatenation whose parts carry different single-channel masks.

    Equal to ``partial_conv2d(cat(features), cat(expanded masks), multi_channel=True)``, each mask expanded
    to its part's channels, but the window count is one single-channel box sum of Σ_i C_i·M_i. The
    U-Net decoder needs this: upsampled features and skip features have different masks.

    ``premasked=True`` promises that every feature map is already zero wherever its mask is zero (true for
    outputs of the U-Net blocks), which skips the X⊙M multiply.

    Shape:
        features: sequence of (N, C_i, H, W) float, Σ C_i = C_in.
        masks: sequence of (N, 1, H, W) float in {0, 1}, 1 = valid, one per feature map.
        weight: (C_out, C_in, k_h, k_w); bias: (C_out,) or None.
        returns: out (N, C_out, H', W'); new_mask (N, 1, H', W') {0, 1}, float32 (float64 for float64
            features).
    """
    if len(features) == 0 or len(features) != len(masks):
        raise ValueError(
            f"need one mask per feature map, got {len(features)} features and {len(masks)} masks"
        )
    for i, (feat, mask) in enumerate(zip(features, masks, strict=True)):
        _check_4d(feat, f"features[{i}]")
        _check_mask(mask, feat, f"masks[{i}]", (1,))
        if feat.shape[0] != features[0].shape[0] or feat.shape[2:] != features[0].shape[2:]:
            raise ValueError(
                f"features[{i}] has shape {tuple(feat.shape)}, expected batch and size of "
                f"features[0] {tuple(features[0].shape)}"
            )
    channels = sum(f.shape[1] for f in features)
    if weight.dim() != 4 or weight.shape[1] != channels:
        raise ValueError(f"weight must have shape (C_out, {channels}, k_h, k_w), got {tuple(weight.shape)}")
    kh, kw = weight.shape[-2:]
    with torch.no_grad():
        if len(masks) == 1:  # C·k·k / (C·count) == k·k / count exactly, one multiply fewer
            mask_sum, window = masks[0].float(), kh * kw
        else:
            mask_sum, window = masks[0].float() * features[0].shape[1], channels * kh * kw
            for feat, mask in zip(features[1:], masks[1:], strict=True):
                mask_sum = mask_sum.add(mask.float(), alpha=feat.shape[1])
    parts = (
        list(features)
        if premasked
        else [f * m.detach().to(f.dtype) for f, m in zip(features, masks, strict=True)]
    )
    x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return _normalized_conv(
        x,
        mask_sum,
        window,
        weight,
        bias,
        _pair(stride, "stride"),
        _pair(padding, "padding"),
        _pair(dilation, "dilation"),
    )


class PartialConv2d(nn.Module):
    """Module around :func:`partial_conv2d`; weights He-initialized (Kaiming normal, fan-in), bias zero.

    Shape:
        forward: x (N, C_in, H, W), mask (N, 1, H, W) or, with ``multi_channel``, (N, C_in, H, W);
            float in {0, 1}, 1 = valid. Returns (out (N, C_out, H', W'), new_mask (N, 1, H', W')).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        bias: bool = True,
        multi_channel: bool = False,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got in={in_channels}, out={out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        self.multi_channel = multi_channel
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="relu")
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return partial_conv2d(
            x,
            mask,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            multi_channel=self.multi_channel,
        )

    def forward_cat(
        self, features: Sequence[Tensor], masks: Sequence[Tensor], *, premasked: bool = False
    ) -> tuple[Tensor, Tensor]:
        """:func:`partial_conv2d_cat` with this layer's weights (multi-channel semantics)."""
        return partial_conv2d_cat(
            features,
            masks,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            premasked=premasked,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}, "
            f"multi_channel={self.multi_channel}"
        )
