import pytest
import torch
import torch.distributed as dist

from pconv.core.distributed import DistEnv, all_ranks_any, barrier, dist_env, mean_over_ranks, pick_device


def test_single_process_defaults(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    env = dist_env()
    assert env == DistEnv(0, 1, 0, 1) and env.is_main and not env.distributed
    assert all_ranks_any(True, torch.device("cpu")) is True
    assert mean_over_ranks({"a": 2.0}, torch.device("cpu")) == {"a": 2.0}


def test_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert dist_env() == DistEnv(3, 4, 1, 2)  # a launcher without LOCAL_WORLD_SIZE: at least LOCAL_RANK + 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    env = dist_env()
    assert env == DistEnv(3, 4, 1, 2) and not env.is_main and env.distributed


@pytest.mark.parametrize(
    "rank, world, message",
    [("4", "4", "RANK=4 does not fit WORLD_SIZE=4"), ("x", "2", "RANK='x' is not an integer")],
)
def test_bad_environment(monkeypatch, rank, world, message):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", world)
    with pytest.raises(ValueError, match=message):
        dist_env()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_device_choice_without_cuda():
    assert pick_device("auto", DistEnv()) == torch.device("cpu")
    assert pick_device("cpu", DistEnv()) == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda", DistEnv())
    with pytest.raises(ValueError, match="device must be auto, cpu or cuda"):
        pick_device("tpu", DistEnv())


def one_gpu_machine(monkeypatch, count=1):
    """CUDA looks present with ``count`` devices; nothing here may actually use one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_more_processes_than_gpus_is_one_line(monkeypatch):
    one_gpu_machine(monkeypatch)
    assert pick_device("auto", DistEnv()) == torch.device("cuda", 0)
    for rank in (0, 1):  # every rank stops, before any of them touches the GPU
        env = DistEnv(rank=rank, world_size=2, local_rank=rank, local_world_size=2)
        for requested in ("auto", "cuda"):
            with pytest.raises(ValueError) as info:
                pick_device(requested, env)
            assert str(info.value) == (
                "2 processes on this machine but 1 CUDA device(s), one each wanted: start at most 1 "
                "(torchrun --nproc-per-node 1) or pass --device cpu"
            )
        assert pick_device("cpu", env) == torch.device("cpu")
        assert pick_device("cuda:0", env) == torch.device("cuda", 0)  # asked for by index: may share it
    with pytest.raises(ValueError, match="'cuda:1' asked for, but this machine has 1 CUDA device"):
        pick_device("cuda:1", DistEnv())
    with pytest.raises(ValueError, match="device must be auto, cpu or cuda"):
        pick_device("cuda:x", DistEnv())
    one_gpu_machine(monkeypatch, count=2)
    assert pick_device("auto", DistEnv(1, 2, 1, 2)) == torch.device("cuda", 1)


def test_cpu_ranks_never_touch_the_accelerator(monkeypatch, tmp_path):
    """torch's own barrier queries the accelerator (a CUDA context on GPU 0 in every process of a GPU
    machine); ours, on gloo, does not."""

    def touched(*args, **kwargs):
        raise AssertionError("the accelerator was queried")

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        monkeypatch.setattr(torch._C, "_get_accelerator", touched)
        with pytest.raises(AssertionError, match="accelerator was queried"):
            dist.barrier()
        barrier()
        assert all_ranks_any(True, torch.device("cpu")) is True
        assert mean_over_ranks({"a": 2.0}, torch.device("cpu")) == {"a": 2.0}
    finally:
        dist.destroy_process_group()
