"""Importing the publicly released PConv weights (OpenMMLab mmagic, naoto0804) into our checkpoints."""

from .importer import ImportResult, describe_checkpoint, import_checkpoint
from .layouts import LAYOUTS, Layout
from .safe_load import SAFE_TYPES, load_weights_only

__all__ = [
    "LAYOUTS",
    "SAFE_TYPES",
    "ImportResult",
    "Layout",
    "describe_checkpoint",
    "import_checkpoint",
    "load_weights_only",
]
