"""Time `pconv --help`, `pconv masks --help` and every subcommand's `--help` (goal: <= 1 s each).

Each is run ``--runs`` times in a fresh interpreter through the installed ``pconv`` script; the median
and the slowest run are printed per command, with the machine's load average beside them (the cores are
often shared).

    .venv/bin/python benchmarks/cli_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

from pconv import cli


def commands() -> list[tuple[str, ...]]:
    """Every command path, top level first."""
    paths: list[tuple[str, ...]] = [(), ("masks",)]
    for name in cli.TOP_COMMANDS:
        paths.append((name,))
        command = cli.main.get_command(click.Context(cli.main), name)
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.commands]
    return paths + [("masks", name) for name in cli.MASK_COMMANDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    script = Path(sys.executable).with_name("pconv")
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, {runs} runs each")
    worst = 0.0
    for path in commands():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([script, *path, "--help"], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        worst = max(worst, median)
        label = " ".join(("pconv", *path, "--help"))
        print(f"{label}: median {median:.2f} s, max {max(times):.2f} s")
    print(f"slowest median: {worst:.2f} s (goal <= 1 s)")


if __name__ == "__main__":
    main()
