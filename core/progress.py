"""One progress-bar factory, so every long job looks the same and ``--quiet`` silences all of them."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

__all__ = ["progress_bar", "progress_message", "restart_rate"]

T = TypeVar("T")


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
    return tqdm(
        iterable, total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True, initial=initial
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
