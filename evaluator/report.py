"""Table 1: per-pair results aggregated per hole-ratio bin × border split, as Markdown, CSV and JSON.

Cells follow the paper: the six bins, each split into N (no hole within the border band) and B, plus an
``all`` column over every pair. Each cell holds the mean of the per-pair ℓ1 (%), PSNR and SSIM, the
Inception Score (mean ± std over ``min(10, n)`` splits of the cell's composites) and the FID between the
cell's composites and its ground-truth images.

PSNR of a pair whose composite equals the ground truth is +∞; it enters means as :data:`PSNR_CAP` dB and
each cell counts such pairs (``psnr_capped``), so one perfect pair cannot turn a mean into ∞.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pconv.core.metrics import PSNR_CAP
from pconv.evaluator.inception import IS_MIN_SPLIT_SIZE, IS_SPLITS, fid_from_features, inception_score

__all__ = [
    "METRICS",
    "Cell",
    "aggregate",
    "cells_of",
    "render_csv",
    "render_json",
    "render_table1",
]

METRICS: tuple[tuple[str, str, int], ...] = (
    ("l1", "ℓ1 (%)", 2),
    ("psnr", "PSNR (dB)", 2),
    ("ssim", "SSIM", 3),
    ("is", "IS", 3),
    ("fid", "FID", 2),
)
"""(key, row label, decimals) in the order of the table's row groups."""


@dataclass(frozen=True)
class Cell:
    """One column of Table 1: ``bin`` None and ``split`` None is the overall column."""

    bin: int | None
    label: str
    split: str | None

    @property
    def key(self) -> str:
        return "all" if self.bin is None else f"{self.label} {self.split}"

    def holds(self, record: Mapping[str, Any]) -> bool:
        return self.bin is None or (record["bin"] == self.bin and record["split"] == self.split)


def cells_of(bins: Sequence[tuple[int, str]]) -> list[Cell]:
    """The columns for bins ``[(index, label), ...]``, ascending: each bin's N, then its B; then ``all``."""
    columns = [Cell(index, label, split) for index, label in bins for split in ("N", "B")]
    return [*columns, Cell(None, "all", None)]


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _cell_result(records: list[Mapping[str, Any]], features: Mapping[str, Any] | None) -> dict[str, Any]:
    psnr = [min(float(record["psnr"]), PSNR_CAP) for record in records]
    result: dict[str, Any] = {
        "n": len(records),
        "l1": _mean([float(record["l1"]) for record in records]),
        "psnr": _mean(psnr),
        "psnr_capped": sum(value >= PSNR_CAP for value in psnr),
        "ssim": _mean([float(record["ssim"]) for record in records]),
    }
    if features is not None:
        pairs = [int(record["pair"]) for record in records]
        if len(pairs) >= IS_SPLITS * IS_MIN_SPLIT_SIZE:
            probs = np.stack([features["probs"][pair] for pair in pairs])
            result["is"], result["is_std"] = inception_score(probs, min_split_size=IS_MIN_SPLIT_SIZE)
        else:  # too few pairs for splits that mean anything: shown as "–"
            result["is"], result["is_std"] = None, None
        result["fid"] = (
            fid_from_features(
                np.stack([features["fake"][pair] for pair in pairs]),
                np.stack([features["real"][pair] for pair in pairs]),
            )
            if len(pairs) >= 2
            else None
        )
    return result


def aggregate(
    records: Mapping[str, list[Mapping[str, Any]]],
    cells: Sequence[Cell],
    *,
    features: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{method: {cell key: {"n", "l1", "psnr", "psnr_capped", "ssim"[, "is", "is_std", "fid"]}}}``.

    ``records``: per method, its per-pair records (``pair``, ``bin``, ``split``, ``l1``, ``psnr``,
    ``ssim``), in pair order. ``features``: per method ``{"probs": {pair: (K,)}, "fake": {pair: (D,)},
    "real": {pair: (D,)}}`` or None when there are no Inception features (then no IS/FID keys).
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for method, method_records in records.items():
        method_features = None if features is None else features[method]
        table[method] = {
            cell.key: _cell_result([r for r in method_records if cell.holds(r)], method_features)
            for cell in cells
        }
    return table


def _format(value: float | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{decimals}f}"


def render_table1(
    table: Mapping[str, Mapping[str, Mapping[str, Any]]],
    cells: Sequence[Cell],
    *,
    title: str,
    notes: Sequence[str],
) -> str:
    """Markdown: rows metric × method (metric groups in :data:`METRICS` order), columns the cells."""
    methods = list(table)
    first = table[methods[0]] if methods else {}
    header = "| Metric | Method | " + " | ".join(cell.key for cell in cells) + " |"
    lines = [f"# {title}", "", header, "|" + "---|" * (len(cells) + 2)]
    lines.append("| n | | " + " | ".join(str(first.get(cell.key, {}).get("n", 0)) for cell in cells) + " |")
    for key, label, decimals in METRICS:
        if not methods or key not in first.get("all", {}):
            continue
        for method in methods:
            values = []
            for cell in cells:
                result = table[method][cell.key]
                text = _format(result[key], decimals)
                if key == "is" and result.get("is_std") is not None:
                    text += f" ± {result['is_std']:.{decimals}f}"
                values.append(text)
            lines.append(f"| {label} | {method} | " + " | ".join(values) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


def render_csv(table: Mapping[str, Mapping[str, Mapping[str, Any]]], cells: Sequence[Cell]) -> str:
    """Long format, a row per (method, metric, cell): method, metric, bin, bin_label, split, n, value, std."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "metric", "bin", "bin_label", "split", "n", "value", "std"])
    for method, results in table.items():
        for key, _, _ in METRICS:
            for cell in cells:
                result = results[cell.key]
                if key not in result:
                    continue
                value = result[key]
                std = result.get("is_std") if key == "is" else None
                writer.writerow(
                    [
                        method,
                        key,
                        "" if cell.bin is None else cell.bin,
                        cell.label,
                        cell.split or "all",
                        result["n"],
                        "" if value is None else repr(value),
                        "" if std is None else repr(std),
                    ]
                )
    return buffer.getvalue()


def render_json(
    table: Mapping[str, Mapping[str, Mapping[str, Any]]], cells: Sequence[Cell], *, meta: Mapping[str, Any]
) -> str:
    """``meta`` (configuration, seeds, versions, settings, notes) plus the cells and the table."""
    document = dict(meta)
    document["cells"] = [
        {"key": cell.key, "bin": cell.bin, "label": cell.label, "split": cell.split} for cell in cells
    ]
    document["table"] = table
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
