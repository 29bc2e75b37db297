"""WebDataset tar shards of a mask set: each sample a mask PNG and a JSON of its fields, in manifest order.

``OUT/webdataset/masks-000000.tar, masks-000001.tar, ...`` hold ``per_shard`` masks each (the last one
the rest). Sample ``k`` of the set is the tar members ``KEY.png`` (the mask file's bytes, unchanged:
255 = hole) and ``KEY.json`` (its manifest fields), where ``KEY`` is the mask's path without its suffix
(``masks/00042``; dots in the name become ``_``, since WebDataset splits a member's name at its first
dot), so ``webdataset.WebDataset(urls)`` yields ``{"__key__": "masks/00042", "png": ..., "json":
...}`` in the manifest's order. Only the standard library's ``tarfile`` writes them: the
shards need nothing installed, only reading them does.

Members carry fixed owners, modes and timestamps, so the same set gives byte-identical shards. The shard
folder is written under a temporary name and renamed into place: it is complete or absent.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pconv.core.files import inside
from pconv.maskgen.sets.bench_format import CSV_NAME, BenchRecord

__all__ = [
    "DEFAULT_PER_SHARD",
    "SHARD_DIR",
    "manifest_samples",
    "sample_key",
    "shard_names",
    "write_shards",
]

SHARD_DIR = "webdataset"
DEFAULT_PER_SHARD = 1000
"""Masks per shard: 12 shards for a full benchmark."""
_TYPES = {
    item.name: {"int": int, "float": float, "str": str}[item.type] for item in dataclasses.fields(BenchRecord)
}


def shard_names(count: int, per_shard: int) -> list[str]:
    """Names of the shards for ``count`` masks, ``per_shard`` each: ``["masks-000000.tar", ...]``."""
    if per_shard < 1:
        raise ValueError(f"masks per shard must be at least 1, got {per_shard}")
    return [f"masks-{number:06d}.tar" for number in range(-(-count // per_shard))]


def sample_key(file: str) -> str:
    """The WebDataset key of the mask at ``file``: its path without suffix, dots made ``_``."""
    path = Path(file)
    return path.with_name(path.stem.replace(".", "_")).with_suffix("").as_posix()


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def write_shards(
    folder: Path, samples: Sequence[Mapping[str, Any]], *, per_shard: int = DEFAULT_PER_SHARD
) -> list[Path]:
    """Write ``folder/webdataset/`` from ``samples`` (dicts with ``file``, a path below ``folder``, plus the
    fields to store; in manifest order); replaces an earlier shard folder. Returns the shard paths."""
    folder = Path(folder)
    names = shard_names(len(samples), per_shard)
    keys = [sample_key(sample["file"]) for sample in samples]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{folder}: two masks give the same WebDataset key; rename one of them")
    target = folder / SHARD_DIR
    temp = folder / f".{SHARD_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        for number, name in enumerate(names):
            chunk = range(number * per_shard, min(len(samples), (number + 1) * per_shard))
            with tarfile.open(temp / name, "w", format=tarfile.USTAR_FORMAT) as tar:
                for index in chunk:
                    sample = samples[index]
                    data = inside(folder, sample["file"]).read_bytes()
                    text = json.dumps(dict(sample), sort_keys=True, allow_nan=False).encode()
                    for suffix, payload in (("png", data), ("json", text)):
                        tar.addfile(*_member(f"{keys[index]}.{suffix}", payload))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return [target / name for name in names]


def manifest_samples(folder: Path) -> list[dict[str, Any]]:
    """The rows of a mask set's ``manifest.csv`` as typed samples for :func:`write_shards` (numbers as
    numbers, by the benchmark's column types; ``sha256`` left out: the shards are checked as files)."""
    path = Path(folder) / CSV_NAME
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {name: _TYPES.get(name, str)(value) for name, value in row.items() if name != "sha256"}
        for row in rows
    ]
