"""Where the scoring networks' weight files come from: a path the user gives, the owning library's cache,
or (only when asked) a download that names the file and its size before it starts.

Inception (FID, IS, KID, P/U-IDS) takes torch-fidelity's file and LPIPS takes torchvision's backbone file;
both libraries keep them in the torch hub cache (``$TORCH_HOME/hub/checkpoints``), so a machine that once
scored with network access scores offline afterwards, and an offline machine is handed the file with
``--inception-weights`` / ``--lpips-weights``. Without any of these, the metric is left out with a note.
"""

from __future__ import annotations

import shutil
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pconv.core.files import atomic_output, sha256_file
from pconv.core.weights import hub_checkpoint_path

__all__ = ["WeightsFile", "describe_weights", "resolve_weights"]


@dataclass(frozen=True)
class WeightsFile:
    """A network's official weights: ``what`` names it in messages, ``url`` is where its library gets it."""

    what: str
    url: str

    @property
    def cached(self) -> Path:
        """The file's place in the torch hub cache, where its own library looks for it too."""
        return hub_checkpoint_path(self.url)


def _download(source: WeightsFile, echo: Callable[[str], None]) -> Path:
    """Fetch ``source`` into the cache: one line with the file's name and size first, then the bytes
    into a temporary name renamed when complete (an interrupted download leaves no half file)."""
    target = source.cached
    with urllib.request.urlopen(source.url) as response:
        size = response.headers.get("Content-Length")
        shown = f"{int(size) / 2**20:.1f} MiB" if size else "size unknown"
        echo(f"downloading {source.what}: {target.name} ({shown}) from {source.url} to {target.parent}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as temporary, open(temporary, "wb") as handle:
            shutil.copyfileobj(response, handle, 1 << 20)
    return target


def resolve_weights(
    source: WeightsFile,
    given: Path | None,
    *,
    download: bool = False,
    echo: Callable[[str], None] | None = None,
) -> Path | None:
    """The weights file to use: ``given``, else the cached file, else a download when ``download``, else
    None (the caller leaves the metric out). A ``given`` path that does not exist is an error, not None."""
    if given is not None:
        if not Path(given).is_file():
            raise FileNotFoundError(f"{given}: no such {source.what} file")
        return Path(given)
    if source.cached.is_file():
        return source.cached
    if download:
        return _download(source, echo or (lambda line: print(line, file=sys.stderr)))
    return None


def describe_weights(path: Path) -> dict[str, str]:
    """What the protocol records of a weights file: its name and SHA-256 (the path is machine-specific)."""
    return {"file": Path(path).name, "sha256": sha256_file(path)}
