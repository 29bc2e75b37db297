"""How an error reads on one line: the CLI boundary and reports of skipped inputs print the same text."""

from __future__ import annotations

__all__ = ["first_line"]


def first_line(error: BaseException) -> str:
    """The one line a user sees for ``error``: its message's first line, or its type's name."""
    return (str(error).splitlines() or [type(error).__name__])[0]
