"""Stage 3: checking, measuring and publishing mask sets (verify, stats, bin, publish)."""
