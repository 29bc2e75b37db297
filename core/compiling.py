"""When the toolkit compiles its networks with ``torch.compile``, and whether this machine can.

``--compile`` choices, as the CLI and the configs record them: ``auto`` compiles on CUDA (where eager
PConv is bound by kernel launches and memory passes, which compiling fuses) and not on the CPU (where
compiling the PConv U-Net took one to two minutes on two shared cores, and the compiled network was no
faster); ``on`` compiles on any device and stops with one line when the device's compiler toolchain is
missing; ``off`` never compiles.

Compiling uses torch.compile's default backend (inductor) and mode; it traces the U-Nets (and a training
step's loss) without graph breaks, and compiled outputs equal eager ones to float rounding. The first call
of each new input shape compiles (seconds to a minute), so callers warm up before their progress bars
start.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["COMPILE_CHOICES", "compile_network", "compile_problem", "resolve_compile"]

COMPILE_CHOICES = ("auto", "on", "off")


def compile_problem(device: torch.device) -> str | None:
    """Why torch.compile's default backend cannot run on ``device`` here, or None when it can: inductor
    needs triton for CUDA and a C++ compiler (``$CXX``, else g++, or clang++ on macOS) for the CPU."""
    if device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs triton, which is not installed (pip install triton)"
        return None
    if device.type == "cpu":
        compiler = os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")
        if shutil.which(compiler) is None:
            return f"torch.compile on the CPU needs a C++ compiler; {compiler} was not found (set CXX)"
        return None
    return f"torch.compile is not supported by this toolkit on {device.type}"


def resolve_compile(choice: str, device: torch.device) -> bool:
    """Whether to compile for ``choice`` (one of :data:`COMPILE_CHOICES`) on ``device``.

    ``auto`` is True on CUDA when triton is there; ``on`` raises ValueError with
    :func:`compile_problem`'s reason when the device cannot compile.
    """
    if choice not in COMPILE_CHOICES:
        raise ValueError(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {choice!r}")
    if choice == "off":
        return False
    problem = compile_problem(device)
    if choice == "auto":
        return device.type == "cuda" and problem is None
    if problem is not None:
        raise ValueError(f"--compile: {problem}; run with --no-compile")
    return True


def compile_network(model: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compile`` of a module or function in the default mode, one static graph per input shape.

    Static: a new shape compiles again instead of switching to shape-generic code, whose symbolic tracing
    of this U-Net took minutes in tests; the toolkit's jobs keep their shapes (equal batches of one size,
    see :class:`pconv.pconv_model.inpaint.Inpainter`). A compiled module shares ``model``'s parameters.
    """
    return torch.compile(model, dynamic=False)
