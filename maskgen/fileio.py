"""File I/O shared by every stage: atomic writes, mask PNGs, JSON lines and checksums.

Every output goes through a temporary name in the destination folder and an ``os.replace``, so an
interrupted job never leaves a half-written file behind and a resumed job can trust what it finds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    "MASK_THRESHOLD",
    "append_jsonl",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "encode_mask_png",
    "encode_png",
    "read_json_object",
    "read_jsonl",
    "read_mask_png",
    "sha256_file",
    "write_mask_png",
]

MASK_THRESHOLD = 128
"""Grey level that splits a non-binary mask: values >= 128 count as 255, lower values as 0."""


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``durable`` also flushes the file to disk before the rename (for checkpoints: a machine crash must not
    leave an empty file under the final name); off by default, since most outputs can be remade.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        yield temp
        if durable:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    with atomic_output(path) as temp:
        temp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8, newlines untouched)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8 image as PNG with fixed settings, so equal arrays give equal bytes.

    Shape: ``(H, W)`` grey or ``(H, W, 3)`` BGR, dtype uint8.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"PNG encoding expects uint8, got {image.dtype}")
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as PNG")
    return buffer.tobytes()


def encode_mask_png(hole: np.ndarray) -> bytes:
    """Encode a hole map as an 8-bit grey PNG, 255 = hole, with settings made for two-level images.

    No row filter and zlib's run-length strategy: about four times faster than :func:`encode_png` and
    smaller files for masks (long runs of equal pixels). Fixed settings, so equal masks give equal bytes.

    Shape: ``hole`` is ``(H, W)`` bool (True = hole).
    """
    if hole.ndim != 2 or hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be a 2-D bool array, got {hole.dtype} of shape {hole.shape}")
    ok, buffer = cv2.imencode(".png", hole.view(np.uint8) * np.uint8(255), [
        cv2.IMWRITE_PNG_COMPRESSION, 6, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
        cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])
    if not ok:
        raise ValueError(f"could not encode a mask of shape {hole.shape} as PNG")
    return buffer.tobytes()


def write_mask_png(path: str | os.PathLike[str], hole: np.ndarray) -> None:
    """Write a hole map as an 8-bit PNG, 255 = hole, atomically.

    Shape: ``hole`` is ``(H, W)`` bool (True = hole).
    """
    if hole.ndim != 2 or hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be a 2-D bool array, got {hole.dtype} of shape {hole.shape}")
    atomic_write_bytes(path, encode_png(hole.astype(np.uint8) * 255))


def read_mask_png(
    path: str | os.PathLike[str], *, hole_value: int = 255, threshold: int = MASK_THRESHOLD
) -> np.ndarray:
    """Read any mask image as a hole map, whatever its convention and format.

    Grey, RGB(A) and 16-bit files are accepted: colour is reduced to grey, alpha is dropped and 16-bit
    values are scaled to 8 bits; the grey level is then split at ``threshold``. A mask whose brightest
    value is 1 is a 0/1 mask (some datasets store them so) and is split at 1 instead: at 128 it would
    silently read as one convention's "no hole at all". ``hole_value`` names the
    convention: 255 (NVIDIA's test masks, ours) means bright = hole, 0 (NVIDIA's training masks, qd-imd)
    means dark = hole.

    Returns ``(H, W)`` bool, True = hole.
    """
    if hole_value not in (0, 255):
        raise ValueError(f"hole value must be 0 or 255, got {hole_value}")
    image = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such mask file")
        raise ValueError(f"{path}: not a readable image")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{path}: unsupported mask pixel type {image.dtype}")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    bright = image >= (1 if image.max() == 1 else threshold)
    return bright if hole_value == 255 else ~bright


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON object as a line with a single write and fsync.

    A crash can at worst leave a final line without its newline; :func:`read_jsonl` drops it.
    """
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file, ignoring a trailing line cut short by an interrupted writer."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # whatever follows the last newline was never finished
    records = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
        records.append(record)
    return records


def read_json_object(path: str | os.PathLike[str], *,
                     required: dict[str, type] | None = None) -> dict[str, Any]:
    """A JSON file that must hold an object with the ``required`` keys of the given types.

    Raises a one-line ValueError naming the file for unreadable JSON, another top-level type, or a
    missing or mistyped key, so a damaged metadata file never surfaces as a KeyError traceback.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
    for key, kind in (required or {}).items():
        if not isinstance(data.get(key), kind):
            found = "nothing" if key not in data else type(data[key]).__name__
            raise ValueError(f"{path}: {key!r} should be {kind.__name__}, found {found}")
    return data


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large archives do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
