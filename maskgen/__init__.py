"""Occlusion masks from video and the irregular-hole mask sets built from them, in three stages:

* :mod:`pconv.maskgen.raw`: video (or generated scenes) to a raw mask pool, and its train/test split;
* :mod:`pconv.maskgen.sets`: a raw pool to mask sets (the binned benchmark, training masks);
* :mod:`pconv.maskgen.release`: checking, measuring and publishing mask sets, ours or anyone's.
"""

import pconv.core  # noqa: F401  (first: it sets OpenCV's pixel limit before any cv2 import)
