"""Frame pairs from a source: a video file (anything ``cv2.VideoCapture`` decodes) or a folder of frames.

A source yields pairs ``(t, t + step)`` for ``t = 0, step, 2·step, ...`` while ``t + step`` is a frame,
at most ``max_pairs`` of them. Frames are decoded in order (never by seeking: container seeks are not
frame-exact for every codec), so a pair's pixels do not depend on how the work was split. Frames whose
longer side exceeds ``max_side`` are shrunk with area averaging; masks are made at that working size.

Bad sources raise a one-line ``ValueError`` / ``FileNotFoundError`` naming the path: one that cannot be
opened, is corrupt (opens but decodes nothing), or has fewer than two frames. A video that decodes fewer
frames than its header announces (a truncated download, a damaged tail) is used as far as it decodes,
with a warning in :attr:`SourceInfo.warning`. FFmpeg's own console messages are silenced (they would
bury the one-line errors); set ``OPENCV_FFMPEG_LOGLEVEL`` to see them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pconv.core.files import list_images
from pconv.core.limits import IMAGE_LIMIT, check_image_header

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when the first video is opened, not at import

__all__ = [
    "SourceInfo",
    "frame_files",
    "pair_starts",
    "probe_source",
    "read_pairs",
    "resize_longer_side",
]


@dataclass(frozen=True)
class SourceInfo:
    """What probing a source found: the pairs it offers and the working size of its frames."""

    source: str
    starts: tuple[int, ...]
    height: int
    width: int
    warning: str | None = None


def resize_longer_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink ``image`` (``(H, W)`` or ``(H, W, C)`` uint8) so its longer side is at most ``max_side``.

    Area interpolation, the rounding of the new size fixed, so equal inputs give equal outputs.
    ``None`` or a size already small enough returns the image unchanged.
    """
    if max_side is None:
        return image
    if max_side < 2:
        raise ValueError(f"max side must be at least 2 pixels, got {max_side}")
    height, width = image.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return image
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def pair_starts(frame_count: int, *, step: int = 1, max_pairs: int | None = None) -> list[int]:
    """First frames ``t`` of the pairs ``(t, t + step)`` of a source with ``frame_count`` frames."""
    if step < 1:
        raise ValueError(f"frame step must be at least 1, got {step}")
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max pairs must be at least 1, got {max_pairs}")
    starts = list(range(0, max(0, frame_count - step), step))
    return starts if max_pairs is None else starts[:max_pairs]


def frame_files(folder: Path) -> list[Path]:
    """The frame images of a folder (not below it), sorted by name; hidden files are left out."""
    return list_images(folder, recursive=False)


def _read_image(path: Path) -> np.ndarray:
    check_image_header(path)
    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image (corrupt frame?)")
    return image


