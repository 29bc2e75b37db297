"""Occlusion masks from video and the irregular-hole benchmark built from them.

Conventions, used across the whole toolkit:

* mask files are 8-bit single-channel PNGs with **255 = hole**, 0 = valid;
* in memory a ``hole`` array is ``bool`` with ``True`` = hole;
* tensors handed to models are float ``(B, 1, H, W)`` with **1 = valid** (the paper's M).
"""

__version__ = "0.1.0"
