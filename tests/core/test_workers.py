"""Worker processes: what a stopped run leaves on the terminal."""

import subprocess
import sys
import time

from pconv.core.workers import worker_context


def test_a_worker_caught_starting_by_the_runs_end_prints_nothing(tmp_path):
    """Issue 23, item 6: after Ctrl-C/SIGTERM a worker still unpickling its queues (whose semaphores the
    exiting run removed) printed a FileNotFoundError traceback under the run's one line. The forkserver
    imports pconv.core.forkserver_boot, whose hook is silent once the run is gone, and prints otherwise."""
    from multiprocessing import forkserver

    worker_context()
    assert "pconv.core.forkserver_boot" in forkserver._forkserver._preload_modules
    code = (
        "import os, sys, time\n"
        "ready, told = os.pipe()\n"
        "if os.fork():\n"
        "    os.read(ready, 1)\n"  # the run: once its worker is starting, gone or still running
        "    os._exit(0) if sys.argv[1] == 'gone' else time.sleep(3)\n"
        "else:\n"
        "    import pconv.core.forkserver_boot\n"
        "    os.write(told, b'x')\n"
        "    time.sleep(0.5)\n"
        "    try:\n"
        "        raise FileNotFoundError(2, 'No such file or directory')\n"
        "    except FileNotFoundError:\n"
        "        sys.excepthook(*sys.exc_info())\n"
        "    sys.stderr.flush()\n"
    )
    for owner, expected in (("gone", ""), ("running", "FileNotFoundError")):
        log = tmp_path / f"{owner}.txt"
        with open(log, "w") as handle:
            subprocess.run([sys.executable, "-c", code, owner], stderr=handle, check=True, timeout=60)
        time.sleep(2)  # the grandchild outlives a gone owner
        text = log.read_text()
        assert (expected in text) if expected else text == "", text
