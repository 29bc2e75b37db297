import importlib.util

import pytest
import torch

from pconv.core.compiling import compile_problem, resolve_compile

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_off_never_and_auto_only_on_cuda(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # triton "installed"
    assert resolve_compile("off", CUDA) is False
    assert resolve_compile("auto", CPU) is False
    assert resolve_compile("auto", CUDA) is True


def test_auto_without_triton_runs_eager_and_on_says_why(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert resolve_compile("auto", CUDA) is False
    with pytest.raises(ValueError, match=r"^--compile: torch.compile on CUDA needs triton.*--no-compile$"):
        resolve_compile("on", CUDA)


def test_on_the_cpu_needs_a_cxx_compiler(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    assert "no-such-c++ was not found (set CXX)" in compile_problem(CPU)
    with pytest.raises(ValueError, match="needs a C\\+\\+ compiler"):
        resolve_compile("on", CPU)
    compiler = tmp_path / "c++"
    compiler.write_text("#!/bin/sh\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("CXX", str(compiler))
    assert compile_problem(CPU) is None and resolve_compile("on", CPU) is True


def test_bad_choices_and_devices():
    with pytest.raises(ValueError, match="compile must be one of auto, on, off, got 'yes'"):
        resolve_compile("yes", CPU)
    assert "not supported" in compile_problem(torch.device("meta"))
