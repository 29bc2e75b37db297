"""Worker processes: their shared state, results in order, what a stopped run leaves on the terminal."""

import subprocess
import sys
import time

import pytest

from pconv.core.workers import ordered_results, worker_context, worker_processes, worker_state


@pytest.mark.parametrize("workers", [1, 2])
def test_each_process_gets_its_initializers_state_and_results_keep_their_order(workers):
    with worker_processes(workers, initializer=str.upper, initargs=("made once",)) as executor:
        assert (executor is None) == (workers == 1)
        assert list(ordered_results(executor, worker_state, [()] * 3)) == ["MADE ONCE"] * 3
        assert list(ordered_results(executor, pow, [(2, n) for n in range(6)])) == [1, 2, 4, 8, 16, 32]


def test_the_state_is_released_when_the_block_ends():
    with worker_processes(1, initializer=list, initargs=((1, 2),)):
        assert worker_state() == [1, 2]
    with pytest.raises(RuntimeError, match="no worker state"):
        worker_state()


def test_a_failed_task_raises_when_its_turn_comes():
    results = ordered_results(None, int, [("1",), ("x",)])
    assert next(results) == 1
    with pytest.raises(ValueError, match="invalid literal"):
        next(results)


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
