"""The standard Inception-v3 for FID, IS, KID and P/U-IDS: torch-fidelity's port of the TensorFlow graph.

Papers report these scores from the 2015 TensorFlow Inception graph (the FID paper's TTUR code), ported to
PyTorch by pytorch-fid, torch-fidelity and clean-fid; torchvision's Inception-v3 is another network whose
scores differ. torch-fidelity's ``inception-v3-compat`` reproduces the graph including its resize
(TensorFlow 1.x bilinear to 299², on the 8-bit image) and gives the 2048-d pool features (FID, KID,
P/U-IDS) and the 1008 logits without bias (``logits_unbiased``, what it uses for IS). Composites are
rounded to 8 bits first, as a PNG of them would be, so scoring a folder of saved composites with
torch-fidelity itself gives the same numbers.

Weights: torch-fidelity's file ``weights-inception-2015-12-05-6726825d.pth`` (pconv.evaluator.weights
finds it). It is read once, checked by the safe unpickler, and handed to the library from memory.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

from pconv.core.weights import load_torch_file
from pconv.evaluator.weights import WeightsFile

__all__ = ["INCEPTION", "INCEPTION_NAME", "FeatureExtractor", "InceptionExtractor", "quantize"]

INCEPTION = WeightsFile("torch-fidelity Inception-v3 weights", URL_INCEPTION_V3)
INCEPTION_NAME = "inception-v3-compat"
"""torch-fidelity's name for this feature extractor (what its ``calculate_metrics`` is told to use)."""
_LAYERS = ["2048", "logits_unbiased"]


class FeatureExtractor(Protocol):
    """Anything that maps images ``(B, 3, H, W)`` in [0, 1] to ``(features (B, D), logits (B, K))``.

    The evaluator takes one of these, so tests can inject a tiny classifier instead of Inception-v3.
    """

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


def quantize(images: Tensor) -> Tensor:
    """``(B, 3, H, W)`` float in [0, 1] → uint8, rounded as ``core.masks.image_to_uint8`` writes PNGs."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


class InceptionExtractor(nn.Module):
    """torch-fidelity's TF-ported Inception-v3: 2048-d pool features and 1008 unbiased logits per image."""

    def __init__(self, *, weights: str | os.PathLike[str]) -> None:
        super().__init__()
        path = Path(weights)
        data = path.read_bytes() if path.is_file() else b""
        state = load_torch_file(path, what="Inception-v3 weights file")  # safe unpickler: nothing runs
        if not isinstance(state, Mapping):
            raise ValueError(
                f"{path}: holds a {type(state).__name__}, not torch-fidelity's Inception-v3 weights"
            )
        try:
            self.net = FeatureExtractorInceptionV3(
                INCEPTION_NAME, _LAYERS, feature_extractor_weights_path=io.BytesIO(data)
            )
        except (RuntimeError, KeyError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(
                f"{path}: not torch-fidelity's Inception-v3 weights ({reason[:120]}); give the file "
                f"{Path(INCEPTION.url).name}"
            ) from None
        self.eval()

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = self.net(quantize(images))
        return features, logits
