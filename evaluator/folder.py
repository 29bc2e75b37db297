"""The evaluation folder's configuration: ``EvalConfig``, and ``OUT/config.json`` created or checked
against the run that adds to it (same pairs, same metric networks, same checkpoints), before any scoring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pconv.core.compiling import COMPILE_CHOICES
from pconv.core.output_folder import OutputFolder
from pconv.core.sharding import Shard
from pconv.evaluator import store
from pconv.evaluator.grids import GRIDS_DIR
from pconv.evaluator.groups import DEFAULT_GROUPINGS, MIN_GROUP_PAIRS, groups_of
from pconv.evaluator.methods import (
    Method,
    method_slug,
)
from pconv.evaluator.notes import PAIRS_NAME
from pconv.evaluator.page import PAGE_NAME
from pconv.evaluator.pairs import Mask, eval_pairs, keep_pairs
from pconv.evaluator.plots import PLOTS_DIR
from pconv.evaluator.subset import stratified_subset, subset_record

__all__ = ["CONFIG_NAME", "REPORT_NAMES", "EvalConfig", "eval_folder", "prepare_folder"]

CONFIG_NAME = "config.json"
REPORT_NAMES = ("table1.md", "results.csv", "results.json", PAGE_NAME)


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation; fields match ``pconv eval``'s options.

    ``images`` is a dataset spec (``datasets.parse_spec``), ``masks`` a benchmark folder, ``methods``
    method specs (``pconv.evaluator.methods``). ``inception_weights`` None looks in torch-fidelity's cache
    (and downloads with ``download_weights``), otherwise IS, FID, KID and P/U-IDS are left out.
    ``grid_pairs`` pairs per bin and split are shown in the grids. ``groupings``: the report's columns
    (pconv.evaluator.groups); distribution metrics need ``min_group_pairs`` pairs in a group.
    """

    images: str
    masks: Path
    methods: tuple[str, ...]
    out: Path
    seed: int = 0
    batch_size: int = 8
    inception_weights: Path | None = None
    grid_pairs: int = 2
    device: str = "cpu"
    skip_bad_images: bool = False
    overwrite: bool = False
    compile: str = "auto"
    max_pairs: int | None = None
    download_weights: bool = False
    lpips_net: str = "vgg"
    lpips_weights: Path | None = None
    groupings: tuple[str, ...] = DEFAULT_GROUPINGS
    min_group_pairs: int = MIN_GROUP_PAIRS

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("give at least one --method")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"a method is listed twice: {list(self.methods)}")
        if self.compile not in COMPILE_CHOICES:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {self.compile!r}")
        if self.batch_size < 1 or self.grid_pairs < 0:
            raise ValueError(
                f"batch size must be >= 1 and grid pairs >= 0, got {self.batch_size}, {self.grid_pairs}"
            )
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"--max-pairs must be >= 1, got {self.max_pairs}")
        if self.min_group_pairs < 2:
            raise ValueError(f"distribution metrics need groups of >= 2 pairs, got {self.min_group_pairs}")
        groups_of(self.groupings, [], [])  # ValueError for an unknown grouping


def _check_resumable(
    out: Path, stored: dict[str, Any], networks: dict[str, Any], fingerprints: dict[str, dict[str, Any]]
) -> None:
    """Refuse to add results of other metric networks, or of a method whose fingerprint changed (a
    checkpoint file's SHA-256), to ``out``."""
    for name, record in networks.items():
        held = stored.get(name)
        if held and record and held != record:
            raise ValueError(
                f"{out}: its {name} scores come from {_weights_text(held)}, this run's from "
                f"{_weights_text(record)}; use the same weights or another --out"
            )
    for spec, fingerprint in fingerprints.items():
        held = stored.get("fingerprints", {}).get(spec, fingerprint)
        if held != fingerprint:
            changed = ", ".join(
                sorted(key for key in {*held, *fingerprint} if held.get(key) != fingerprint.get(key))
            )
            raise ValueError(
                f"{out}: method {spec} was scored with another version of it ({changed} changed); score "
                "the new one into another --out"
            )


