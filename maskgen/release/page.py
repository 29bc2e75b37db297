"""A release's ``index.html``: the page a person opens first (``pconv masks publish``).

One static file beside the release's files: the card's title and summary, then per bin × N/B a strip of
example masks (the release's own PNGs, by relative path), the hole-ratio histogram and the contact-sheet
overview, links to the manifest, checksums and data files, and then the rest of the card (convention,
loading, how it was made, statistics, shapes and diversity beside NVIDIA's row, sources, licence,
citation). Nothing is fetched from outside the folder, so it opens from the file system, a web server or
an unpacked zip alike (see :mod:`pconv.core.html`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from pconv.core.html import figure, markdown_html, page

__all__ = ["PAGE_NAME", "STRIP_LENGTH", "Strip", "release_page"]

PAGE_NAME = "index.html"
STRIP_LENGTH = 8  # example masks per bin × split


@dataclass(frozen=True)
class Strip:
    """The examples of one bin × split: its heading, how many masks it has, and the first masks' files
    (relative to the release) with a tooltip each."""

    title: str
    count: int
    files: Sequence[str]
    tooltips: Sequence[str]


def _strips(strips: Sequence[Strip]) -> str:
    parts = ["<h2>Examples per bin and split</h2>", "<p>White = hole. Click a mask for its full size.</p>"]
    for strip in strips:
        shown = len(strip.files)
        parts.append(f"<h3>{html.escape(strip.title)}: {strip.count} masks (first {shown} shown)</h3>")
        images = "".join(
            f'<a href="{html.escape(file)}"><img src="{html.escape(file)}" alt="{html.escape(file)}" '
            f'title="{html.escape(tip)}"></a>'
            for file, tip in zip(strip.files, strip.tooltips, strict=True)
        )
        parts.append(f'<div class="strip">{images}</div>')
    return "\n".join(parts)


def release_page(
    card: str,
    strips: Sequence[Strip],
    *,
    figures: Sequence[tuple[str, str]],
    links: Sequence[tuple[str, str]],
) -> str:
    """The whole page. ``card``: the card's Markdown without front matter; ``figures``: ``(file,
    caption)``; ``links``: ``(file, what it is)``, all relative to the release."""
    title, _, rest = card.partition("\n")
    summary, _, sections = rest.partition("\n## ")
    nav = " ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in links)
    body = [
        markdown_html(title),
        markdown_html(summary),
        f"<nav>{nav}</nav>",
        _strips(strips),
        "<h2>Hole ratios and overview</h2>",
        *[figure(src, caption) for src, caption in figures],
        markdown_html("## " + sections) if sections else "",
    ]
    return page(title.removeprefix("# ").strip(), "\n".join(body))
