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
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "IMAGE_SUFFIXES",
    "append_jsonl",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "hidden_name",
    "inside",
    "list_images",
    "read_json_object",
    "read_jsonl",
    "read_jsonl_lines",
    "rebased",
    "refuse_overlap",
    "relative_path",
    "remove_stale_temporaries",
    "remove_stale_temporaries_beside",
    "sha256_file",
    "temporary_name",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"})
"""File name endings (any case) taken for images when a folder is listed: photos, frames and masks alike."""


def list_images(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by suffix), sorted by their path relative to ``folder``.

    Hidden files and folders (names starting with ``.``, e.g. half-written temporaries) are left out, and
    so is anything with an image's name that is not a regular file (a FIFO would block its reader for
    ever, a device would stream without end): each one skipped is named on stderr.
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
                try:
                    kind = "dir" if entry.is_dir() else "file" if entry.is_file() else "other"
                except OSError:  # a symlink loop, say
                    kind = "other"
                if kind == "dir":
                    if recursive:
                        stack.append(Path(entry.path))
                elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                    if kind == "file":
                        found.append(Path(entry.path))
                    else:
                        print(f"skipped {entry.path}: not a regular file", file=sys.stderr)
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


def refuse_overlap(
    output: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str] | None]
) -> None:
    """Refuse an ``output`` that is, lies inside, or contains one of ``inputs`` (option name → path).

    A command must never replace what it reads (``--out`` naming the photo folder would write results
    into the photo set, and a later run would read them as photos). Symlinks are resolved, so two
    spellings of one folder are one. Raises a one-line ValueError naming both options.
    """
    target = Path(output).resolve()
    for option, path in inputs.items():
        if path is None:
            continue
        source = Path(path).resolve()
        if target == source:
            how = "is"
        elif target.is_relative_to(source):
            how = "lies inside"
        elif source.is_relative_to(target):
            how = "contains"
        else:
            continue
        raise ValueError(f"{output}: the output {how} the input {option} {path}; write it elsewhere")


def hidden_name(name: str, suffix: str) -> str:
    """``.NAME`` + ``suffix``, the name of a file pconv keeps beside ``NAME`` (a temporary, a lock); when
    that would pass the usual 255-byte limit on a name, NAME is cut and a digest of it added, so that any
    legal output name keeps its companions."""
    full = f".{name}{suffix}"
    if len(full.encode()) <= 255:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f".{name.encode()[:120].decode(errors='ignore')}~{digest}{suffix}"


def temporary_name(path: str | os.PathLike[str], pid: int | None = None) -> Path:
    """The temporary name of ``path`` while pconv writes it: ``.NAME.pconv-tmp-PID`` beside it, a name only
    pconv makes, so the sweep of :func:`remove_stale_temporaries` never touches a user's own files."""
    path = Path(path)
    return path.with_name(hidden_name(path.name, f".pconv-tmp-{os.getpid() if pid is None else pid}"))


def _writes_directly(path: Path) -> bool:
    """True for a character device or FIFO (``/dev/stdout``, ``/dev/null``, a pipe): written in place,
    never renamed over. Block devices and sockets are refused: writing one would destroy a disk or fail."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket"
        raise ValueError(f"{path}: is {kind}; give a regular file, a character device or a FIFO as output")
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path}: is a folder; give a file name as output")
    return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``durable`` also flushes the file to disk before the rename (for checkpoints: a machine crash must not
    leave an empty file under the final name); off by default, since most outputs can be remade. A
    character device or FIFO (``--csv /dev/stdout``) is never replaced: the finished temporary file (in
    the system's temporary folder) is copied into it; block devices and sockets are refused.
    """
    final = Path(path)
    if _writes_directly(final):
        with tempfile.TemporaryDirectory(prefix="pconv-") as folder:
            temp = Path(folder) / final.name
            yield temp
            with open(temp, "rb") as source, open(final, "wb") as target:
                shutil.copyfileobj(source, target)
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_name(final)
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


_TEMPORARY = re.compile(r"^\..+\.pconv-tmp-(\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _stale(name: str) -> bool:
    match = _TEMPORARY.match(name)
    return bool(match) and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1)))


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the temporary files of :func:`atomic_output` under ``folder`` whose writer no longer runs.

    A killed job leaves its ``.NAME.pconv-tmp-PID`` behind (a half-written ``masks.h5`` can be 39 MB); the
    next writer of the folder removes them. Only that pattern is removed (a user's ``.notes.tmp-1`` stays),
    and symlinked folders are not followed. Call it only while holding the folder's lock
    (``pconv.core.locks``), and only on this machine's folders: a pid says nothing about another host's
    processes. Returns the number removed.
    """
    removed = 0
    for root, _, names in os.walk(folder):
        for name in names:
            if _stale(name):
                Path(root, name).unlink(missing_ok=True)
                removed += 1
    return removed


def remove_stale_temporaries_beside(path: str | os.PathLike[str]) -> int:
    """Delete ``path``'s own temporaries beside it (``.NAME.pconv-tmp-PID``, files or whole folders, such
    as the release folder a killed ``publish`` was building) whose writer no longer runs; nothing else in
    the parent folder is looked at. Call it while holding ``path``'s lock. Returns the number removed."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    prefix = hidden_name(path.name, ".pconv-tmp-")
    removed = 0
    for entry in path.parent.iterdir():
        if entry.name.startswith(prefix) and _stale(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
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
    return [record for _, record in read_jsonl_lines(path)]


def read_jsonl_lines(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """:func:`read_jsonl` with each record's line number, for errors that point at the right line."""
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
        except RecursionError:
            raise ValueError(f"{path}:{number}: JSON nested too deeply") from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            raise ValueError(f"{path}:{number}: not valid JSON ({str(error).split(';')[0]})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
        records.append((number, record))
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
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"{path}: not valid JSON ({str(error).split(';')[0]})") from None
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


def rebased(path: str, old: str | os.PathLike[str], new: str | os.PathLike[str]) -> str:
    """``path``, recorded relative to the folder ``old``, made relative to the folder ``new``: a record
    copied into another folder (a shard merged, a raw mask's source in a mask set) stays true."""
    return relative_path(Path(old) / path, new)
