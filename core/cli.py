"""Pieces every `pconv` subcommand shares: error reporting, the quiet flag, seed/workers/shard options.

Library code raises ValueError / OSError with a message that names the bad value; the root group turns
those, and bad option values, into a single ``Error: ...`` line and exit status 1, so users never see a
traceback or a usage block for bad input. Set ``PCONV_DEBUG=1`` to get the traceback back.

SIGTERM (a job scheduler's stop, ``kill``) and SIGHUP (a closed terminal) are turned into
KeyboardInterrupt, so they stop workers and remove temporary files the way Ctrl-C does instead of leaving
the process's workers behind.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from pconv.core.errors import first_line
from pconv.core.sharding import Shard

__all__ = [
    "FriendlyGroup",
    "LazyGroup",
    "ShardType",
    "compile_choice",
    "compile_option",
    "device_option",
    "echo_summary",
    "out_folder_option",
    "seed_option",
    "shard_option",
    "show_progress",
    "workers_option",
]

F = TypeVar("F", bound=Callable[..., Any])
START = "pconv.start"
"""Key of ``ctx.meta`` holding when the root command started (time.monotonic)."""


_STOPS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal or SSH session) raise KeyboardInterrupt during the block,
    each unless someone already handles or ignores it (``nohup``): the run then stops its workers and
    removes its temporary files instead of dying in the middle."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = [signum for signum in _STOPS if signal.getsignal(signum) is signal.SIG_DFL]
    for signum in taken:
        signal.signal(signum, _interrupt)
    try:
        yield
    finally:
        for signum in taken:
            signal.signal(signum, signal.SIG_DFL)


def _input_errors() -> tuple[type[BaseException], ...]:
    """ValueError, OSError, crafted text that a reader did not name itself (a csv field over the csv
    module's limit, JSON nested thousands deep, an infinite number where a count belongs) and, once a
    command has loaded OpenCV, ``cv2.error`` (OpenCV refusing an input): looked up, not imported, so that
    ``--help`` never pays for OpenCV."""
    errors = (ValueError, OSError, csv.Error, RecursionError, OverflowError)
    cv2 = sys.modules.get("cv2")
    return errors if cv2 is None else (*errors, cv2.error)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when one of them runs or shows its help.

    ``lazy`` maps a subcommand name to ``("module:attribute", "one-line help")``; the group's own help
    lists those lines, so ``pconv --help`` imports no subcommand module (torch alone takes seconds).
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, attribute = self.lazy[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module), attribute)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if names:  # the width click's own listing gives each line
            limit = formatter.width - 6 - max(len(name) for name in names)
            with formatter.section("Commands"):
                formatter.write_dl([(name, self._short_help(name, limit)) for name in names])

    def _short_help(self, name: str, limit: int) -> str:
        """The listed help of ``name``: from ``lazy`` until the command is imported."""
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit)
        return click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)


class FriendlyGroup(LazyGroup):
    """A click group that reports library errors and bad option values as one line, exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        ctx.meta.setdefault(START, time.monotonic())
        try:
            with _sigterm_as_interrupt():
                return super().invoke(ctx)
        except click.UsageError as error:  # a bad option value or a missing argument, as one line
            raise click.ClickException((error.format_message().splitlines() or ["bad usage"])[0]) from None
        except _input_errors() as error:
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


def echo_summary(text: str) -> None:
    """The one line a command ends with: ``text`` (what it wrote, where) and how long the command took."""
    from pconv.core.progress import format_duration  # tqdm with it: not for `--help`

    ctx = click.get_current_context(silent=True)
    start = ctx.meta.get(START) if ctx is not None else None
    click.echo(text if start is None else f"{text} in {format_duration(time.monotonic() - start)}")


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


def out_folder_option(
    help_text: str, *, required: bool = True, metavar: str | None = None
) -> Callable[[F], F]:
    """The ``--out`` of commands that write a folder (a file there is refused by click); ``help_text`` says
    what the command puts in it."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=required,
        metavar=metavar,
        help=help_text,
    )


def device_option(func: F) -> F:
    """``--device`` of the commands that run a network, as a string for pconv.core.distributed.pick_device."""
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="cpu, cuda or cuda:N; auto: cuda when there is one.",
    )(func)


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


def compile_option(func: F) -> F:
    """``--compile/--no-compile``, given to the command as ``compile_`` (None when neither is given)."""
    return click.option(
        "--compile/--no-compile",
        "compile_",
        default=None,
        help="Run the network through torch.compile (default: on CUDA, not on the CPU). The first "
        "batch of each new shape compiles, for seconds up to a minute.",
    )(func)


def compile_choice(flag: bool | None) -> str:
    """``--compile`` → "on", ``--no-compile`` → "off", neither → "auto" (see pconv.core.compiling)."""
    return "auto" if flag is None else "on" if flag else "off"
