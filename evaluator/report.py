"""The report's tables: per-pair results aggregated per group (pconv.evaluator.groups) by every metric
object (pconv.evaluator.scores), as Markdown, CSV and JSON.

Per-pair metrics (ℓ1, PSNR, SSIM, LPIPS) enter as their group's mean. Distribution metrics (IS, FID,
KID, P/U-IDS) are computed from the group's joined Inception features, and only for groups of at least
``min_pairs`` pairs: below that they are shown as "–" with a note rather than as a misleading number.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pconv.evaluator.groups import Group
from pconv.evaluator.scores import Column, DistributionMetric, FeatureGroup, PairMetric

__all__ = ["aggregate", "render_csv", "render_json", "render_table1"]

Table = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _group_result(
    records: list[Mapping[str, Any]],
    pair_metrics: Sequence[PairMetric],
    distribution: Sequence[DistributionMetric],
    features: Mapping[str, np.ndarray] | None,
    min_pairs: int,
) -> dict[str, Any]:
    result: dict[str, Any] = {"n": len(records)}
    for metric in pair_metrics:
        result.update(metric.aggregate([float(record[metric.columns[0].key]) for record in records]))
    if features is None:
        return result
    pairs = [int(record["pair"]) for record in records]
    rows = np.searchsorted(features["pairs"], pairs)
    group = FeatureGroup(
        fake=features["fake"][rows], real=features["real"][rows], logits=features["logits"][rows]
    )
    for metric in distribution:
        if len(pairs) >= min_pairs:
            result.update(metric.value(group))
        else:  # too few pairs for a number that means anything: shown as "–"
            result.update({key: None for column in metric.columns for key in (column.key, column.std) if key})
    return result


def aggregate(
    records: Mapping[str, list[Mapping[str, Any]]],
    groups: Sequence[Group],
    *,
    pair_metrics: Sequence[PairMetric],
    distribution: Sequence[DistributionMetric] = (),
    features: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    min_pairs: int = 2,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{method: {group key: {"n", metric keys ...}}}``.

    ``records``: per method, its per-pair records (``pair``, ``bin``, ``split``, ``hole_ratio`` and each
    pair metric's key), in pair order. ``features``: per method ``{"pairs", "fake", "real", "logits"}``:
    the scored pairs ascending and their rows of features, or None without Inception features (then no
    distribution metric keys).
    """
    return {
        method: {
            group.key: _group_result(
                [r for r in method_records if group.holds(r)],
                pair_metrics,
                distribution,
                None if features is None else features[method],
                min_pairs,
            )
            for group in groups
        }
        for method, method_records in records.items()
    }


def _format(value: float | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{decimals}f}"


def render_table1(
    table: Table, groups: Sequence[Group], columns: Sequence[Column], *, title: str, notes: Sequence[str]
) -> str:
    """Markdown: rows metric × method (metric groups in ``columns`` order), columns the groups."""
    methods = list(table)
    first = table[methods[0]] if methods else {}
    header = "| Metric | Method | " + " | ".join(group.key for group in groups) + " |"
    lines = [f"# {title}", "", header, "|" + "---|" * (len(groups) + 2)]
    lines.append("| n | | " + " | ".join(str(first.get(g.key, {}).get("n", 0)) for g in groups) + " |")
    for column in columns:
        if not methods or not groups or column.key not in first.get(groups[0].key, {}):
            continue
        for method in methods:
            values = []
            for group in groups:
                result = table[method][group.key]
                text = _format(result[column.key], column.decimals)
                if column.std and result.get(column.std) is not None:
                    text += f" ± {result[column.std]:.{column.decimals}f}"
                values.append(text)
            lines.append(f"| {column.label} | {method} | " + " | ".join(values) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


def render_csv(table: Table, groups: Sequence[Group], columns: Sequence[Column]) -> str:
    """Long format, a row per (method, metric, group): method, metric, grouping, group, n, value, std."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "metric", "grouping", "group", "n", "value", "std"])
    for method, results in table.items():
        for column in columns:
            for group in groups:
                result = results[group.key]
                if column.key not in result:
                    continue
                value, std = result[column.key], result.get(column.std) if column.std else None
                writer.writerow(
                    [
                        method,
                        column.key,
                        group.grouping,
                        group.key,
                        result["n"],
                        "" if value is None else repr(value),
                        "" if std is None else repr(std),
                    ]
                )
    return buffer.getvalue()


def render_json(table: Table, groups: Sequence[Group], *, meta: Mapping[str, Any]) -> str:
    """``meta`` (the protocol, versions, notes) plus the groups and the table."""
    document = dict(meta)
    document["groups"] = [
        {"key": g.key, "grouping": g.grouping, "label": g.label, "bin": g.bin, "split": g.split}
        for g in groups
    ]
    document["table"] = table
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
