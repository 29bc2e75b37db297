"""Running one training on many processes: torchrun's environment, the process group and small collectives.

``torchrun`` starts one process per GPU and tells each who it is through ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``; without them the process is rank 0 of 1 and nothing distributed is
set up. The backend is NCCL when the processes drive CUDA devices and gloo on the CPU (CI runs two CPU
processes). Processes on the CPU never touch a GPU, even on a machine that has one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = [
    "DistEnv",
    "all_ranks_any",
    "barrier",
    "dist_env",
    "mean_over_ranks",
    "pick_device",
    "setup",
    "teardown",
]


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands: global ``rank`` of ``world_size``, ``local_rank`` of the
    ``local_world_size`` processes on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes logs, samples and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def dist_env() -> DistEnv:
    """Read torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` / ``LOCAL_WORLD_SIZE`` (defaults: a single
    process; a launcher that sets no ``LOCAL_WORLD_SIZE`` counts ``LOCAL_RANK + 1`` processes on the node)."""
    local_rank = _env_int("LOCAL_RANK", 0)
    env = DistEnv(
        _env_int("RANK", 0),
        _env_int("WORLD_SIZE", 1),
        local_rank,
        _env_int("LOCAL_WORLD_SIZE", local_rank + 1),
    )
    if env.world_size < 1 or not 0 <= env.rank < env.world_size:
        raise ValueError(f"RANK={env.rank} does not fit WORLD_SIZE={env.world_size}")
    return env


def pick_device(requested: str, env: DistEnv) -> torch.device:
    """``auto`` → this process's GPU (``cuda:LOCAL_RANK``) when CUDA is present, else the CPU.

    ``cuda`` is turned into ``cuda:LOCAL_RANK`` so that each process of a node drives its own GPU; more
    processes on the node than GPUs is refused in one line (two NCCL ranks cannot share a GPU, and a rank
    without one would fail on an invalid device ordinal). ``cpu`` never consults CUDA.
    """
    if requested not in ("auto", "cpu") and not requested.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {requested!r}")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} asked for, but CUDA is not available")
    count = torch.cuda.device_count()
    if requested in ("auto", "cuda"):
        if env.local_world_size > count:
            raise ValueError(
                f"{env.local_world_size} processes on this machine but {count} CUDA device(s), one each "
                f"wanted: start at most {count} (torchrun --nproc-per-node {count}) or pass --device cpu"
            )
        return torch.device("cuda", env.local_rank)
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {requested!r}") from None
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {requested!r} asked for, but this machine has {count} CUDA device(s)")
    return device


def setup(env: DistEnv, device: torch.device) -> None:
    """Join the process group (NCCL for CUDA, gloo for CPU) when running under torchrun with >1 process."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if env.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size)


def teardown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank. On a gloo group, a one-element all-reduce on the CPU: torch's ``dist.barrier``
    first queries the machine's accelerator, which creates a CUDA context (on GPU 0) in every process of
    a GPU machine, CPU ranks included."""
    if not dist.is_initialized():
        return
    if dist.get_backend() == dist.Backend.GLOO:
        dist.all_reduce(torch.zeros(1))
    else:
        dist.barrier(device_ids=[torch.cuda.current_device()])


def all_ranks_any(flag: bool, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. a stop signal seen by one process)."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar logs over all ranks (one all-reduce); unchanged in a single process."""
    if not dist.is_initialized() or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[key] for key in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    tensor /= dist.get_world_size()
    return dict(zip(keys, tensor.tolist(), strict=True))
