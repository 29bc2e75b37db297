"""A published release read by Hugging Face `datasets` and by `webdataset`, with no code of ours, checked
field by field against the manifest and against the pixels.

`datasets` runs in a subprocess whose working folder is ``tmp_path``: from the repository root,
``import datasets`` would find the toolkit's own ``datasets/`` folder instead of Hugging Face's.
"""

import base64
import csv
import io
import json
import os
import tarfile
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from pconv.maskgen.release.publish import publish_benchmark
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import build_benchmark
from pconv.maskgen.sets.bench_format import bin_label
from pconv.maskgen.sets.bins import mask_stats
from pconv.maskgen.sets.tar_shards import shard_names

BORDER = 12
SMALL = {"per_bin": 5, "size": 128, "border": BORDER, "augment": AugmentConfig(dilation=(2, 12))}
FIELDS = (
    "file",
    "bin",
    "bin_label",
    "split",
    "hole_ratio",
    "border_distance",
    "raw_id",
    "source",
    "frame",
    "seed",
)

LOAD_WITH_DATASETS = """
import base64, io, json, sys
import datasets
assert "site-packages" in datasets.__file__, datasets.__file__
table = datasets.load_dataset(sys.argv[1])
rows = []
for row in table["test"]:
    buffer = io.BytesIO()
    row.pop("image").save(buffer, format="PNG")
    rows.append({**row, "png": base64.b64encode(buffer.getvalue()).decode()})
print(json.dumps({"splits": sorted(table), "features": list(table["test"].features), "rows": rows}))
"""


def _manifest(dist):
    with open(dist / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _hole(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L")) > 127


def _check_row(fields, hole, expected):
    """One loaded mask: its fields equal the manifest's row, and its pixels give its ratio, bin and split."""
    stats = mask_stats(hole, border=BORDER)
    assert fields["file"] == expected["file"]
    assert fields["bin"] == int(expected["bin"]) == stats.bin
    assert fields["bin_label"] == bin_label(stats.bin)
    assert fields["split"] == expected["split"] == stats.split
    assert fields["hole_ratio"] == float(expected["hole_ratio"]) == stats.hole_ratio
    assert fields["border_distance"] == int(expected["border_distance"]) == stats.border_distance
    assert fields["raw_id"] == int(expected["raw_id"]) and fields["frame"] == int(expected["frame"])
    assert fields["source"] == expected["source"] and fields["seed"] == int(expected["seed"]) == 0


@pytest.fixture
def dist(raw_pool, tmp_path):
    bench = build_benchmark(raw_pool, tmp_path / "bench", workers=1, **SMALL)
    return publish_benchmark(bench, tmp_path / "dist", webdataset=True, per_shard=25)


def test_datasets_loads_a_release_with_its_own_image_folder_loader(dist, load_with_datasets):
    loaded = load_with_datasets(LOAD_WITH_DATASETS, dist)
    assert loaded["splits"] == ["test"]
    assert loaded["features"] == ["image", *FIELDS]
    manifest = _manifest(dist)
    assert len(loaded["rows"]) == len(manifest) == 60
    for row, expected in zip(loaded["rows"], manifest, strict=True):
        _check_row(row, _hole(base64.b64decode(row["png"])), expected)
    counts = Counter((row["bin_label"], row["split"]) for row in loaded["rows"])
    assert len(counts) == 12 and set(counts.values()) == {5}


def test_webdataset_reads_the_shards_in_manifest_order(dist):
    import webdataset

    shards = sorted(str(path) for path in (dist / "webdataset").iterdir())
    assert (
        [os.path.basename(path) for path in shards]
        == shard_names(60, 25)
        == [
            "masks-000000.tar",
            "masks-000001.tar",
            "masks-000002.tar",
        ]
    )
    with tarfile.open(shards[-1]) as tar:
        assert len(tar.getnames()) == 2 * 10  # the last shard holds the rest
    samples = list(webdataset.WebDataset(shards, shardshuffle=False))
    manifest = _manifest(dist)
    assert [sample["__key__"] for sample in samples] == [row["file"][: -len(".png")] for row in manifest]
    for sample, expected in zip(samples, manifest, strict=True):
        assert sample["png"] == (dist / expected["file"]).read_bytes()
        _check_row(json.loads(sample["json"]), _hole(sample["png"]), expected)


def test_the_card_declares_the_split_and_features_and_the_shards_are_reproducible(dist, raw_pool, tmp_path):
    card = (dist / "README.md").read_text()
    head, _, body = card.partition("\n---\n")
    assert head.startswith("---\n") and body.startswith("# Irregular hole mask benchmark")
    for needed in ("license: cc-by-4.0", "  - split: test", '    - "masks/*.png"', '    - "metadata.jsonl"'):
        assert needed in head.splitlines(), needed
    assert [
        line.removeprefix("  - name: ") for line in head.splitlines() if line.startswith("  - name:")
    ] == [
        "image",
        *FIELDS,
    ]
    assert "## Loading" in body and "3 shards of 25 masks" in body
    sums = (dist / "SHA256SUMS").read_text()
    for name in ("metadata.jsonl", "index.html", "webdataset/masks-000002.tar"):
        assert f"  {name}\n" in sums
    again = publish_benchmark(tmp_path / "bench", tmp_path / "again", webdataset=True, per_shard=25)
    assert (again / "SHA256SUMS").read_bytes() == (dist / "SHA256SUMS").read_bytes()
