import pytest
import torch
from pconv.core.distributed import DistEnv, all_ranks_any, dist_env, mean_over_ranks, pick_device


def test_single_process_defaults(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    env = dist_env()
    assert env == DistEnv(0, 1, 0) and env.is_main and not env.distributed
    assert all_ranks_any(True, torch.device("cpu")) is True
    assert mean_over_ranks({"a": 2.0}, torch.device("cpu")) == {"a": 2.0}


def test_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = dist_env()
    assert env == DistEnv(3, 4, 1) and not env.is_main and env.distributed


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
