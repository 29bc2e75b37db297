import numpy as np
import pytest

from pconv.maskgen.sets.bins import (
    BIN_EDGES,
    bin_bounds,
    bin_index,
    border_distance,
    border_split,
    check_edges,
    mask_stats,
)


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (0.0, None),
        (0.01, None),
        (0.010001, 0),
        (0.1, 0),
        (0.100001, 1),
        (0.35, 3),
        (0.6, 5),
        (0.600001, None),
        (1.0, None),
    ],
)
def test_bins_are_open_below_and_closed_above(ratio, expected):
    assert bin_index(ratio) == expected


def test_bounds_follow_the_edges():
    assert bin_bounds(2) == (0.2, 0.3)
    assert bin_index(0.5, edges=(0.0, 0.5, 1.0)) == 0
    with pytest.raises(ValueError, match="bin index must be in 0..5, got 6"):
        bin_bounds(6)


@pytest.mark.parametrize("edges", [(0.1,), (0.2, 0.1), (0.1, 0.1, 0.2), (-0.1, 0.5), (0.5, 1.5)])
def test_bad_edges_are_refused(edges):
    with pytest.raises(ValueError, match="bin edges"):
        check_edges(edges)
    assert check_edges(BIN_EDGES) == BIN_EDGES


def test_border_distance_is_the_smallest_distance_of_a_hole_pixel_to_any_side():
    hole = np.zeros((20, 30), bool)
    hole[5, 10] = True
    assert border_distance(hole) == 5
    hole[12, 27] = True  # 30 - 1 - 27 = 2 from the right side
    assert border_distance(hole) == 2
    hole[19, 15] = True  # on the bottom row
    assert border_distance(hole) == 0
    assert border_distance(np.zeros((20, 30), bool)) == 30


def test_border_split_uses_a_band_of_border_pixels():
    hole = np.zeros((128, 128), bool)
    hole[12, 64] = True
    assert border_split(hole, border=12) == "N"
    assert border_split(hole, border=13) == "B"
    assert border_split(np.zeros((8, 8), bool), border=50) == "N"


def test_mask_stats_combines_ratio_distance_bin_and_split():
    hole = np.zeros((100, 100), bool)
    hole[50:60, 40:90] = True  # 500 px = 0.05; last column 89 is 99 - 89 = 10 px from the right side
    stats = mask_stats(hole, border=11)
    assert (stats.hole_ratio, stats.border_distance, stats.bin, stats.split) == (0.05, 10, 0, "B")
    assert mask_stats(hole, border=10).split == "N"
    with pytest.raises(ValueError, match="must be bool"):
        mask_stats(hole.astype(np.uint8))
