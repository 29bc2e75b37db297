"""One progress-bar factory, so every long job looks the same and ``--quiet`` silences all of them.

On a terminal a bar redraws in place. When stderr is not a terminal (a log file, CI) redraws would pile
up as thousands of lines, so the same bar instead writes one line when it starts and one per tenth of
its total (and one at its end).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import TextIO, TypeVar

from tqdm import tqdm

__all__ = ["format_duration", "progress_bar", "progress_message", "restart_rate"]

T = TypeVar("T")
LINE_STEPS = 10
"""Lines a bar writes over its total when stderr is not a terminal."""


class _Lines:
    """A stream for tqdm that turns each redraw (``\\r`` + status) into one line of ``target``; a redraw
    at the count of the last line (the bar's close) writes nothing."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        count = line.partition(" %)")[0]  # "desc: n/total unit (pct": the times after it always change
        if line and count != self.last:
            self.target.write(line + "\n")
            self.last = count

    def flush(self) -> None:
        self.target.flush()


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str,
    enabled: bool = True,
    unit: str = "it",
    initial: int = 0,
) -> tqdm:
    """A tqdm bar on stderr; ``enabled=False`` gives a silent one with the same interface.

    ``initial``: items done before (a resumed run); they fill the bar but not its rate, so the ETA
    reflects this run's speed.
    """
    if not enabled or sys.stderr.isatty():
        return tqdm(
            iterable,
            total=total,
            desc=desc,
            unit=unit,
            disable=not enabled,
            dynamic_ncols=True,
            initial=initial,
        )
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    step = max(1, math.ceil((total or 0) / LINE_STEPS))
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        file=_Lines(sys.stderr),
        ncols=100,
        miniters=step,
        mininterval=0,
        maxinterval=math.inf,  # never fall back to a line per item when progress is slow
        bar_format="{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f} %), {elapsed} elapsed, "
        "{remaining} left",
    )


def progress_message(message: str) -> None:
    """Print one line on stderr above any open bar (a plain print would tear the bar apart)."""
    tqdm.write(message, file=sys.stderr)


def restart_rate(bar: tqdm) -> None:
    """Measure ``bar``'s rate and ETA from now on, at its current position: after a first step that
    compiled (seconds to minutes), which would otherwise drag the estimate for a long while."""
    done = bar.n
    bar.reset(total=bar.total)
    bar.n = bar.last_print_n = bar.initial = done


def format_duration(seconds: float) -> str:
    """``41 s``, ``3 min 47 s``, ``2 h 05 min``: how long a command took, in its summary line."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
