"""Worker processes for the CPU-bound stages (extraction, scene rendering, mask-set building).

forkserver (or spawn) rather than fork: OpenCV's thread pool does not survive a fork. Each worker runs
OpenCV single-threaded, since the processes already fill the cores.

Workers die with the process that started them: a ``kill -9`` of it must not leave workers writing
files and holding the terminal's pipe for minutes. Linux's parent-death signal covers the worker's own
parent (the forkserver, which itself exits with the main process); a watchdog thread on the main
process's pid covers everything else, from the end of the worker's start-up (unpickling its initializer may
import torch for seconds). On any exception (Ctrl-C, or SIGTERM turned into one by
:func:`pconv.core.cli.FriendlyGroup`), running tasks are not waited for: the workers are killed.

What a stage's tasks share (a raw pool read once, a cache, a queue) is made once per process by the
stage's initializer and read by each task with :func:`worker_state`, in the workers and, for one worker,
in the calling process alike; :func:`ordered_results` runs tasks either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import cv2

__all__ = [
    "default_workers",
    "die_with_parent",
    "ordered_results",
    "process_alive",
    "worker_context",
    "worker_processes",
    "worker_state",
]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_NO_STATE = object()
_state: dict[str, Any] = {"value": _NO_STATE}  # this process's: what the running stage's initializer returned
Result = TypeVar("Result")


def worker_state() -> Any:
    """What the initializer given to :func:`worker_processes` returned in this process; RuntimeError
    outside such a block (a task run by hand, without its stage's set-up)."""
    value = _state["value"]
    if value is _NO_STATE:
        raise RuntimeError("no worker state: run tasks inside worker_processes(..., initializer=...)")
    return value


def _set_state(initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    _state["value"] = initializer(*initargs) if initializer is not None else _NO_STATE


def default_workers() -> int:
    """All cores this process may use (respects CPU affinity / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_context() -> multiprocessing.context.BaseContext:
    """The start method of :func:`worker_processes`; a queue shared with its workers must come from it.

    The forkserver also imports :mod:`pconv.core.forkserver_boot`, which keeps a worker caught starting by
    the run's end from printing a traceback under the run's one-line message.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "pconv.core.forkserver_boot"])
    return context


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped by its parent) counts as dead."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _watch(pid: int, interval: float) -> None:
    while process_alive(pid):
        time.sleep(interval)
    os._exit(1)  # no clean-up: the files this worker was writing are temporary ones


def die_with_parent(owner: int, *, interval: float = 0.5) -> None:
    """Make this process exit when ``owner`` (the main process's pid) or its own parent dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not process_alive(owner):  # died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(owner, interval), daemon=True, name="pconv-parent-watch").start()


def _start_worker(owner: int, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(owner)
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe
    _set_state(initializer, initargs)


@contextlib.contextmanager
def worker_processes(
    workers: int, *, initializer: Callable[..., Any] | None = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` processes, or None for ``workers`` == 1 (the caller then works in-process).

    ``initializer(*initargs)`` runs once in each worker, or here for one worker; its return value is
    what :func:`worker_state` gives the tasks (here, until the block ends: a cache is then released).
    On leaving, queued tasks are cancelled, so a failed job stops at once instead of finishing them; on
    leaving by an exception the running ones are killed too.
    """
    if workers == 1:
        _set_state(initializer, initargs)
        try:
            yield None
        finally:
            _state["value"] = _NO_STATE
        return
    executor = ProcessPoolExecutor(
        workers,
        mp_context=worker_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )
    try:
        yield executor
    except BaseException:
        _kill_workers(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Stop every worker now; their unfinished outputs are temporary files the next run removes."""
    processes = list((executor._processes or {}).values())  # no public API before Python 3.14
    executor.shutdown(wait=False, cancel_futures=True)  # forgets the processes: taken above
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.kill()


def ordered_results(
    executor: ProcessPoolExecutor | None, task: Callable[..., Result], arguments: Sequence[tuple[Any, ...]]
) -> Iterator[Result]:
    """``task(*args)`` for each of ``arguments``, in their order: run by ``executor``'s workers, or here
    one by one when it is None (see :func:`worker_processes`). A failed task raises when its turn comes."""
    if executor is None:
        yield from (task(*args) for args in arguments)
        return
    futures = [executor.submit(task, *args) for args in arguments]
    for future in futures:
        yield future.result()
