import click
from click.testing import CliRunner

from pconv import cli


def test_version_and_help():
    runner = CliRunner()
    result = runner.invoke(cli.main, ["--version"])
    assert result.exit_code == 0 and "pconv, version" in result.output
    assert "masks" in runner.invoke(cli.main, ["--help"]).output


def test_library_errors_become_one_line(monkeypatch):
    @cli.main.command("explode-for-test")
    def explode() -> None:
        raise ValueError("clip.mp4: not a video\nsecond line")

    try:
        monkeypatch.delenv("PCONV_DEBUG", raising=False)
        result = CliRunner().invoke(cli.main, ["explode-for-test"])
        assert result.exit_code == 1
        assert result.output == "Error: clip.mp4: not a video\n"
    finally:
        cli.main.commands.pop("explode-for-test")
    assert isinstance(cli.main.commands["masks"], click.Group)


def test_opencv_refusals_become_one_line(monkeypatch):
    import cv2

    @cli.main.command("opencv-for-test")
    def refuse() -> None:
        raise cv2.error(
            "OpenCV(4.12.0) dis.cpp:1404: error: (-215:Assertion failed) width >= 12 in function 'calc'\n"
        )

    try:
        monkeypatch.delenv("PCONV_DEBUG", raising=False)
        result = CliRunner().invoke(cli.main, ["opencv-for-test"])
        assert result.exit_code == 1
        assert result.output == (
            "Error: OpenCV(4.12.0) dis.cpp:1404: error: (-215:Assertion failed) "
            "width >= 12 in function 'calc'\n"
        )
    finally:
        cli.main.commands.pop("opencv-for-test")


HEAVY = ("torch", "torchvision", "cv2", "h5py", "scipy")
_HELP_PROBE = """
import sys
from pconv.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
print(*sorted(name for name in {heavy} if name in sys.modules))
"""


def _help_imports(*args: str) -> set[str]:
    """The heavy modules loaded by ``pconv ARGS --help`` in a fresh interpreter."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HELP_PROBE.format(heavy=HEAVY), *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Usage: " in done.stdout
    return set(done.stdout.splitlines()[-1].split())


def test_top_level_help_imports_no_subcommand_and_no_heavy_library():
    """`pconv --help` and `pconv masks --help` list every command from the lazy tables alone."""
    assert _help_imports() == set()
    assert _help_imports("masks") == set()


def _all_commands() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name in cli.TOP_COMMANDS:
        command = cli.main.get_command(click.Context(cli.main), name)
        paths.append((name,))
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.commands]
    return paths + [("masks", name) for name in cli.MASK_COMMANDS]


def test_no_subcommand_help_imports_torch():
    """Every subcommand's --help answers without torch (seconds to import; see benchmarks/cli_speed.py)."""
    for path in _all_commands():
        loaded = _help_imports(*path)
        assert not loaded & {"torch", "torchvision", "h5py", "scipy"}, (path, loaded)


def test_listed_help_is_each_commands_own_first_line():
    """The lazy tables' lines are the commands' own short help, so the listings cannot drift."""
    for group, table in ((cli.main, cli.TOP_COMMANDS), (cli.masks, cli.MASK_COMMANDS)):
        for name, (_, listed) in table.items():
            command = group.get_command(click.Context(group), name)
            assert command is not None and command.name == name
            assert command.get_short_help_str(10_000) == listed, name


def test_every_command_is_listed_and_runs_its_help():
    runner = CliRunner()
    top = runner.invoke(cli.main, ["--help"]).output
    assert all(f"  {name} " in top for name in ("masks", *cli.TOP_COMMANDS))
    for path in _all_commands():
        result = runner.invoke(cli.main, [*path, "--help"])
        assert result.exit_code == 0 and result.output.startswith(f"Usage: main {' '.join(path)} "), path


def test_every_option_of_every_command_says_what_it_does():
    """A newcomer reading `pconv train --help` (or any other) meets no option without a line of help."""
    for path in _all_commands():
        group: click.Group = cli.main
        for name in path:
            command = group.get_command(click.Context(group), name)
            group = command if isinstance(command, click.Group) else group
        bare = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
        assert not bare, (path, bare)


def test_the_masks_table_lists_every_command_the_modules_define():
    """A command added to a module's tuple but not to cli.MASK_COMMANDS would be unreachable."""
    from pconv.maskgen.measure.commands import MEASURE_COMMANDS
    from pconv.maskgen.raw.commands import RAW_COMMANDS
    from pconv.maskgen.release.commands import RELEASE_COMMANDS
    from pconv.maskgen.sets.commands import SET_COMMANDS

    commands = (*RAW_COMMANDS, *SET_COMMANDS, *MEASURE_COMMANDS, *RELEASE_COMMANDS)
    defined = {command.name for command in commands}
    assert defined == set(cli.MASK_COMMANDS)
