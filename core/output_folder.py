"""One resumable output folder: what every writer (a raw pool, a mask set, an evaluation, a training run)
does before its first byte.

A writer owns a few names in its folder (``files``) and records what it is making in an identity JSON
file among them (``run.json``, ``build.json``...). Run again on the same folder, it finds one of four
states: **fresh** (nothing of its own there), **resume** (its identity, the same request, unfinished),
**complete** (the same, with the file a finished run writes last) or **replace** (``overwrite`` and
something to clear). Anything else (another request, files no run of this kind recorded) is refused with
the writer's own one-line message, before anything is touched.

The folder is locked for the writer's whole run (:mod:`pconv.core.locks`: one writer per folder, a
folder the lock created goes again if the run leaves it empty), and temporary files that killed runs
left in its folders are removed. A replacement moves the old files aside first and brings them back if
the new run fails, so it happens whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pconv.core.files import atomic_write_text, read_json_object
from pconv.core.locks import LOCK_NAME, locked_folder

__all__ = ["FolderState", "OutputFolder"]

FolderState = Literal["fresh", "resume", "complete", "replace"]

_TEMPORARY = re.compile(r"^\..+\.pconv-tmp-\d+$")


class OutputFolder:
    """The folder ``path`` as one writer sees it.

    ``identity_name``: the JSON file that says what the folder holds (one of ``files``); ``files``: every
    name the writer owns there (files or folders), cleared on a replacement; ``complete_name``: the file
    written last, whose presence means finished (None: the writer tells finished runs apart itself);
    ``lock_name``: for writers that share one folder by design (the shards of an evaluation);
    ``required``: keys (and their types) a readable identity file has.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        identity_name: str,
        files: Sequence[str],
        complete_name: str | None = None,
        overwrite: bool = False,
        lock_name: str = LOCK_NAME,
        required: dict[str, type] | None = None,
    ) -> None:
        self.path = Path(path)
        self.identity_name = identity_name
        self.files = tuple(dict.fromkeys([identity_name, *files]))
        self.complete_name = complete_name
        self.overwrite = overwrite
        self.lock_name = lock_name
        self.required = required

    @contextlib.contextmanager
    def locked(self) -> Iterator[OutputFolder]:
        """Hold the folder's lock for the block (creating the folder), with leftover temporaries gone
        (not in a folder shared by design: another shard may be writing them)."""
        with locked_folder(self.path, name=self.lock_name):
            if self.lock_name == LOCK_NAME:
                self._remove_temporaries()
            yield self

    def held_identity(self) -> dict[str, Any] | None:
        """The identity file's object, or None when there is none."""
        path = self.path / self.identity_name
        return read_json_object(path, required=self.required) if path.is_file() else None

    def holds_files(self) -> bool:
        """Whether any of the writer's names exists in the folder."""
        return any((self.path / name).exists() for name in self.files)

    def state(self, *, differs: Callable[[dict[str, Any]], str | None], foreign: str) -> FolderState:
        """Which of the four states the folder is in; ValueError otherwise.

        ``differs(held)`` gets the identity file's object and returns the refusal message when it
        records another request (None: the same one); ``foreign`` is the message for the writer's
        files without an identity file. With ``overwrite`` neither is asked: anything held is replaced.
        """
        if self.overwrite:
            return "replace" if self.holds_files() else "fresh"
        held = self.held_identity()
        if held is None:
            if self.holds_files():
                raise ValueError(foreign)
            return "fresh"
        problem = differs(held)
        if problem is not None:
            raise ValueError(problem)
        complete = self.complete_name is not None and (self.path / self.complete_name).is_file()
        return "complete" if complete else "resume"

    def write_identity(self, identity: dict[str, Any], *, indent: int = 1) -> None:
        """Write the identity file (sorted keys, so equal requests give equal bytes)."""
        text = json.dumps(identity, indent=indent, sort_keys=True) + "\n"
        atomic_write_text(self.path / self.identity_name, text)

    def clear(self) -> None:
        """Delete every one of the writer's names in the folder (the folder itself goes with the lock, if
        the lock created it and nothing else is left)."""
        for name in self.files:
            path = self.path / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def replacing(self) -> Iterator[None]:
        """Move the held files aside for the block (renames only: a hidden folder inside this one); they
        are deleted when the block succeeds and come back, over whatever it wrote, when it fails."""
        aside = self.path / f".replaced-{os.getpid()}"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir()
        for name in self.files:
            if (self.path / name).exists():
                (self.path / name).rename(aside / name)
        try:
            yield
        except BaseException:
            self.clear()
            for path in aside.iterdir():
                path.rename(self.path / path.name)
            aside.rmdir()
            raise
        shutil.rmtree(aside)

    def _remove_temporaries(self) -> None:
        """Under the lock no other writer runs: every pconv temporary file directly in the writer's
        folders is a leftover of a killed run (:func:`~pconv.core.files.temporary_name`)."""
        for name in self.files:
            folder = self.path / name
            if folder.is_dir() and not folder.is_symlink():
                for entry in folder.iterdir():
                    if _TEMPORARY.match(entry.name) and entry.is_file():
                        entry.unlink()
