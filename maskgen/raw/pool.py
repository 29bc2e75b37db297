"""The raw mask pool: the hand-off between mask extraction and the benchmark builder.

Layout of a pool folder ``RAW``::

    RAW/masks/NNNNNN.png    uint8, single channel, 255 = hole, at the source's resolution
    RAW/manifest.jsonl      one JSON object per mask (see RawMaskRecord)
    RAW/skipped.jsonl       one line per pair (or start) that made no mask (see SkippedPair)
    RAW/split.json          optional, written by `pconv masks split`: which sources are train / test

The manifest is the truth: a PNG without a manifest line is an unfinished leftover and is ignored.
Writers (``extract``, ``accumulate``, a merge of shards) go through :class:`PoolWriter`: each mask PNG is
renamed into place before its line is appended, and finished lists are rewritten sorted by id, so a
pool's bytes do not depend on the order its masks were made in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pconv.core.files import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    inside,
    read_json_object,
    read_jsonl,
    read_jsonl_lines,
)
from pconv.core.masks import read_mask_png

__all__ = [
    "MANIFEST_NAME",
    "MASK_DIR",
    "SKIPPED_NAME",
    "SPLIT_NAME",
    "PoolWriter",
    "RawMaskRecord",
    "RawPool",
    "SkippedPair",
    "Split",
    "finished_ids",
    "pool_digest",
    "raw_mask_path",
]

MANIFEST_NAME = "manifest.jsonl"
SKIPPED_NAME = "skipped.jsonl"
SPLIT_NAME = "split.json"
MASK_DIR = "masks"

Split = Literal["train", "test"]


@dataclass(frozen=True)
class RawMaskRecord:
    """One raw mask: where it came from and how it was made.

    ``t`` is the index of the first frame of the pair (t, t + step) in the source; ``hole_ratio`` is
    hole pixels / all pixels of the raw mask.
    """

    id: int
    file: str
    source: str
    t: int
    step: int
    method: str
    hole_ratio: float
    height: int
    width: int
    params: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawMaskRecord:
        missing = [
            name
            for name in ("id", "file", "source", "t", "hole_ratio", "height", "width")
            if name not in data
        ]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}: {json.dumps(data)[:200]}")
        ratio = float(data["hole_ratio"])
        if not 0 <= ratio <= 1:  # NaN fails too: it would sort into no bin, or silently into one
            raise ValueError(f"hole_ratio {data['hole_ratio']!r} is not a share in [0, 1]")
        return cls(
            id=int(data["id"]),
            file=str(data["file"]),
            source=str(data["source"]),
            t=int(data["t"]),
            step=int(data.get("step", 1)),
            method=str(data.get("method", "")),
            hole_ratio=ratio,
            height=int(data["height"]),
            width=int(data["width"]),
            params=dict(data.get("params", {})),
            version=str(data.get("version", "")),
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest line (every field; the writer sorts the keys)."""
        return dataclasses.asdict(self)


def raw_mask_path(mask_id: int) -> str:
    """The manifest's ``file`` of a mask id (relative to the pool folder)."""
    return f"{MASK_DIR}/{mask_id:06d}.png"


@dataclass(frozen=True)
class SkippedPair:
    """A job that made no mask, with its ``reason``: "static" (hole ratio below the minimum), "cut" (above
    the maximum: a scene cut), "short" (a union that stopped below its target) with the ``hole_ratio``
    reached; or "bad" (its source broke) with the ``error``."""

    id: int
    source: str
    t: int
    reason: str
    hole_ratio: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The skipped line: the fields that apply to its reason."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


