"""Groupings of the pairs as data: which pairs each column of the report averages over.

``paper``: the paper's six hole-ratio bins, each split into N (no hole within the border band) and B, as
in its Table 1. ``area10``: LaMa's ten equal hole-area bins (0, 0.1], (0.1, 0.2], ... (0.9, 1] (its
evaluator's grouping; bins no mask falls in are left out). ``overall``: every pair. A report may use
several groupings at once; their columns follow each other in the order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pconv.maskgen.sets.bins import SPLITS

__all__ = ["DEFAULT_GROUPINGS", "GROUPINGS", "MIN_GROUP_PAIRS", "Group", "groups_of"]

GROUPINGS = ("paper", "area10", "overall")
DEFAULT_GROUPINGS = ("paper", "overall")
MIN_GROUP_PAIRS = 100
"""Fewest pairs of a group for which IS, FID, KID and P/U-IDS are printed: below it IS splits hold under
10 images, KID subsets under 100, and FID's bias (it grows as the sample shrinks) swamps method gaps."""
_AREA_BINS = 10


@dataclass(frozen=True)
class Group:
    """One column: ``grouping`` names its family, ``key`` the column; ``bin``/``split`` select a paper cell,
    ``low``/``high`` a hole-ratio interval (low, high]; all None: every pair."""

    grouping: str
    key: str
    label: str
    bin: int | None = None
    split: str | None = None
    low: float | None = None
    high: float | None = None

    def holds(self, record: Mapping[str, Any]) -> bool:
        if self.bin is not None:
            return record["bin"] == self.bin and record["split"] == self.split
        if self.low is not None and self.high is not None:
            ratio = float(record["hole_ratio"])
            return (self.low < ratio or self.low == 0) and ratio <= self.high
        return True


def _area_group(index: int) -> Group:
    low, high = index / _AREA_BINS, (index + 1) / _AREA_BINS
    label = f"({low:g},{high:g}]"
    return Group("area10", f"area {label}", label, low=low, high=high)


def groups_of(
    groupings: Sequence[str], bins: Sequence[tuple[int, str]], ratios: Sequence[float]
) -> list[Group]:
    """The columns of ``groupings`` for a benchmark whose paper bins are ``[(index, label), ...]`` and whose
    pairs have hole ratios ``ratios`` (area10 keeps only the bins that hold a pair)."""
    unknown = [name for name in groupings if name not in GROUPINGS]
    if unknown or not groupings:
        raise ValueError(f"unknown grouping {unknown or groupings!r}; choose from {', '.join(GROUPINGS)}")
    columns: list[Group] = []
    for name in dict.fromkeys(groupings):
        if name == "paper":
            columns += [
                Group("paper", f"{label} {split}", label, bin=index, split=split)
                for index, label in bins
                for split in SPLITS
            ]
        elif name == "area10":
            areas = [_area_group(index) for index in range(_AREA_BINS)]
            columns += [g for g in areas if any(g.holds({"hole_ratio": ratio}) for ratio in ratios)]
        else:
            columns.append(Group("overall", "all", "all"))
    return columns
