"""Measuring mask sets, ours or anyone's: hole ratios, bins, shapes and diversity (``pconv masks stats``,
``pconv masks bin``); the release stage prints and publishes what is measured here."""
