"""A type checker resolves every ``pconv.*`` import of the project (only that: no type-error target).

``pconv`` is the repository root (``package-dir`` in pyproject.toml), which a checker finds only through
an installed copy, a strict editable install (a link tree) or a search path holding a ``pconv`` link to
the checkout; the test uses the last, the same mapping the other two give.
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _unresolved(tmp_path: Path, *targets: str) -> tuple[list[str], int]:
    """mypy's import-not-found lines for ``targets`` (``-p``/``-m`` arguments), run on the ``pconv`` link,
    and how many source files it checked."""
    search = tmp_path / "search"
    search.mkdir(exist_ok=True)
    if not (search / "pconv").exists():
        (search / "pconv").symlink_to(ROOT, target_is_directory=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=skip",
            "--cache-dir",
            str(tmp_path / "cache"),
            *targets,
        ],
        env={**os.environ, "MYPYPATH": str(search)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    checked = re.search(r"(\d+) source files?\)?$", done.stdout.strip())
    assert checked, done.stdout + done.stderr  # e.g. "Can't find package": nothing was checked
    lines = [line for line in done.stdout.splitlines() if "[import-not-found]" in line and '"pconv' in line]
    return lines, int(checked.group(1))


def test_every_pconv_import_resolves(tmp_path):
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    tops = [name for name in packages if name.count(".") == 1]  # -p pconv.maskgen takes its subpackages too
    targets = [argument for name in tops for argument in ("-p", name)]
    unresolved, checked = _unresolved(tmp_path, *targets, "-m", "pconv.cli")
    modules = sum(1 for name in tops for _ in (ROOT / name.split(".")[1]).rglob("*.py")) + 1  # and cli.py
    assert unresolved == [] and checked == modules


def test_a_missing_pconv_module_is_reported(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from pconv.core.files import inside\nfrom pconv.core.no_such_module import x\n")
    (unresolved,), _ = _unresolved(tmp_path, str(probe))
    assert '"pconv.core.no_such_module"' in unresolved
