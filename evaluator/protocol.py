"""The protocol of a report: everything that must match for two reports' numbers to sit side by side.

``results.json`` keeps it under ``protocol``: the benchmark (its manifest's SHA-256: every mask's bytes),
the photos (the sorted list's SHA-256 and count), the pair count and seed, resolution and crop, the subset
(``--max-pairs``) if any, and per metric its implementation, library version, settings and the network
weights' SHA-256. ``pconv eval compare`` (pconv.evaluator.compare) reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pconv.evaluator.scores import DistributionMetric, PairMetric

__all__ = ["CROP", "GLOBAL_FIELDS", "protocol_record"]

CROP = "shorter side resized to the resolution (PIL bicubic), centre square"
GLOBAL_FIELDS = ("photos", "benchmark", "seed", "resolution", "subset")
"""The protocol entries that concern every metric, in the order differences are named."""


def protocol_record(
    document: Mapping[str, Any],
    count: int,
    pair_metrics: Sequence[type[PairMetric] | PairMetric],
    distribution: Sequence[DistributionMetric],
) -> dict[str, Any]:
    """The protocol of the evaluation whose ``config.json`` is ``document`` and that has ``count`` pairs."""
    metrics: dict[str, Any] = {}
    for metric in pair_metrics:
        key = metric.columns[0].key  # LPIPS's record (network, weights) is the run's, kept in config.json
        metrics[key] = dict(document.get("lpips") or {}) if key == "lpips" else dict(metric.record)
    for metric in distribution:
        for column in metric.columns:
            metrics[column.key] = {**metric.record, "network": document.get("inception") or {}}
    return {
        "photos": {
            "images": document["images"],
            "count": document["photos"],
            "sha256": document.get("photos_sha256"),
        },
        "benchmark": {"masks": document["masks"], "sha256": document.get("benchmark_sha256")},
        "pairs": count,
        "seed": document["seed"],
        "resolution": {"size": document["size"], "crop": CROP},
        "subset": document.get("subset"),
        "metrics": metrics,
    }
