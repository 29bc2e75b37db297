"""The two public PConv releases as data, and their generator weights converted to our ``PConvUNet``.

Both releases are the paper's U-Net, as ours (7 layers for 256², 7×7/5×5/5×5/3×3… encoder with ReLU, BN
after every conv but the first; nearest ×2 upsampling of features and masks, the skip concatenated after
the upsampled features, 3×3 decoder with BN and LeakyReLU(0.2); a last layer with bias and nothing after
it, whose output is not clamped). Their masks are per channel (the input mask repeated over RGB, then one
channel per feature), with window counts over all C_in·k·k entries: what our network computes for a mask
shared by the three image channels, which is how both projects call their generators.

- ``mmagic`` (OpenMMLab mmediting / mmagic, ``mmagic/models/editors/pconv/``): NVIDIA's layer,
  ``(Wᵀ(X⊙M))·C_in·k·k/(sum(M) + 1e-8) + b`` where sum(M) > 0: our Eq. 1 up to the 1e-8, weights taken as
  they are. Convolutions have a bias exactly where no BN follows (the first and the last). Weights in
  ``state_dict`` under ``generator.``, next to the loss networks; run metadata under ``meta``.
- ``naoto0804`` (``net.py``: ``PartialConv``, ``PCBActiv``, ``PConvUNet``): ``Wᵀ(X⊙M)/sum(M) + b``, so
  each of our weights is theirs / (C_in·k_h·k_w). Only the last convolution has a bias. Weights under
  ``model``, the iteration count under ``n_iter``.

Neither re-masks after BN; their next layer multiplies the features by the mask, so the values at holes
never matter, as in ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..normalization import IMAGENET_RGB, SYMMETRIC_BGR, Normalization
from ..unet import PConvUNet

__all__ = ["LAYOUTS", "MMAGIC", "NAOTO0804", "Layout", "convert_generator", "generator_weights"]


@dataclass(frozen=True)
class Layout:
    """Where one project keeps a generator's tensors and what its weights mean.

    ``encoder``/``decoder``: key prefixes with ``{n}`` for the 1-based layer number (decoder n takes
    encoder n−1's skip, as in both projects); ``owned``: the prefix of generator keys in ``container``
    (other keys there, like loss networks, are ignored).
    """

    name: str
    container: str
    owned: str
    encoder: str
    decoder: str
    conv_weight: str
    conv_bias: str
    mask_kernel: str
    divides_by_mask_sum: bool
    first_conv_bias: bool
    steps: tuple[str, ...]
    normalization: Normalization
    mask_convention: str

    def key(self, ours: str, layers: int) -> str:
        """Their key for one of ours (``encoder.0.conv.weight`` → e.g. ``enc_1.conv.input_conv.weight``)."""
        part, index, rest = ours.split(".", 2)
        prefix = (
            self.encoder.format(n=int(index) + 1)
            if part == "encoder"
            else self.decoder.format(n=layers - int(index))
        )
        return prefix + {"conv.weight": self.conv_weight, "conv.bias": self.conv_bias}.get(rest, rest)

    def layer_count(self, keys: list[str]) -> int:
        """The number of encoder layers named in ``keys`` (0 when none)."""
        pattern = re.compile(re.escape(self.encoder.format(n="<n>")).replace("<n>", r"(\d+)"))
        return max((int(m.group(1)) for k in keys if (m := pattern.match(k))), default=0)


MMAGIC = Layout(
    name="mmagic",
    container="state_dict",
    owned="generator.",
    encoder="generator.encoder.enc{n}.",
    decoder="generator.decoder.dec{n}.",
    conv_weight="conv.weight",
    conv_bias="conv.bias",
    mask_kernel="conv.weight_mask_updater",
    divides_by_mask_sum=False,
    first_conv_bias=True,
    steps=("meta", "iter"),
    normalization=SYMMETRIC_BGR,
    mask_convention="1 = hole at PConvInpaintor, which flips it to 1 = valid for the generator",
)
NAOTO0804 = Layout(
    name="naoto0804",
    container="model",
    owned="",
    encoder="enc_{n}.",
    decoder="dec_{n}.",
    conv_weight="conv.input_conv.weight",
    conv_bias="conv.input_conv.bias",
    mask_kernel="conv.mask_conv.weight",
    divides_by_mask_sum=True,
    first_conv_bias=False,
    steps=("n_iter",),
    normalization=IMAGENET_RGB,
    mask_convention="1 = valid (3-channel mask images, white = valid)",
)
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (MMAGIC, NAOTO0804)}


def _looks_like(document: Any, layout: Layout) -> bool:
    weights = document.get(layout.container) if isinstance(document, Mapping) else None
    return isinstance(weights, Mapping) and layout.layer_count([str(k) for k in weights]) > 0


def generator_weights(document: Any, layout: Layout, path: Path) -> dict[str, Tensor]:
    """The generator's tensors of an unpickled ``layout`` checkpoint; ValueError naming what it is instead."""
    if not _looks_like(document, layout):
        if isinstance(document, Mapping) and "format" in document and "arch" in document:
            raise ValueError(f"{path}: already a pconv checkpoint; use it as it is")
        for other in LAYOUTS.values():
            if other is not layout and _looks_like(document, other):
                raise ValueError(
                    f"{path}: looks like a {other.name} checkpoint (weights under '{other.container}'), "
                    f"not {layout.name}; use --format {other.name}"
                )
        raise ValueError(
            f"{path}: not a {layout.name} PConv checkpoint (no '{layout.container}' entry with "
            f"{layout.encoder.format(n='N')}* keys)"
        )
    weights = document[layout.container]
    return {k: v for k, v in weights.items() if k.startswith(layout.owned)}


def _first(keys: set[str]) -> str:
    return sorted(keys)[0]


def _check_mask_kernel(kernel: Tensor, weight: Tensor, key: str, path: Path) -> None:
    """Their mask-count kernels must be ones over all C_in·k·k inputs, or their layer is not Eq. 1."""
    if tuple(kernel.shape) != tuple(weight.shape) or not bool((kernel == 1).all()):
        raise ValueError(
            f"{path}: {key} must be ones of shape {tuple(weight.shape)} (multi-channel masks), got a "
            f"{tuple(kernel.shape)} tensor; only multi-channel partial convolutions are supported"
        )


def convert_generator(weights: Mapping[str, Tensor], layout: Layout, path: Path) -> PConvUNet:
    """Our PConvUNet (eval mode, float32) computing exactly ``layout``'s generator.

    ValueError names the first missing, unexpected or wrongly shaped key. BatchNorm's
    ``num_batches_tracked`` (absent before PyTorch 0.4.1, unused in eval mode) may be missing.
    """
    layers = layout.layer_count(list(weights))
    model = PConvUNet(layers=layers).eval()
    ours = model.state_dict()
    converted: dict[str, Tensor] = {}
    expected: set[str] = set()
    missing: set[str] = set()
    for name, target in ours.items():
        theirs = layout.key(name, layers)
        if name == "encoder.0.conv.bias" and not layout.first_conv_bias:
            converted[name] = torch.zeros_like(target)
            continue
        expected.add(theirs)
        if theirs not in weights:
            if name.endswith("num_batches_tracked"):
                converted[name] = torch.zeros_like(target)
            else:
                missing.add(theirs)
            continue
        value = weights[theirs]
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(
                f"{path}: {theirs} has shape {tuple(value.shape)}, a {layers}-layer PConv U-Net needs "
                f"{tuple(target.shape)}"
            )
        converted[name] = value.detach().to(target.dtype).clone()
        if name.endswith("conv.weight"):
            kernel_key = theirs[: -len(layout.conv_weight)] + layout.mask_kernel
            expected.add(kernel_key)
            if kernel_key not in weights:
                missing.add(kernel_key)
            else:
                _check_mask_kernel(weights[kernel_key], value, kernel_key, path)
            if layout.divides_by_mask_sum:
                converted[name] /= value[0].numel()  # C_in·k_h·k_w
    if missing:
        raise ValueError(
            f"{path}: {len(missing)} generator key(s) missing for a {layers}-layer {layout.name} PConv "
            f"U-Net, first {_first(missing)}"
        )
    extra = set(weights) - expected
    if extra:
        raise ValueError(f"{path}: {len(extra)} unexpected generator key(s), first {_first(extra)}")
    model.load_state_dict(converted)
    return model
