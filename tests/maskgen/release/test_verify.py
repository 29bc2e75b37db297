import cv2
import pytest

from pconv.maskgen.release.publish import publish_benchmark
from pconv.maskgen.release.verify import verify_benchmark
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark

SMALL = {"per_bin": 3, "size": 128, "border": 12, "augment": AugmentConfig(dilation=(2, 12))}


@pytest.fixture
def dist(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    return publish_benchmark(bench, tmp_path / "dist")


def test_a_fresh_benchmark_and_release_pass(dist, tmp_path):
    assert verify_benchmark(tmp_path / "bench") == []
    assert verify_benchmark(dist) == []


def test_a_flipped_pixel_is_caught(dist):
    path = dist / "masks" / "00007.png"
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    image[64, 64] = 255 - image[64, 64]
    cv2.imwrite(str(path), image)
    problems = verify_benchmark(dist)
    assert "masks/00007.png: checksum differs from SHA256SUMS" in problems
    assert "masks/00007.png: sha256 differs from the manifest" in problems
    assert any(problem.startswith("masks/00007.png: hole ratio 0.") for problem in problems)
    assert "masks.h5: mask 7 differs from masks/00007.png" in problems


def test_a_moved_file_is_caught(dist):
    (dist / "masks" / "00003.png").rename(dist / "masks" / "moved.png")
    problems = verify_benchmark(dist)
    assert "masks/00003.png: missing" in problems
    assert "masks/00003.png: listed in SHA256SUMS but missing" in problems
    assert "masks/moved.png: in masks/ but not in the manifest" in problems
    assert "masks/moved.png: not listed in SHA256SUMS" in problems


def test_grey_values_a_wrong_size_and_a_broken_order_are_caught(tmp_path, raw_pool):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    grey = cv2.imread(str(bench / "masks" / "00001.png"), cv2.IMREAD_UNCHANGED)
    grey[0, 0] = 17
    cv2.imwrite(str(bench / "masks" / "00001.png"), grey)
    cv2.imwrite(str(bench / "masks" / "00002.png"), cv2.resize(grey, (64, 64)))
    manifest = bench / "manifest.csv"
    lines = manifest.read_text().splitlines(keepends=True)
    lines[1], lines[7] = lines[7], lines[1]  # first N mask of bin 1 swapped with one of bin 2
    manifest.write_text("".join(lines))
    problems = verify_benchmark(bench)
    assert "masks/00001.png: pixel values [0, 17, 255], expected only 0 and 255" in problems
    assert "masks/00002.png: 64x64 px, expected 128x128" in problems
    assert any(
        problem.startswith("manifest row 1: masks/00006.png bin 1 N, expected masks/00000.png bin 0 N")
        for problem in problems
    )


def test_a_missing_or_edited_hdf5_is_caught(raw_pool, tmp_path):
    import h5py

    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    with h5py.File(bench / "masks.h5", "r+") as h5:
        h5["hole_ratio"][0] = 0.5
        h5["split"][1] = "B"
        h5.attrs["seed"] = 7
    problems = verify_benchmark(bench)
    assert any(
        problem.startswith("masks.h5: hole_ratio[0] is 0.5, manifest row 1 says 0.") for problem in problems
    )
    assert "masks.h5: split[1] is 'B', manifest row 2 says N" in problems
    assert "masks.h5: attribute seed is 7, build.json says 0" in problems
    (bench / "masks.h5").unlink()
    assert verify_benchmark(bench) == ["masks.h5: missing"]


def test_wrong_counts_ratios_outside_their_bin_and_identical_masks_are_caught(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    masks = bench / "masks"
    (masks / "00001.png").write_bytes((masks / "00000.png").read_bytes())
    (masks / "00002.png").write_bytes((masks / "00030.png").read_bytes())  # a (0.5,0.6] mask in bin 0
    manifest = bench / "manifest.csv"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))  # last row lost
    problems = verify_benchmark(bench)
    assert "masks/00001.png: identical to masks/00000.png" in problems
    assert any(
        problem.startswith("masks/00002.png: hole ratio 0.5")
        and problem.endswith("lies outside its bin (0.01,0.1]")
        for problem in problems
    )
    assert "manifest: 35 masks, expected 36 (6 bins x 2 splits x 3)" in problems
    assert "bin 5 B: 2 masks, expected 3" in problems
    assert "masks/00035.png: in masks/ but not in the manifest" in problems


