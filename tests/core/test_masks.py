import cv2
import numpy as np
import pytest
import torch

from pconv.core.masks import (
    composite,
    encode_image_png,
    hole_from_valid,
    image_from_uint8,
    image_to_uint8,
    valid_from_hole,
    white_holes,
)


def test_valid_from_hole_adds_the_channel_axis_and_flips_the_meaning():
    hole = np.array([[True, False], [False, False]])
    valid = valid_from_hole(hole)
    assert valid.dtype == torch.float32 and valid.shape == (1, 2, 2)
    assert valid.tolist() == [[[0.0, 1.0], [1.0, 1.0]]]
    assert valid_from_hole(np.stack([hole, ~hole])).shape == (2, 1, 2, 2)


def test_valid_from_hole_refuses_other_than_bool():
    with pytest.raises(ValueError, match="bool array"):
        valid_from_hole(np.zeros((2, 2), np.uint8))


def test_hole_from_valid_is_the_reverse():
    hole = np.random.default_rng(0).random((3, 5, 7)) < 0.4
    assert np.array_equal(hole_from_valid(valid_from_hole(hole)), hole)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        hole_from_valid(torch.ones(1, 3, 4, 4))


def test_composite_takes_the_output_only_in_holes():
    image = torch.full((1, 3, 2, 2), 0.25)
    output = torch.full((1, 3, 2, 2), 7.0)  # not clamped: the caller decides
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]])
    result = composite(output, image, mask)
    assert result[0, :, 0, 1].tolist() == [7.0, 7.0, 7.0]
    assert torch.equal(result[..., 1, :], image[..., 1, :])
    assert white_holes(image, mask)[0, :, 0, 1].tolist() == [1.0, 1.0, 1.0]


def test_image_uint8_round_trip_and_rounding():
    pixels = np.random.default_rng(1).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    image = image_from_uint8(pixels)
    assert image.shape == (2, 3, 4, 5) and image.dtype == torch.float32
    assert np.array_equal(image_to_uint8(image), pixels)
    assert image_to_uint8(torch.tensor([-1.0, 0.5 / 255, 1.5 / 255, 2.0]).view(1, 1, 4).expand(3, 1, 4))[
        0, :, 0
    ].tolist() == [0, 0, 2, 255]  # clamped, rounded half to even


def test_encode_image_png_writes_rgb_as_opencv_reads_it():
    image = torch.zeros(3, 2, 2)
    image[0] = 1.0  # pure red
    decoded = cv2.imdecode(np.frombuffer(encode_image_png(image), np.uint8), cv2.IMREAD_COLOR)
    assert decoded[0, 0].tolist() == [0, 0, 255]  # BGR on disk
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        encode_image_png(torch.zeros(1, 3, 2, 2))


def test_the_module_examples_run():
    import doctest

    import pconv.core.masks

    result = doctest.testmod(pconv.core.masks)
    assert result.attempted > 0 and result.failed == 0
