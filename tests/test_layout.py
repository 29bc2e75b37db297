"""The import direction the README's Layout section states, checked on every module's source with ``ast``."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "datasets", "maskgen", "pconv_model", "evaluator")
ALLOWED = {
    "core": {"core"},
    "datasets": {"core", "datasets"},
    "maskgen": {"core", "maskgen"},
    "pconv_model": {"core", "datasets", "maskgen", "pconv_model"},
    "evaluator": {"core", "datasets", "maskgen", "pconv_model", "evaluator"},
}
STAGES = ("raw", "sets", "measure", "release")  # within maskgen, each stage imports only the ones before it


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every pconv module ``path`` imports, as dotted names below ``pconv`` (relative imports resolved)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y: below this module's package, y may be a module
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [node.module])])
                names += [f"{base}.{alias.name}" for alias in node.names]
            elif node.module == "pconv":  # from pconv import datasets: the names are packages
                names += [f"pconv.{alias.name}" for alias in node.names]
            else:
                names.append(node.module or "")
    found = []
    for name in names:
        if name.startswith("pconv."):
            found.append(name.removeprefix("pconv."))
        elif name.split(".")[0] in PACKAGES:
            found.append(name)
    return found


def test_the_modules_are_found():
    assert len(_modules()) > 50 and (ROOT / "core" / "masks.py") in _modules()


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_imports_point_one_way(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    is_commands = parts[-1] == "commands"
    for name in _imports(path):
        target = name.split(".")
        assert target[0] in ALLOWED[parts[0]], f"{'.'.join(parts)} imports {name}"
        if parts[0] == target[0] == "maskgen" and parts[1] in STAGES and target[1:2] and target[1] in STAGES:
            assert STAGES.index(target[1]) <= STAGES.index(parts[1]), f"{'.'.join(parts)} imports {name}"
        if not is_commands:
            assert target[-1] != "commands" and "commands" not in target, f"{'.'.join(parts)} imports {name}"
            assert name != "core.cli" and not name.startswith("core.cli."), (
                f"{'.'.join(parts)} imports {name}"
            )


def test_the_checker_resolves_relative_and_package_imports():
    assert "pconv_model.checkpoint.load_checkpoint" in _imports(ROOT / "pconv_model" / "train.py")
    assert "core.masks" in _imports(ROOT / "evaluator" / "grids.py")
    assert "datasets" in _imports(ROOT / "pconv_model" / "train.py")  # from pconv import datasets
