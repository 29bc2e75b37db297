"""An evaluation report's ``index.html``: the page a person opens first (``pconv eval``, ``eval merge``).

Built only from the files the report already holds, so it shows whatever tables and pictures the report
has without knowing which metrics made them: every Markdown file of the report folder (``table1.md``
first: the title, Table 1 and its notes on the protocol), then every PNG in the folder and in its
immediate subfolders (the metric plots, ``grids/binK.png`` in bin order), each by relative path, and
links to the CSV and JSON files. Redrawn whenever the report is (a resumed or merged run included), so it
never shows an older table than ``table1.md``. Nothing is fetched from outside the folder
(:mod:`pconv.core.html`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from pconv.core.files import atomic_write_text
from pconv.core.html import figure, markdown_html, page

__all__ = ["PAGE_NAME", "write_report_page"]

PAGE_NAME = "index.html"
FIRST = "table1.md"
SKIPPED_DIRS = frozenset({"per_pair"})  # per-pair records: data, not pictures


def _natural(path: Path) -> list[object]:
    """Sort key that puts ``bin2`` before ``bin10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def _pictures(out: Path) -> list[Path]:
    """The report's PNGs, relative to ``out``: the folder's own, then each visible subfolder's."""
    folders = [out, *sorted(path for path in out.iterdir() if path.is_dir() and path.name[0] not in "._")]
    found = []
    for folder in folders:
        if folder.name in SKIPPED_DIRS:
            continue
        found += sorted((path.relative_to(out) for path in folder.glob("*.png")), key=_natural)
    return found


def _caption(path: Path) -> str:
    if path.parent.name == "grids" and path.stem.startswith("bin"):
        return (
            f"Bin {path.stem.removeprefix('bin')}: rows N pairs then B pairs; columns the input (holes "
            "white), each method, the ground truth."
        )
    return path.as_posix()


def report_page(out: Path) -> str:
    """The page for the report folder ``out`` (see the module docstring)."""
    texts = sorted(out.glob("*.md"), key=lambda path: (path.name != FIRST, path.name))
    links = sorted(path.name for path in out.iterdir() if path.suffix in {".csv", ".json"})
    nav = " ".join(f'<a href="{html.escape(name)}">{html.escape(name)}</a>' for name in links)
    pictures = _pictures(out)
    body = [markdown_html(path.read_text(encoding="utf-8")) for path in texts]
    body.append(f"<nav>Files: {nav}</nav>")
    if pictures:
        body.append("<h2>Figures</h2>")
        body += [figure(path.as_posix(), _caption(path)) for path in pictures]
    first = texts[0].read_text(encoding="utf-8").partition("\n")[0] if texts else ""
    return page(first.removeprefix("# ").strip() or "Evaluation report", "\n".join(body))


def write_report_page(out: Path) -> Path:
    """Write ``out/index.html``; returns its path."""
    path = Path(out) / PAGE_NAME
    atomic_write_text(path, report_page(Path(out)))
    return path
