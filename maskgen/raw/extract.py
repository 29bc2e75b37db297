"""The raw pool writer: occlusion masks of every frame pair of every source (``pconv masks extract``).

Jobs are the pairs ``(source, t)`` of all good sources in the order given, numbered from 0; a job's
number is its mask id, so a single run, any worker count and the merge of all shards give the same
pool. Besides the reader's layout (see :mod:`pconv.maskgen.raw.pool`) a pool folder holds::

    RAW/run.json        sources (and which were bad), every setting, job count and shard: a re-run
                        must match it to resume
    RAW/skipped.jsonl   one line per pair that made no mask: {"id", "source", "t", "reason", "hole_ratio"}
                        with reason "static" (hole ratio below min) or "cut" (above max: scene cut),
                        or {"id", "source", "t", "reason": "bad", "error"} for the pairs a source that
                        broke mid-way (a corrupt frame) left undone under ``skip_bad``

A job is done when its id is in ``manifest.jsonl`` or ``skipped.jsonl``; each mask PNG is renamed into
place before its manifest line is appended, so an interrupted run never leaves a half-written mask or
line, and a re-run with the same settings does only the jobs left. When all of a run's jobs are done,
both files are rewritten sorted by id, so finished pools compare byte for byte. Every source path in
``run.json``, ``manifest.jsonl`` and ``skipped.jsonl`` is relative to ``RAW`` (``../clips/a.mp4``), so the
pool's bytes do not depend on how ``--out`` or the sources were spelled, and no absolute path leaks.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
from pconv.core import __version__
from pconv.core.errors import first_line
from pconv.core.files import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    inside,
    read_json_object,
    read_jsonl,
    relative_path,
    sha256_file,
)
from pconv.core.locks import locked_folder
from pconv.core.masks import encode_mask_png
from pconv.core.progress import progress_bar
from pconv.core.sharding import Shard
from pconv.core.workers import default_workers, worker_context, worker_processes
from pconv.maskgen.raw.flow import flow_size_problem
from pconv.maskgen.raw.occlusion import OcclusionConfig, classify_pair, occlusion_from_frames
from pconv.maskgen.raw.pool import MANIFEST_NAME, MASK_DIR
from pconv.maskgen.raw.video import SourceInfo, frame_files, probe_source, read_pairs

__all__ = [
    "DEFAULT_CONFIG",
    "RUN_NAME",
    "SKIPPED_NAME",
    "ExtractConfig",
    "ExtractReport",
    "extract_pool",
    "finished_ids",
    "jsonl_text",
    "merge_pools",
    "raw_mask_path",
    "read_run",
    "rewrite_lists",
]

RUN_NAME = "run.json"
SKIPPED_NAME = "skipped.jsonl"
WHOLE_RUN = Shard()
SHARDING = "contiguous blocks"  # in run.json: shards of runs that split jobs otherwise are refused, not mixed
FOLDER_CHUNK = 4  # pairs per task for frame folders (random access: small tasks, fine-grained resume)
POLL_SECONDS = 1.0  # how often the writer checks for a failed task while no result comes
_worker_results: Any = None  # in a worker: the queue each pair's result goes to as soon as it is ready


@dataclass(frozen=True)
class ExtractConfig:
    """Every setting of an extraction: how pairs are read, then how a pair becomes a hole map.

    ``step``: pair (t, t + step); ``max_pairs``: per source (None = all); ``max_side``: shrink frames whose
    longer side is larger (None = source resolution), masks are made at that working size.
    """

    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    step: int = 1
    max_pairs: int | None = None
    max_side: int | None = None

    def __post_init__(self) -> None:
        if self.step < 1:
            raise ValueError(f"frame step must be at least 1, got {self.step}")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"max pairs must be at least 1, got {self.max_pairs}")
        if self.max_side is not None and self.max_side < 16:
            raise ValueError(f"max side must be at least 16 pixels, got {self.max_side}")


DEFAULT_CONFIG = ExtractConfig()
"""The measured best settings (see the README's table)."""


@dataclass(frozen=True)
class ExtractReport:
    """What a run did. ``pairs``: jobs this shard owns; ``resumed``: of those, done by an earlier run;
    the other counts are this run's; ``bad_sources``: one message per source skipped with skip_bad (bad
    from the start, or broken mid-way: ``skipped_bad`` pairs); ``warnings``: e.g. truncated videos."""

    pairs: int
    masks_written: int
    skipped_static: int
    skipped_cut: int
    resumed: int
    bad_sources: tuple[str, ...] = ()
    skipped_bad: int = 0
    warnings: tuple[str, ...] = ()


def raw_mask_path(job_id: int) -> str:
    """The manifest's ``file`` of a mask id (relative to the pool folder)."""
    return f"{MASK_DIR}/{job_id:06d}.png"


def jsonl_text(records: Sequence[dict[str, Any]]) -> str:
    """JSON lines sorted by id, formatted as :func:`~pconv.core.files.append_jsonl` writes them."""
    ordered = sorted(records, key=lambda record: record["id"])
    return "".join(json.dumps(record, sort_keys=True) + "\n" for record in ordered)


def read_run(raw: Path) -> dict[str, Any] | None:
    """A pool folder's ``run.json``, or None when there is none yet."""
    path = raw / RUN_NAME
    return read_json_object(path, required={"shard": str, "jobs": int}) if path.is_file() else None


def finished_ids(raw: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The manifest and skipped records already in ``raw`` (missing files count as empty)."""
    lists = []
    for name in (MANIFEST_NAME, SKIPPED_NAME):
        path = raw / name
        lists.append(read_jsonl(path) if path.is_file() else [])
    return lists[0], lists[1]


def _probe(source: str, config: ExtractConfig) -> SourceInfo | str:
    """A source's pairs, or the one-line message saying why it is bad."""
    try:
        info = probe_source(source, step=config.step, max_pairs=config.max_pairs, max_side=config.max_side)
    except (OSError, ValueError, cv2.error) as error:
        return first_line(error)
    problem = flow_size_problem(info.width, info.height, config.occlusion.flow_scale)
    return f"{source}: {problem}" if problem else info


def _set_worker_results(results: Any) -> None:
    """Worker initializer: remember the queue shared with the writer."""
    global _worker_results
    _worker_results = results


def _stream_task(source: str, jobs: Sequence[tuple[int, int]], config: ExtractConfig, skip_bad: bool) -> int:
    """Put the result of each of ``jobs`` = [(id, t), ...] on the shared queue as soon as it is ready.

    A task of a video holds many pairs (decoding restarts at frame 0 for every task), so returning its
    results at the end would leave the progress bar still for minutes; streamed, it moves per pair.
    """
    count = 0
    for result in _task_results(source, jobs, config, skip_bad):
        _worker_results.put(result)
        count += 1
    return count


def _failure(futures: Sequence[Future]) -> BaseException | None:
    """The exception of the first task that failed, if any has."""
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is not None:
            return future.exception()
    return None


def _pooled_results(
    pool: ProcessPoolExecutor,
    results: Any,
    tasks: Sequence[tuple[str, list]],
    config: ExtractConfig,
    skip_bad: bool,
) -> Iterator[dict[str, Any]]:
    """Results of all ``tasks`` run by ``pool``, one per pair in the order they finish; a failed task raises.

    ``results``: the queue the workers were started with (see :func:`_set_worker_results`).
    """
    futures = [pool.submit(_stream_task, source, jobs, config, skip_bad) for source, jobs in tasks]
    for _ in range(sum(len(jobs) for _, jobs in tasks)):
        while True:
            try:
                yield results.get(timeout=POLL_SECONDS)
                break
            except queue.Empty:
                error = _failure(futures)
                if error is not None:
                    raise error from None
    for future in futures:
        future.result()


def _task_results(
    source: str, jobs: Sequence[tuple[int, int]], config: ExtractConfig, skip_bad: bool
) -> Iterator[dict[str, Any]]:
    """:func:`_iter_results`; with ``skip_bad``, a source that breaks mid-way (a corrupt frame, a size
    change) ends its task with a "bad" result for each pair left, so the run goes on and a re-run does
    not retry them."""
    finished = set()
    try:
        for result in _iter_results(source, jobs, config):
            finished.add(result["id"])
            yield result
    except (OSError, ValueError, cv2.error) as error:
        if not skip_bad:
            raise
        message = first_line(error)
        yield from (
            {"id": job_id, "source": source, "t": t, "kind": "bad", "error": message}
            for job_id, t in jobs
            if job_id not in finished
        )


def _iter_results(
    source: str, jobs: Sequence[tuple[int, int]], config: ExtractConfig
) -> Iterator[dict[str, Any]]:
    ids = dict((t, job_id) for job_id, t in jobs)
    for t, first, second in read_pairs(source, sorted(ids), step=config.step, max_side=config.max_side):
        hole = occlusion_from_frames(first, second, config.occlusion)
        kind = classify_pair(hole, config.occlusion)
        result: dict[str, Any] = {
            "id": ids[t],
            "source": source,
            "t": t,
            "kind": kind,
            "hole_ratio": float(hole.mean()),
            "height": hole.shape[0],
            "width": hole.shape[1],
        }
        if kind == "mask":
            result["png"] = encode_mask_png(hole)
        yield result


def source_digest(source: Path) -> str:
    """SHA-256 of a video file, or of a frame folder's frame names and contents: what a resume checks, so
    that frames replaced at the same paths never mix with masks made from the old ones. A content digest
    rather than sizes and times, so that shards on machines holding their own copies still merge."""
    if source.is_dir():
        digest = hashlib.sha256()
        for frame in frame_files(source):
            digest.update(f"{frame.name}\0{sha256_file(frame)}\n".encode())
        return digest.hexdigest()
    try:
        return sha256_file(source)
    except OSError:
        return "unreadable"


def _check_run(raw: Path, run: dict[str, Any]) -> None:
    found = read_run(raw)
    if found is None:
        if (raw / MANIFEST_NAME).is_file():
            raise ValueError(f"{raw}: holds a mask pool without {RUN_NAME}; choose a new --out")
        atomic_write_text(raw / RUN_NAME, json.dumps(run, indent=1, sort_keys=True) + "\n")
    elif found != run:
        differing = sorted(key for key in run.keys() | found.keys() if run.get(key) != found.get(key))
        if differing == ["source_sha256"] and len(found["source_sha256"]) == len(run["sources"]):
            changed = [
                name
                for name, old, new in zip(
                    run["sources"], found["source_sha256"], run["source_sha256"], strict=True
                )
                if old != new
            ]
            raise ValueError(
                f"{raw}: {len(changed)} source(s) changed since this pool was started (first: {changed[0]}, "
                "relative to the pool); resuming would mix masks of old and new frames: restore them, "
                "or choose a new --out"
            )
        raise ValueError(
            f"{raw}: holds a pool made with other {', '.join(differing)}; "
            "re-run with the same sources and settings to resume, or choose a new --out"
        )


def _tasks(infos: Sequence[SourceInfo], shard: Shard, done: set[int], workers: int) -> list[tuple[str, list]]:
    """Owned, unfinished jobs grouped per source into tasks (a video is decoded once per task)."""
    tasks, job_id = [], 0
    owned = shard.jobs(sum(len(info.starts) for info in infos))
    for info in infos:
        jobs = []
        for t in info.starts:
            if job_id in owned and job_id not in done:
                jobs.append((job_id, t))
            job_id += 1
        chunk = FOLDER_CHUNK
        if not Path(info.source).is_dir():  # decoding restarts at frame 0 for every task of a video
            chunk = max(FOLDER_CHUNK, -(-len(jobs) // (2 * workers)))
        tasks += [(info.source, jobs[i : i + chunk]) for i in range(0, len(jobs), chunk)]
    return tasks


def extract_pool(
    sources: Sequence[str | Path],
    out: Path,
    *,
    config: ExtractConfig = DEFAULT_CONFIG,
    workers: int | None = None,
    shard: Shard = WHOLE_RUN,
    skip_bad: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
) -> ExtractReport:
    """Write the occlusion mask of every pair of ``sources`` this shard owns into the pool folder ``out``.

    Resumes when ``out`` holds an unfinished run with the same sources, settings and shard; refuses a
    folder made otherwise. A bad source raises a one-line ValueError naming it, unless ``skip_bad``.
    ``warn`` receives each warning (a truncated video) and each source skipped as bad when it is found,
    not at the end; the report lists them all again.
    """
    names = [os.fspath(source) for source in sources]
    if not names:
        raise ValueError("no source given: name video files or frame folders")
    seen: dict[str, str] = {}
    for name in names:  # one video under two spellings would land in both train and test
        key = os.path.realpath(name)
        if key in seen:
            same = "" if seen[key] == name else f" (as {seen[key]!r} and {name!r})"
            raise ValueError(f"source given twice: {name}{same}")
        seen[key] = name
    workers = workers or default_workers()
    warn = warn or (lambda message: None)
    out = Path(out)
    run: dict[str, Any] = {
        "sources": [relative_path(name, out) for name in names],
        "config": asdict(config),
        "shard": str(shard),
        "sharding": SHARDING,
        "version": __version__,
    }
    results = worker_context().Queue() if workers > 1 else None
    with (
        locked_folder(out),
        worker_processes(workers, initializer=_set_worker_results, initargs=(results,)) as pool,
    ):
        probed = _probe_all(names, config, pool, progress)
        bad = tuple(item for item in probed if isinstance(item, str))
        if bad and not skip_bad:
            raise ValueError(bad[0])
        infos = [item for item in probed if isinstance(item, SourceInfo)]
        for message in bad:
            warn(f"skipped bad source: {message}")
        for info in infos:
            if info.warning:
                warn(f"warning: {info.warning}")
        if not infos:
            raise ValueError(f"no usable source: all {len(names)} are bad (first: {bad[0]})")
        run["bad_sources"] = [
            relative_path(name, out)
            for name, item in zip(names, probed, strict=True)
            if isinstance(item, str)
        ]
        run["jobs"] = sum(len(info.starts) for info in infos)  # ids are positions in this job list
        run["source_sha256"] = [source_digest(Path(name)) for name in names]
        out.mkdir(parents=True, exist_ok=True)
        _check_run(out, run)
        for leftover in (out / MASK_DIR).glob(".*.pconv-tmp-*"):
            leftover.unlink()
        manifest, skipped = finished_ids(out)
        rewrite_lists(out, manifest, skipped)  # drops a line an interruption cut short before appending
        done = {record["id"] for record in manifest} | {record["id"] for record in skipped}
        owned = len(shard.jobs(run["jobs"]))
        counts = {"mask": 0, "static": 0, "cut": 0, "bad": 0}
        broken: dict[str, str] = {}
        tasks = _tasks(infos, shard, done, workers)
        bar = progress_bar(
            total=owned, desc="extract masks", enabled=progress, unit="pair", initial=len(done)
        )
        if pool:
            stream = _pooled_results(pool, results, tasks, config, skip_bad)
        else:
            stream = (
                result for source, jobs in tasks for result in _task_results(source, jobs, config, skip_bad)
            )
        try:
            for result in stream:
                _write_result(out, result, config)
                counts[result["kind"]] += 1
                if result["kind"] == "bad" and result["source"] not in broken:
                    broken[result["source"]] = result["error"]
                    warn(f"skipped bad source: {result['error']}")
                bar.update(1)
        except BaseException:
            if pool:  # a failed task or Ctrl-C: drop the queued tasks instead of running them to the end
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
    rewrite_lists(out, *finished_ids(out))
    return ExtractReport(
        pairs=owned,
        masks_written=counts["mask"],
        skipped_static=counts["static"],
        skipped_cut=counts["cut"],
        resumed=len(done),
        bad_sources=bad + tuple(broken.values()),
        skipped_bad=counts["bad"],
        warnings=tuple(info.warning for info in infos if info.warning),
    )


def _probe_all(
    names: Sequence[str], config: ExtractConfig, pool: ProcessPoolExecutor | None, progress: bool
) -> list[SourceInfo | str]:
    """:func:`_probe` of every source, in order, with a bar: probing decodes each video to its end."""
    probes = pool.map(_probe, names, [config] * len(names)) if pool else (_probe(n, config) for n in names)
    bar = progress_bar(total=len(names), desc="read sources", enabled=progress, unit="source")
    probed = []
    with bar:
        for item in probes:
            probed.append(item)
            bar.update(1)
    return probed


def rewrite_lists(out: Path, manifest: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> None:
    """Write both job lists sorted by id, atomically."""
    atomic_write_text(out / MANIFEST_NAME, jsonl_text(manifest))
    atomic_write_text(out / SKIPPED_NAME, jsonl_text(skipped))


def _write_result(out: Path, result: dict[str, Any], config: ExtractConfig) -> None:
    """Rename the mask into place, then append its manifest line (or the skipped line)."""
    common = {"id": result["id"], "source": relative_path(result["source"], out), "t": result["t"]}
    if result["kind"] == "bad":
        append_jsonl(out / SKIPPED_NAME, {**common, "reason": "bad", "error": result["error"]})
        return
    common["hole_ratio"] = result["hole_ratio"]
    if result["kind"] != "mask":
        append_jsonl(out / SKIPPED_NAME, {**common, "reason": result["kind"]})
        return
    atomic_write_bytes(out / raw_mask_path(result["id"]), result["png"])
    append_jsonl(
        out / MANIFEST_NAME,
        {
            **common,
            "file": raw_mask_path(result["id"]),
            "step": config.step,
            "method": config.occlusion.method,
            "height": result["height"],
            "width": result["width"],
            "params": asdict(config),
            "version": __version__,
        },
    )


def _rebased(run: dict[str, Any], folder: Path, out: Path) -> dict[str, Any]:
    """A shard's run.json with its source paths relative to ``out`` instead of to the shard ``folder``."""

    def move(name: str) -> str:
        return relative_path(Path(folder) / name, out)

    return {
        **run,
        "sources": [move(name) for name in run["sources"]],
        "bad_sources": [move(name) for name in run.get("bad_sources", [])],
    }


def merge_pools(shards: Sequence[Path], out: Path) -> int:
    """Join the finished outputs of shards 1/N … N/N of one run into the pool a single run would write.

    Every shard must come from the same sources and settings and be complete; the merged folder's
    masks, manifest, skipped list and run.json are byte-identical to a single run's. Returns the mask
    count. Mask files are copied (the shard folders stay as they were).
    """
    if not shards:
        raise ValueError("no shard folder given to merge")
    runs = []
    for folder in map(Path, shards):
        run = read_run(folder)
        if run is None:
            raise ValueError(f"{folder}: not a shard of `pconv masks extract` (no {RUN_NAME})")
        runs.append(_rebased(run, folder, out))
    first = {key: value for key, value in runs[0].items() if key != "shard"}
    parsed = [Shard.parse(run["shard"]) for run in runs]
    for folder, run in zip(shards, runs, strict=True):
        if {key: value for key, value in run.items() if key != "shard"} != first:
            raise ValueError(f"{folder}: made from other sources or settings than {shards[0]}")
    count = parsed[0].count
    if sorted(shard.index for shard in parsed) != list(range(1, count + 1)) or any(
        shard.count != count for shard in parsed
    ):
        raise ValueError(
            f"need each shard 1/{count} … {count}/{count} exactly once, got "
            f"{', '.join(run['shard'] for run in runs)}"
        )
    merged_run = {**first, "shard": str(WHOLE_RUN)}
    with locked_folder(out):
        if read_run(Path(out)) not in (None, merged_run):
            raise ValueError(f"{out}: holds another pool; merge into a new folder")
        return _merge(list(map(Path, shards)), parsed, first, merged_run, Path(out))


def _merge(
    shards: list[Path], parsed: list[Shard], first: dict[str, Any], merged_run: dict[str, Any], out: Path
) -> int:
    """The copying half of :func:`merge_pools`, with ``out`` locked and every check passed."""
    manifest, skipped = [], []
    for folder, shard in zip(shards, parsed, strict=True):
        records, skips = finished_ids(folder)
        for record in [*records, *skips]:
            if not isinstance(record.get("source"), str):
                raise ValueError(f"{folder}: a manifest or skipped row without its source: {record}")
            record["source"] = relative_path(folder / record["source"], out)
        owned = set(shard.jobs(first["jobs"]))
        found = {record["id"] for record in records} | {record["id"] for record in skips}
        if found != owned:
            raise ValueError(
                f"{folder}: shard {shard} is unfinished ({len(owned - found)} of {len(owned)} "
                "pairs left); re-run it to resume"
            )
        for record in records:
            source = inside(folder, str(record.get("file", "")))
            atomic_write_bytes(inside(out, str(record["file"])), source.read_bytes())
        manifest += records
        skipped += skips
    rewrite_lists(out, manifest, skipped)
    atomic_write_text(out / RUN_NAME, json.dumps(merged_run, indent=1, sort_keys=True) + "\n")
    return len(manifest)
