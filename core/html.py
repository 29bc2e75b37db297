"""Static HTML pages that open from the file system: a release's ``index.html``, a report's ``index.html``.

A page is one file with its style inline and images given by relative paths, so the folder it lives in
can be opened, served or zipped as is, and a browser fetches nothing from outside it. Text comes from the
Markdown files the toolkit already writes (a release's card, a report's ``table1.md``), turned into HTML by
:func:`markdown_html`, which knows exactly the Markdown those files use: headings, paragraphs, ``-``
lists, pipe tables, fenced code, inline ``code``, ``**bold**`` and ``[text](link)``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

__all__ = ["figure", "markdown_html", "page"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1500px; padding: 0 18px 40px;
  color: #1b1b1b; background: #fff; }
h1 { font-size: 1.7em; margin: 24px 0 8px; } h2 { font-size: 1.3em; margin: 28px 0 8px;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 1.1em; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }
code { font-size: 0.92em; } figure { margin: 12px 0; } figcaption { font-size: 13px; color: #444; }
img { max-width: 100%; height: auto; image-rendering: pixelated; border: 1px solid #bbb; }
.strip { display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-start; }
.strip img { width: 128px; }
nav a { margin-right: 14px; }
"""


def _inline(text: str) -> str:
    """Escape ``text`` and render inline code, bold, italics and links; code spans stay literal (they are
    set aside first and put back last, so ``**a `b` c**`` is bold around the code)."""
    spans: list[str] = []

    def aside(match: re.Match[str]) -> str:
        spans.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\0{len(spans) - 1}\0"

    escaped = html.escape(re.sub(r"`([^`]+)`", aside, text))
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<![\w*])\*(\S[^*]*?)\*(?![\w*])", r"<em>\1</em>", escaped)
    escaped = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', escaped)
    return re.sub(r"\0(\d+)\0", lambda match: spans[int(match.group(1))], escaped)


_NUMBER = re.compile(r"[-+]?[\d.,]+( ± [\d.]+)?( ?%| s| px| MB)?|–")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: Sequence[str]) -> str:
    header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    head = "".join(f"<th>{_inline(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_inline(cell)}</td>'
            if _NUMBER.fullmatch(cell)
            else f"<td>{_inline(cell)}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_html(text: str) -> str:
    """HTML for the Markdown the toolkit writes (see the module docstring); everything else is a paragraph.

    Example:
        >>> markdown_html("| a |\\n|---|\\n| 1 |")
        '<table><thead><tr><th>a</th></tr></thead><tbody><tr><td class="num">1</td></tr></tbody></table>'
    """
    lines, blocks, number = text.splitlines(), [], 0
    while number < len(lines):
        line = lines[number]
        if not line.strip():
            number += 1
        elif line.startswith("```"):
            end = next((k for k in range(number + 1, len(lines)) if lines[k].startswith("```")), len(lines))
            blocks.append("<pre>" + html.escape("\n".join(lines[number + 1 : end])) + "</pre>")
            number = end + 1
        elif heading := re.match(r"(#{1,6}) (.*)", line):
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            number += 1
        elif line.startswith("|"):
            end = next((k for k in range(number, len(lines)) if not lines[k].startswith("|")), len(lines))
            blocks.append(_table(lines[number:end]))
            number = end
        elif line.startswith("- "):
            items = []
            while number < len(lines) and lines[number].startswith(("- ", "  ")):
                if lines[number].startswith("- "):
                    items.append(lines[number][2:])
                else:
                    items[-1] += " " + lines[number].strip()
                number += 1
            blocks.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
        else:
            end = number
            while (
                end < len(lines) and lines[end].strip() and not lines[end].startswith(("#", "|", "```", "- "))
            ):
                end += 1
            blocks.append("<p>" + _inline(" ".join(lines[number:end])) + "</p>")
            number = end
    return "\n".join(blocks)


def figure(src: str, caption: str, *, alt: str | None = None) -> str:
    """An image by relative path ``src`` with a caption."""
    link, text = html.escape(src), html.escape(caption)
    return (
        f'<figure><a href="{link}"><img src="{link}" alt="{html.escape(alt or caption)}"></a>'
        f"<figcaption>{text}</figcaption></figure>"
    )


def page(title: str, body: str) -> str:
    """A whole HTML document: ``body`` (HTML) under an inline style; no script, nothing fetched."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n"
        # No favicon request: a page opened from file:// would otherwise ask for /favicon.ico and fail.
        '<link rel="icon" href="data:,">\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
