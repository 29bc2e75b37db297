"""The report from what ``OUT`` holds: every shard's per-pair results joined, aggregated per group by every
metric, and written as table1.md, results.csv, results.json, plots and grids."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pconv.core import __version__
from pconv.core.errors import first_line
from pconv.core.files import atomic_write_text, read_json_object
from pconv.core.locks import locked_folder
from pconv.core.metrics import PSNR_CAP, SSIM_SETTINGS
from pconv.datasets.pairing import load_assignment
from pconv.evaluator import store
from pconv.evaluator.folder import CONFIG_NAME
from pconv.evaluator.grids import write_grids
from pconv.evaluator.groups import DEFAULT_GROUPINGS, MIN_GROUP_PAIRS, Group, groups_of
from pconv.evaluator.notes import PAIRS_NAME, report_notes
from pconv.evaluator.page import write_report_page
from pconv.evaluator.plots import write_plots
from pconv.evaluator.protocol import protocol_record
from pconv.evaluator.report import aggregate, render_csv, render_json, render_table1
from pconv.evaluator.scores import DISTRIBUTION_METRICS, LPIPS, PAIR_METRICS, DistributionMetric, PairMetric

__all__ = ["write_report"]


def _versions() -> dict[str, str]:
    from importlib import metadata

    import cv2
    import scipy
    import torchvision

    try:
        extras = {"pypatchmatch": metadata.version("pypatchmatch")}
    except metadata.PackageNotFoundError:
        extras = {}
    scoring = {name: metadata.version(name) for name in ("torch-fidelity", "lpips", "scikit-learn")}
    return {
        **extras,
        **scoring,
        "pconv-toolkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def _feature_sets(
    records: dict[tuple[str, int], dict[str, Any]], methods: Sequence[str], scored: Sequence[int]
) -> dict[str, dict[str, np.ndarray]] | None:
    """Per method ``{"pairs", "fake", "real", "logits"}``: the ``scored`` pairs (ascending) and their rows
    of features (the ground truth's are ``real``); None if any method or the ground truth lacks a pair.
    ``records``: ``store.read_features``."""
    needed = [*methods, store.REAL]
    if any("logits" not in records.get((name, pair), {}) for name in needed for pair in scored):
        return None  # missing, or class probabilities of an earlier version's torchvision Inception

    def stacked(name: str, field: str) -> np.ndarray:
        return np.stack([store.decode_array(records[(name, pair)][field]) for pair in scored])

    real, pairs = stacked(store.REAL, "features"), np.asarray(scored)
    return {
        name: {
            "pairs": pairs,
            "fake": stacked(name, "features"),
            "real": real,
            "logits": stacked(name, "logits"),
        }
        for name in methods
    }


def write_report(out: Path, *, progress: bool = True) -> str:
    """Join every shard's per-pair results in ``out`` into table1.md, results.csv, results.json and grids.

    Raises ValueError naming the first incomplete method when some pairs have not been scored yet.
    Returns the Markdown table.
    """
    out = Path(out)
    config_path = out / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{out}: not an evaluation folder (no {CONFIG_NAME}); run `pconv eval` first")
    with locked_folder(out, name=".pconv-report.lock"):
        return _write_report(out, config_path, progress=progress)


def _bins(value: list[Any], config_path: Path) -> list[tuple[int, str]]:
    """config.json's ``bins``: ``[index, label]`` pairs; anything else is one line naming the file."""
    if not all(
        isinstance(item, list) and len(item) == 2 and type(item[0]) is int and isinstance(item[1], str)
        for item in value
    ):
        raise ValueError(f"{config_path}: 'bins' should be a list of [index, label] pairs")
    return [(index, label) for index, label in value]


@dataclass(frozen=True)
class _Results:
    """What a report is made of: ``config.json``, the scored pairs, each method's per-pair records (in
    pair order), the pair metrics every record has, the bins, and the Inception features (None: the
    distribution metrics are left out; ``partial_features``: because some pair lacks them)."""

    document: dict[str, Any]
    scored: list[int]
    records: dict[str, list[dict[str, Any]]]
    metrics: list[PairMetric]
    bins: list[tuple[int, str]]
    features: dict[str, dict[str, np.ndarray]] | None
    partial_features: bool

    @property
    def distribution(self) -> tuple[DistributionMetric, ...]:
        return tuple(DISTRIBUTION_METRICS) if self.features is not None else ()


def _write_report(out: Path, config_path: Path, *, progress: bool) -> str:
    """:func:`write_report` once the report is locked: load, aggregate per group, write every file."""
    results = _load_results(out, config_path)
    groups, table = _aggregate(out, results)
    return _record_report(out, results, groups, table, progress=progress)


def _load_results(out: Path, config_path: Path) -> _Results:
    """Everything the shards stored, checked: a missing pair or a damaged config.json is one line."""
    fields = {"methods": list, "bins": list, "images": str, "masks": str, "seed": int, "grid_pairs": int}
    document = read_json_object(config_path, required={**fields, "size": int, "photos": int})
    pairs, _ = load_assignment(out / PAIRS_NAME)
    scored = [int(pair) for pair in document.get("subset_pairs") or range(len(pairs))]
    records = _complete_records(out, document["methods"], scored)
    every = [record for method_records in records.values() for record in method_records]
    stored_features = store.read_features(out)
    features = _feature_sets(stored_features, document["methods"], scored)
    return _Results(
        document=document,
        scored=scored,
        records=records,
        metrics=[m for m in PAIR_METRICS if all(m.columns[0].key in r for r in every)],
        bins=_bins(document["bins"], config_path),
        features=features,
        partial_features=features is None and bool(stored_features),
    )


def _aggregate(out: Path, results: _Results) -> tuple[list[Group], dict[str, dict[str, dict[str, Any]]]]:
    """The report's columns and every metric of every method in each."""
    document = results.document
    every = [record for method_records in results.records.values() for record in method_records]
    try:
        groups = groups_of(
            document.get("groupings", DEFAULT_GROUPINGS),
            results.bins,
            [float(r["hole_ratio"]) for r in every],
        )
        table = aggregate(
            results.records,
            groups,
            pair_metrics=results.metrics,
            distribution=results.distribution,
            features=results.features,
            min_pairs=int(document.get("min_group_pairs", MIN_GROUP_PAIRS)),
        )
    except (KeyError, TypeError, ValueError) as error:  # a per-pair record without bin, split or a metric
        raise ValueError(
            f"{out / store.PER_PAIR_DIR}: a record is not a pconv eval result ({type(error).__name__}: "
            f"{first_line(error)})"
        ) from None
    return groups, table


def _record_report(
    out: Path,
    results: _Results,
    groups: list[Group],
    table: dict[str, dict[str, dict[str, Any]]],
    *,
    progress: bool,
) -> str:
    """Write table1.md, results.csv, results.json, the plots, the grids and the page; the Markdown table."""
    document, count, metrics = results.document, len(results.scored), results.metrics
    notes = report_notes(
        document,
        count,
        results.features is not None,
        partial_features=results.partial_features,
        lpips=LPIPS in metrics,
    )
    title = (
        f"Table 1: {document['images']} × {document['masks']} ({_pair_count(document, count)}, "
        f"seed {document['seed']})"
    )
    columns = [column for metric in [*metrics, *DISTRIBUTION_METRICS] for column in metric.columns]
    markdown = render_table1(table, groups, columns, title=title, notes=notes)
    meta = {
        "config": document,
        "versions": _versions(),
        "notes": notes,
        "psnr_cap_db": PSNR_CAP,
        "ssim_settings": vars(SSIM_SETTINGS),
        "inception": results.features is not None,
        "protocol": protocol_record(document, count, metrics, results.distribution),
    }
    atomic_write_text(out / "results.json", render_json(table, groups, meta=meta))
    atomic_write_text(out / "results.csv", render_csv(table, groups, columns))
    atomic_write_text(out / "table1.md", markdown)
    write_plots(out, table, groups, columns)
    write_grids(
        out,
        results.records,
        document["methods"],
        bins=results.bins,
        per_cell=document["grid_pairs"],
        progress=progress,
    )
    write_report_page(out)
    return markdown


def _pair_count(document: dict[str, Any], count: int) -> str:
    subset = document.get("subset")
    return f"{count} pairs" if not subset else f"a subset of {count} of {subset['of']} pairs"


def _complete_records(
    out: Path, methods: Sequence[str], scored: Sequence[int]
) -> dict[str, list[dict[str, Any]]]:
    """Every method's records of the ``scored`` pairs, in order; ValueError names the first incomplete one."""
    done = store.read_metrics(out)
    records: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        lacking = [pair for pair in scored if (method, pair) not in done]
        if lacking:
            raise ValueError(
                f"{out}: method {method} lacks {len(lacking)} of {len(scored)} pairs (first: "
                f"pair {lacking[0]}); run the missing shards before merging"
            )
        records[method] = [done[(method, pair)] for pair in scored]
    return records
