"""What a run still has to do: the pure plan over what ``OUT`` already holds (resume, shards, grids)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from pconv.evaluator import store
from pconv.evaluator.grids import INPUT, TARGET

__all__ = ["WorkPlan", "plan_work"]

Key = tuple[str, int]


@dataclass(frozen=True)
class WorkPlan:
    """What a run still has to do on its pairs; everything else is already in ``OUT``.

    ``pairs``: every pair with anything to do, ascending (the photos and masks to load). ``run``: per
    method spec (and ``store.REAL``, the ground truth, when features are on), the pairs to compute its
    composite for. ``scores`` and ``features``: the ``(name, pair)`` whose metrics and Inception features
    to record. ``shown``: the pairs of ``pairs`` whose grid samples are (re)drawn.
    """

    pairs: tuple[int, ...]
    run: dict[str, frozenset[int]]
    scores: frozenset[Key]
    features: frozenset[Key]
    shown: frozenset[int]


def plan_work(
    pairs: Sequence[int],
    methods: Sequence[str],
    *,
    shown: AbstractSet[int],
    scored: AbstractSet[Key],
    featured: AbstractSet[Key] | None,
    drawn: AbstractSet[Key],
) -> WorkPlan:
    """The work missing on ``pairs`` (this shard's), from what ``OUT`` holds; pure, so resuming is testable.

    ``scored`` and ``featured``: the ``(method, pair)`` with metrics and with features stored (``featured``
    None: no feature extractor, so no features are wanted, not even the ground truth's). ``shown``: the
    pairs of the grids; ``drawn``: the ``(name, pair)`` whose grid sample exists, names being methods,
    ``INPUT`` and ``TARGET``. A method is run on a pair when its metrics or features are missing, or the
    pair is shown and its sample is missing (e.g. after ``--grid-pairs`` grew).
    """
    names = [*methods, store.REAL] if featured is not None else list(methods)

    def lacks_sample(name: str, pair: int) -> bool:
        return pair in shown and (name, pair) not in drawn

    def missing(name: str, pair: int) -> bool:
        if featured is not None and (name, pair) not in featured:
            return True
        return name != store.REAL and ((name, pair) not in scored or lacks_sample(name, pair))

    todo = tuple(
        pair
        for pair in pairs
        if any(missing(name, pair) for name in names) or any(lacks_sample(n, pair) for n in (INPUT, TARGET))
    )
    run = {name: frozenset(pair for pair in todo if missing(name, pair)) for name in names}
    return WorkPlan(
        pairs=todo,
        run=run,
        scores=frozenset((m, p) for m in methods for p in run[m] if (m, p) not in scored),
        features=frozenset(
            (n, p) for n in names for p in run[n] if featured is not None and (n, p) not in featured
        ),
        shown=frozenset(pair for pair in todo if pair in shown),
    )
