import numpy as np
import pytest

from pconv.maskgen.release.figures import CAPTION, GAP, THUMB, contact_sheet, count_ticks, ratio_histogram


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 1, 2, 3, 4, 5]),
        (7, [0, 2, 4, 6, 8]),
        (1000, list(range(0, 1001, 200))),
    ],
)
def test_count_ticks_are_whole_numbers_at_a_round_step(peak, ticks):
    assert count_ticks(peak) == ticks


def test_a_one_mask_bar_ends_exactly_at_the_tick_for_one():
    image = ratio_histogram([0.155, 0.255, 0.256], ["N", "B", "B"])
    plot_bottom, plot_height = 480 - 60, 480 - 40 - 60
    column = 80 + int(15.5 * (900 - 80 - 20) / 70)  # the middle of the bar at ratio 0.15
    dark = np.flatnonzero((image[:, column] != 255).any(axis=1) & (image[:, column, 0] == 140))
    assert dark.min() == plot_bottom - round(plot_height / 2)  # peak 2 masks: ticks 0, 1, 2; one mask = half
    tick_rows = np.flatnonzero((image[40 : plot_bottom + 1, 75:80] == 0).all(axis=(1, 2))) + 40
    assert list(tick_rows) == [plot_bottom - round(k * plot_height / 2) for k in (2, 1, 0)]


def test_a_sheet_of_few_masks_has_no_empty_grey_cells():
    holes = [np.eye(64, dtype=bool)] * 3
    sheet = contact_sheet(holes, columns=4, title="three")
    assert sheet.shape == (CAPTION + THUMB + 2 * GAP, 3 * (THUMB + GAP) + GAP)
    six = contact_sheet([np.ones((64, 64), bool)] * 6, columns=4, title="six")
    empty = six[CAPTION + THUMB + 2 * GAP :, 2 * (THUMB + GAP) + GAP :]
    assert (empty == 255).all()  # the last row's two empty cells are white, not grey
    assert THUMB >= 256  # half a 512² mask: strokes of 2 px stay visible
