"""``--max-pairs N``: a seeded subset of the pairs, stratified over the paper's bin × N/B cells.

For trying a slow method (PatchMatch, a big model) on a few pairs with the whole report: every cell keeps
its share of the benchmark (largest-remainder rounding of N × cell size / pairs, ties to the earlier cell),
drawn from the cell's pairs by one generator seeded with ``--seed``, so the same request scores the same
pairs. Reports of a subset say so in their title, notes and protocol.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["stratified_subset", "subset_record"]


def stratified_subset(cells: Sequence[tuple[int, str]], max_pairs: int, *, seed: int) -> list[int]:
    """Ascending indices of at most ``max_pairs`` pairs, given each pair's ``(bin, split)`` cell."""
    if max_pairs < 1:
        raise ValueError(f"--max-pairs must be >= 1, got {max_pairs}")
    if max_pairs >= len(cells):
        return list(range(len(cells)))
    members: dict[tuple[int, str], list[int]] = {}
    for pair, cell in enumerate(cells):
        members.setdefault(cell, []).append(pair)
    order = sorted(members)
    quotas = [max_pairs * len(members[cell]) / len(cells) for cell in order]
    counts = [int(quota) for quota in quotas]
    by_remainder = sorted(range(len(order)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: max_pairs - sum(counts)]:
        counts[i] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for cell, count in zip(order, counts, strict=True):
        pool = members[cell]
        chosen += [pool[i] for i in rng.permutation(len(pool))[:count]]
    return sorted(chosen)


def subset_record(pairs: Sequence[int], *, max_pairs: int, seed: int, total: int) -> dict[str, Any]:
    """What config.json and the protocol keep of a subset: the request, the count and the pairs' digest."""
    text = ",".join(str(pair) for pair in pairs)
    return {
        "max_pairs": max_pairs,
        "seed": seed,
        "pairs": len(pairs),
        "of": total,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