@contextlib.contextmanager
def _opened_video(path: Path) -> Iterator[cv2.VideoCapture]:
    capture = cv2.VideoCapture(os.fspath(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"{path}: cannot be opened as a video (unknown format or corrupt file)")
        size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        IMAGE_LIMIT.check(path, *size)  # before the first frame is decoded
        yield capture
    finally:
        capture.release()


def _frames(
    capture: cv2.VideoCapture, limit: int | None = None, keep: set[int] | None = None
) -> Iterator[np.ndarray | None]:
    """Decode frames in order (at most ``limit``), stopping at the end or the first undecodable frame.

    With ``keep``, frames outside it are only grabbed (decoded, not converted to BGR) and yielded as None.
    """
    count = 0
    while limit is None or count < limit:
        if keep is not None and count not in keep:
            if not capture.grab():
                return
            frame = None
        else:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
        count += 1
        yield frame


def _needed_frames(step: int, max_pairs: int | None) -> int | None:
    return None if max_pairs is None else (max_pairs - 1) * step + step + 1


def probe_source(
    source: str | os.PathLike[str],
    *,
    step: int = 1,
    max_pairs: int | None = None,
    max_side: int | None = None,
) -> SourceInfo:
    """Check a source and list its pairs: decodes up to the last frame needed (so corrupt tails count).

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a source that cannot be
    opened, decodes no frame, holds frames of different sizes, or has fewer than two frames.
    """
    path = Path(source)
    warning = None
    pair_starts(2, step=step, max_pairs=max_pairs)  # validates step and max_pairs up front
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file or frame folder")
    if path.is_dir():
        files = frame_files(path)
        if len(files) < 2:
            raise ValueError(f"{path}: a frame folder needs at least two frames, found {len(files)}")
        shape = _read_image(files[0]).shape
        count = len(files)
    else:
        count, shape, limit = 0, None, _needed_frames(step, max_pairs)
        with _opened_video(path) as capture:
            announced = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))  # 0: the header does not say
            for frame in _frames(capture, limit):
                if shape is not None and frame.shape != shape:
                    raise ValueError(
                        f"{path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                        f"the first was {shape[1]}x{shape[0]}"
                    )
                shape = frame.shape
                count += 1
        if count == 0:
            raise ValueError(f"{path}: no frame could be decoded (corrupt or empty video)")
        if announced > count and (limit is None or count < limit):
            warning = (
                f"{path}: decoded {count} of the {announced} frames its header announces "
                "(truncated or damaged?); using those"
            )
    starts = pair_starts(count, step=step, max_pairs=max_pairs)
    if not starts:
        raise ValueError(f"{path}: fewer than two frames to pair (found {count}, step {step})")
    height, width = resize_longer_side(np.zeros(shape[:2], np.uint8), max_side).shape
    return SourceInfo(
        source=os.fspath(source), starts=tuple(starts), height=height, width=width, warning=warning
    )


def read_pairs(
    source: str | os.PathLike[str],
    starts: Sequence[int],
    *,
    step: int = 1,
    max_side: int | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(t, frame_t, frame_t_plus_step)`` for each ``t`` in ``starts`` (ascending).

    Frames are ``(H, W, 3)`` uint8 BGR at the working size. A video is decoded once from its start up to
    the last frame needed, keeping only the frames some pair uses.
    """
    path = Path(source)
    wanted = sorted(set(starts))
    if not wanted:
        return
    if path.is_dir():
        yield from _folder_pairs(path, wanted, step, max_side)
    else:
        yield from _video_pairs(path, wanted, step, max_side)


def _folder_pairs(
    path: Path, wanted: list[int], step: int, max_side: int | None
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """:func:`read_pairs` of a frame folder: each frame read once, even when two pairs share it."""
    files = frame_files(path)
    if wanted[-1] + step >= len(files):
        raise ValueError(f"{path}: frame {wanted[-1] + step} asked for, the folder has {len(files)}")
    cache: dict[int, np.ndarray] = {}  # frame t + step of one pair is often frame t of the next
    for t in wanted:
        first, second = (
            cache[i] if i in cache else resize_longer_side(_read_image(files[i]), max_side)
            for i in (t, t + step)
        )
        if first.shape != second.shape:
            raise ValueError(f"{files[t + step]}: frame size differs from {files[t].name}")
        cache = {t + step: second}
        yield t, first, second


def _video_pairs(
    path: Path, wanted: list[int], step: int, max_side: int | None
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """:func:`read_pairs` of a video: decoded once up to the last frame needed, keeping only those used."""
    keep = set(wanted) | {t + step for t in wanted}
    last = max(keep)
    frames: dict[int, np.ndarray] = {}
    pending = iter(wanted)
    t = next(pending)
    with _opened_video(path) as capture:
        for index, frame in enumerate(_frames(capture, last + 1, keep)):
            if frame is not None:
                frames[index] = resize_longer_side(frame, max_side)
            while t is not None and t + step <= index:
                yield t, frames[t], frames[t + step]
                frames = {key: value for key, value in frames.items() if key > t}
                t = next(pending, None)
            if t is None:
                return
    raise ValueError(f"{path}: the video ended before frame {last} (corrupt or truncated)")
