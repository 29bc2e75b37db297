"""Worker processes for the CPU-bound stages (extraction, scene rendering, mask-set building).

forkserver (or spawn) rather than fork: OpenCV's thread pool does not survive a fork. Each worker runs
OpenCV single-threaded, since the processes already fill the cores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cv2

__all__ = ["default_workers", "worker_context", "worker_processes"]


def default_workers() -> int:
    """All cores this process may use (respects CPU affinity / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_context() -> multiprocessing.context.BaseContext:
    """The start method of :func:`worker_processes`; a queue shared with its workers must come from it."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def worker_processes(
    workers: int, *, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` processes, or None for ``workers`` == 1 (the caller then works in-process).

    On leaving, queued tasks are cancelled, so a failed job stops at once instead of finishing them.
    """
    if workers == 1:
        yield None
        return
    executor = ProcessPoolExecutor(
        workers,
        mp_context=worker_context(),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
