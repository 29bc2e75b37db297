import math

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pconv.cli import main
from pconv.maskgen.measure.folder import MaskMeasure, measure_masks
from pconv.maskgen.measure.shapes import SHAPE_FIELDS, ShapeMeasures, inside_targets, median_ratios
from pconv.maskgen.measure.tables import mask_set_stats, ratio_table, stats_table


def test_stats_table_counts_each_bin_and_the_rest(folder):
    table = stats_table(mask_set_stats("external", *measure_masks(folder, border=20, workers=1)))
    assert table.splitlines()[0] == "4 masks"
    assert "(0.2,0.3]   B            1   0.2400   0.2400   0.2400     0.0%             0.0" in table
    # 40 x 60 px block touching the top edge, scaled 2.56x: one component, convex, raw origin unknown
    row = next(line for line in table.splitlines() if line.startswith("(0.2,0.3] B "))
    fields = row.split()
    assert fields[2] == "1" and fields[5:] == ["1", "1.00", "0.0%", "-", "-"]
    assert "outside the bins: 1 (ratios 0.0000 to 0.0000)" in table
    assert table.splitlines()[-1] == "sizes: 100x100"


def test_stats_compare_prints_both_sets_row_by_row(folder, tmp_path, fake_benchmark):
    bench = fake_benchmark(tmp_path / "bench", ["4", "4", "9"])
    result = CliRunner().invoke(
        main,
        ["-q", "masks", "stats", str(bench), "--border", "20", "--workers", "1", "--compare", str(folder)],
    )
    assert result.exit_code == 0, result.output
    compared = result.output.split("\n\n")[-2].splitlines()  # the ratios follow (tested below)
    assert compared[0].split()[:3] == ["set", "group", "masks"]
    headline = [line for line in compared if "ratio 0.1-0.6" in line]
    assert [line.split()[0] for line in headline] == [str(bench), str(folder)]
    assert headline[0].split()[-2:] == ["2", "2"] and headline[1].split()[-2:] == ["-", "-"]


def _bands(rows, starts):
    """A 256² mask of full-width bands of ``rows`` rows: they touch both side edges (B masks), so only
    their long sides are boundary and each is thickness 2 × the mean row distance to the nearest side."""
    hole = np.zeros((256, 256), bool)
    for start in starts:
        hole[start : start + rows] = True
    return hole


def _write(root, masks):
    root.mkdir(parents=True)
    for number, hole in enumerate(masks):
        cv2.imwrite(str(root / f"{number}.png"), hole.astype(np.uint8) * 255)
    return root


@pytest.fixture
def ours_and_reference(tmp_path):
    # ours: (0.01,0.1] B two 8-row bands (5.0 px / 25.0 / 2 / 1.00); (0.1,0.2] B one 32-row band (17.0 / 6.25)
    ours = _write(tmp_path / "ours", [_bands(8, [40, 120]), _bands(32, [100])])
    # reference: three 6-row bands (4.0 / 33.3 / 3 / 1.00); one 30-row band (16.0 / 6.67 / 1 / 1.00)
    reference = _write(tmp_path / "reference", [_bands(6, [40, 120, 200]), _bands(30, [100])])
    return ours, reference


def test_stats_compare_prints_each_cells_ratios_and_counts_the_cells_inside_the_targets(ours_and_reference):
    ours, reference = ours_and_reference
    result = CliRunner().invoke(
        main, ["-q", "masks", "stats", str(ours), "--workers", "1", "--compare", str(reference)]
    )
    assert result.exit_code == 0, result.output
    table = result.output.split("\n\n")[-1].splitlines()
    assert table[0] == (
        f"ratios of the medians, {ours} / {reference} (* outside the targets: thickness ±15%, boundary ±15%, "
        "components ±40%, roughness ±10%)"
    )
    assert table[1].split() == ["group", "thick", "px", "bound/100", "comps", "rough", "inside"]
    rows = {line[:22].strip(): line[22:].split() for line in table[2:-1]}
    # 5.0 / 4.0, 25.0 / 33.3, 2 / 3 (inside ±40 %), 1.00 / 1.00
    assert rows["(0.01,0.1] B"] == ["1.25*", "0.75*", "0.67", "1.00", "no"]
    # 17.0 / 16.0, 6.25 / 6.67, 1 / 1, 1.00 / 1.00
    assert rows["(0.1,0.2] B"] == ["1.06", "0.94", "1.00", "1.00", "yes"]
    assert rows["ratio 0.1-0.6"] == ["1.06", "0.94", "1.00", "1.00", "yes"]
    assert rows["(0.1,0.2] N"] == ["-", "-", "-", "-", "no"]  # empty in both sets
    assert len(rows) == 13
    assert table[-1] == "cells inside the targets: 1 of 12"
    medians = result.output.split("\n\n")[-2].splitlines()  # each set's medians, row by row
    assert [line.split()[4:8] for line in medians if "(0.01,0.1] B" in line] == [
        ["5.0", "25.0", "2", "1.00"],
        ["4.0", "33.3", "3", "1.00"],
    ]


def test_ratio_table_marks_each_measure_outside_its_own_tolerance(ours_and_reference):
    ours, _ = ours_and_reference
    stats = mask_set_stats("ours", *measure_masks(ours, workers=1))
    summary = stats.cells[1, "B"]  # 17.0 / 6.25 / 1 / 1.00
    edge = ShapeMeasures(17.0 / 1.15, 6.25 / 0.85, 1 / 1.4, 1 / 1.1)  # every ratio on its tolerance's edge
    beyond = ShapeMeasures(17.0 / 1.16, 6.25 / 0.84, 1 / 1.41, 1 / 1.11)
    assert inside_targets(median_ratios(summary, edge)) == dict.fromkeys(SHAPE_FIELDS, True)
    assert inside_targets(median_ratios(summary, beyond)) == dict.fromkeys(SHAPE_FIELDS, False)
    table = ratio_table(stats, "ref", {(1, "B"): edge, (0, "B"): beyond, None: beyond}).splitlines()
    assert table[-1] == "cells inside the targets: 1 of 12"
    assert next(line for line in table if line.startswith("(0.1,0.2] B")).split()[2:] == [
        "1.15",
        "0.85",
        "1.40",
        "1.10",
        "yes",
    ]
    assert next(line for line in table if line.startswith("ratio 0.1-0.6")).split()[2:] == [
        "1.16*",
        "0.84*",
        "1.41*",
        "1.11*",
        "no",
    ]
    no_thickness = median_ratios(summary, ShapeMeasures(0.0, 6.25, 1, 1.0))  # a reference median of 0
    assert math.isnan(no_thickness["thickness"]) and not inside_targets(no_thickness)["thickness"]


def test_the_headline_row_counts_only_the_raw_masks_of_its_own_masks():
    shape = {"thickness": 4.0, "boundary_density": 20.0, "components": 1, "roughness": 1.1}
    cells = [(0.05, 0, "9"), (0.15, 1, "2"), (0.25, 2, "2")]  # the first lies below ratio 0.1
    measures = [
        MaskMeasure(f"{n}.png", 100, 100, ratio, 30, index, "N", **shape, raw_id=raw)
        for n, (ratio, index, raw) in enumerate(cells)
    ]
    stats = mask_set_stats("set", measures, [np.zeros((64, 64), bool)] * 3)
    assert (stats.headline.count, stats.headline.distinct_raw, stats.headline.most_uses) == (2, 1, 2)
    row = next(line for line in stats_table(stats).splitlines() if line.startswith("ratio 0.1-0.6"))
    assert row.split()[2] == "2" and row.split()[-2:] == ["1", "2"]
