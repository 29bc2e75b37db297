"""The Hugging Face layout of a release: ``metadata.jsonl`` beside the PNGs and YAML front matter on the card.

``datasets.load_dataset("path/to/release")`` (and, once uploaded, ``load_dataset("user/name")``) reads a
release with its built-in ``imagefolder`` loader and no script of ours: the card's front matter names the
data files (the mask PNGs and ``metadata.jsonl``) of its one split and the features, and each line of
``metadata.jsonl`` gives one mask's ``file_name`` (relative to the release) and fields.

Image folders were chosen over Parquet shards with embedded PNG bytes because the PNGs are already in the
release: the metadata adds a few hundred kB, where Parquet would add a second copy of every mask and need
``pyarrow`` to publish; loading both ways is measured by ``benchmarks/release_formats.py`` (see the
README). The YAML is written by hand (a few fixed keys, strings JSON-quoted, which YAML reads as they are),
so publishing needs no YAML library either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["METADATA_NAME", "Feature", "front_matter", "loading_section", "metadata_jsonl"]

METADATA_NAME = "metadata.jsonl"


@dataclass(frozen=True)
class Feature:
    """One column of the dataset: its name, Hugging Face dtype (``int64``, ``float64``, ``string``) and
    what it means (for the card)."""

    name: str
    dtype: str
    meaning: str


def _license_id(license_name: str) -> tuple[str, str | None]:
    """The Hub's ``license`` value for ``license_name``: SPDX-like ids lower-cased (``cc-by-4.0``),
    anything else ``other`` with the text kept as ``license_name``."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]*", license_name):
        return license_name.lower(), None
    return "other", license_name


def _size_category(count: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if count < limit:
            return name
    return "100K<n<1M"


def front_matter(
    *,
    title: str,
    license_name: str,
    split: str,
    data_files: Sequence[str],
    features: Sequence[Feature],
    count: int,
) -> str:
    """The card's YAML block (between ``---`` lines): licence, size, tags, one config with one ``split``
    reading ``data_files`` (glob patterns relative to the release), and the features, image first."""
    license_id, license_text = _license_id(license_name)
    lines = ["---", f"pretty_name: {json.dumps(title)}", f"license: {license_id}"]
    if license_text is not None:
        lines.append(f"license_name: {json.dumps(license_text)}")
    lines += [
        "task_categories:",
        "- image-to-image",
        "tags:",
        "- inpainting",
        "- masks",
        "- irregular-holes",
        "size_categories:",
        f"- {json.dumps(_size_category(count))}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        f"  - split: {split}",
        "    path:",
        *[f"    - {json.dumps(pattern)}" for pattern in data_files],
        "dataset_info:",
        "  features:",
        "  - name: image",
        "    dtype: image",
    ]
    for feature in features:
        lines += [f"  - name: {feature.name}", f"    dtype: {feature.dtype}"]
    lines += ["---", ""]
    return "\n".join(lines)


def metadata_jsonl(samples: Sequence[Mapping[str, Any]], features: Sequence[Feature]) -> str:
    """One JSON line per sample: ``file_name`` (its ``file``) then each feature's value, in sample order."""
    lines = []
    for sample in samples:
        row = {"file_name": sample["file"], **{feature.name: sample[feature.name] for feature in features}}
        lines.append(json.dumps(row, allow_nan=False))
    return "".join(f"{line}\n" for line in lines)


def loading_section(
    *, split: str, features: Sequence[Feature], shards: int | None, per_shard: int
) -> list[str]:
    """The card's "Loading" section: the three ways to read a release and the features' meanings.

    ``shards``: how many WebDataset shards the release holds (None: it holds none).
    """
    lines = [
        "## Loading",
        "",
        "- **PNG folder**: the files themselves, with `manifest.csv` (any image library).",
        '- **Hugging Face `datasets`**: `datasets.load_dataset("path/to/this/folder")` reads '
        f"`{METADATA_NAME}` and the PNGs with the built-in image-folder loader: one split, `{split}`, "
        "with `image` (a PIL image, mode L, 255 = hole) and the fields below. To put it on the Hub "
        "(your step; nothing here uploads): `huggingface-cli upload USER/NAME . --repo-type dataset`, then "
        '`load_dataset("USER/NAME")`.',
    ]
    if shards is not None:
        lines += [
            f"- **WebDataset**: `webdataset/masks-*.tar`, {shards} shard{'s' if shards != 1 else ''} of "
            f"{per_shard} masks, each sample a `.png` (the mask file) and a `.json` (the fields below), in "
            "manifest order:",
            "",
            "```python",
            "import glob, webdataset as wds",
            'shards = sorted(glob.glob("webdataset/masks-*.tar"))',
            'for sample in wds.WebDataset(shards, shardshuffle=False).decode("l8").to_tuple("png", "json"):',
            "    mask, fields = sample  # (H, W) uint8 array, 255 = hole; a dict",
            "```",
        ]
    lines += [
        "",
        "| field | type | meaning |",
        "|---|---|---|",
        *[f"| {feature.name} | {feature.dtype} | {feature.meaning} |" for feature in features],
        "",
    ]
    return lines
