"""Layered scenes with exact ground-truth occlusion: the built-in default input and the flow bench.

A scene is a textured background moved by a camera (pan, slow rotation and zoom) with several textured
foreground shapes (star polygons, ellipses, noise blobs, curved strokes) moving, rotating and scaling
over it and over each other in a fixed depth order. Every layer is a sprite carried into the frame by a
known affine map per frame, so the ground truth is exact: pixel ``x`` of frame t shows layer L; the same
surface point lands at ``x' = A_L(t+1) A_L(t)⁻¹ x`` in frame t+1 and is **not visible** there when
``x'`` leaves the frame or a layer in front of L covers ``x'`` (alpha ≥ 0.5) — the pixels an occlusion
check on the pair (t, t+1) should mark.

Layout written by :func:`render_scenes` (frame and pair numbers 6 digits)::

    OUT/scene_000/frames/000000.png ...      the frames, (H, W, 3) uint8 BGR — a source for extract
    OUT/scene_000/occlusion/000000.png ...   ground truth of pair (t, t+1): uint8, 255 = not visible
    OUT/scene_000/scene.json                 seed, size, frame count, layers and their motions

``scene.json`` is written last, so a scene folder without it is unfinished and is rendered again.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pconv.core import __version__
from pconv.core.files import atomic_write_bytes, atomic_write_text
from pconv.core.masks import encode_mask_png
from pconv.core.progress import progress_bar
from pconv.core.workers import default_workers, worker_processes

__all__ = [
    "SCENE_FILE",
    "Layer",
    "ground_truth_path",
    "make_scene",
    "occlusion_truth",
    "render_frame",
    "render_scenes",
]

SCENE_FILE = "scene.json"


SHAPES = ("polygon", "ellipse", "blob", "stroke", "branches", "branches")
"""Foreground kinds, drawn uniformly; thin articulated ``branches`` (limbs, fingers, twigs, railings)
twice as often as the rest: their occlusions are the streaks and outlines NVIDIA's masks are made of."""
LAYERS = (15, 45)
"""Inclusive range of the number of foreground layers per scene (the ground-truth scenes' density)."""
FLAT_SHARE = 0.25
"""Share of foreground layers without texture; backgrounds get up to three flat regions. Real footage has
walls, sky and table tops where flow fails for lack of texture: the extractor must not call those holes."""


@dataclass(frozen=True)
class Layer:
    """One layer: a BGR ``texture`` ``(h, w, 3)`` uint8, its ``alpha`` ``(h, w)`` float32 in [0, 1], and
    ``poses`` ``(T, 3, 3)`` float64 mapping sprite pixel coordinates to frame coordinates per frame."""

    texture: np.ndarray
    alpha: np.ndarray
    poses: np.ndarray
    kind: str

    @functools.cached_property
    def corners(self) -> np.ndarray:
        """Homogeneous ``(4, 3)`` sprite corners of the drawn part (alpha > 0) with one px to spare for
        bilinear sampling: the frame windows that rendering and ground truth work in. A branch or stroke
        fills little of its sprite, and nothing outside this rectangle can change a frame pixel."""
        x, y, width, height = cv2.boundingRect((self.alpha > 0).view(np.uint8))
        if width == 0:  # nothing drawn: the whole sprite
            height, width = self.alpha.shape
        x0, y0, x1, y1 = x - 1, y - 1, x + width + 1, y + height + 1
        return np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)


