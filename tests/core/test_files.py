import json

import cv2
import numpy as np
import pytest

from pconv.core.files import append_jsonl, atomic_output, inside, read_json_object, read_jsonl, sha256_file
from pconv.core.masks import encode_png, read_mask_png, write_mask_png


def test_mask_png_round_trip_uses_255_for_holes(tmp_path):
    hole = np.zeros((4, 5), bool)
    hole[1, 2] = True
    write_mask_png(tmp_path / "m.png", hole)
    raw = cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8 and raw.shape == (4, 5)
    assert raw[1, 2] == 255 and raw.sum() == 255
    np.testing.assert_array_equal(read_mask_png(tmp_path / "m.png"), hole)


def test_read_mask_accepts_rgb_grey_levels_and_the_dark_convention(tmp_path):
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(read_mask_png(tmp_path / "rgb.png"), [[False, False, True, True]])
    np.testing.assert_array_equal(
        read_mask_png(tmp_path / "rgb.png", hole_value=0), [[True, True, False, False]]
    )


def test_read_mask_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_mask_png(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="junk.png: not a readable image"):
        read_mask_png(tmp_path / "junk.png")
    with pytest.raises(ValueError, match="hole value"):
        read_mask_png(tmp_path / "junk.png", hole_value=1)


def test_png_encoding_is_deterministic():
    image = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    assert encode_png(image) == encode_png(image.copy())


def test_atomic_output_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as temp:
        temp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


def test_jsonl_drops_a_line_cut_short(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"a": 1})
    append_jsonl(path, {"b": 2})
    with open(path, "a") as handle:
        handle.write(json.dumps({"c": 3})[:4])
    assert read_jsonl(path) == [{"a": 1}, {"b": 2}]


def test_sha256_matches_hashlib(tmp_path):
    import hashlib

    (tmp_path / "f").write_bytes(b"abc" * 1000)
    assert sha256_file(tmp_path / "f", chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_zero_one_masks_are_read_as_binary(tmp_path):
    image = np.zeros((4, 6), np.uint8)
    image[1, 2:5] = 1
    cv2.imwrite(str(tmp_path / "m.png"), image)
    assert read_mask_png(tmp_path / "m.png").tolist() == (image == 1).tolist()
    assert read_mask_png(tmp_path / "m.png", hole_value=0).tolist() == (image == 0).tolist()


@pytest.mark.parametrize(
    "text, required, message",
    [
        ("{", None, r"not valid JSON \(Expecting property name enclosed in double quotes, line 1\)"),
        ("[1]", None, "expected a JSON object, found list"),
        ("{}", {"sources": dict}, "'sources' should be dict, found nothing"),
        ('{"sources": 3}', {"sources": dict}, "'sources' should be dict, found int"),
    ],
)
def test_json_objects_are_checked_with_one_line_errors(tmp_path, text, required, message):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{path}: {message}$"):
        read_json_object(path, required=required)


def test_jsonl_lines_must_be_objects(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n5\n')
    with pytest.raises(ValueError, match=r"m\.jsonl:2: expected a JSON object, found int$"):
        read_jsonl(path)


def test_image_listing_is_sorted_recursive_and_skips_hidden(tmp_path):
    from pconv.core.files import list_images

    for name in ("b/2.png", "a.JPG", "b/1.png", ".hidden.png", "notes.txt", ".cache/x.png", "c.ppm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    listed = [path.relative_to(tmp_path).as_posix() for path in list_images(tmp_path)]
    assert listed == ["a.JPG", "b/1.png", "b/2.png", "c.ppm"]
    assert [path.name for path in list_images(tmp_path, recursive=False)] == ["a.JPG", "c.ppm"]


@pytest.mark.parametrize("name", ["../x.png", "masks/../../x.png", "/etc/passwd", ""])
def test_inside_refuses_paths_leading_out(tmp_path, name):
    with pytest.raises(ValueError, match="refusing the path"):
        inside(tmp_path, name)


def test_inside_follows_symlinks_unless_told_not_to(tmp_path):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "pool", "masks/0.png") == tmp_path / "pool" / "masks" / "0.png"
    with pytest.raises(ValueError, match="leads outside the folder"):
        inside(tmp_path / "pool", "link/secret.png")
    pool = tmp_path / "pool"
    assert inside(pool, "link/secret.png", links=False) == pool / "link" / "secret.png"
