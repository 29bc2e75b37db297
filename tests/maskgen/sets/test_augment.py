import cv2
import numpy as np
import pytest

from pconv.maskgen.sets.augment import (
    AugmentConfig,
    AugmentParams,
    Window,
    augment_hole,
    component_floor,
    drop_small_components,
    random_params,
    random_window,
    raw_distance,
    sample_in_range,
    screening_map,
    source_width,
)
from pconv.maskgen.sets.bins import mask_stats


def _raw(height=90, width=120):
    hole = np.zeros((height, width), bool)
    hole[height * 4 // 9 : height // 2, width // 12 : width * 11 // 12] = True
    hole[height // 9 : height * 8 // 9, width // 2] = True
    return hole


def test_identity_window_without_dilation_is_a_plain_crop():
    raw = _raw()
    window = Window(angle=0.0, scale=1.0, center_x=59.5, center_y=44.5)
    out = augment_hole(raw_distance(raw), AugmentParams(window=window, dilation=0), size=64)
    assert out.dtype == np.bool_ and out.shape == (64, 64)
    np.testing.assert_array_equal(out, raw[13:77, 28:92])


def test_dilation_grows_holes_by_the_radius_in_output_pixels():
    raw = np.zeros((80, 80), bool)
    raw[40, 40] = True
    window = Window(angle=0.0, scale=1.0, center_x=39.5, center_y=39.5)
    out = augment_hole(raw_distance(raw), AugmentParams(window=window, dilation=5), size=80)
    assert out[40, 35] and out[40, 45] and not out[40, 34] and not out[40, 46]
    assert out[36, 37] and not out[35, 35]  # a disc, not a square


def test_rotation_keeps_masks_binary_and_small_raw_masks_are_scaled_to_fit():
    rng = np.random.default_rng(0)
    small = _raw(30, 40)  # far smaller than the 128-px output
    distance = raw_distance(small)
    for _ in range(10):
        params = random_params(rng, small.shape, size=128, config=AugmentConfig(dilation=(0, 3)))
        assert params.window.scale >= 128 * 1.0 / 30
        out = augment_hole(distance, params, size=128)
        assert out.dtype == np.bool_ and out.shape == (128, 128) and out.any()


def test_windows_lie_inside_the_raw_mask_at_any_angle():
    rng = np.random.default_rng(1)
    for _ in range(200):
        window = random_window(rng, (576, 768), 512, AugmentConfig())
        theta = np.radians(window.angle)
        half = 512 * (abs(np.cos(theta)) + abs(np.sin(theta))) / window.scale / 2
        assert half - 0.01 <= window.center_x <= 768 - half + 0.01
        assert half - 0.01 <= window.center_y <= 576 - half + 0.01


def test_same_seed_same_params():
    first = random_params(np.random.default_rng(7), (90, 120), size=64, config=AugmentConfig())
    second = random_params(np.random.default_rng(7), (90, 120), size=64, config=AugmentConfig())
    assert first == second and 9 <= first.dilation <= 49


@pytest.mark.parametrize("low, high, clip", [(0.01, 0.1, 0), (0.1, 0.2, 12), (0.3, 0.4, 0), (0.5, 0.6, 12)])
def test_targeted_sampling_lands_in_the_interval_and_split(low, high, clip):
    rng = np.random.default_rng(3)
    raw = np.zeros((144, 192), bool)
    for row in range(4, 144, 30):
        raw[row, :] = True
    distance = raw_distance(raw)
    config = AugmentConfig(dilation=(0, 12))
    found = None
    for _ in range(50):
        found = found or sample_in_range(
            distance,
            screening_map(distance),
            rng,
            size=128,
            low=low,
            high=high,
            clip=clip,
            border=12,
            config=config,
        )
    hole, params = found
    stats = mask_stats(hole, border=12)
    assert low < stats.hole_ratio <= high
    assert stats.split == ("N" if clip else "B")
    assert not hole[:clip].any() if clip else stats.border_distance < 12
    np.testing.assert_array_equal(augment_hole(distance, params, size=128), hole)


def test_a_raw_mask_without_holes_cannot_reach_a_bin():
    distance = raw_distance(np.zeros((144, 192), bool))
    rng = np.random.default_rng(0)
    assert (
        sample_in_range(
            distance,
            screening_map(distance),
            rng,
            size=128,
            low=0.01,
            high=0.1,
            clip=0,
            border=12,
            config=AugmentConfig(),
        )
        is None
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dilation": (5, 2)}, "dilation must be a range"),
        ({"max_angle": 270.0}, "max_angle must be in"),
    ],
)
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**kwargs)


