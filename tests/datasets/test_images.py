import numpy as np
import pytest
import torch
from PIL import Image

from pconv.datasets.images import (
    BadImageError,
    check_image,
    crop_square,
    load_image,
    read_rgb,
)


def write(path, mode, size=(12, 8), **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=None).save(path, **save)
    return path


def test_load_image_resizes_shorter_side_and_centre_crops(tmp_path):
    rgb = np.zeros((20, 60, 3), np.uint8)
    rgb[:, 14:46] = 200  # the centre crop (source columns 20:40) lies well inside this band
    Image.fromarray(rgb).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png", size=10)
    assert image.shape == (3, 10, 10) and image.dtype == torch.float32
    assert torch.allclose(image, torch.full_like(image, 200 / 255), atol=0.02)


def test_random_crop_is_reproducible_and_needs_rng():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 64, 3), dtype=np.uint8)
    first = crop_square(rgb, size=16, crop="random", rng=np.random.default_rng(3))
    again = crop_square(rgb, size=16, crop="random", rng=np.random.default_rng(3))
    assert first.shape == (16, 16, 3) and np.array_equal(first, again)
    crops = [crop_square(rgb, size=16, crop="random", rng=np.random.default_rng(s)) for s in range(8)]
    corners = {crop[0, 0, 0] for crop in crops}
    assert len(corners) > 1
    with pytest.raises(ValueError, match="needs rng"):
        crop_square(rgb, size=16, crop="random")


def test_small_images_are_upscaled(tmp_path):
    write(tmp_path / "small.png", "RGB", size=(5, 3))
    assert load_image(tmp_path / "small.png", size=16).shape == (3, 16, 16)


def test_jpeg_draft_decoding_keeps_enough_resolution(tmp_path):
    Image.new("RGB", (400, 300), (10, 120, 240)).save(tmp_path / "big.jpg", quality=95)
    assert min(read_rgb(tmp_path / "big.jpg", min_side=64).shape[:2]) >= 64
    assert load_image(tmp_path / "big.jpg", size=64).shape == (3, 64, 64)


@pytest.mark.parametrize(
    "name, mode, message",
    [
        ("grey.png", "L", "grey image"),
        ("grey_alpha.png", "LA", "grey image"),
        ("cmyk.jpg", "CMYK", "colour mode CMYK"),
        ("deep.png", "I;16", "16/32-bit"),
    ],
)
def test_bad_modes_are_refused_naming_file_and_reason(tmp_path, name, mode, message):
    path = write(tmp_path / name, mode)
    with pytest.raises(BadImageError, match=message) as caught:
        check_image(path)
    assert str(path) in str(caught.value)


def test_16_bit_rgb_png_is_refused(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "rgb16.png"), np.full((4, 4, 3), 40000, np.uint16))
    with pytest.raises(BadImageError, match="16/32-bit"):
        load_image(tmp_path / "rgb16.png", size=4)


def test_unreadable_truncated_and_missing_files(tmp_path):
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(BadImageError, match="not a readable image"):
        load_image(tmp_path / "junk.jpg", size=4)
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError, match="cannot decode"):
        load_image(tmp_path / "cut.png", size=4)
    with pytest.raises(FileNotFoundError, match="no such image file"):
        load_image(tmp_path / "absent.png", size=4)


def test_palette_and_alpha_images_become_rgb(tmp_path):
    assert load_image(write(tmp_path / "p.png", "P"), size=4).shape == (3, 4, 4)
    assert load_image(write(tmp_path / "rgba.png", "RGBA"), size=4).shape == (3, 4, 4)


def test_a_resized_square_photo_loads_without_a_read_only_warning(tmp_path):
    import warnings

    Image.new("RGB", (80, 80), (10, 200, 30)).save(tmp_path / "square.png")  # the crop keeps whole rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(tmp_path / "square.png", size=64)
    assert image.shape == (3, 64, 64) and abs(float(image[1].mean()) - 200 / 255) < 1e-6
