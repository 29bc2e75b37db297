"""One progress-bar factory, so every long job looks the same and ``--quiet`` silences all of them."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

__all__ = ["progress_bar", "progress_message"]

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
