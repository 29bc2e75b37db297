"""Random-weight checkpoints in the two public layouts, and independent reference forward passes of the two
projects' networks (written from their published code's semantics, sharing nothing with pconv_model)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Conv:
    """One block of the released U-Net: their layer number, channels, kernel, stride, BN, activation."""

    key: str
    cin: int
    cout: int
    k: int
    stride: int
    bn: bool
    act: str | None


def release_blocks(layers: int) -> tuple[list[Conv], list[Conv]]:
    """The blocks both projects build for ``layers`` (they fix enc1-enc4 and dec1-dec4; layers >= 4)."""
    widths = [64, 128, 256] + [512] * (layers - 3)
    kernels = [7, 5, 5] + [3] * (layers - 3)
    encoder = [
        Conv(f"enc{n}", 3 if n == 1 else widths[n - 2], widths[n - 1], kernels[n - 1], 2, n > 1, "relu")
        for n in range(1, layers + 1)
    ]
    decoder = [
        Conv(f"dec{n}", widths[n - 1] + widths[n - 2], widths[n - 2], 3, 1, True, "leaky")
        for n in range(layers, 1, -1)
    ]
    decoder.append(Conv("dec1", 64 + 3, 3, 3, 1, False, None))
    return encoder, decoder


def _random_block(block: Conv, gen: torch.Generator, *, bias: bool, weight_scale: float) -> dict[str, Tensor]:
    """He-initialized weights and BN statistics; the last layer scaled down so outputs stay near [0, 1]."""
    fan_in = block.cin * block.k * block.k
    if block.key == "dec1":
        weight_scale *= 0.005
    tensors = {
        "weight": torch.randn(block.cout, block.cin, block.k, block.k, generator=gen)
        * (2 / fan_in) ** 0.5
        * weight_scale
    }
    if bias:
        tensors["bias"] = torch.randn(block.cout, generator=gen) * 0.1
    if block.bn:
        tensors["bn.weight"] = torch.rand(block.cout, generator=gen) + 0.5
        tensors["bn.bias"] = torch.randn(block.cout, generator=gen) * 0.1
        tensors["bn.running_mean"] = torch.randn(block.cout, generator=gen) * 0.1
        tensors["bn.running_var"] = torch.rand(block.cout, generator=gen) + 0.5
        tensors["bn.num_batches_tracked"] = torch.tensor(1000)
    return tensors


def mmagic_state_dict(layers: int, seed: int) -> dict[str, Tensor]:
    """``generator.*`` keys as mmediting's PConvEncoderDecoder names them (MaskConvModule: conv, bn)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    encoder, decoder = release_blocks(layers)
    for part, blocks in (("encoder", encoder), ("decoder", decoder)):
        for block in blocks:
            prefix = f"generator.{part}.{block.key}."
            for name, value in _random_block(block, gen, bias=not block.bn, weight_scale=1.0).items():
                state[prefix + (name if name.startswith("bn.") else f"conv.{name}")] = value
            state[prefix + "conv.weight_mask_updater"] = torch.ones(block.cout, block.cin, block.k, block.k)
    state["loss_percep.vgg.vgg_layers.0.weight"] = torch.randn(64, 3, 3, 3, generator=gen)
    return state


