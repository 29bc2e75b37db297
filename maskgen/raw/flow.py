"""Dense optical flow between two frames, one small function per method.

Every method takes two ``(H, W)`` uint8 grey frames and returns the flow from the first to the second as
``(H, W, 2)`` float32 ``(dx, dy)`` in pixels: pixel ``(x, y)`` of ``first`` is seen at
``(x + dx, y + dy)`` in ``second``. Add a method (e.g. RAFT from a weights file) by writing one such
function and adding it to :data:`FLOW_METHODS`.

:func:`scaled_flow` runs any method on frames shrunk by a factor and scales the flow back up: the
occlusion check only needs flow accurate to a pixel or so, and halving the frames quarters the cost.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = [
    "FLOW_METHODS",
    "MIN_FLOW_SIDE",
    "FlowFunction",
    "deepflow_flow",
    "dis_flow",
    "farneback_flow",
    "scaled_flow",
    "tvl1_flow",
]

FlowFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]

MIN_FLOW_SIDE = 32
"""Smallest frame side (after ``flow_scale``) the flow runs on: DIS fails below 12 px and every method's
pyramid is meaningless much below 32."""


def dis_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """OpenCV's DIS (Kroeger et al. 2016): medium preset, patch search down to full resolution.

    Searching at full resolution (finest scale 0 instead of the preset's 1) is what sharpens the flow
    at motion boundaries, where the occlusions are: occlusion F1 0.45 → 0.60 on the generated scenes.
    A patch stride of 5 (preset: 4) and 12 gradient-descent steps (preset: 25) win back most of the
    time for 0.02 F1 (measured with ``pconv masks validate``; see the README's table).
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    dis.setPatchStride(5)
    dis.setGradientDescentIterations(12)
    return dis.calc(first, second, None)


def deepflow_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """DeepFlow (Weinzaepfel et al. 2013), a dense matching-based flow; slow. (NVIDIA's paper cites Sundaram
    et al. 2010, which uses LDOF; no source says NVIDIA used DeepFlow.)"""
    return cv2.optflow.createOptFlow_DeepFlow().calc(first, second, None)


def farneback_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Farnebäck's polynomial expansion (2003): fast, blurry at motion boundaries."""
    return cv2.calcOpticalFlowFarneback(
        first,
        second,
        None,
        pyr_scale=0.5,
        levels=5,
        winsize=13,
        iterations=5,
        poly_n=5,
        poly_sigma=1.1,
        flags=0,
    )


def tvl1_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dual TV-L1 (Zach et al. 2007): sharp boundaries, slowest of the four."""
    return cv2.optflow.DualTVL1OpticalFlow_create().calc(first, second, None)


FLOW_METHODS: dict[str, FlowFunction] = {
    "dis": dis_flow,
    "deepflow": deepflow_flow,
    "farneback": farneback_flow,
    "tvl1": tvl1_flow,
}
"""Flow methods by the name the CLI and the manifest use."""


def flow_size_problem(width: int, height: int, scale: float) -> str | None:
    """Why frames of ``width`` x ``height`` cannot go through the flow at ``scale``, or None when they can."""
    if min(round(width * scale), round(height * scale)) >= MIN_FLOW_SIDE:
        return None
    at = f" at flow scale {scale:g}" if scale != 1 else ""
    return (
        f"frames of {width}x{height} px are too small{at}: optical flow needs at least "
        f"{MIN_FLOW_SIDE} px a side"
    )


def scaled_flow(method: str, first: np.ndarray, second: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """Flow by ``method`` computed at ``scale`` × the frames' size, returned at full size.

    ``first``/``second``: ``(H, W)`` uint8 grey. Returns ``(H, W, 2)`` float32 in full-size pixels.
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")
    if not 0 < scale <= 1:
        raise ValueError(f"flow scale must be in (0, 1], got {scale}")
    if first.shape != second.shape or first.ndim != 2 or first.dtype != np.uint8:
        raise ValueError(
            f"flow needs two grey uint8 frames of one size, got {first.shape} {first.dtype} "
            f"and {second.shape} {second.dtype}"
        )
    function = FLOW_METHODS[method]
    first, second = np.ascontiguousarray(first), np.ascontiguousarray(second)  # DIS needs this
    height, width = first.shape
    problem = flow_size_problem(width, height, scale)
    if problem:
        raise ValueError(problem)
    small = (round(width * scale), round(height * scale))
    if scale == 1:
        return function(first, second)
    flow = function(*(cv2.resize(frame, small, interpolation=cv2.INTER_AREA) for frame in (first, second)))
    flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= width / small[0]
    flow[..., 1] *= height / small[1]
    return flow
