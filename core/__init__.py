"""Plumbing every stage shares: atomic files, the mask convention, progress, sharding, worker processes,
torchrun and devices, and the one-line error boundary of the CLI. Nothing here imports a pipeline stage."""

import os

from pconv.core.limits import IMAGE_LIMIT

__version__ = "0.1.0"

# OpenCV reads its decoder's pixel limit (2^30 by default) once, when it loads: ours, set before any
# pconv module imports cv2, bounds what cv2.imread / imdecode allocate even for files PIL cannot measure.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # its warnings would print above our Error: line
try:
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(IMAGE_LIMIT.value())
except ValueError:  # a malformed PCONV_MAX_PIXELS: the first header check names it
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(IMAGE_LIMIT.default)
