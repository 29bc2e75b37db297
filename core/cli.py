"""Pieces every `pconv` subcommand shares: error reporting, the quiet flag, seed/workers/shard options.

Library code raises ValueError / OSError with a message that names the bad value; the root group turns
those into a single ``Error: ...`` line and exit status 1, so users never see a traceback for bad input.
Set ``PCONV_DEBUG=1`` to get the traceback back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import cv2
from pconv.core.errors import first_line
from pconv.core.sharding import Shard

__all__ = [
    "FriendlyGroup",
    "ShardType",
    "seed_option",
    "shard_option",
    "show_progress",
    "workers_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class FriendlyGroup(click.Group):
    """A click group that reports library errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ValueError, OSError, cv2.error) as error:  # cv2.error: OpenCV refusing an input
            if os.environ.get("PCONV_DEBUG"):
                raise
            raise click.ClickException(first_line(error)) from None


class ShardType(click.ParamType):
    """``--shard K/N`` parsed into a :class:`~pconv.core.sharding.Shard`."""

    name = "K/N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Shard:
        if isinstance(value, Shard):
            return value
        try:
            return Shard.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def show_progress() -> bool:
    """False when the root command got ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True
    return not ctx.find_root().params.get("quiet", False)


def seed_option(default: int = 0) -> Callable[[F], F]:
    return click.option(
        "--seed",
        type=int,
        default=default,
        show_default=True,
        help="Seed of every random choice; the same seed gives byte-identical outputs.",
    )


def workers_option(func: F) -> F:
    return click.option(
        "--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores)."
    )(func)


def shard_option(func: F) -> F:
    return click.option(
        "--shard",
        type=ShardType(),
        default="1/1",
        show_default=True,
        help="Run only shard K of N (1-based), for cluster job arrays.",
    )(func)