def _weights_text(record: dict[str, Any] | str) -> str:
    if isinstance(record, str):  # an evaluation folder of an earlier version: torchvision's Inception
        return record
    if "file" not in record:  # an injected extractor
        return str(record.get("network"))
    digest = str(record.get("sha256"))[:16]
    return f"{record.get('network', '?')} weights {record.get('file', '?')} (sha256 {digest}…)"


def _check_slugs(methods: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for spec in methods:
        other = seen.setdefault(method_slug(spec), spec)
        if other != spec:
            raise ValueError(
                f"methods {other!r} and {spec!r} would share the sample folder "
                f"{method_slug(spec)!r}; rename one of their files or folders"
            )


def eval_folder(config: EvalConfig, shard: Shard) -> OutputFolder:
    """``config.out`` as this shard writes it: its own lock (shards write one folder side by side),
    ``config.json`` saying what is scored, and every name of the report."""
    return OutputFolder(
        config.out,
        identity_name=CONFIG_NAME,
        files=(PAIRS_NAME, store.PER_PAIR_DIR, GRIDS_DIR, PLOTS_DIR, *REPORT_NAMES),
        overwrite=config.overwrite,
        lock_name=f".pconv-shard-{shard.index}-of-{shard.count}.lock",
        required={"methods": list},
    )


def _clear_for_overwrite(folder: OutputFolder) -> None:
    """Delete an earlier evaluation in the folder (``--overwrite``); refuse a folder that is not one."""
    out = folder.path
    visible = any(not entry.name.startswith(".") for entry in out.iterdir()) if out.is_dir() else False
    if not visible:  # hidden names: this run's own lock
        return
    if not ((out / CONFIG_NAME).is_file() or (out / PAIRS_NAME).is_file()):
        raise ValueError(
            f"{out} is not an evaluation folder (no {CONFIG_NAME} or {PAIRS_NAME}); --overwrite replaces "
            "only evaluations, so choose an empty or new --out"
        )
    folder.clear()


def prepare_folder(
    folder: OutputFolder,
    config: EvalConfig,
    shard: Shard,
    methods: Sequence[Method],
    networks: dict[str, Any],
) -> tuple[dict[str, Any], list[tuple[str, str]], list[Mask], list[int]]:
    """Pairs and the OUT/config.json of this evaluation, created or checked against an existing one, and the
    pairs to score (all, or the ``max_pairs`` subset); every check (photos, masks, each method's
    ``prepare`` for this shard's pairs) passes before anything is written."""
    paired = eval_pairs(config.images, config.masks, seed=config.seed, skip_bad=config.skip_bad_images)
    pairs, ordered = paired.pairs, paired.masks
    out = folder.path
    if config.overwrite:
        _clear_for_overwrite(folder)
    stored = folder.held_identity()
    fingerprints = {method.spec: method.fingerprint() for method in methods}
    if stored:
        _check_resumable(out, stored, networks, fingerprints)
    names = list(stored["methods"]) if stored else []
    names += [method for method in config.methods if method not in names]
    _check_slugs(names)
    scored = list(range(len(pairs)))
    if config.max_pairs is not None:
        scored = stratified_subset([(m.bin, m.split) for m in ordered], config.max_pairs, seed=config.seed)
    for method in methods:
        method.prepare([scored[index] for index in shard.jobs(len(scored))])
    meta = keep_pairs(out, paired, images=config.images, bench=config.masks, seed=config.seed)
    bins = sorted({(mask.bin, mask.label) for mask in ordered})
    document = {
        **meta,
        "methods": names,
        "bins": [list(b) for b in bins],
        "grid_pairs": config.grid_pairs,
        **{name: record or (stored or {}).get(name) for name, record in networks.items()},
        "groupings": list(config.groupings),
        "min_group_pairs": config.min_group_pairs,
        "fingerprints": {**(stored or {}).get("fingerprints", {}), **fingerprints},
        "method_notes": {
            **(stored or {}).get("method_notes", {}),
            **{method.spec: method.note() for method in methods},
        },
        "subset": None,
    }
    if len(scored) < len(pairs):
        record = subset_record(scored, max_pairs=config.max_pairs or 0, seed=config.seed, total=len(pairs))
        document.update(subset=record, subset_pairs=scored)
    if stored != document:
        folder.write_identity(document, indent=2)
    return document, pairs, ordered, scored
