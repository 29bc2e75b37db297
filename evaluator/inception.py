"""Inception Score and FID from an Inception-v3 whose weights come from a file, never from the network.

The network is torchvision's ``inception_v3`` with a torchvision-format state dict: either a path the user
gives, or the file torchvision itself caches (``$TORCH_HOME/hub/checkpoints/inception_v3_google-*.pth``)
when a user once ran ``inception_v3(weights="DEFAULT")``. Nothing here downloads. Without weights the
evaluator leaves the IS and FID columns out and says so in the report.

Numbers are torchvision-Inception numbers: they rank methods consistently but are not equal to those of
the TensorFlow Inception graph (``pytorch-fid``/``torch-fidelity`` use a port of that graph), so compare
IS and FID only between runs of this tool.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from pconv.core.weights import IMAGENET_MEAN, IMAGENET_STD, hub_checkpoint_path, load_torch_file
from torch import Tensor, nn
from torchvision.models import Inception_V3_Weights, inception_v3

__all__ = [
    "FeatureExtractor",
    "InceptionExtractor",
    "cached_inception_weights",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
]

IS_SPLITS = 10
IS_MIN_SPLIT_SIZE = 50
"""Fewest images per split for an IS worth printing: with one image per split IS is exactly 1 whatever the
classifier says, and small splits bias it down. The paper's cells (1000 pairs each) give splits of 100."""


class FeatureExtractor(Protocol):
    """Anything that maps images ``(B, 3, H, W)`` in [0, 1] to ``(features (B, D), logits (B, K))``.

    The evaluator takes one of these, so tests can inject a tiny classifier instead of Inception-v3.
    """

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


class InceptionExtractor(nn.Module):
    """torchvision Inception-v3 returning the 2048-d pool features (FID) and the 1000 logits (IS).

    Input: ``(B, 3, H, W)`` float RGB in [0, 1], any size; it is resized to 299×299 (bilinear, no
    antialiasing) and normalized with ImageNet's mean and std, which is what torchvision's weights expect.
    """

    def __init__(self, *, weights: str | os.PathLike[str]) -> None:
        super().__init__()
        path = Path(weights)
        state = load_torch_file(path, what="Inception-v3 weights file")
        if not isinstance(state, Mapping):
            raise ValueError(f"{path}: holds a {type(state).__name__}, not an inception_v3 state dict")
        state = {key: value for key, value in state.items() if not key.startswith("AuxLogits.")}
        net = inception_v3(weights=None, aux_logits=False, transform_input=True, init_weights=False)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path}: not a torchvision inception_v3 state dict "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        self.fc = net.fc
        net.fc = nn.Identity()
        self.net = net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = F.interpolate(images.float(), size=(299, 299), mode="bilinear", align_corners=False)
        features = self.net((x - self.mean) / self.std)
        return features, self.fc(features)


def cached_inception_weights() -> Path | None:
    """torchvision's cached ``inception_v3`` weights file, if a previous download left one; else None."""
    path = hub_checkpoint_path(Inception_V3_Weights.IMAGENET1K_V1.url)
    return path if path.is_file() else None


def inception_score(
    probabilities: np.ndarray, *, splits: int = IS_SPLITS, min_split_size: int = 1
) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): mean and std over splits of exp(E_x KL(p(y|x) ‖ p(y))).

    ``probabilities``: ``(N, K)`` class probabilities (rows sum to 1), N >= ``splits · min_split_size``.
    The rows are cut into ``splits`` consecutive near-equal parts (``numpy.array_split``; none is dropped),
    p(y) is each part's mean. A classifier that always predicts the same distribution scores exactly 1.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"inception score needs (N, K) probabilities with N >= 1, got shape {probs.shape}")
    if len(probs) < splits * min_split_size:
        raise ValueError(
            f"inception score of {splits} splits of at least {min_split_size} images needs "
            f"{splits * min_split_size} images, got {len(probs)}"
        )
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)
        log_ratio = np.log(np.where(part > 0, part, 1)) - np.log(np.where(marginal > 0, marginal, 1))
        kl = np.where(part > 0, part * log_ratio, 0).sum(1)  # p(y|x) > 0 implies p(y) > 0
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((Σ1 Σ2)^½) of two symmetric positive semi-definite matrices.

    Σ1 Σ2 has the eigenvalues of the symmetric PSD matrix Σ1^½ Σ2 Σ1^½, so two symmetric
    eigendecompositions give the trace exactly: at 2048 dimensions seconds instead of the minute a general
    matrix square root (``scipy.linalg.sqrtm``) takes, and no ridge is needed when the product is singular.
    """
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(root @ sigma2 @ root), 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½), the Fréchet distance of two Gaussians (Heusel et al. 2017).

    ``sigma1``, ``sigma2``: covariance matrices (symmetric PSD); the trace of the root comes from
    :func:`_trace_sqrt_product`, exact where the reference code's ``sqrtm`` is approximate.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"Fréchet distance needs equal-sized means and covariances, got {mu1.shape}, "
            f"{mu2.shape}, {sigma1.shape}, {sigma2.shape}"
        )
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * _trace_sqrt_product(sigma1, sigma2))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID of two feature sets ``(N, D)`` and ``(M, D)``: their means and sample covariances (ddof 1).

    Needs N, M >= 2. With fewer samples than dimensions (N < 2048 for Inception) the covariances are
    singular and FID is biased upwards; compare such values only at equal sample counts. In that case the
    trace of the root is the nuclear norm of A·Bᵀ / √((N−1)(M−1)) (A, B the centred features: the
    singular values of A·Bᵀ are the square roots of the eigenvalues of AᵀA·BᵀB), exact and cheap.
    """
    a, b = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"FID needs two (N >= 2, D) feature sets of equal D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    mean_a, mean_b = a.mean(0), b.mean(0)
    centred_a, centred_b = a - mean_a, b - mean_b
    scale = (len(a) - 1) * (len(b) - 1)
    root_trace = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / np.sqrt(scale)
    diff = mean_a - mean_b
    return float(
        diff @ diff
        + (centred_a**2).sum() / (len(a) - 1)
        + (centred_b**2).sum() / (len(b) - 1)
        - 2 * root_trace
    )
