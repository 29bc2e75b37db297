"""The scoring networks of an evaluation, loaded before anything is written: Inception and LPIPS.

Each comes from a file given on the command line, its library's cache, or an opted-in download
(pconv.evaluator.weights); a missing file leaves its metrics out (the report says so), a wrong one stops
the run with one line naming it. ``records`` is what the protocol keeps of each: network, library and
version, weights file name and SHA-256 (None when the network is not used).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pconv.evaluator.inception import INCEPTION, INCEPTION_NAME, FeatureExtractor, InceptionExtractor
from pconv.evaluator.scores import LPIPS, LPIPS_BACKBONES
from pconv.evaluator.weights import describe_weights, resolve_weights

__all__ = ["Networks", "load_networks"]


@dataclass(frozen=True)
class Networks:
    """``extractor``: Inception features (None: no distribution metrics); ``lpips``: the LPIPS metric or
    None; ``records``: ``{"inception": ..., "lpips": ...}`` protocol entries."""

    extractor: FeatureExtractor | None
    lpips: LPIPS | None
    records: dict[str, dict[str, Any] | None]


def load_networks(config: Any, device: torch.device, *, injected: FeatureExtractor | None = None) -> Networks:
    """Load what ``config`` (an EvalConfig) asks for; ``injected`` replaces Inception (tests)."""
    extractor: FeatureExtractor | None = injected
    inception: dict[str, Any] | None = {"network": "an injected feature extractor"} if injected else None
    if injected is None:
        path = resolve_weights(INCEPTION, config.inception_weights, download=config.download_weights)
        if path is not None:
            extractor = InceptionExtractor(weights=path).to(device)
            inception = {
                "network": INCEPTION_NAME,
                "library": f"torch-fidelity {metadata.version('torch-fidelity')}",
                **describe_weights(path),
            }
    source = LPIPS_BACKBONES.get(config.lpips_net)
    if source is None:
        raise ValueError(f"unknown LPIPS network {config.lpips_net!r}; choose vgg or alex")
    lpips_path = resolve_weights(source, config.lpips_weights, download=config.download_weights)
    lpips = (
        None if lpips_path is None else LPIPS(net=config.lpips_net, weights=Path(lpips_path), device=device)
    )
    return Networks(extractor, lpips, {"inception": inception, "lpips": lpips.record if lpips else None})