def _noise(
    rng: np.random.Generator, height: int, width: int, channels: int, persistence: float
) -> np.ndarray:
    """Multi-octave value noise in [0, 1], ``(height, width, channels)`` float32: texture at all scales.

    ``persistence`` is the weight ratio of one octave to the next coarser one (near 1: grainy).
    """
    total = np.zeros((height, width, channels), np.float32)
    for octave in range(1, 10):
        cells = 2**octave
        if cells > max(height, width):
            break
        coarse = rng.random((cells + 1, cells + 1, channels), dtype=np.float32)
        total += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).reshape(total.shape) * (
            persistence**octave
        )
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colourful texture with structure at every scale (flow, like a camera, needs texture to lock onto).

    Luminance and colour vary independently, so the grey frames the flow sees keep their detail.
    """
    palette = rng.integers(0, 256, (2, 3)).astype(np.float32)
    mix = _noise(rng, height, width, 1, 0.7)
    grain = _noise(rng, height, width, 1, float(rng.uniform(0.75, 0.95))) - 0.5
    image = (
        palette[0] * (1 - mix)
        + palette[1] * mix
        + grain * rng.uniform(80, 220)
        + (_noise(rng, height, width, 3, 0.7) - 0.5) * 80
    )
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(5, 25))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        points = rng.integers(0, [width, height], (2, 2))
        if rng.random() < 0.5:
            cv2.line(
                image,
                tuple(map(int, points[0])),
                tuple(map(int, points[1])),
                colour,
                int(rng.integers(1, 6)),
                cv2.LINE_AA,
            )
        else:
            cv2.circle(
                image,
                tuple(map(int, points[0])),
                int(rng.integers(3, max(4, width // 6))),
                colour,
                int(rng.choice([2, 4])),
                cv2.LINE_AA,
            )
    return image


def _flat(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textureless surface (a wall, the sky, a table top): one colour with a faint linear shading of a
    few grey levels, nothing the flow can lock onto. ``(height, width, 3)`` uint8 BGR."""
    colour = rng.integers(30, 226, 3).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.normal(size=2)
    shade = (xx * direction[0] + yy * direction[1]) / max(height, width) / max(np.abs(direction).sum(), 1e-6)
    return np.clip(colour + shade[..., None] * rng.uniform(2, 8), 0, 255).astype(np.uint8)


