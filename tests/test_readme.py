"""The README's promises that code can check: CI runs its test command, and its snippets are the API."""

import re
from pathlib import Path

import click

from pconv import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(block.strip() for block in _bash_blocks() if "pytest" in block)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_every_pconv_command_in_the_readme_exists():
    commands = set(re.findall(r"\bpconv ((?:masks |eval |data )?[a-z][a-z-]+)", README))
    assert {"masks benchmark", "masks extract", "train", "inpaint", "eval", "data celeba-split"} <= commands
    for command in commands:
        group: click.Group = cli.main
        *parents, name = command.split()
        for parent in parents:  # subcommands are imported on demand: get_command, not .commands
            group = group.get_command(click.Context(group), parent)
        assert group.get_command(click.Context(group), name) is not None, command


def test_python_snippets_only_use_names_the_packages_export():
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        for module, names in re.findall(r"^from ([\w.]+) import (.+)$", block, re.M):
            imported = __import__(module, fromlist=["_"])
            for name in (part.strip() for part in names.split(",")):
                assert hasattr(imported, name), f"{module}.{name}"
