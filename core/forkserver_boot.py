"""Imported once by the forkserver that starts pconv's workers (see ``pconv.core.workers.worker_context``).

A worker still starting when the run stops (Ctrl-C, SIGTERM) unpickles queues whose semaphores the exiting
run has already removed, and the forkserver's child would print that ``FileNotFoundError`` traceback below
the run's one-line message. Such start-up failures are silenced when the run that asked for the worker
is gone (or goes within a second); any other start-up failure is printed as before.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType

from pconv.core.workers import process_alive

_OWNER = os.getppid()  # the forkserver's parent: the run
_DEFAULT_HOOK = sys.excepthook


def _hook(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
    deadline = time.monotonic() + 1.0
    while process_alive(_OWNER):
        if time.monotonic() > deadline:
            _DEFAULT_HOOK(kind, value, trace)
            return
        time.sleep(0.02)


sys.excepthook = _hook
