import math

import cv2
import numpy as np
import pytest

from pconv.maskgen.raw.occlusion import (
    OcclusionConfig,
    classify_pair,
    consistency_occlusion,
    motion_boundary,
    occlusion_from_flows,
    occlusion_from_frames,
    out_of_frame,
    remove_specks,
    soft_threshold,
    texture_confidence,
    textured_near,
)

RAW_CHECK = OcclusionConfig(soft_sigma=0, min_area=0)


def moving_square_flows(shift: int = 4, size=(40, 30)) -> tuple[np.ndarray, np.ndarray]:
    """A static background with a 10×10 square (x 10..19, y 10..19) moving ``shift`` px right."""
    width, height = size
    forward = np.zeros((height, width, 2), np.float32)
    backward = np.zeros_like(forward)
    forward[10:20, 10:20, 0] = shift
    backward[10:20, 10 + shift : 20 + shift, 0] = -shift
    return forward, backward


@pytest.mark.parametrize("alpha2", [0.5, 10.0])
def test_hand_made_pair_gives_the_exact_strip(alpha2):
    forward, backward = moving_square_flows(4)
    hole = occlusion_from_flows(forward, backward, OcclusionConfig(alpha2=alpha2, soft_sigma=0, min_area=0))
    expected = np.zeros((30, 40), bool)
    expected[10:20, 20:24] = True  # background the square covers in the next frame
    np.testing.assert_array_equal(hole, expected)


def test_frames_with_a_known_shift_give_the_strip():
    """Real flow (DIS) on a textured patch moved 4 px; Sundaram's tolerance, since the default (about
    3 px) is meant for the larger motions of video and would swallow a 4-px strip."""
    rng = np.random.default_rng(1)
    texture = cv2.resize(rng.integers(0, 256, (80, 120), np.uint8), (240, 160), interpolation=cv2.INTER_CUBIC)
    patch = cv2.resize(rng.integers(0, 256, (24, 24), np.uint8), (48, 48), interpolation=cv2.INTER_CUBIC)
    first, second = texture.copy(), texture.copy()
    first[56:104, 80:128] = patch
    second[56:104, 84:132] = patch  # the patch moves 4 px right
    hole = occlusion_from_frames(first, second, OcclusionConfig(alpha2=0.5))
    expected = np.zeros_like(hole)
    expected[56:104, 128:132] = True
    overlap = np.count_nonzero(hole & expected) / np.count_nonzero(hole | expected)
    assert overlap > 0.7


def naive_check(forward, backward, alpha1, alpha2):
    """Per-pixel reference: bilinear sampling with clamped borders, the inequality as printed."""
    height, width = forward.shape[:2]
    hole = np.zeros((height, width), bool)
    for y in range(height):
        for x in range(width):
            u, v = forward[y, x]
            tx = min(max(x + u, 0), width - 1)
            ty = min(max(y + v, 0), height - 1)
            x0, y0 = math.floor(tx), math.floor(ty)
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            fx, fy = tx - x0, ty - y0
            back = (
                (1 - fx) * (1 - fy) * backward[y0, x0]
                + fx * (1 - fy) * backward[y0, x1]
                + (1 - fx) * fy * backward[y1, x0]
                + fx * fy * backward[y1, x1]
            )
            miss = (u + back[0]) ** 2 + (v + back[1]) ** 2
            hole[y, x] = miss >= alpha1 * (u * u + v * v + back[0] ** 2 + back[1] ** 2) + alpha2
    return hole


@pytest.mark.parametrize("alpha1, alpha2", [(0.01, 0.5), (0.05, 2.0)])
def test_check_matches_a_naive_per_pixel_reference(alpha1, alpha2):
    rng = np.random.default_rng(2)
    # quarter-pixel flows: OpenCV's bilinear weights (1/32 steps) are then exact
    forward = (rng.integers(-12, 13, (12, 14, 2)) / 4).astype(np.float32)
    backward = (rng.integers(-12, 13, (12, 14, 2)) / 4).astype(np.float32)
    got = consistency_occlusion(forward, backward, alpha1=alpha1, alpha2=alpha2)
    np.testing.assert_array_equal(got, naive_check(forward, backward, alpha1, alpha2))
    assert 0 < got.mean() < 1


def test_out_of_frame_and_motion_boundary():
    flow = np.zeros((8, 10, 2), np.float32)
    flow[:, :, 0] = 2
    assert out_of_frame(flow)[:, 8:].all() and not out_of_frame(flow)[:, :8].any()
    flow[:, 5:, 0] = 6
    boundary = motion_boundary(flow)
    assert boundary[:, 4:6].all() and not boundary[:, :3].any() and not boundary[:, 7:].any()


