"""Stage 2: a raw pool to mask sets (augmentation, bins, the benchmark, training masks)."""