def _with_flat_regions(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Paint up to three large flat polygons over a background texture: textureless parts of a scene."""
    height, width = image.shape[:2]
    for _ in range(int(rng.integers(0, 4))):
        centre = rng.uniform(0, 1, 2) * (width, height)
        radius = rng.uniform(0.1, 0.3) * min(width, height)
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 8))))
        points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
        region = np.zeros((height, width), np.uint8)
        cv2.fillPoly(region, [np.round(points).astype(np.int32)], 1)
        image = np.where(region[..., None] > 0, _flat(rng, height, width), image)
    return image


def _shape_alpha(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """Coverage of one foreground shape on a ``(size, size)`` sprite, float32 in [0, 1], soft edges."""
    canvas = np.zeros((size, size), np.uint8)
    centre, radius = size / 2, size * 0.45
    if kind == "polygon":
        count = int(rng.integers(3, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = radius * rng.uniform(0.35, 1.0, count)
        points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    elif kind == "ellipse":
        axes = (int(radius), int(radius * rng.uniform(0.2, 1.0)))
        cv2.ellipse(
            canvas, (int(centre), int(centre)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA
        )
    elif kind == "blob":
        field = _noise(rng, size, size, 1, 0.7)[..., 0]
        yy, xx = np.mgrid[0:size, 0:size]
        falloff = 1 - np.hypot(xx - centre, yy - centre) / radius
        canvas = ((field * 0.8 + falloff * 0.6) > 0.6).astype(np.uint8) * 255
    elif kind == "branches":  # a tree of thin segments from the centre, each ending in smaller ones
        _draw_branches(
            rng, canvas, (centre, centre), radius * 0.55, float(rng.uniform(0, 2 * np.pi)), 3, size
        )
    else:  # stroke: a thick curved line, the thin streaks occlusion masks are full of
        count = int(rng.integers(3, 7))
        points = centre + rng.uniform(-radius, radius, (count, 2))
        cv2.polylines(
            canvas,
            [np.round(points).astype(np.int32)],
            False,
            255,
            int(rng.integers(max(3, size // 30), max(4, size // 8))),
            cv2.LINE_AA,
        )
    alpha = canvas.astype(np.float32) / 255
    return cv2.GaussianBlur(alpha, (0, 0), 0.8)


def _draw_branches(
    rng: np.random.Generator,
    canvas: np.ndarray,
    start: tuple[float, float],
    length: float,
    angle: float,
    depth: int,
    size: int,
) -> None:
    """Draw one segment from ``start`` and, ``depth`` times over, two to three shorter ones from its end."""
    end = (start[0] + length * np.cos(angle), start[1] + length * np.sin(angle))
    width = int(rng.integers(max(2, size // 90), max(3, size // 28))) if depth > 1 else max(2, size // 90)
    cv2.line(canvas, tuple(map(round, start)), tuple(map(round, end)), 255, width, cv2.LINE_AA)
    if depth == 0:
        return
    for _ in range(int(rng.integers(2, 4))):
        turn = float(rng.uniform(-1.2, 1.2))
        _draw_branches(
            rng, canvas, end, length * float(rng.uniform(0.45, 0.8)), angle + turn, depth - 1, size
        )


def _pose(centre: tuple[float, float], origin: tuple[float, float], angle: float, scale: float) -> np.ndarray:
    """3×3 affine: sprite point ``origin`` goes to frame point ``centre``, turned by ``angle`` rad, scaled."""
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    shift_in = np.array([[1, 0, -origin[0]], [0, 1, -origin[1]], [0, 0, 1]])
    shift_out = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1]])
    return shift_out @ rotate @ shift_in


def _motion(
    rng: np.random.Generator,
    frames: int,
    width: int,
    height: int,
    speed: float,
    spin: float,
    zoom: float,
    start: tuple[float, float],
    pace: float,
) -> list[tuple[tuple[float, float], float, float]]:
    """Smooth per-frame (centre, angle, scale): sinusoidal drift (stays near view), steady spin, zoom;
    frame t shows scene time ``pace * t``."""
    amplitude = rng.uniform(0.1, 0.4, 2) * (width, height)
    frequency = speed / np.maximum(amplitude, 1.0) * rng.uniform(0.5, 1.0, 2)
    phase = rng.uniform(0, 2 * np.pi, 2)
    angle0, spin_rate = rng.uniform(0, 2 * np.pi), rng.uniform(-spin, spin)
    zoom_rate = rng.uniform(-zoom, zoom)
    out = []
    for t in np.arange(frames) * pace:
        offset = amplitude * (np.sin(frequency * t + phase) - np.sin(phase))
        out.append(
            (
                (start[0] + offset[0], start[1] + offset[1]),
                angle0 + spin_rate * t,
                float(np.exp(zoom_rate * t)),
            )
        )
    return out


def make_scene(
    rng: np.random.Generator,
    *,
    frames: int,
    size: tuple[int, int],
    pace: float = 1.0,
    layers: tuple[int, int] = LAYERS,
) -> list[Layer]:
    """Draw one random scene: background first, then foreground layers back to front.

    ``pace`` speeds time up: frame t shows the scene at time ``pace * t``, so pace 2 moves everything as
    far between two frames as a frame step of 2 would, without rendering the frames in between. The
    number of foreground layers is uniform in the inclusive range ``layers``.
    """
    width, height = size
    unit = max(width, height) / 768  # motions and sizes are tuned at 768 px and scale with the frame
    side = int(np.hypot(width, height) * 1.2)
    speed = rng.uniform(4, 30) * unit  # a scene is calm or fast as a whole, layers vary around it
    background = Layer(
        texture=_with_flat_regions(rng, _texture(rng, side, side)),
        alpha=np.ones((side, side), np.float32),
        kind="background",
        poses=np.stack(
            [
                _pose(centre, (side / 2, side / 2), angle, scale)
                for centre, angle, scale in _motion(
                    rng, frames, width, height, speed * 0.8, 0.01, 0.015, (width / 2, height / 2), pace
                )
            ]
        ),
    )
    drawn = [background]
    for _ in range(int(rng.integers(layers[0], layers[1] + 1))):
        kind = str(rng.choice(SHAPES))
        sprite = int(rng.uniform(70, 360) * unit) | 1
        start = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
        motion = _motion(rng, frames, width, height, speed * rng.uniform(0.5, 1.5), 0.05, 0.02, start, pace)
        drawn.append(
            Layer(
                texture=_flat(rng, sprite, sprite)
                if rng.random() < FLAT_SHARE
                else _texture(rng, sprite, sprite),
                alpha=_shape_alpha(rng, sprite, kind),
                kind=kind,
                poses=np.stack(
                    [_pose(centre, (sprite / 2, sprite / 2), angle, scale) for centre, angle, scale in motion]
                ),
            )
        )
    return drawn


Box = tuple[int, int, int, int]  # x0, y0, x1, y1: a pixel window of the frame, ends excluded


def _box(points: np.ndarray, size: tuple[int, int]) -> Box | None:
    """The frame window holding ``points`` (``(N, 2)`` frame coordinates) plus a 2-px margin, or None."""
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size[0]), min(y1, size[1])
    return (int(x0), int(y0), int(x1), int(y1)) if x0 < x1 and y0 < y1 else None


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Homogeneous ``(N, 3)`` points through a 3×3 affine, returned as ``(N, 2)``."""
    return (points @ matrix.T)[:, :2]


def _window(image: np.ndarray, to_source: np.ndarray, box: Box, border: int) -> np.ndarray:
    """``image`` sampled at ``to_source @ x`` for the frame pixels x of ``box`` (bilinear)."""
    x0, y0, x1, y1 = box
    matrix = to_source @ np.array([[1.0, 0, x0], [0, 1, y0], [0, 0, 1]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, matrix[:2], (x1 - x0, y1 - y0), flags=flags, borderMode=border)


def render_frame(layers: list[Layer], t: int, size: tuple[int, int]) -> np.ndarray:
    """Composite frame ``t`` back to front: ``(H, W, 3)`` uint8 BGR for ``size = (W, H)``.

    Foreground layers are warped and blended only inside their bounding box (the costly part).
    """
    full: Box = (0, 0, size[0], size[1])
    image = _window(layers[0].texture, np.linalg.inv(layers[0].poses[t]), full, cv2.BORDER_REFLECT)
    image = image.astype(np.float32)
    for layer in layers[1:]:
        box = _box(_apply(layer.poses[t], layer.corners), size)
        if box is None:
            continue
        to_sprite = np.linalg.inv(layer.poses[t])
        colour = _window(layer.texture, to_sprite, box, cv2.BORDER_CONSTANT).astype(np.float32)
        alpha = _window(layer.alpha, to_sprite, box, cv2.BORDER_CONSTANT)[..., None]
        x0, y0, x1, y1 = box
        region = image[y0:y1, x0:x1]
        colour -= region  # region += (colour - region) * alpha, without temporaries
        colour *= alpha
        region += colour
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def occlusion_truth(layers: list[Layer], t: int, size: tuple[int, int]) -> np.ndarray:
    """Pixels of frame ``t`` not visible in frame ``t + 1``: ``(H, W)`` bool, True = occluded.

    Work is limited to windows: layer L's box at t, and within it the part whose next position can
    fall inside a front layer's box at t+1.
    """
    width, height = size
    full: Box = (0, 0, width, height)
    visible = np.zeros((height, width), np.int16)
    boxes: list[Box | None] = [full]
    for index, layer in enumerate(layers[1:], start=1):
        box = _box(_apply(layer.poses[t], layer.corners), size)
        boxes.append(box)
        if box is not None:
            x0, y0, x1, y1 = box
            covered = _window(layer.alpha, np.linalg.inv(layer.poses[t]), box, cv2.BORDER_CONSTANT) >= 0.5
            visible[y0:y1, x0:x1][covered] = index
    occluded = np.zeros((height, width), bool)
    for index, layer in enumerate(layers):
        if boxes[index] is None:
            continue
        x0, y0, x1, y1 = boxes[index]
        own = visible[y0:y1, x0:x1] == index
        if not own.any():
            continue
        step = layer.poses[t + 1] @ np.linalg.inv(layer.poses[t])  # frame t -> frame t+1 for this layer
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        tx = step[0, 0] * xs + step[0, 1] * ys + step[0, 2]
        ty = step[1, 0] * xs + step[1, 1] * ys + step[1, 2]
        hidden = (tx < -0.5) | (tx >= width - 0.5) | (ty < -0.5) | (ty >= height - 0.5)
        back = np.linalg.inv(step)
        for front in layers[index + 1 :]:
            reach = _box(_apply(back @ front.poses[t + 1], front.corners), size)
            if reach is None:
                continue
            a0, b0, a1, b1 = max(reach[0], x0), max(reach[1], y0), min(reach[2], x1), min(reach[3], y1)
            if a0 >= a1 or b0 >= b1:
                continue
            alpha = _window(
                front.alpha, np.linalg.inv(front.poses[t + 1]) @ step, (a0, b0, a1, b1), cv2.BORDER_CONSTANT
            )
            hidden[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0] |= alpha >= 0.5
        occluded[y0:y1, x0:x1] |= own & hidden
    return occluded


def ground_truth_path(frames_folder: Path, t: int) -> Path:
    """Where :func:`render_scenes` put the ground truth of pair (t, t+1) of a scene's frames folder."""
    return frames_folder.parent / "occlusion" / f"{t:06d}.png"


def _frame_png(image: np.ndarray) -> bytes:
    """Lossless frame PNG; fast settings (level 1, "up" filter: half the time of the default filter)."""
    ok, buffer = cv2.imencode(
        ".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    )
    if not ok:
        raise ValueError(f"could not encode a frame of shape {image.shape}")
    return buffer.tobytes()


def _render_scene(
    out: Path,
    number: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
    pace: float,
    layers: tuple[int, int],
    truth: bool,
) -> Path:
    """Render scene ``number`` into ``out/scene_NNN`` unless a finished copy is there; its frames folder."""
    scene = out / f"scene_{number:03d}"
    record: dict[str, object] = {
        "seed": seed,
        "scene": number,
        "frames": frames,
        "width": size[0],
        "height": size[1],
        "pace": pace,
        "layer_range": list(layers),
        "truth": truth,
        "version": __version__,
    }
    info = scene / SCENE_FILE
    if info.is_file() and all(json.loads(info.read_text()).get(k) == v for k, v in record.items()):
        return scene / "frames"
    if scene.is_dir():  # another or unfinished rendering: its extra frames would become pairs
        shutil.rmtree(scene)
    drawn = make_scene(
        np.random.default_rng([seed, number]), frames=frames, size=size, pace=pace, layers=layers
    )
    for t in range(frames):
        atomic_write_bytes(scene / "frames" / f"{t:06d}.png", _frame_png(render_frame(drawn, t, size)))
        if truth and t + 1 < frames:
            atomic_write_bytes(
                ground_truth_path(scene / "frames", t), encode_mask_png(occlusion_truth(drawn, t, size))
            )
    record["layers"] = [layer.kind for layer in drawn]
    atomic_write_text(info, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return scene / "frames"


def render_scenes(
    out: Path,
    *,
    scenes: int,
    frames: int,
    size: tuple[int, int] = (768, 576),
    seed: int = 0,
    pace: float = 1.0,
    layers: tuple[int, int] = LAYERS,
    truth: bool = True,
    progress: bool = False,
    workers: int | None = None,
) -> list[Path]:
    """Render ``scenes`` scenes of ``frames`` frames at ``size = (W, H)``; return their frames folders.

    ``pace`` speeds scene time up and ``layers`` bounds the foreground layer count (see
    :func:`make_scene`); ``truth`` False skips the ground-truth maps
    (the default input never reads them).

    Scene ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so the same seed gives the same
    bytes whatever ``workers`` is (default: all cores; one scene per task), and adding scenes keeps the
    earlier ones. Finished scenes (with their ``scene.json``) are kept, so an interrupted call resumes.
    """
    if scenes < 1 or frames < 2:
        raise ValueError(f"need at least one scene of two frames, got {scenes} scenes of {frames} frames")
    if not pace > 0:
        raise ValueError(f"pace must be positive, got {pace}")
    if not 0 <= layers[0] <= layers[1]:
        raise ValueError(f"layers must be a range 0 <= low <= high, got {layers}")
    if min(size) < 16:
        raise ValueError(f"scene size must be at least 16x16, got {size[0]}x{size[1]}")
    out = Path(out)
    workers = min(scenes, workers or default_workers())
    folders = []
    with (
        worker_processes(workers) as pool,
        progress_bar(total=scenes, desc="render scenes", enabled=progress, unit="scene") as bar,
    ):
        args = (frames, size, seed, pace, layers, truth)
        if pool is None:
            jobs = (_render_scene(out, number, *args) for number in range(scenes))
        else:
            futures = [pool.submit(_render_scene, out, number, *args) for number in range(scenes)]
            jobs = (future.result() for future in futures)
        for folder in jobs:
            folders.append(folder)
            bar.update(1)
    return folders
