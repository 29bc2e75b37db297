"""The paper's inpainting loss (Liu et al. 2018, Eq. 3-8): pixel, perceptual, style and total variation terms.

Normalisation, as in the paper: every pixel term is divided by the number of elements of the image
(N_Igt = C·H·W), averaged over the batch, i.e. the mean over all B·C·H·W elements of the masked
difference. L_hole is *not* divided by the hole area: the paper's weights (valid 1, hole 6) were tuned
with this normalisation, so a small hole contributes little, and the balance does not jump with hole size.
Perceptual terms are divided by the element count of each feature map, style terms by C_p² (the mean
over the Gram entries), TV by C·H·W.

Units: images are RGB in [0, 1], so the pixel terms (valid, hole, tv) are in [0, 1] units; the feature
extractor normalizes its input itself (ImageNet mean and std for VGG16), so the perceptual and style terms
are in the units of its activations. The paper's weights assume torchvision's VGG16 (activations of
ImageNet-normalized input); a VGG16 converted from Caffe (0-255 input) has activations about 58 times
larger, which multiplies the perceptual terms by about 58 and the style terms by about 3,300
(:func:`term_shares` and :func:`dominant_term_warning` show it on the first batch).

Images are RGB in [0, 1]; mask (B, 1, H, W) float {0, 1}, 1 = valid. I_comp = M⊙I_gt + (1−M)⊙I_out.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pconv.core.masks import composite

__all__ = [
    "DOMINANT_SHARE",
    "InpaintingLoss",
    "LossWeights",
    "dominant_term_note",
    "dominant_term_warning",
    "feature_precision",
    "format_shares",
    "gram_matrix",
    "hole_border_region",
    "term_shares",
    "total_variation",
]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the total loss; defaults are the paper's Eq. 7."""

    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1


