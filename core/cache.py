"""A least-recently-used cache bounded by the bytes of its arrays, not by a count: raw masks range from
a few hundred KB (640×480) to several MB (4K), so a count that suits one size overflows memory at another.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

__all__ = ["ArrayCache"]

V = TypeVar("V", np.ndarray, tuple[np.ndarray, ...])


class ArrayCache(Generic[V]):
    """Values made by ``make(key)``, each an array or a tuple of arrays, kept until their total size
    passes ``budget`` bytes; the least recently used go first, the newest always stays."""

    def __init__(self, make: Callable[[Hashable], V], budget: int) -> None:
        self._make = make
        self._budget = budget
        self._values: collections.OrderedDict[Hashable, V] = collections.OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> V:
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        value = self._make(key)
        self._values[key] = value
        self._bytes += _nbytes(value)
        while self._bytes > self._budget and len(self._values) > 1:
            self._bytes -= _nbytes(self._values.popitem(last=False)[1])
        return value


def _nbytes(value: np.ndarray | tuple[np.ndarray, ...]) -> int:
    return value.nbytes if isinstance(value, np.ndarray) else sum(part.nbytes for part in value)
