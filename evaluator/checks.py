"""Up-front checks of an evaluation's inputs: every photo and mask is looked at before any work starts.

A bad photo found at pair 24 of 60 wastes the run and leaves a folder that the corrected run must fight
with; so every file is checked first, by its header only (PIL opens lazily: the mode, size and format are
read, the pixels are not), and all bad files are named in one line. Photos can be left out instead
(``--skip-bad-images``); masks cannot, since Table 1 needs every benchmark mask.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pconv.core.errors import first_line
from pconv.core.files import inside
from pconv.core.limits import IMAGE_LIMIT
from pconv.datasets.images import BadImageError, check_image

__all__ = ["bad_masks", "bad_photos", "describe_bad"]

_MASK_MODES = frozenset({"L", "1", "P"})


def _reason(error: BaseException, path: Path) -> str:
    """The part of a checker's message after the file name and before its advice."""
    return first_line(error).removeprefix(f"{path}: ").split(";")[0]


def bad_photos(root: Path, names: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, reason)`` of every photo ``root/name`` that is missing, unreadable or not 8-bit colour."""
    bad = []
    for name in names:
        path = Path(root) / name
        try:
            check_image(path)
        except (BadImageError, FileNotFoundError) as error:
            bad.append((name, _reason(error, path)))
    return bad


def bad_masks(bench: Path, names: Sequence[str]) -> tuple[list[tuple[str, str]], tuple[int, int]]:
    """``(name, reason)`` of every mask ``bench/name`` that is missing, unreadable, not single-channel 8-bit
    or not of the benchmark's size, the size (width, height) most of its masks have, which it returns too."""
    bad, sizes = [], {}
    for name in names:
        try:
            path = inside(Path(bench), name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    mode, (width, height) = image.mode, image.size
            IMAGE_LIMIT.check(name, width, height)
        except FileNotFoundError:
            bad.append((name, "missing"))
            continue
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
            bad.append((name, f"unreadable, {error.__class__.__name__}"))
            continue
        except ValueError as error:  # leads outside the benchmark, or above the pixel limit
            bad.append((name, first_line(error).removeprefix(f"{name}: ")))
            continue
        if mode not in _MASK_MODES:
            bad.append((name, f"mode {mode}, single-channel 8-bit expected"))
        else:
            sizes.setdefault((width, height), []).append(name)
    size = max(sizes, key=lambda key: len(sizes[key]), default=(0, 0))
    bad += [
        (name, f"{w}x{h}, not {size[0]}x{size[1]}")
        for (w, h), group in sizes.items()
        if (w, h) != size
        for name in group
    ]
    return sorted(bad), size


def describe_bad(bad: Sequence[tuple[str, str]], what: str) -> str:
    """One line naming every bad file: ``2 bad photos: a.png (a grey image (mode L)); b.jpg (...)``."""
    noun = what if len(bad) != 1 else what.removesuffix("s")
    return f"{len(bad)} bad {noun}: " + "; ".join(f"{name} ({reason})" for name, reason in bad)
