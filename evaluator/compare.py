"""``pconv eval compare``: several reports side by side, with every protocol difference named.

Columns are (report, method); rows metric × group, for the groups all reports share. The first report is
the reference: a report whose photos, benchmark, seed, resolution or subset differ from it has its
columns marked ``≠`` and the differences listed, and a metric computed another way (implementation,
library version, settings or weights) is marked ``≠`` in that report's cells, so nothing incomparable is
mixed silently.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pconv.evaluator.protocol import GLOBAL_FIELDS
from pconv.evaluator.scores import DISTRIBUTION_METRICS, PAIR_METRICS, Column

__all__ = ["Comparison", "compare_reports", "load_report"]

_COLUMNS: list[Column] = [c for m in [*PAIR_METRICS, *DISTRIBUTION_METRICS] for c in m.columns]
MARK = "≠"


@dataclass(frozen=True)
class _Report:
    name: str
    document: dict[str, Any]

    @property
    def protocol(self) -> dict[str, Any]:
        return self.document["protocol"]


def load_report(path: Path) -> dict[str, Any]:
    """``results.json`` of an evaluation folder (or the file itself); ValueError if it has no protocol."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{path}: no results.json (not an evaluation folder)")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file}: not a readable report ({type(error).__name__})") from None
    if not isinstance(document, dict) or "protocol" not in document or "table" not in document:
        raise ValueError(
            f"{file}: a report without a protocol record; re-run `pconv eval merge` on its folder"
        )
    return document


def _describe(field: str, protocol: dict[str, Any]) -> str:
    value = protocol.get(field)
    if field == "photos":
        return f"{value['count']} photos, list sha256 {str(value['sha256'])[:12]}"
    if field == "benchmark":
        return f"sha256 {str(value['sha256'])[:12]}"
    if field == "resolution":
        return f"{value['size']}²"
    return "whole benchmark" if value is None else json.dumps(value, sort_keys=True)


def _metric_difference(reference: dict[str, Any], other: dict[str, Any]) -> str | None:
    """Why a metric's record differs: ``weights`` when a network file's SHA-256 does, else the fields."""
    if reference == other:
        return None
    digests = [r.get("sha256") or (r.get("network") or {}).get("sha256") for r in (reference, other)]
    if digests[0] != digests[1]:
        return "weights"
    return ", ".join(sorted(k for k in {*reference, *other} if reference.get(k) != other.get(k)))


@dataclass(frozen=True)
class Comparison:
    """``differences``: one line per protocol difference; ``rows``: (metric, group, cells) with one cell per
    (report, method) column: (value text, comparable); ``columns``: the column names."""

    columns: list[str]
    rows: list[tuple[Column, str, list[tuple[str, bool]]]]
    differences: list[str]

    def markdown(self) -> str:
        lines = [
            "| Metric | Group | " + " | ".join(self.columns) + " |",
            "|" + "---|" * (len(self.columns) + 2),
        ]
        for column, group, cells in self.rows:
            shown = [text + ("" if comparable else f" {MARK}") for text, comparable in cells]
            lines.append(f"| {column.label} | {group} | " + " | ".join(shown) + " |")
        notes = self.differences or ["Every report has the same protocol."]
        return "\n".join([*lines, "", *(f"- {line}" for line in notes)]) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["metric", "group", "column", "value", "comparable"])
        for column, group, cells in self.rows:
            for name, (text, comparable) in zip(self.columns, cells, strict=True):
                writer.writerow([column.key, group, name, text, "yes" if comparable else "no"])
        return buffer.getvalue()


def compare_reports(paths: Sequence[Path]) -> Comparison:
    """Read the reports at ``paths`` (folders or results.json) and line them up against the first."""
    if not paths:
        raise ValueError("give at least one report to compare")
    names = [Path(p).name if Path(p).is_dir() else Path(p).parent.name for p in paths]
    if len(set(names)) != len(names):
        names = [f"R{index + 1}" for index in range(len(paths))]
    reports = [_Report(name, load_report(Path(path))) for name, path in zip(names, paths, strict=True)]
    reference = reports[0]
    differences, global_ok = [], {}
    for report in reports[1:]:
        changed = [f for f in GLOBAL_FIELDS if reference.protocol.get(f) != report.protocol.get(f)]
        global_ok[report.name] = not changed
        differences += [
            f"{field}: {report.name} has {_describe(field, report.protocol)}, {reference.name} "
            f"{_describe(field, reference.protocol)}"
            for field in changed
        ]
    metric_ok: dict[tuple[str, str], bool] = {}
    for report in reports[1:]:
        for key, record in report.protocol["metrics"].items():
            why = _metric_difference(reference.protocol["metrics"].get(key, {}), record)
            metric_ok[(report.name, key)] = why is None
            if why and key in reference.protocol["metrics"]:
                differences.append(f"{key}: {report.name} differs from {reference.name} in {why}")
    shared = [g["key"] for g in reference.document["groups"]]
    for report in reports[1:]:
        keys = {g["key"] for g in report.document["groups"]}
        shared = [key for key in shared if key in keys]
    columns = [f"{r.name}: {method}" for r in reports for method in _methods(r)]
    rows = []
    for column in _COLUMNS:
        for group in shared:
            cells = []
            for report in reports:
                for results in (report.document["table"][method] for method in _methods(report)):
                    value = results[group].get(column.key)
                    text = "" if column.key not in results[group] else _format(value, column.decimals)
                    ok = report is reference or (
                        global_ok[report.name] and metric_ok.get((report.name, column.key), True)
                    )
                    cells.append((text, ok))
            if any(text for text, _ in cells):
                rows.append((column, group, cells))
    return Comparison(columns, rows, differences)


def _methods(report: _Report) -> list[str]:
    """The report's methods in the order they were given (the table's keys are sorted)."""
    return [m for m in report.document.get("config", {}).get("methods", []) if m in report.document["table"]]


def _format(value: float | None, decimals: int) -> str:
    return "–" if value is None else f"{value:.{decimals}f}"
