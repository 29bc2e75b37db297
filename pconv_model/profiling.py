"""A device-free proxy of GPU cost: the ATen operations a call runs and the bytes they touch.

In eager mode on a GPU each ATen operation that computes something is one or a few kernel launches, and
a small network is bound by launches and memory passes rather than arithmetic. :func:`count_ops` records
every such operation of a call through a ``TorchDispatchMode``: views, allocations and metadata queries
move no data and are left out; each other operation counts once, and its bytes are the sizes of its
tensor inputs plus outputs (an in-place operation reads and writes its tensor, so counts it twice).
Run it on the ``meta`` device to get the counts of a CUDA run without a GPU and without computing
anything: shapes and dtypes are all it needs, and code that checks mask values on the CPU (a
data-dependent shortcut) takes its GPU path there.

Example:
    >>> import torch
    >>> counted = count_ops(lambda: torch.ones(2, 3, device="meta").mul(2).relu_())
    >>> counted.ops, counted.bytes
    (3, 120)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["OpCount", "count_ops"]

# Operations that launch no kernel and move no data: allocation, aliasing and metadata.
_FREE = frozenset(
    {
        "aten.empty",
        "aten.empty_like",
        "aten.empty_strided",
        "aten.detach",
        "aten.lift_fresh",
        "aten.promote_types",
        "aten.result_type",
        "aten.is_same_size",
        "aten._local_scalar_dense",
        "aten.scalar_tensor",  # a wrapped CPU number (a where() bound), not a device tensor
    }
)


@dataclass
class OpCount:
    """ATen operations run (``ops``, by name in ``by_name``) and bytes read plus written (``bytes``)."""

    ops: int = 0
    bytes: int = 0
    by_name: Counter[str] = field(default_factory=Counter)


class _Recorder(TorchDispatchMode):
    def __init__(self, count: OpCount) -> None:
        super().__init__()
        self.count = count

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        name = str(func.overloadpacket)
        if not func.is_view and name not in _FREE:
            self.count.ops += 1
            self.count.by_name[name] += 1
            self.count.bytes += sum(
                t.numel() * t.element_size()
                for t in tree_leaves((args, kwargs, out))
                if isinstance(t, torch.Tensor)
            )
        return out


def count_ops(call: Callable[[], object]) -> OpCount:
    """Run ``call()`` once and count the ATen operations it dispatches, backward passes included."""
    count = OpCount()
    with _Recorder(count):
        call()
    return count