def finished_ids(raw: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The manifest and skipped lines already in ``raw`` (missing files count as empty)."""
    lists = []
    for name in (MANIFEST_NAME, SKIPPED_NAME):
        path = Path(raw) / name
        lists.append(read_jsonl(path) if path.is_file() else [])
    return lists[0], lists[1]


def _jsonl_text(lines: list[dict[str, Any]]) -> str:
    """JSON lines sorted by id, formatted as :func:`~pconv.core.files.append_jsonl` writes them."""
    ordered = sorted(lines, key=lambda line: line["id"])
    return "".join(json.dumps(line, sort_keys=True) + "\n" for line in ordered)


class PoolWriter:
    """The one way masks enter a pool folder ``root`` (which its caller holds locked)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def tidy(self) -> set[int]:
        """Rewrite both lists sorted (dropping a line an interruption cut short); the ids already done."""
        manifest, skipped = finished_ids(self.root)
        self.rewrite(manifest, skipped)
        return {line["id"] for line in manifest} | {line["id"] for line in skipped}

    def write_png(self, mask_id: int, png: bytes) -> None:
        """Rename a mask's PNG into place (workers may do this; its line follows from the writer)."""
        atomic_write_bytes(self.root / raw_mask_path(mask_id), png)

    def add_mask(self, record: RawMaskRecord, png: bytes | None = None) -> None:
        """Append a mask's manifest line, after renaming its PNG into place when given here."""
        if png is not None:
            self.write_png(record.id, png)
        append_jsonl(self.root / MANIFEST_NAME, record.to_json())

    def add_skipped(self, skipped: SkippedPair) -> None:
        """Append a skipped line."""
        append_jsonl(self.root / SKIPPED_NAME, skipped.to_json())

    def rewrite(self, manifest: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> None:
        """Write both lists sorted by id, atomically: a finished pool's bytes whatever the order of work."""
        atomic_write_text(self.root / MANIFEST_NAME, _jsonl_text(manifest))
        atomic_write_text(self.root / SKIPPED_NAME, _jsonl_text(skipped))


class RawPool:
    """Read access to a raw mask pool folder; raises a one-line ValueError for anything that is not one."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such raw mask pool folder")
        manifest = self.root / MANIFEST_NAME
        if not manifest.is_file():
            raise ValueError(
                f"{self.root}: not a raw mask pool (no {MANIFEST_NAME}; make one with `pconv masks extract`)"
            )
        records = []
        for number, item in read_jsonl_lines(manifest):
            try:
                records.append(RawMaskRecord.from_json(item))
            except (TypeError, ValueError, OverflowError) as error:  # OverflowError: int(Infinity)
                raise ValueError(f"{manifest}:{number}: {error}") from None
        if not records:
            raise ValueError(f"{self.root}: the raw mask pool is empty ({MANIFEST_NAME} has no masks)")
        self.records: list[RawMaskRecord] = sorted(records, key=lambda record: record.id)
        repeated = next((a.id for a, b in itertools.pairwise(self.records) if a.id == b.id), None)
        if repeated is not None:  # ids name mask files and manifest rows: two masks cannot share one
            raise ValueError(f"{manifest}: raw mask id {repeated} appears more than once")
        self.split: dict[str, Split] | None = self._read_split()

    def _read_split(self) -> dict[str, Split] | None:
        path = self.root / SPLIT_NAME
        if not path.is_file():
            return None
        sources = read_json_object(path, required={"sources": dict})["sources"]
        wrong = sorted(str(source) for source, part in sources.items() if part not in ("train", "test"))
        if wrong:
            raise ValueError(f"{path}: sources must be assigned to 'train' or 'test', not so: {wrong[0]}")
        return {str(source): part for source, part in sources.items()}

    def records_in(self, part: Split) -> list[RawMaskRecord]:
        """The records whose source belongs to ``part``; needs a split (``pconv masks split``)."""
        if self.split is None:
            raise ValueError(f"{self.root}: the pool has no {SPLIT_NAME}; run `pconv masks split` first")
        chosen = [record for record in self.records if self.split.get(record.source) == part]
        if not chosen:
            raise ValueError(f"{self.root}: the {part} split of the pool holds no masks")
        return chosen

    def load_hole(self, record: RawMaskRecord) -> np.ndarray:
        """The raw mask as a hole map: ``(height, width)`` bool, True = hole."""
        hole = read_mask_png(inside(self.root, record.file))
        if hole.shape != (record.height, record.width):
            raise ValueError(
                f"{self.root / record.file}: size {hole.shape[1]}x{hole.shape[0]} differs from "
                f"the manifest's {record.width}x{record.height}"
            )
        return hole


def pool_digest(raw: Path) -> str:
    """SHA-256 over the pool's manifest and split: identifies the raw masks a set was made from."""
    digest = hashlib.sha256()
    for name in (MANIFEST_NAME, SPLIT_NAME):
        path = Path(raw) / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()
