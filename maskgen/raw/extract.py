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
from pconv.core.files import read_json_object, relative_path, sha256_file
from pconv.core.masks import encode_mask_png
from pconv.core.output_folder import OutputFolder
from pconv.core.progress import progress_bar
from pconv.core.sharding import Shard
from pconv.core.workers import default_workers, worker_context, worker_processes, worker_state
from pconv.maskgen.raw.flow import flow_size_problem
from pconv.maskgen.raw.occlusion import OcclusionConfig, classify_pair, occlusion_from_frames
from pconv.maskgen.raw.pool import (
    MANIFEST_NAME,
    MASK_DIR,
    SKIPPED_NAME,
    PoolWriter,
    RawMaskRecord,
    SkippedPair,
    raw_mask_path,
)
from pconv.maskgen.raw.video import SourceInfo, frame_files, probe_source, read_pairs

__all__ = [
    "DEFAULT_CONFIG",
    "RUN_NAME",
    "ExtractConfig",
    "ExtractReport",
    "extract_pool",
    "pool_folder",
    "read_run",
    "source_digest",
]

RUN_NAME = "run.json"
_RUN_KEYS = {"shard": str, "jobs": int}  # what a readable run.json has
WHOLE_RUN = Shard()
SHARDING = "contiguous blocks"  # in run.json: shards of runs that split jobs otherwise are refused, not mixed
FOLDER_CHUNK = 4  # pairs per task for frame folders (random access: small tasks, fine-grained resume)
POLL_SECONDS = 1.0  # how often the writer checks for a failed task while no result comes


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


def read_run(raw: Path) -> dict[str, Any] | None:
    """A pool folder's ``run.json``, or None when there is none yet."""
    path = raw / RUN_NAME
    return read_json_object(path, required=_RUN_KEYS) if path.is_file() else None


def _probe(source: str, config: ExtractConfig) -> SourceInfo | str:
    """A source's pairs, or the one-line message saying why it is bad."""
    try:
        info = probe_source(source, step=config.step, max_pairs=config.max_pairs, max_side=config.max_side)
    except (OSError, ValueError, cv2.error) as error:
        return first_line(error)
    problem = flow_size_problem(info.width, info.height, config.occlusion.flow_scale)
    return f"{source}: {problem}" if problem else info


def _worker_queue(results: Any) -> Any:
    """Worker initializer: the queue shared with the writer is the workers' state."""
    return results


def _stream_task(source: str, jobs: Sequence[tuple[int, int]], config: ExtractConfig, skip_bad: bool) -> int:
    """Put the result of each of ``jobs`` = [(id, t), ...] on the shared queue as soon as it is ready.

    A task of a video holds many pairs (decoding restarts at frame 0 for every task), so returning its
    results at the end would leave the progress bar still for minutes; streamed, it moves per pair.
    """
    results, count = worker_state(), 0
    for result in _task_results(source, jobs, config, skip_bad):
        results.put(result)
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

    ``results``: the queue the workers were started with (see :func:`_worker_queue`).
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


def _all_results(
    pool: ProcessPoolExecutor | None,
    results: Any,
    tasks: Sequence[tuple[str, list]],
    config: ExtractConfig,
    skip_bad: bool,
) -> Iterator[dict[str, Any]]:
    """Every pair's result: from the workers as they finish, or made here task by task without them."""
    if pool is not None:
        return _pooled_results(pool, results, tasks, config, skip_bad)
    return (result for source, jobs in tasks for result in _task_results(source, jobs, config, skip_bad))


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


def _run_differs(raw: Path, run: dict[str, Any], found: dict[str, Any]) -> str | None:
    """Why the pool in ``raw`` (its run.json ``found``) cannot be resumed by ``run``; None if it can."""
    if found == run:
        return None
    differing = sorted(key for key in run.keys() | found.keys() if run.get(key) != found.get(key))
    if differing == ["source_sha256"] and len(found["source_sha256"]) == len(run["sources"]):
        changed = [
            name
            for name, old, new in zip(
                run["sources"], found["source_sha256"], run["source_sha256"], strict=True
            )
            if old != new
        ]
        return (
            f"{raw}: {len(changed)} source(s) changed since this pool was started (first: {changed[0]}, "
            "relative to the pool); resuming would mix masks of old and new frames: restore them, "
            "or choose a new --out"
        )
    return (
        f"{raw}: holds a pool made with other {', '.join(differing)}; "
        "re-run with the same sources and settings to resume, or choose a new --out"
    )


def pool_folder(raw: Path) -> OutputFolder:
    """The pool folder ``raw`` as ``extract`` (and a merge of its shards) writes it: run.json says what it
    holds."""
    return OutputFolder(
        raw, identity_name=RUN_NAME, files=(MANIFEST_NAME, SKIPPED_NAME, MASK_DIR), required=_RUN_KEYS
    )


