"""Size and load time of a release read three ways (PNG folder, Hugging Face `datasets`, WebDataset), and
of the Parquet layout `publish` does not write, to back the choice of image folder + metadata.jsonl.

For the release ``DIST`` (published with ``--webdataset``) it prints, per way: the bytes it adds to the
release, the time to the first mask (cold: `datasets` builds its Arrow cache in a fresh cache folder) and
the time to decode every mask to a uint8 array in order. The Parquet copy (shards of at most 1,000 rows,
image as ``{"bytes": PNG, "path": name}``, the same fields) is written by this script with pyarrow into a
scratch folder and loaded with ``load_dataset("parquet", data_files=...)``. Each loader runs in a fresh
subprocess whose working folder is the scratch folder (from the repository root ``import datasets``
finds the toolkit's own folder).

    .venv/bin/python benchmarks/release_formats.py DIST [--scratch /tmp/formats]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READ_PNGS = """
import cv2, json, sys, time
start = time.perf_counter()
rows = [json.loads(line) for line in open(sys.argv[1] + "/metadata.jsonl")]
first = None
for row in rows:
    mask = cv2.imread(sys.argv[1] + "/" + row["file_name"], cv2.IMREAD_GRAYSCALE)
    first = first or time.perf_counter() - start
print(json.dumps({"first": first, "all": time.perf_counter() - start, "count": len(rows)}))
"""

READ_DATASETS = """
import json, sys, time
import numpy as np
start = time.perf_counter()
import datasets
if sys.argv[2] == "parquet":
    table = datasets.load_dataset("parquet", data_files=sys.argv[1] + "/*.parquet", split="train")
else:
    table = datasets.load_dataset(sys.argv[1], split="test")
first = time.perf_counter() - start
count = sum(1 for row in table if np.asarray(row["image"]).dtype == np.uint8)
print(json.dumps({"first": first, "all": time.perf_counter() - start, "count": count}))
"""

READ_WEBDATASET = """
import glob, json, sys, time
start = time.perf_counter()
import webdataset as wds
shards = sorted(glob.glob(sys.argv[1] + "/webdataset/*.tar"))
first, count = None, 0
for mask, fields in wds.WebDataset(shards, shardshuffle=False).decode("l8").to_tuple("png", "json"):
    first = first or time.perf_counter() - start
    count += 1
print(json.dumps({"first": first, "all": time.perf_counter() - start, "count": count}))
"""


def _size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.is_file())


def _write_parquet(dist: Path, out: Path, rows_per_shard: int = 1000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (dist / "metadata.jsonl").read_text().splitlines()]
    out.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, len(rows), rows_per_shard)):
        chunk = rows[start : start + rows_per_shard]
        images = [
            {"bytes": (dist / row["file_name"]).read_bytes(), "path": row["file_name"]} for row in chunk
        ]
        fields = {key: [row[key] for row in chunk] for key in chunk[0] if key != "file_name"}
        table = pa.table({"image": images, **fields})
        features = {"image": {"_type": "Image"}}
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
        pq.write_table(table, out / f"test-{number:05d}.parquet")


def _run(script: str, *args: str, cwd: Path, cache: Path) -> dict:
    env = {"HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path)
    parser.add_argument("--scratch", type=Path, default=None)
    options = parser.parse_args()
    dist = options.dist.resolve()
    if not (dist / "webdataset").is_dir():
        raise SystemExit(f"{dist}: no webdataset/; publish with --webdataset")
    scratch = options.scratch or Path(tempfile.mkdtemp(prefix="release-formats-"))
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    started = time.perf_counter()
    _write_parquet(dist, scratch / "parquet")
    print(f"wrote the Parquet copy in {time.perf_counter() - started:.1f} s")
    masks = sorted((dist / "masks").rglob("*.png"))
    sizes = {
        "PNG folder (masks/ + manifest.csv)": _size([*masks, dist / "manifest.csv"]),
        "datasets, image folder (adds metadata.jsonl)": _size([dist / "metadata.jsonl"]),
        "datasets, Parquet (a second copy)": _size(sorted((scratch / "parquet").iterdir())),
        "WebDataset (a second copy)": _size(sorted((dist / "webdataset").iterdir())),
    }
    runs = {
        "PNG folder (masks/ + manifest.csv)": (READ_PNGS, str(dist)),
        "datasets, image folder (adds metadata.jsonl)": (READ_DATASETS, str(dist), "folder"),
        "datasets, Parquet (a second copy)": (READ_DATASETS, str(scratch / "parquet"), "parquet"),
        "WebDataset (a second copy)": (READ_WEBDATASET, str(dist)),
    }
    print(f"{len(masks)} masks in {dist}")
    columns = ("MB on disk", "first (cold)", "all (cold)", "first (warm)", "all (warm)")
    print(f"{'way':<46}" + "".join(f"{column:>{len(column) + 2}}" for column in columns))
    for name, (script, *args) in runs.items():
        cache = scratch / f"cache-{len(name)}"
        cold = _run(script, *args, cwd=scratch, cache=cache)
        warm = _run(script, *args, cwd=scratch, cache=cache)
        assert cold["count"] == warm["count"] == len(masks), (name, cold, warm)
        print(
            f"{name:<46}{sizes[name] / 1e6:>12.2f}{cold['first']:>12.2f} s{cold['all']:>10.2f} s"
            f"{warm['first']:>12.2f} s{warm['all']:>10.2f} s"
        )


if __name__ == "__main__":
    main()
