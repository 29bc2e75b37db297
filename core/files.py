"""File I/O shared by every stage: atomic writes, JSON lines, checksums and which files are images.

Every output goes through a temporary name in the destination folder and an ``os.replace``, so an
interrupted job never leaves a half-written file behind and a resumed job can trust what it finds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "IMAGE_SUFFIXES",
    "append_jsonl",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "inside",
    "list_images",
    "read_json_object",
    "read_jsonl",
    "relative_path",
    "remove_stale_temporaries",
    "sha256_file",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"})
"""File name endings (any case) taken for images when a folder is listed: photos, frames and masks alike."""


def list_images(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by suffix), sorted by their path relative to ``folder``.

    Hidden files and folders (names starting with ``.``, e.g. half-written ``.x.tmp-*`` files) are left out.
    """
    folder = Path(folder)
    found: list[Path] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if recursive:
                        stack.append(Path(entry.path))
                elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                    found.append(Path(entry.path))
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def inside(folder: str | os.PathLike[str], relative: str, *, links: bool = True) -> Path:
    """``folder / relative`` for a path read from a manifest, shard or report, refused unless it stays inside.

    A crafted row (``../x``, an absolute path, a symlink leading out) must never make a reader open, or a
    writer replace, a file outside the folder it describes. Raises a one-line ValueError naming both.
    ``links=False`` skips resolving symlinks, for lists of millions of files inside a dataset's own tree.
    """
    folder = Path(folder)
    candidate = folder / relative
    if not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ValueError(f"{folder}: refusing the path {relative!r}: it must be relative and stay inside")
    if links and not candidate.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{folder}: refusing the path {relative!r}: it leads outside the folder")
    return candidate


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


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files of :func:`atomic_output` under ``folder`` whose writer no longer runs.

    A killed job leaves its ``.NAME.tmp-PID`` behind (a half-written ``masks.h5`` can be 39 MB); the next
    writer of the folder removes them. Call it only while holding the folder's lock (``pconv.core.locks``),
    and only on this machine's folders: a pid says nothing about another host's processes. Returns the
    number removed.
    """
    removed = 0
    for root, _, names in os.walk(folder):
        for name in names:
            match = _TEMPORARY.match(name)
            if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
                Path(root, name).unlink(missing_ok=True)
                removed += 1
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    with atomic_output(path) as temp:
        temp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8, newlines untouched)."""
    atomic_write_bytes(path, text.encode("utf-8"))


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


def read_json_object(
    path: str | os.PathLike[str], *, required: dict[str, type] | None = None
) -> dict[str, Any]:
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


def relative_path(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """``path`` relative to ``folder``, with POSIX separators: what a record inside ``folder`` stores, so
    that it reads the same however either was spelled (``bench``, ``./bench/``, ``/abs/bench``), leaks no
    absolute path, and stays true when both move together."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(folder))).as_posix()
