"""One progress-bar factory, so every long job looks the same and ``--quiet`` silences all of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

__all__ = ["progress_bar"]

T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str,
    enabled: bool = True,
    unit: str = "it",
) -> tqdm:
    """A tqdm bar on stderr; ``enabled=False`` gives a silent one with the same interface."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True)