DOMINANT_SHARE = 0.9998
"""A weighted term above this share of the total makes :func:`dominant_term_warning` speak. Measured on
the first batch of untrained PConvUNets (photos and smooth synthetic images, holes of 5-50 %, 64² to
512², widths 0.25 and 1, several seeds) with an ImageNet VGG16 in torchvision's units: the style term is
already 99.68-99.87 % of the total there (the untrained output spans about [-10, 12]), so a 99 % limit
would warn on every run; with the same VGG16 at Caffe scale (×57.6) it is 99.997-99.998 %."""


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrix normalized by 1/(C·H·W) (the paper's K_p), computed in float32.

    float32 because the un-normalized sum over H·W overflows float16.

    Shape:
        features: (B, C, H, W) float. Returns (B, C, C) float32.
    """
    b, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        f = features.float().reshape(b, c, h * w)
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def hole_border_region(mask: Tensor) -> Tensor:
    """P of Eq. 6: the hole region dilated by one pixel (3×3 square), as a {0, 1} float mask.

    Shape:
        mask: (B, 1, H, W) float {0, 1}, 1 = valid. Returns (B, 1, H, W), 1 inside P.
    """
    return F.max_pool2d(1.0 - mask, kernel_size=3, stride=1, padding=1)


def total_variation(image: Tensor, region: Tensor) -> Tensor:
    """Eq. 6: L1 differences of horizontal and vertical neighbours that both lie in ``region``.

    Divided by N = C·H·W per image and averaged over the batch.

    Shape:
        image: (B, C, H, W) float; region: (B, 1, H, W) float {0, 1}. Returns a scalar.
    """
    horizontal = region[..., :, 1:] * region[..., :, :-1]
    vertical = region[..., 1:, :] * region[..., :-1, :]
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs() * horizontal
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs() * vertical
    return (dx.sum() + dy.sum()) / image.numel()


def _l1(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).abs().mean()


def _native_bf16(device_type: str) -> bool:
    """Whether bfloat16 is supported without emulation: on any CPU, on CUDA from Ampere (capability 8) on."""
    return device_type != "cuda" or torch.cuda.is_bf16_supported(including_emulation=False)


@contextlib.contextmanager
def feature_precision(device_type: str) -> Iterator[None]:
    """Run the feature extractor in bfloat16 (or float32) where the caller's autocast is float16.

    float16's largest value is 65,504, and the extractor's activations have no fixed bound: they depend
    on the weights file and on the image fed in. An untrained U-Net's output spans about [-10, 12]; on
    such an output torchvision-scale VGG16 activations reach about 2,600 at pool3, Caffe-scale ones
    (0-255 units) about 150,000, which float16 turns into inf and the L1 of two infs into NaN. bfloat16
    has float32's range and, on GPUs that have it, float16's speed; it is the precision of the default
    bf16 training, which was fine. Where bfloat16 is not native (CUDA before Ampere) the extractor runs
    in float32. Rescaling the features instead would need their range known in advance, which neither
    the file nor the network's output gives. Other autocast settings are left as they are.
    """
    if not torch.is_autocast_enabled(device_type) or torch.get_autocast_dtype(device_type) != torch.float16:
        yield
    elif _native_bf16(device_type):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            yield
    else:
        with torch.autocast(device_type, enabled=False):
            yield


def term_shares(terms: Mapping[str, float], weights: LossWeights = LossWeights()) -> dict[str, float]:
    """Each weighted term's share of the total: valid, hole, perceptual, style (out + comp), tv; sum 1.

    ``terms``: the unweighted terms as :class:`InpaintingLoss` returns them, as floats.

    Raises:
        ValueError: the weighted total is not finite and positive (there is nothing to share out).
    """
    weighted = {
        "valid": weights.valid * terms["valid"],
        "hole": weights.hole * terms["hole"],
        "perceptual": weights.perceptual * terms["perceptual"],
        "style": weights.style * (terms["style_out"] + terms["style_comp"]),
        "tv": weights.tv * terms["tv"],
    }
    total = sum(weighted.values())
    if not 0 < total < math.inf:
        raise ValueError(f"the weighted loss is {total}; shares need a finite, positive total")
    return {name: value / total for name, value in weighted.items()}


def _percent(share: float) -> str:
    """A share as a percentage: 3 decimals, rounded down (99.99997 % reads 99.999, never 100.000), or 2
    significant digits under 1 %."""
    return f"{math.floor(100_000 * share) / 1000:.3f} %" if share >= 0.01 else f"{100 * share:.2g} %"


def format_shares(shares: Mapping[str, float]) -> str:
    """One line, e.g. ``valid 0.019 %, hole 0.032 %, perceptual 0.14 %, style 99.807 %, tv 1.2e-06 %``."""
    return ", ".join(f"{name} {_percent(share)}" for name, share in shares.items())


def dominant_term_warning(shares: Mapping[str, float], *, limit: float = DOMINANT_SHARE) -> str | None:
    """One line naming the term above ``limit`` of the total and the likely cause, or None.

    A term that dwarfs all others means the pixel (or feature) terms no longer train the model. The
    usual cause is the scale of the VGG16 file: the features enter the perceptual terms linearly and the
    style terms squared, while the pixel terms stay in [0, 1] units.
    """
    name, share = max(shares.items(), key=lambda item: item[1])
    if share <= limit:
        return None
    if name in ("perceptual", "style"):
        cause = (
            "the VGG16 activations are likely too large: the paper's weights assume torchvision's "
            "vgg16-397923af.pth (ImageNet-normalized input), and a VGG16 converted from Caffe (0-255 units) "
            "makes the perceptual terms about 58x and the style terms about 3,300x larger"
        )
    else:
        cause = (
            "the VGG16 activations are likely too small (or the VGG16 is untrained): the paper's weights "
            "assume torchvision's vgg16-397923af.pth (ImageNet-normalized input)"
        )
    dwarfed = "so the other terms barely train the model"
    remedy = "pass --vgg-weights with torchvision's vgg16-397923af.pth (or a VGG16 in its units)"
    return f"the {name} term is {_percent(share)} of the loss, {dwarfed}; {cause}; {remedy}"


NOTE_SHARE = 0.9
"""A term above this share of the first loss (and not above :data:`DOMINANT_SHARE`) gets a word of why."""


def dominant_term_note(shares: Mapping[str, float]) -> str | None:
    """One line on why the style term is nearly the whole first loss of an untrained U-Net, or None.

    With torchvision's VGG16 this is the normal start (see :data:`DOMINANT_SHARE`): the untrained output
    spans far beyond [0, 1], which the Gram matrices weigh squared at the paper's weight 120. A newcomer
    reading ``style 99.86 %`` should know it is expected and nothing needs changing.
    """
    name, share = max(shares.items(), key=lambda item: item[1])
    if share <= NOTE_SHARE or share > DOMINANT_SHARE:
        return None
    if name != "style":
        return f"the {name} term is {_percent(share)} of the first loss"
    return (
        f"style is {_percent(share)} of the first loss, as expected: an untrained U-Net's output spans far "
        "beyond [0, 1] and the paper's weight 120 on Gram matrices magnifies it; it shrinks as the output "
        f"learns the photos' range (above {_percent(DOMINANT_SHARE)} would mean a VGG16 in other units)"
    )


class InpaintingLoss(nn.Module):
    """total = valid + 6·hole + 0.05·perceptual + 120·(style_out + style_comp) + 0.1·tv; weights configurable.

    ``vgg_features`` maps (B, 3, H, W) images in [0, 1] to a sequence of feature maps (the paper: VGG16
    pool1-3, see :func:`~pconv.pconv_model.vgg.load_vgg16_features`, which also applies the ImageNet
    normalisation). It is frozen here (no gradients to its parameters, kept in eval mode) while gradients
    flow through it to the output image.

    Shape:
        forward: output I_out, target I_gt (B, 3, H, W) float in [0, 1]; mask (B, 1, H, W) float {0, 1},
            1 = valid. Returns float32 scalars under keys
            ``valid, hole, perceptual, style_out, style_comp, tv, total``.
    """

    def __init__(self, vgg_features: nn.Module, *, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        self.vgg = vgg_features.requires_grad_(False).eval()
        self.weights = weights

    def train(self, mode: bool = True) -> InpaintingLoss:
        super().train(mode)
        self.vgg.eval()
        return self

    def forward(self, output: Tensor, target: Tensor, mask: Tensor) -> dict[str, Tensor]:
        if output.dim() != 4 or output.shape != target.shape:
            raise ValueError(
                f"output and target must have the same (B, C, H, W) shape, got "
                f"{tuple(output.shape)} and {tuple(target.shape)}"
            )
        b, _, h, w = output.shape
        if tuple(mask.shape) != (b, 1, h, w):
            raise ValueError(f"mask must have shape ({b}, 1, {h}, {w}), got {tuple(mask.shape)}")
        output, target, mask = output.float(), target.float(), mask.detach().float()
        hole = 1.0 - mask
        comp = composite(output, target, mask)

        terms = {
            "valid": _l1(mask * output, mask * target),
            "hole": _l1(hole * output, hole * target),
        }
        with feature_precision(output.device.type):
            with torch.no_grad():
                feats_gt = list(self.vgg(target))
            feats = self.vgg(torch.cat([output, comp], dim=0))
        feats_out, feats_comp = zip(*(f.float().split(b, dim=0) for f in feats), strict=True)
        terms["perceptual"] = self._sum_l1(feats_out, feats_gt) + self._sum_l1(feats_comp, feats_gt)
        grams_gt = [gram_matrix(f) for f in feats_gt]
        terms["style_out"] = self._sum_l1([gram_matrix(f) for f in feats_out], grams_gt)
        terms["style_comp"] = self._sum_l1([gram_matrix(f) for f in feats_comp], grams_gt)
        terms["tv"] = total_variation(comp, hole_border_region(mask))

        wt = self.weights
        terms["total"] = (
            wt.valid * terms["valid"]
            + wt.hole * terms["hole"]
            + wt.perceptual * terms["perceptual"]
            + wt.style * (terms["style_out"] + terms["style_comp"])
            + wt.tv * terms["tv"]
        )
        return terms

    @staticmethod
    def _sum_l1(a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
        if len(a) != len(b) or not a:
            raise ValueError(f"feature extractor gave {len(a)} and {len(b)} maps; expected equal, non-zero")
        return sum(
            (_l1(x.float(), y.float()) for x, y in zip(a, b, strict=True)),
            torch.zeros((), device=a[0].device),
        )
