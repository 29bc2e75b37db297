"""Installed, the toolkit is one import name, `pconv`: nothing it ships may shadow another package."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("core", "datasets", "evaluator", "maskgen", "pconv_model")


def test_the_installed_distribution_has_one_top_level_name():
    # The one in site-packages: `pip install -e .` also leaves an egg-info in the checkout, first on sys.path.
    (dist,) = metadata.distributions(name="pconv-toolkit", path=[sysconfig.get_paths()["purelib"]])
    assert dist.read_text("top_level.txt").split() == ["pconv"]
    for entry in dist.files:
        top = entry.parts[0]
        is_metadata = top.endswith(".dist-info") or top in ("..", "__pycache__")
        is_editable_hook = top.startswith("__editable__")  # `pip install -e .` maps pconv onto this checkout
        assert is_metadata or is_editable_hook or top == "pconv", entry


def test_a_built_wheel_holds_every_module_under_pconv_and_nothing_else(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "tests", "benchmarks", "*.egg-info", "build"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
         "-w", str(tmp_path / "wheel")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"pconv"}
    expected = {"pconv/cli.py"} | {
        f"pconv/{path.relative_to(ROOT).as_posix()}"
        for folder in PACKAGE_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
    }
    assert expected <= set(names), f"left out of the wheel: {sorted(expected - set(names))}"
    assert "pconv/__init__.py" not in names  # a namespace: the repository root is no regular package
