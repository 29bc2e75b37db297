"""Score inpainting methods on the mask benchmark in the layout of the paper's Table 1.

See :mod:`evaluator.evaluate` for the run, :mod:`evaluator.metrics` for ℓ1 / PSNR / SSIM and
:mod:`evaluator.inception` for IS / FID.
"""
