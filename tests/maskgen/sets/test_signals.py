"""A SIGTERM, SIGHUP or kill -9 of a multi-worker build leaves no process of it behind (issues 11, 23)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, stack = _children(), set(), [pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_stopping_a_two_worker_build_leaves_no_process(make_raw_pool, tmp_path, signum):
    raw = make_raw_pool("raw", sources=6, per_source=8)
    pconv = Path(sys.executable).with_name("pconv")
    args = [pconv, "-q", "masks", "benchmark", "--raw", raw, "--out", tmp_path / "bench", "--size", "128"]
    process = subprocess.Popen([*map(str, args), "--per-bin", "400", "--workers", "2", "--border", "8"])
    try:
        deadline = time.monotonic() + 120
        masks = tmp_path / "bench" / "masks"
        while time.monotonic() < deadline and not (masks.is_dir() and len(list(masks.iterdir())) > 20):
            time.sleep(0.2)  # mid-build: the workers have started and made masks
        family = _descendants(process.pid)  # forkserver, resource tracker, 2 workers
        assert len(family) >= 3 and process.poll() is None
        os.kill(process.pid, signum)
        process.wait(timeout=5)
        time.sleep(5)
        assert [pid for pid in family if _alive(pid)] == []
        assert process.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 1)  # 1: as Ctrl-C
    finally:
        process.kill()
        process.wait()
