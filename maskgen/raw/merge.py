"""Joining the shards of one extraction (``pconv masks merge``): ``extract --shard K/N`` on N machines, then
one pool byte-identical to what a single run would have written.

Each shard folder is a pool of its own with a ``run.json`` naming its shard; all must come from the same
sources and settings, and be finished. Source paths are rebased from each shard folder to the merged one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pconv.core.files import atomic_write_bytes, inside, rebased
from pconv.core.output_folder import OutputFolder
from pconv.core.sharding import Shard
from pconv.maskgen.raw.extract import RUN_NAME, pool_folder, read_run
from pconv.maskgen.raw.pool import PoolWriter, finished_ids

__all__ = ["merge_pools"]


def merge_pools(shards: Sequence[Path], out: Path) -> int:
    """Join the finished outputs of shards 1/N … N/N of one run into the pool a single run would write.

    Every shard must come from the same sources and settings and be complete; the merged folder's
    masks, manifest, skipped list and run.json are byte-identical to a single run's. Returns the mask
    count. Mask files are copied (the shard folders stay as they were).
    """
    folders = [Path(shard) for shard in shards]
    runs = _shard_runs(folders, Path(out))
    first = {key: value for key, value in runs[0].items() if key != "shard"}
    parsed = _one_of_each(runs)
    merged_run = {**first, "shard": str(Shard())}
    folder = pool_folder(Path(out))
    with folder.locked():
        if folder.held_identity() not in (None, merged_run):
            raise ValueError(f"{out}: holds another pool; merge into a new folder")
        count = _merge(folders, parsed, first["jobs"], folder)
        folder.write_identity(merged_run)  # last: a merge cut short is no finished pool
        return count


def _shard_runs(shards: Sequence[Path], out: Path) -> list[dict[str, Any]]:
    """Each shard's run.json with its sources relative to ``out``; refused unless all but the shard
    agree."""
    if not shards:
        raise ValueError("no shard folder given to merge")
    runs = []
    for folder in shards:
        run = read_run(folder)
        if run is None:
            raise ValueError(f"{folder}: not a shard of `pconv masks extract` (no {RUN_NAME})")
        runs.append(
            {
                **run,
                "sources": [rebased(name, folder, out) for name in run["sources"]],
                "bad_sources": [rebased(name, folder, out) for name in run.get("bad_sources", [])],
            }
        )
    first = {key: value for key, value in runs[0].items() if key != "shard"}
    for folder, run in zip(shards, runs, strict=True):
        if {key: value for key, value in run.items() if key != "shard"} != first:
            raise ValueError(f"{folder}: made from other sources or settings than {shards[0]}")
    return runs


def _one_of_each(runs: Sequence[dict[str, Any]]) -> list[Shard]:
    """The runs' shards, refused unless they are 1/N … N/N, each once."""
    parsed = [Shard.parse(run["shard"]) for run in runs]
    count = parsed[0].count
    if sorted(shard.index for shard in parsed) != list(range(1, count + 1)) or any(
        shard.count != count for shard in parsed
    ):
        raise ValueError(
            f"need each shard 1/{count} … {count}/{count} exactly once, got "
            f"{', '.join(run['shard'] for run in runs)}"
        )
    return parsed


def _merge(shards: list[Path], parsed: list[Shard], jobs: int, folder: OutputFolder) -> int:
    """The copying half of :func:`merge_pools`, with the output ``folder`` locked and every check passed."""
    out, manifest, skipped = folder.path, [], []
    for shard_folder, shard in zip(shards, parsed, strict=True):
        records, skips = finished_ids(shard_folder)
        for record in [*records, *skips]:
            if not isinstance(record.get("source"), str):
                raise ValueError(f"{shard_folder}: a manifest or skipped row without its source: {record}")
            record["source"] = rebased(record["source"], shard_folder, out)
        owned = set(shard.jobs(jobs))
        found = {record["id"] for record in records} | {record["id"] for record in skips}
        if found != owned:
            raise ValueError(
                f"{shard_folder}: shard {shard} is unfinished ({len(owned - found)} of {len(owned)} "
                "pairs left); re-run it to resume"
            )
        for record in records:
            source = inside(shard_folder, str(record.get("file", "")))
            atomic_write_bytes(inside(out, str(record["file"])), source.read_bytes())
        manifest += records
        skipped += skips
    PoolWriter(out).rewrite(manifest, skipped)
    return len(manifest)