def naoto0804_state_dict(layers: int, seed: int) -> dict[str, Tensor]:
    """``enc_N.*``/``dec_N.*`` keys as naoto0804's net.py names them (PCBActiv: conv.input_conv, bn)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    encoder, decoder = release_blocks(layers)
    for block in [*encoder, *decoder]:
        prefix = f"{block.key[:3]}_{block.key[3:]}."
        # their layer divides by sum(M), so trained weights are C_in·k·k times larger than ours
        fan_in = block.cin * block.k * block.k
        tensors = _random_block(block, gen, bias=block.key == "dec1", weight_scale=fan_in)
        for name, value in tensors.items():
            state[prefix + (name if name.startswith("bn.") else f"conv.input_conv.{name}")] = value
        state[prefix + "conv.mask_conv.weight"] = torch.ones(block.cout, block.cin, block.k, block.k)
    return state


def write_mmagic(path: Path, layers: int = 7, seed: int = 0, *, meta: dict | None = None) -> Path:
    """A published mmediting checkpoint: ``meta`` (numpy and datetime values, as mmcv's runner writes)
    and ``state_dict``."""
    if meta is None:
        meta = {"iter": np.int64(500000), "time": datetime.datetime(2020, 6, 19), "lr": np.float64(5e-5)}
    torch.save({"meta": meta, "state_dict": mmagic_state_dict(layers, seed)}, path)
    return path


def write_naoto0804(path: Path, layers: int = 7, seed: int = 0) -> Path:
    """naoto0804's save_ckpt: ``n_iter``, ``model`` and ``optimizer``."""
    torch.save({"n_iter": 1000000, "model": naoto0804_state_dict(layers, seed), "optimizer": {}}, path)
    return path


def _window_count(mask: Tensor, weight: Tensor, stride: int, pad: int) -> Tensor:
    """Their mask convolution with a C_out×C_in×k×k ones kernel; every output channel is the same sum, so
    it is computed once and expanded (a view) to C_out channels."""
    ones = torch.ones(1, *weight.shape[1:], dtype=mask.dtype)
    return F.conv2d(mask, ones, None, stride, pad).expand(-1, weight.shape[0], -1, -1)


def _mmagic_pconv(x: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, stride: int, pad: int):
    """mmediting PartialConv2d (multi_channel=True): ratio = C_in·k·k / (count + 1e-8), clamped mask."""
    with torch.no_grad():
        count = _window_count(mask, weight, stride, pad)
        ratio = weight[0].numel() / (count + 1e-8)
        updated = count.clamp(0, 1)
        ratio = ratio * updated
    raw = F.conv2d(x * mask, weight, bias, stride, pad)
    if bias is None:
        return raw * ratio, updated
    b = bias.view(1, -1, 1, 1)
    return ((raw - b) * ratio + b) * updated, updated


def _naoto0804_pconv(x: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, stride: int, pad: int):
    """naoto0804 PartialConv: (C(M⊙X) − b) / sum(M) + b where sum(M) > 0, else 0; sum over C_in·k·k."""
    out = F.conv2d(x * mask, weight, bias, stride, pad)
    b = bias.view(1, -1, 1, 1).expand_as(out) if bias is not None else torch.zeros_like(out)
    count = _window_count(mask, weight, stride, pad)
    holes = count == 0
    out = ((out - b) / count.masked_fill(holes, 1.0) + b).masked_fill(holes, 0.0)
    return out, (~holes).to(out.dtype)


def reference_generator(fmt: str, state: dict[str, Tensor], x: Tensor, mask: Tensor, layers: int) -> Tensor:
    """Their generator on ``x`` (B, 3, H, W, their units) and ``mask`` (B, 3, H, W, 1 = valid), in float64:
    conv → BN (eval) → activation, no re-masking, skips concatenated after the nearest-upsampled features."""
    pconv = _mmagic_pconv if fmt == "mmagic" else _naoto0804_pconv
    state = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}

    def block(spec: Conv, h: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        if fmt == "mmagic":
            prefix = f"generator.{'encoder' if spec.key.startswith('enc') else 'decoder'}.{spec.key}."
            weight, bias = state[prefix + "conv.weight"], state.get(prefix + "conv.bias")
        else:
            prefix = f"{spec.key[:3]}_{spec.key[3:]}."
            weight, bias = (
                state[prefix + "conv.input_conv.weight"],
                state.get(prefix + "conv.input_conv.bias"),
            )
        h, m = pconv(h, m, weight, bias, spec.stride, spec.k // 2)
        if spec.bn:
            h = F.batch_norm(
                h,
                state[prefix + "bn.running_mean"],
                state[prefix + "bn.running_var"],
                state[prefix + "bn.weight"],
                state[prefix + "bn.bias"],
                training=False,
                eps=1e-5,
            )
        if spec.act == "relu":
            h = F.relu(h)
        elif spec.act == "leaky":
            h = F.leaky_relu(h, 0.2)
        return h, m

    encoder, decoder = release_blocks(layers)
    feats, masks = [x.double()], [mask.double()]
    for spec in encoder:
        h, m = block(spec, feats[-1], masks[-1])
        feats.append(h)
        masks.append(m)
    h, m = feats[-1], masks[-1]
    for n, spec in zip(range(layers, 0, -1), decoder, strict=True):
        h = torch.cat([F.interpolate(h, scale_factor=2, mode="nearest"), feats[n - 1]], dim=1)
        m = torch.cat([F.interpolate(m, scale_factor=2, mode="nearest"), masks[n - 1]], dim=1)
        h, m = block(spec, h, m)
    return h


def reference_inpaint(
    fmt: str, state: dict[str, Tensor], image: Tensor, valid: Tensor, layers: int
) -> Tensor:
    """Raw output in RGB [0, 1] units of each project's own inference path.

    mmagic: BGR images (mmcv loads BGR, Normalize to_rgb=False) scaled by mean = std = 127.5 of 0-255;
    the inpaintor's mask is 1 = hole, flipped and repeated to 3 channels; the masked image is
    gt·(1 − hole). naoto0804: RGB normalized with ImageNet mean/std, 3-channel 1 = valid mask, input gt·mask.
    """
    mean, std = (torch.tensor(v, dtype=torch.float64).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    image = image.double()
    if fmt == "mmagic":
        hole = 1.0 - valid.double()
        gt = (image.flip(1) * 255.0 - 127.5) / 127.5
        mask_in = (1.0 - hole).repeat(1, 3, 1, 1)
        out = reference_generator(fmt, state, gt * (1.0 - hole), mask_in, layers)
        return ((out * 127.5 + 127.5) / 255.0).flip(1)
    mask3 = valid.double().repeat(1, 3, 1, 1)
    gt = (image - mean) / std
    out = reference_generator(fmt, state, gt * mask3, mask3, layers)
    return out * std + mean
