import math

import numpy as np
import pytest

from pconv.maskgen.measure.shapes import near_duplicate_flags, shape_measures, summarize, thumbnail


def _square(side=256, top=50, size=100):
    hole = np.zeros((side, side), bool)
    hole[top : top + size, top : top + size] = True
    return hole


def test_a_square_has_known_thickness_boundary_one_component_and_no_roughness():
    measures = shape_measures(_square())
    rows, cols = np.mgrid[0:100, 0:100]
    to_valid = np.minimum.reduce([rows + 1, 100 - rows, cols + 1, 100 - cols])  # straight to the nearest side
    assert measures.thickness == pytest.approx(2 * to_valid.mean(), abs=1e-5)
    assert measures.boundary_density == pytest.approx(100 * (100 * 100 - 98 * 98) / (100 * 100))
    assert measures.components == 1
    assert measures.roughness == pytest.approx(1.0)


def test_a_one_pixel_line_is_all_boundary_and_two_px_thick():
    hole = np.zeros((256, 256), bool)
    hole[100, 20:220] = True
    measures = shape_measures(hole)
    assert measures.thickness == pytest.approx(2.0)
    assert measures.boundary_density == pytest.approx(100.0)
    assert measures.roughness == pytest.approx(1.0)


def test_components_are_eight_connected():
    hole = np.zeros((256, 256), bool)
    hole[10:20, 10:20] = True
    hole[20, 20] = True  # touches the first square's corner: same component
    hole[100:110, 100:110] = True
    hole[200, 30:60] = True
    assert shape_measures(hole).components == 3


def test_roughness_of_an_l_shape_is_its_contour_over_its_hull():
    hole = np.zeros((256, 256), bool)
    hole[50:150, 50:60] = True  # the vertical arm, 10 px wide
    hole[140:150, 50:150] = True  # the horizontal arm
    contour = 9 + 89 + math.sqrt(2) + 89 + 9 + 99 + 99  # through boundary pixel centres, one diagonal step
    hull = 9 + math.hypot(90, 90) + 9 + 99 + 99
    assert shape_measures(hole).roughness == pytest.approx(contour / hull, rel=1e-3)


def test_masks_are_measured_at_256_px_on_the_longer_side():
    assert shape_measures(_square(side=512, top=100, size=200)) == shape_measures(_square())
    wide = np.zeros((256, 1024), bool)
    wide[:, :512] = True  # scaled to 64 x 256: a 64 x 128 block along three image edges
    # OpenCV's default border does not erode: only the block's inner side (64 px) is boundary
    assert shape_measures(wide).boundary_density == pytest.approx(100 * 64 / (64 * 128))


def test_measuring_refuses_empty_and_non_bool_masks():
    with pytest.raises(ValueError, match="without hole pixels"):
        shape_measures(np.zeros((64, 64), bool))
    with pytest.raises(ValueError, match="bool"):
        shape_measures(np.ones((64, 64), np.uint8))


def test_near_duplicates_are_judged_by_iou_of_64_px_thumbnails():
    base = _square(side=512, top=100, size=240)
    shifted = np.roll(base, 4, axis=1)  # half a thumbnail pixel: IoU about 0.98
    other = _square(side=512, top=300, size=100)
    empty = np.zeros((512, 512), bool)
    flags = near_duplicate_flags([thumbnail(item) for item in (base, shifted, other, empty, empty)])
    assert flags.tolist() == [True, True, False, True, True]
    assert near_duplicate_flags([thumbnail(base)]).tolist() == [False]


def test_near_duplicate_threshold_is_strictly_above_point_nine():
    first = np.zeros((64, 64), bool)
    first[:, :10] = True
    second = first.copy()
    second[:, 10] = True  # IoU 10/11 = 0.909: a near-duplicate
    third = first.copy()
    third[0:40, 10] = True  # IoU 640/(640+40)... above 0.9 too
    far = first.copy()
    far[:, 10:12] = True  # IoU 10/12 = 0.83
    assert near_duplicate_flags([first, second]).tolist() == [True, True]
    assert near_duplicate_flags([first, far]).tolist() == [False, False]


def test_summaries_give_medians_diversity_and_the_low_tenth_share():
    shapes = [shape_measures(_square(size=size)) for size in (20, 40, 60)]
    summary = summarize(
        shapes, [True, False, False], raw_ids=["7", "7", "9"], ratio_positions=[0.05, 0.5, 0.1]
    )
    assert summary.count == 3
    assert summary.thickness == shapes[1].thickness
    assert summary.boundary_density == shapes[1].boundary_density
    assert summary.near_duplicates == pytest.approx(1 / 3)
    assert (summary.distinct_raw, summary.most_uses) == (2, 2)
    assert summary.low_tenth == pytest.approx(2 / 3)
    unknown = summarize(shapes, [False] * 3)
    assert (unknown.distinct_raw, unknown.most_uses, unknown.low_tenth) == (None, None, None)
    with pytest.raises(ValueError, match="empty"):
        summarize([], [])