def test_a_square_kernel_dilates_into_squares_and_a_disc_into_discs():
    from pconv.maskgen.sets.augment import raw_distance

    hole = np.zeros((41, 41), bool)
    hole[20, 20] = True
    square = raw_distance(hole, "square") <= 5
    disc = raw_distance(hole, "disc") <= 5
    assert square.sum() == 11 * 11 and square[15:26, 15:26].all()
    assert disc[20, 15] and disc[15, 20] and not disc[15, 15]  # the corner lies sqrt(50) > 5 away
    with pytest.raises(ValueError, match="unknown dilation kernel"):
        AugmentConfig(kernel="star")


def test_source_width_peels_what_the_magnification_adds_and_keeps_thin_strokes():
    raw = np.zeros((256, 400), bool)  # magnified 2 times to fill a 512-px crop
    raw[100:108, 50:350] = True  # an 8-px band: chessboard distances 1 2 3 4 4 3 2 1 across it
    thinned, peel = source_width(raw, 512)
    assert peel == 2  # half-width 2 × 2.5 − 1 = 4 (about, the band's ends are nearer), × (2 − 1) / 2
    assert thinned[:, 200].nonzero()[0].tolist() == [102, 103, 104, 105]  # 4 raw px: 8 once magnified
    assert not thinned[:100].any() and not thinned[108:].any()
    line = np.zeros((171, 400), bool)  # magnified 2.99 times
    line[80:83, 50:350] = True  # a 3-px band: half-width 1.67, peel round(1.67 × 1.99 / 2.99) = 1
    thinned, peel = source_width(line, 512)
    assert peel == 1 and thinned[:, 200].nonzero()[0].tolist() == [81]  # its ridge is kept, not lost
    assert thinned.sum() == 300 - 2  # the centre line, less its two end pixels (distance 1)


def test_source_width_leaves_footage_as_large_as_the_crop_alone():
    raw = np.zeros((512, 700), bool)
    raw[100:140, 50:350] = True  # thick, but needs no magnification
    thinned, peel = source_width(raw, 512)
    assert peel == 0 and np.array_equal(thinned, raw)
    line = np.zeros((256, 400), bool)
    line[100, 50:350] = True  # magnified 2 times, but 1 px: half-width 1, peel round(0.5) = 0
    assert source_width(line, 512)[1] == 0
    empty, peel = source_width(np.zeros((100, 100), bool), 512)
    assert peel == 0 and not empty.any()


def test_small_components_are_dropped_and_the_floor_scales_with_the_area():
    hole = np.zeros((64, 64), bool)
    hole[2:4, 2:4] = True  # 4 px
    hole[10:20, 10:20] = True  # 100 px
    hole[30, 30:60] = True  # 30 px, 8-connected to nothing
    kept = drop_small_components(hole.copy(), 30)
    assert kept[10:20, 10:20].all() and kept[30, 30:60].all() and not kept[2:4, 2:4].any()
    assert not drop_small_components(hole.copy(), 31)[30].any()
    np.testing.assert_array_equal(drop_small_components(hole.copy(), 0), hole)
    config = AugmentConfig(min_component=600)
    assert component_floor(config, 512) == 600 and component_floor(config, 256) == 150
    assert component_floor(AugmentConfig(min_component=0), 512) == 0
    with pytest.raises(ValueError, match="min_component"):
        AugmentConfig(min_component=-1)


def test_training_params_carry_the_floor_and_reproduce_their_mask():
    distance = raw_distance(_raw(180, 240))
    params = random_params(np.random.default_rng(3), distance.shape, size=128, config=AugmentConfig())
    assert params.min_component == component_floor(AugmentConfig(), 128)
    hole = augment_hole(distance, params, size=128)
    areas = cv2.connectedComponentsWithStats(hole.view(np.uint8), connectivity=8)[2][1:, cv2.CC_STAT_AREA]
    assert areas.size and areas.min() >= params.min_component
