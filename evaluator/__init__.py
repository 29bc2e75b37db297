"""Score inpainting methods on the mask benchmark in the layout of the paper's Table 1.

See :mod:`pconv.evaluator.evaluate` for the run, :mod:`pconv.core.metrics` for ℓ1 / PSNR / SSIM and
:mod:`pconv.evaluator.inception` for IS / FID.
"""

import pconv.core  # noqa: F401  (first: it sets OpenCV's pixel limit before any cv2 import)
