"""Places2 (Places365) as a source of photos, with its official file lists and splits.

Layout of ``ROOT`` (the official archives unpacked side by side)::

    ROOT/places365_train_standard.txt   "/a/abbey/00000001.jpg 0" per line (filelist_places365-standard.tar)
    ROOT/places365_train_challenge.txt  the same for Places365-Challenge (filelist_places365-challenge.tar)
    ROOT/places365_val.txt              "Places365_val_00000001.jpg 165"
    ROOT/places365_test.txt             "Places365_test_00000001.jpg"
    ROOT/data_large/ or ROOT/data_256/  training images                     (train_{large,256}_places365*.tar)
    ROOT/val_large/  or ROOT/val_256/   validation images (36,500)
    ROOT/test_large/ or ROOT/test_256/  test images (328,500)

Splits: ``train`` (Standard, 1.8 M), ``train-challenge`` (Challenge, 8 M), ``val`` and ``test``. Where both
resolutions are present the large one (shorter side 512) is used, since training crops are 512 × 512.
Only the first and last listed files are checked up front (listing millions of files costs minutes); a
file missing later is reported, or skipped and counted, when it is loaded.
"""

from __future__ import annotations

from pathlib import Path

from pconv.core.files import inside
from pconv.datasets.folder import require_split

__all__ = ["FOLDERS", "LISTS", "SPLITS", "image_files"]

SPLITS = ("train", "train-challenge", "val", "test")
LISTS = {
    "train": "places365_train_standard.txt",
    "train-challenge": "places365_train_challenge.txt",
    "val": "places365_val.txt",
    "test": "places365_test.txt",
}
FOLDERS = {
    "train": ("data_large", "data_256"),
    "train-challenge": ("data_large", "data_256"),
    "val": ("val_large", "val_256"),
    "test": ("test_large", "test_256"),
}


def image_files(root: Path, *, split: str) -> list[Path]:
    """The split's image files in the order of its official list, sorted; never empty."""
    require_split("places2", split, SPLITS)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (the Places365 root)")
    listing = root / LISTS[split]
    if not listing.is_file():
        raise FileNotFoundError(f"{root}: no {LISTS[split]} (the Places365 file list of split {split})")
    folder = next((root / name for name in FOLDERS[split] if (root / name).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(f"{root}: neither {' nor '.join(FOLDERS[split])} exists (the {split} images)")
    names = sorted(line.split()[0].lstrip("/") for line in listing.read_text().splitlines() if line.strip())
    if not names:
        raise ValueError(f"{listing}: the file list is empty")
    files = [inside(folder, name, links=False) for name in names]
    for probe in (files[0], files[-1]):
        if not probe.is_file():
            raise FileNotFoundError(
                f"{probe}: listed in {listing.name} but missing (is {folder.name} complete?)"
            )
    return files
