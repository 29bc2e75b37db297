"""Read a downloaded checkpoint without running code from it.

``torch.load(..., weights_only=True)`` first. Checkpoints written by OpenMMLab's runners keep run metadata
(numpy scalars and arrays, timestamps) next to the weights, which the tensor-only unpickler refuses; for
those, and only those, a second attempt allows exactly :data:`SAFE_TYPES`: numpy scalars, numeric arrays,
their dtypes and ``datetime``. None of them can call back into arbitrary code; anything else (a class of
the training framework, ``object`` arrays) is refused with its name, never unpickled.
"""

from __future__ import annotations

import datetime
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pconv.core.weights import check_torch_archive

__all__ = ["SAFE_TYPES", "load_weights_only"]

_NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_NUMERIC_DTYPES += ("float16", "float32", "float64")

# numpy's own pickle reconstructors, taken from what it pickles (their module moved in numpy 2)
_scalar = np.float64(0).__reduce__()[0]
_reconstruct = np.zeros(1).__reduce__()[0]

SAFE_TYPES: list[Any] = [
    # numpy < 2 pickles these under numpy.core, numpy >= 2 under numpy._core
    (_scalar, "numpy.core.multiarray.scalar"),
    (_scalar, "numpy._core.multiarray.scalar"),
    (_reconstruct, "numpy.core.multiarray._reconstruct"),
    (_reconstruct, "numpy._core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    *(type(np.dtype(name)) for name in _NUMERIC_DTYPES),
    datetime.datetime,
    datetime.date,
    datetime.timedelta,
]
"""What the second attempt allows beyond tensors and containers (``torch.serialization.safe_globals``)."""


def _refused_global(error: BaseException) -> str | None:
    match = re.search(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(error))
    return (match.group(1) or match.group(2)) if match else None


def load_weights_only(path: Path) -> tuple[Any, str | None]:
    """The unpickled file on the CPU, and a one-line note when it needed :data:`SAFE_TYPES` (else None).

    Raises FileNotFoundError for a missing file and ValueError for a file that is not a torch checkpoint
    or that needs any other type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    check_torch_archive(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True), None
    except Exception as error:  # the unpickler raises many types; a refused type is retried below
        if _refused_global(error) is None:
            raise ValueError(f"{path}: not a readable torch checkpoint ({type(error).__name__})") from None
    try:
        with torch.serialization.safe_globals(SAFE_TYPES):
            document = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as error:
        name = _refused_global(error)
        if name is None:
            raise ValueError(f"{path}: not a readable torch checkpoint ({type(error).__name__})") from None
        raise ValueError(
            f"{path}: needs {name} to unpickle, which is not a plain data type; refusing to load it"
        ) from None
    return document, f"{path.name}: its metadata holds numpy or datetime values; read allowing only those"
