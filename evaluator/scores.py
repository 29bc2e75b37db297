"""Every score of the report as an object: a per-pair score with a group mean, or a group-level score.

As in LaMa's evaluator, a metric either scores each pair (``score(filled, target)`` → one value per pair,
stored per pair, so that resumed and sharded runs join them) and takes the group's mean, or needs the whole
group's Inception features (``value(group)``: FID, IS, KID, P/U-IDS), which are stored per pair and
joined before any of these is computed, so shards merge features, never per-shard scores. Adding a metric
is one class here and one line in the registry (:func:`pair_metrics`, :data:`DISTRIBUTION_METRICS`).

``record`` is what the protocol keeps of each (implementation, settings) so that two reports are
compared only where they computed a score the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import Tensor
from torchvision.models import AlexNet_Weights, VGG16_Weights

from pconv.core.metrics import PSNR_CAP, SSIM_SETTINGS, l1_percent, psnr, ssim
from pconv.core.weights import load_torch_file
from pconv.evaluator.frechet import fid_from_features
from pconv.evaluator.ids import SVM_SETTINGS, discriminative_scores
from pconv.evaluator.weights import WeightsFile, describe_weights

__all__ = [
    "DISTRIBUTION_METRICS",
    "FID",
    "IDS",
    "KID",
    "L1",
    "LPIPS",
    "LPIPS_BACKBONES",
    "PAIR_METRICS",
    "PSNR",
    "SSIM",
    "Column",
    "DistributionMetric",
    "FeatureGroup",
    "InceptionScore",
    "MeanOfPairs",
    "PairMetric",
    "pair_metrics",
]

FIDELITY_SEED = 2020
"""torch-fidelity's default ``rng_seed``: IS shuffles and KID draws its subsets with it."""


@dataclass(frozen=True)
class Column:
    """A row group of the table: ``key`` in results, ``label`` shown, ``std`` the key of its spread."""

    key: str
    label: str
    decimals: int
    std: str | None = None


@dataclass(frozen=True)
class FeatureGroup:
    """One group's Inception outputs in pair order: ``fake`` and ``real`` pool features ``(N, D)`` of the
    composites and ground truths, ``logits`` ``(N, K)`` of the composites."""

    fake: np.ndarray
    real: np.ndarray
    logits: np.ndarray


class PairMetric(Protocol):
    columns: tuple[Column, ...]
    record: dict[str, Any]

    def score(self, filled: Tensor, target: Tensor) -> Tensor:
        """One value per pair, ``(B,)``."""
        ...

    def aggregate(self, values: list[float]) -> dict[str, Any]:
        """The group's entries from its pairs' values."""
        ...


class DistributionMetric(Protocol):
    columns: tuple[Column, ...]
    record: dict[str, Any]

    def value(self, group: FeatureGroup) -> dict[str, float]: ...


def _version(package: str) -> str:
    return metadata.version(package)


class MeanOfPairs:
    """Group value of a per-pair score: the mean of the pairs' values."""

    columns: tuple[Column, ...]

    @classmethod
    def aggregate(cls, values: list[float]) -> dict[str, Any]:
        return {cls.columns[0].key: float(np.mean(values)) if values else None}


class L1(MeanOfPairs):
    columns = (Column("l1", "ℓ1 (%)", 2),)
    record: ClassVar[dict[str, Any]] = {
        "implementation": "pconv.core.metrics.l1_percent",
        "definition": "mean |x − y| × 100, RGB in [0, 1]",
    }

    def score(self, filled: Tensor, target: Tensor) -> Tensor:
        return l1_percent(filled, target)


class PSNR(MeanOfPairs):
    """PSNR with +∞ (identical images) counted as :data:`PSNR_CAP`; the group counts such pairs."""

    columns = (Column("psnr", "PSNR (dB)", 2),)
    record: ClassVar[dict[str, Any]] = {
        "implementation": "pconv.core.metrics.psnr",
        "data_range": 1.0,
        "cap_db": PSNR_CAP,
    }

    def score(self, filled: Tensor, target: Tensor) -> Tensor:
        return psnr(filled, target).clamp(max=PSNR_CAP)

    @classmethod
    def aggregate(cls, values: list[float]) -> dict[str, Any]:
        capped = [min(value, PSNR_CAP) for value in values]
        return {**super().aggregate(capped), "psnr_capped": sum(value >= PSNR_CAP for value in capped)}


class SSIM(MeanOfPairs):
    columns = (Column("ssim", "SSIM", 3),)
    record: ClassVar[dict[str, Any]] = {"implementation": "pconv.core.metrics.ssim", **vars(SSIM_SETTINGS)}

    def score(self, filled: Tensor, target: Tensor) -> Tensor:
        return ssim(filled, target)


LPIPS_BACKBONES = {
    "vgg": WeightsFile(
        "torchvision VGG16 ImageNet weights (LPIPS backbone)", VGG16_Weights.IMAGENET1K_V1.url
    ),
    "alex": WeightsFile(
        "torchvision AlexNet ImageNet weights (LPIPS backbone)", AlexNet_Weights.IMAGENET1K_V1.url
    ),
}


def _backbone_state(model: torch.nn.Module, state: Mapping[str, Any], path: Path) -> dict[str, Tensor]:
    """The package's ``sliceK.N.*`` keys filled from torchvision's ``features.N.*`` keys."""
    mapped = {}
    for key in model.state_dict():
        _, layer, name = key.split(".", 2)
        source = f"features.{layer}.{name}"
        if source not in state:
            raise ValueError(f"{path}: not a torchvision-format backbone state dict (no {source})")
        mapped[key] = state[source]
    return mapped


