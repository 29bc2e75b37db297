"""One writer per output folder: an advisory ``flock`` on a hidden lock file that holds the writer's pid.

Two runs writing the same folder interleave their outputs (a raw pool listing every mask twice), so the
second one stops at once with a line naming the first one's pid. The lock file exists only while its
holder runs, so finished folders (and their checksums and manifests) never contain it. A lock held by a
dead process is released by the kernel, so a killed run never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from pconv.core.files import hidden_name, remove_stale_temporaries, remove_stale_temporaries_beside

__all__ = ["LOCK_NAME", "locked_beside", "locked_folder"]

LOCK_NAME = ".pconv.lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except (OSError, UnicodeDecodeError):
        return "unknown"


def _acquire(path: Path) -> int:
    """An open descriptor holding the lock on ``path``; ValueError naming the holder's pid if taken."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"{path.parent}: in use by another writer (pid {_holder(path)}); wait for it to finish "
                "or stop it"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the previous holder removed the file between our open and our flock: retry
            return fd
        os.close(fd)


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike[str], *, name: str = LOCK_NAME) -> Iterator[Path]:
    """Hold ``folder``'s lock (created with the folder if needed) for the block; yields the folder.

    A folder the lock created is removed again if the block leaves it empty. The sole writer also
    removes the temporary files that killed runs left (see
    :func:`~pconv.core.files.remove_stale_temporaries`). ``name`` lets writers that share a folder by
    design (the shards of one evaluation, perhaps on several machines) lock apart; they remove nothing.
    A command locks each folder once: locking it again, even from the same process, is refused.
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd = _acquire(path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        if name == LOCK_NAME:
            remove_stale_temporaries(folder)
        yield folder
    finally:
        path.unlink(missing_ok=True)  # still under the lock: a waiting writer re-checks the inode
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):  # not empty: the block wrote something
                folder.rmdir()


@contextlib.contextmanager
def locked_beside(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Lock an output that is built elsewhere and renamed into place (a release): the lock file sits
    beside it, ``.NAME.pconv.lock``, since the output folder itself is replaced whole. The holder first
    removes what killed writers of ``path`` left beside it (``.NAME.pconv-tmp-PID``)."""
    path = Path(path)
    with locked_folder(path.parent, name=hidden_name(path.name, LOCK_NAME)) as folder:
        remove_stale_temporaries_beside(path)
        yield folder
