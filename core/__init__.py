"""Plumbing every stage shares: atomic files, the mask convention, progress, sharding, worker processes,
torchrun and devices, and the one-line error boundary of the CLI. Nothing here imports a pipeline stage."""

__version__ = "0.1.0"