def _open_pool(folder: OutputFolder, run: dict[str, Any]) -> set[int]:
    """Start or resume the run in the locked ``folder``; the ids an earlier run finished."""
    state = folder.state(
        differs=lambda found: _run_differs(folder.path, run, found),
        foreign=f"{folder.path}: holds a mask pool without {RUN_NAME}; choose a new --out",
    )
    if state == "fresh":
        folder.write_identity(run)
    return PoolWriter(folder.path).tidy()  # drops a line an interruption cut short before appending


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
    names = _distinct_names(sources)
    workers = workers or default_workers()
    warn = warn or (lambda message: None)
    folder = pool_folder(Path(out))
    results = worker_context().Queue() if workers > 1 else None
    with (
        folder.locked(),
        worker_processes(workers, initializer=_worker_queue, initargs=(results,)) as pool,
    ):
        probed = _probe_all(names, config, pool, progress)
        infos, bad = _usable_sources(names, probed, skip_bad, warn)
        run = _run_record(names, probed, folder.path, config, shard)
        done = _open_pool(folder, run)
        stream = _all_results(pool, results, _tasks(infos, shard, done, workers), config, skip_bad)
        owned = len(shard.jobs(run["jobs"]))
        bar = progress_bar(
            total=owned, desc="extract masks", enabled=progress, unit="pair", initial=len(done)
        )
        counts, broken = _record_all(folder.path, stream, config, bar, warn, pool)
    PoolWriter(folder.path).tidy()
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


def _distinct_names(sources: Sequence[str | Path]) -> list[str]:
    """The sources as given, refused when none or one twice (one video under two spellings would land in
    both train and test)."""
    names = [os.fspath(source) for source in sources]
    if not names:
        raise ValueError("no source given: name video files or frame folders")
    seen: dict[str, str] = {}
    for name in names:
        key = os.path.realpath(name)
        if key in seen:
            same = "" if seen[key] == name else f" (as {seen[key]!r} and {name!r})"
            raise ValueError(f"source given twice: {name}{same}")
        seen[key] = name
    return names


def _usable_sources(
    names: Sequence[str], probed: Sequence[SourceInfo | str], skip_bad: bool, warn: Callable[[str], None]
) -> tuple[list[SourceInfo], tuple[str, ...]]:
    """The good sources' pairs and the bad ones' messages (each warned about); a bad source raises unless
    ``skip_bad``, and so does a run without any good one."""
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
    return infos, bad


def _run_record(
    names: Sequence[str], probed: Sequence[SourceInfo | str], out: Path, config: ExtractConfig, shard: Shard
) -> dict[str, Any]:
    """The run.json of this run: what a resume must match. Job ids are positions in the list of all good
    sources' pairs."""
    return {
        "sources": [relative_path(name, out) for name in names],
        "config": asdict(config),
        "shard": str(shard),
        "sharding": SHARDING,
        "version": __version__,
        "bad_sources": [
            relative_path(name, out)
            for name, item in zip(names, probed, strict=True)
            if isinstance(item, str)
        ],
        "jobs": sum(len(item.starts) for item in probed if isinstance(item, SourceInfo)),
        "source_sha256": [source_digest(Path(name)) for name in names],
    }


def _record_all(
    out: Path,
    stream: Iterator[dict[str, Any]],
    config: ExtractConfig,
    bar: Any,
    warn: Callable[[str], None],
    pool: ProcessPoolExecutor | None,
) -> tuple[dict[str, int], dict[str, str]]:
    """Write each result of ``stream`` into the pool as it comes; this run's counts per kind and, per
    source that broke mid-way, its message."""
    writer = PoolWriter(out)
    counts = {"mask": 0, "static": 0, "cut": 0, "bad": 0}
    broken: dict[str, str] = {}
    try:
        for result in stream:
            _write_result(writer, result, config)
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
    return counts, broken


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


def _write_result(writer: PoolWriter, result: dict[str, Any], config: ExtractConfig) -> None:
    """Rename the mask into place, then append its manifest line (or the skipped line)."""
    source = relative_path(result["source"], writer.root)
    if result["kind"] == "bad":
        writer.add_skipped(SkippedPair(result["id"], source, result["t"], "bad", error=result["error"]))
        return
    if result["kind"] != "mask":
        writer.add_skipped(
            SkippedPair(result["id"], source, result["t"], result["kind"], result["hole_ratio"])
        )
        return
    record = RawMaskRecord(
        id=result["id"],
        file=raw_mask_path(result["id"]),
        source=source,
        t=result["t"],
        step=config.step,
        method=config.occlusion.method,
        hole_ratio=result["hole_ratio"],
        height=result["height"],
        width=result["width"],
        params=asdict(config),
        version=__version__,
    )
    writer.add_mask(record, result["png"])