class LPIPS(MeanOfPairs):
    """Per-pair LPIPS of the composite against the ground truth (lower is closer); the group's mean."""

    columns = (Column("lpips", "LPIPS", 4),)

    def __init__(self, *, net: str, weights: Path, device: torch.device | str = "cpu") -> None:
        import lpips  # loads only when LPIPS is scored

        if net not in LPIPS_BACKBONES:
            raise ValueError(f"unknown LPIPS network {net!r}; choose vgg or alex")
        path = Path(weights)
        state = load_torch_file(path, what=f"LPIPS {net} backbone weights file")
        if not isinstance(state, Mapping):
            raise ValueError(f"{path}: holds a {type(state).__name__}, not a torchvision state dict")
        with warnings.catch_warnings():  # the package asks torchvision for an untrained backbone the old way
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        try:
            model.net.load_state_dict(_backbone_state(model.net, state, path))
        except RuntimeError as error:
            raise ValueError(
                f"{path}: not a torchvision {net} state dict ({str(error).splitlines()[-1][:120]})"
            ) from None
        self.net = net
        self.model = model.eval().requires_grad_(False).to(device)
        self.record = {
            "network": f"lpips {net}",
            "library": f"lpips {metadata.version('lpips')} (linear layers v0.1 from its wheel)",
            **describe_weights(path),
        }

    @torch.no_grad()
    def score(self, filled: Tensor, target: Tensor) -> Tensor:
        return self.model(filled.float(), target.float(), normalize=True).flatten()


PAIR_METRICS: tuple[type[MeanOfPairs], ...] = (L1, PSNR, SSIM, LPIPS)
"""The per-pair metrics in table order (LPIPS only where its network was loaded)."""


def pair_metrics(lpips: LPIPS | None = None) -> list[PairMetric]:
    """The per-pair metric objects of a run in :data:`PAIR_METRICS` order: every one that needs no network,
    and LPIPS when its network is loaded."""
    return [lpips if kind is LPIPS else kind() for kind in PAIR_METRICS if kind is not LPIPS or lpips]


class FID:
    """Fréchet distance of the group's composites' and ground truths' pool features (sample covariances)."""

    columns = (Column("fid", "FID", 2),)

    @property
    def record(self) -> dict[str, Any]:
        return {"implementation": "pconv.evaluator.frechet (equal to torch-fidelity's)", "features": "2048"}

    def value(self, group: FeatureGroup) -> dict[str, float]:
        return {"fid": fid_from_features(group.fake, group.real)}


class InceptionScore:
    """torch-fidelity's Inception Score: 10 splits of the shuffled composites' unbiased logits."""

    columns = (Column("is", "IS", 3, std="is_std"),)
    splits = 10

    @property
    def record(self) -> dict[str, Any]:
        return {
            "implementation": "torch_fidelity.metric_isc.isc_features_to_metric",
            "library": f"torch-fidelity {_version('torch-fidelity')}",
            "features": "logits_unbiased",
            "splits": self.splits,
            "shuffle_seed": FIDELITY_SEED,
        }

    def value(self, group: FeatureGroup) -> dict[str, float]:
        from torch_fidelity.metric_isc import isc_features_to_metric

        result = isc_features_to_metric(
            torch.from_numpy(np.asarray(group.logits, np.float32)), self.splits, True, FIDELITY_SEED
        )
        return {"is": result["inception_score_mean"], "is_std": result["inception_score_std"]}


class KID:
    """torch-fidelity's Kernel Inception Distance (unbiased MMD², cubic polynomial kernel) over 100 subsets
    of min(1000, N) pairs, drawn with its default seed; composites vs ground truths."""

    columns = (Column("kid", "KID", 4, std="kid_std"),)
    subsets, subset_size = 100, 1000

    @property
    def record(self) -> dict[str, Any]:
        return {
            "implementation": "torch_fidelity.metric_kid.kid_features_to_metric",
            "library": f"torch-fidelity {_version('torch-fidelity')}",
            "features": "2048",
            "subsets": self.subsets,
            "subset_size": f"min({self.subset_size}, n)",
            "kernel": "poly, degree 3, gamma 1/2048, coef0 1",
            "seed": FIDELITY_SEED,
        }

    def value(self, group: FeatureGroup) -> dict[str, float]:
        from torch_fidelity.metric_kid import kid_features_to_metric

        result = kid_features_to_metric(
            torch.from_numpy(np.asarray(group.fake, np.float32)),
            torch.from_numpy(np.asarray(group.real, np.float32)),
            kid_subsets=self.subsets,
            kid_subset_size=min(self.subset_size, len(group.fake)),
            kid_kernel="poly",
            kid_kernel_poly_degree=3,
            kid_kernel_poly_gamma=None,
            kid_kernel_poly_coef0=1,
            rng_seed=FIDELITY_SEED,
            verbose=False,
        )
        return {
            "kid": result["kernel_inception_distance_mean"],
            "kid_std": result["kernel_inception_distance_std"],
        }


class IDS:
    """P-IDS and U-IDS (pconv.evaluator.ids), from one linear SVM per group."""

    columns = (Column("pids", "P-IDS", 3), Column("uids", "U-IDS", 3))

    @property
    def record(self) -> dict[str, Any]:
        return {
            "implementation": "pconv.evaluator.ids (CoModGAN's definition)",
            "scikit-learn": _version("scikit-learn"),
            "svm": SVM_SETTINGS,
            "features": "2048",
        }

    def value(self, group: FeatureGroup) -> dict[str, float]:
        pids, uids = discriminative_scores(group.real, group.fake)
        return {"pids": pids, "uids": uids}


DISTRIBUTION_METRICS: tuple[DistributionMetric, ...] = (InceptionScore(), FID(), KID(), IDS())
"""The scores of a group's feature distribution, in table order."""