def test_a_damaged_build_file_is_one_line_error(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    (bench / "build.json").write_text("[]")
    with pytest.raises(ValueError, match=r"build\.json: expected a JSON object, found list$"):
        verify_benchmark(bench)
    (bench / "build.json").write_text('{"params": {"size": 128}}')
    with pytest.raises(ValueError, match=r"build\.json: params lack per_bin, border, seed, bin_edges;"):
        verify_benchmark(bench)


# issue 23: readers never leave their folder; masks.h5 checked from its header


def test_sums_lines_leading_outside_are_violations_not_reads(dist, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    with open(dist / "SHA256SUMS", "a") as handle:
        handle.write(f"{'0' * 64}  /etc/hostname\n{'0' * 64}  ../secret.txt\n")
    problems = verify_benchmark(dist)
    assert any("SHA256SUMS:" in p and "refusing the path '/etc/hostname'" in p for p in problems)
    assert any("SHA256SUMS:" in p and "refusing the path '../secret.txt'" in p for p in problems)
    assert not any("checksum differs" in p and "secret" in p for p in problems)


def test_a_mask_symlink_leading_outside_fails_verify_and_publish(dist, tmp_path):
    mask = dist / "masks" / "00000.png"
    outside = tmp_path / "outside.png"
    outside.write_bytes(mask.read_bytes())
    mask.unlink()
    mask.symlink_to(outside)
    problems = verify_benchmark(dist)
    assert "masks/00000.png: refusing" not in problems
    assert any(
        p.endswith("refusing the path 'masks/00000.png': it leads outside the folder") for p in problems
    )
    with pytest.raises(ValueError, match="leads outside"):
        publish_benchmark(dist, tmp_path / "again")
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize(
    ("replace", "needle"),
    [
        (lambda h5, masks: h5.create_group("masks"), "masks is a group"),
        (lambda h5, masks: h5.create_dataset("masks", data=7), "masks is a scalar"),
        (lambda h5, masks: h5.create_dataset("masks", data=masks.astype("float32")), "masks is float32"),
        (
            lambda h5, masks: h5.create_dataset(
                "masks",
                shape=(len(masks), 20000, 20000),
                dtype="uint8",
                chunks=(1, 1000, 1000),
                compression="gzip",
            ),
            "above the limit",
        ),
    ],
)
def test_a_crafted_masks_dataset_is_refused_from_its_header(dist, replace, needle):
    import h5py

    with h5py.File(dist / "masks.h5", "a") as h5:
        masks = h5["masks"][()]
        del h5["masks"]
        replace(h5, masks)
    problems = [p for p in verify_benchmark(dist) if "checksum differs" not in p]
    assert any(needle in p for p in problems), problems


def test_a_manifest_column_that_is_a_group_is_one_violation(dist):
    import h5py

    with h5py.File(dist / "masks.h5", "a") as h5:
        del h5["hole_ratio"]
        h5.create_group("hole_ratio")
    assert "masks.h5: hole_ratio is a group, expected one value per manifest row" in verify_benchmark(dist)


def test_a_non_json_attribute_is_a_violation_naming_masks_h5(dist):
    import h5py

    with h5py.File(dist / "masks.h5", "a") as h5:
        h5.attrs["raw_pool"] = "{not json"
    assert any(p.startswith("masks.h5: attribute raw_pool is '{not json'") for p in verify_benchmark(dist))
