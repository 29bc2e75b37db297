"""What `pconv train`, `pconv inpaint` and `pconv model` accept, as plain data without torch.

The commands' ``--help`` lists these choices and bounds; keeping them here lets it answer in a fraction
of a second, while the modules that use them (checkpoint, train, pretrained.layouts) import torch.
"""

from __future__ import annotations

__all__ = ["AMP_MODES", "ARCH_NAMES", "LAYOUT_NAMES", "MAX_LAYERS", "MAX_WIDTH", "PHASE_LR"]

ARCH_NAMES = ("pconv", "conv")
"""The partial-convolution U-Net and the same U-Net with plain convolutions (the paper's Conv baseline)."""
MAX_LAYERS = 12
"""Deepest U-Net accepted (the paper's has 8; inputs must be multiples of 2**layers)."""
MAX_WIDTH = 8.0
"""Widest channel multiplier accepted: width 8 already holds about 2 billion weights (8 GB)."""
PHASE_LR = {"initial": 2e-4, "finetune": 5e-5}
AMP_MODES = ("auto", "bf16", "fp16", "off")
"""Mixed precision of training: auto is bf16 on a CUDA device that supports it, fp16 on one that does
not, off (float32) on the CPU; the run's config.json records the mode that ran."""
LAYOUT_NAMES = ("mmagic", "naoto0804")
"""Whose released checkpoints `pconv model import` reads (see pretrained.layouts)."""
