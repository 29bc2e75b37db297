"""The paper's inpainting loss (Liu et al. 2018, Eq. 3-8): pixel, perceptual, style and total variation terms.

Normalisation, as in the paper: every pixel term is divided by the number of elements of the image
(N_Igt = C·H·W), averaged over the batch, i.e. the mean over all B·C·H·W elements of the masked
difference. L_hole is *not* divided by the hole area: the paper's weights (valid 1, hole 6) were tuned
with this normalisation, so a small hole contributes little, and the balance does not jump with hole size.
Perceptual terms are divided by the element count of each feature map, style terms by C_p² (the mean
over the Gram entries), TV by C·H·W.

Images are RGB in [0, 1]; mask (B, 1, H, W) float {0, 1}, 1 = valid. I_comp = M⊙I_gt + (1−M)⊙I_out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pconv.core.masks import composite
from torch import Tensor, nn

__all__ = ["InpaintingLoss", "LossWeights", "gram_matrix", "hole_border_region", "total_variation"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the total loss; defaults are the paper's Eq. 7."""

    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1


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