def test_motion_boundaries_can_join_the_hole():
    forward, backward = moving_square_flows(4)
    plain = occlusion_from_flows(forward, backward, RAW_CHECK)
    with_edges = occlusion_from_flows(
        forward, backward, OcclusionConfig(motion_boundaries=True, soft_sigma=0, min_area=0)
    )
    assert (with_edges & ~plain).sum() > 0 and not (plain & ~with_edges).any()


def test_specks_and_soft_map():
    hole = np.zeros((20, 20), bool)
    hole[2, 2] = True
    hole[10:16, 10:16] = True
    cleaned = remove_specks(hole, 4)
    assert not cleaned[2, 2] and cleaned[10:16, 10:16].all()
    soft = soft_threshold(hole, sigma=0.8, threshold=0.6)
    assert not soft[2, 2] and soft[11:15, 11:15].all() and not soft[10, 10]


def test_static_and_cut_pairs():
    config = OcclusionConfig(min_hole_ratio=0.01, max_hole_ratio=0.5)
    hole = np.zeros((10, 10), bool)
    assert classify_pair(hole, config) == "static"
    hole[:3] = True
    assert classify_pair(hole, config) == "mask"
    hole[:] = True
    assert classify_pair(hole, config) == "cut"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "raft"}, "unknown flow method"),
        ({"min_hole_ratio": 0.6, "max_hole_ratio": 0.5}, "min hole ratio"),
        ({"min_area": -1}, "must not be negative"),
        ({"texture_threshold": -1}, "texture threshold >= 0"),
        ({"texture_sigma": 0}, "texture sigma > 0"),
        ({"alpha2": -0.5}, "alpha1 and alpha2 must not be negative, got 0.01 and -0.5"),
        ({"flow_scale": 1.5}, "flow scale must be in \\(0, 1\\], got 1.5"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OcclusionConfig(**kwargs)


def noise_image(shape=(30, 40), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def test_flat_image_has_no_texture_confidence_and_noise_has_much():
    assert np.all(texture_confidence(np.full((30, 40), 200, np.uint8)) == 0)
    assert np.median(texture_confidence(noise_image())) > 100


def test_a_straight_edge_has_little_texture_confidence():
    """Only one gradient direction: the aperture problem, the flow along the edge is a guess."""
    edge = np.zeros((30, 40), np.uint8)
    edge[:, 20:] = 255
    confidence = texture_confidence(edge)
    assert confidence.max() < 1e-3 * texture_confidence(noise_image()).max()


def test_textured_near_reaches_radius_pixels_beyond_the_texture():
    grey = np.full((30, 40), 128, np.uint8)
    grey[10:20, 10:20] = noise_image((10, 10))
    near = textured_near(grey, threshold=1.0, sigma=1.0, radius=4)
    assert near[15, 24] and not near[15, 30] and not near[0, 39]


def test_failure_on_a_flat_area_is_dropped_and_occlusion_next_to_texture_kept():
    """The moving square is textured, the background flat: the uncovered strip (x 20..23) is kept; a
    flow failure far off in the flat background (x 30..35) is dropped; with the test off it stays."""
    forward, backward = moving_square_flows(4)
    forward[2:6, 30:36, 1] = 5  # a round trip that fails where there is nothing to track
    grey = np.full((30, 40), 200, np.uint8)
    grey[10:20, 10:20] = noise_image((10, 10))
    config = OcclusionConfig(soft_sigma=0, min_area=0, texture_threshold=1.0, texture_radius=6)
    hole = occlusion_from_flows(forward, backward, config, grey)
    expected = np.zeros((30, 40), bool)
    expected[10:20, 20:24] = True
    np.testing.assert_array_equal(hole, expected)
    without = occlusion_from_flows(
        forward, backward, OcclusionConfig(soft_sigma=0, min_area=0, texture_threshold=0), grey
    )
    assert without[2:6, 30:36].all()


def test_out_of_frame_pixels_stay_holes_on_flat_areas():
    forward = np.zeros((30, 40, 2), np.float32)
    forward[..., 0] = 5  # the camera pans: the 5 rightmost columns leave the frame
    grey = np.full((30, 40), 50, np.uint8)
    hole = occlusion_from_flows(forward, -forward, RAW_CHECK, grey)
    assert hole[:, 35:].all() and not hole[:, :35].any()
