"""One PNG per metric: score against hole ratio, every method in one plot (``OUT/plots/METRIC.png``).

The x axis is the report's hole-ratio groups (the paper's bins, with N solid and B dashed, or LaMa's area
bins); groups without a value (a dash in the table) are gaps. Drawn with matplotlib's Agg canvas (no
pyplot, no display) and written atomically; same table, same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pconv.core.files import atomic_write_bytes
from pconv.evaluator.groups import Group
from pconv.evaluator.scores import Column
from pconv.maskgen.sets.bins import SPLITS

__all__ = ["PLOTS_DIR", "write_plots"]

PLOTS_DIR = "plots"


def _series(groups: Sequence[Group]) -> tuple[list[str], list[tuple[str, list[Group]]]]:
    """The x tick labels and the (style, groups along x) series of a plot."""
    paper = [g for g in groups if g.grouping == "paper"]
    if paper:
        labels = list(dict.fromkeys(g.label for g in paper))
        return labels, [(split, [g for g in paper if g.split == split]) for split in SPLITS]
    area = [g for g in groups if g.grouping == "area10"]
    return [g.label for g in area], [("", area)]


def write_plots(
    out: Path,
    table: Mapping[str, Mapping[str, Mapping[str, Any]]],
    groups: Sequence[Group],
    columns: Sequence[Column],
) -> list[Path]:
    """Draw ``OUT/plots/<metric>.png`` for every metric of ``table`` with a value in some hole-ratio group."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loaded only when a report is drawn
    from matplotlib.figure import Figure

    labels, series = _series(groups)
    written: list[Path] = []
    for column in columns:
        figure = Figure(figsize=(7, 4), dpi=100)
        axes = figure.add_subplot()
        drawn = False
        for index, (method, results) in enumerate(table.items()):
            for split, members in series:
                values = [results[g.key].get(column.key) for g in members]
                ys = [float("nan") if v is None else float(v) for v in values]
                if all(y != y for y in ys):  # NaN everywhere: nothing to draw
                    continue
                style = "--" if split == "B" else "-"
                name = f"{method} {split}".strip()
                axes.plot(range(len(ys)), ys, style, marker="o", color=f"C{index % 10}", label=name)
                drawn = True
        if not drawn:
            continue
        axes.set_xticks(range(len(labels)), labels)
        axes.set_xlabel("hole ratio")
        axes.set_ylabel(column.label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        buffer = io.BytesIO()
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
        path = Path(out) / PLOTS_DIR / f"{column.key}.png"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written
