"""Deterministic work splitting for cluster job arrays (``--shard K/N``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Shard"]


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, "K of N") of a job list: one contiguous block of it.

    Splitting by job number rather than by timing means every shard's share is known up front, the union
    of all shards is exactly the full job list, and a re-run of one shard redoes the same jobs. Blocks
    rather than every N-th job, because the jobs of one video are its consecutive pairs: a shard then
    decodes only its own videos (and part of at most two more), not every video of the list.
    """

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"shard must be K/N with 1 <= K <= N, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse ``"K/N"``, e.g. ``"3/8"``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ValueError(f"shard must look like K/N (e.g. 2/8), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def jobs(self, total: int) -> range:
        """This shard's jobs among ``range(total)``: ``[(K-1)·total // N, K·total // N)``."""
        return range((self.index - 1) * total // self.count, self.index * total // self.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
