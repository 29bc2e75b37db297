"""Per-pair results on disk: what makes evaluations resumable and shardable.

Layout inside an evaluation folder ``OUT``::

    OUT/per_pair/shard-K-of-N.jsonl            one line per (method, pair): the pair's metrics
    OUT/per_pair/shard-K-of-N.features.jsonl   one line per (method, pair): Inception features (IS/FID)

Each shard (and each torchrun rank) appends only to its own files, so shards on a shared file system never
write the same file. Readers take every file in ``per_pair/``, so a resumed run, whatever its shard, skips
every pair some earlier run finished, and a merge sees all of them. A key written twice (a line re-done
after an interruption between the features and the metrics line) holds identical values; the last wins.

Features are float32 arrays stored as base64 of their little-endian bytes: exact, and a third the size of
decimal text. The ground truth's features are stored under the method name :data:`REAL`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from pconv.core.files import append_jsonl, read_jsonl
from pconv.core.sharding import Shard

__all__ = [
    "PER_PAIR_DIR",
    "REAL",
    "decode_array",
    "encode_array",
    "features_path",
    "metrics_path",
    "read_features",
    "read_metrics",
    "repair",
    "write_features",
    "write_metrics",
]

PER_PAIR_DIR = "per_pair"
REAL = "ground truth"
"""Method name under which the ground-truth images' Inception features are stored (FID's reference set)."""

Key = tuple[str, int]


def metrics_path(out: Path, shard: Shard) -> Path:
    return Path(out) / PER_PAIR_DIR / f"shard-{shard.index}-of-{shard.count}.jsonl"


def features_path(out: Path, shard: Shard) -> Path:
    return Path(out) / PER_PAIR_DIR / f"shard-{shard.index}-of-{shard.count}.features.jsonl"


def encode_array(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def _read_all(out: Path, suffix: str) -> dict[Key, dict[str, Any]]:
    folder = Path(out) / PER_PAIR_DIR
    records: dict[Key, dict[str, Any]] = {}
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob(f"shard-*-of-*{suffix}")):
        if suffix == ".jsonl" and path.name.endswith(".features.jsonl"):
            continue
        for number, record in enumerate(read_jsonl(path), start=1):
            method, pair = record.get("method"), record.get("pair")
            if not isinstance(method, str) or not isinstance(pair, int) or isinstance(pair, bool) or pair < 0:
                raise ValueError(f"{path}: record {number} lacks a 'method' name or a 'pair' index")
            records[(method, pair)] = record
    return records


def read_metrics(out: Path) -> dict[Key, dict[str, Any]]:
    """Every finished pair's metrics record in ``OUT/per_pair``, keyed by (method spec, pair index)."""
    return _read_all(out, ".jsonl")


def read_features(out: Path) -> dict[Key, dict[str, Any]]:
    """Every stored feature record (``features``, ``logits`` base64 strings), keyed by (method, pair)."""
    return _read_all(out, ".features.jsonl")


def _drop_partial_line(path: Path) -> None:
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def repair(out: Path, shard: Shard) -> None:
    """Cut the unfinished last line an interrupted run may have left in this shard's files.

    Run once before appending: a new line appended after a partial one would join it into one corrupt line.
    """
    _drop_partial_line(metrics_path(out, shard))
    _drop_partial_line(features_path(out, shard))


def write_metrics(out: Path, shard: Shard, record: dict[str, Any]) -> None:
    """Append one metrics record (must hold ``method`` and ``pair``) to this shard's file."""
    path = metrics_path(out, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_jsonl(path, record)


def write_features(
    out: Path, shard: Shard, *, method: str, pair: int, features: np.ndarray, logits: np.ndarray
) -> None:
    """Append one pair's Inception features ``(D,)`` and logits ``(K,)`` (float32)."""
    path = features_path(out, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_jsonl(
        path,
        {"method": method, "pair": pair, "features": encode_array(features), "logits": encode_array(logits)},
    )
