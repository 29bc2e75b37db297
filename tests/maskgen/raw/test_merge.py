from dataclasses import replace

import pytest

from pconv.core.sharding import Shard
from pconv.maskgen.raw.extract import DEFAULT_CONFIG, extract_pool
from pconv.maskgen.raw.merge import merge_pools

CONFIG = replace(DEFAULT_CONFIG, max_pairs=3)



def test_union_of_shards_equals_the_full_run(folder_digest, sources, tmp_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    extract_pool(sources, out, config=CONFIG, workers=1)
    shards = [tmp_path / f"shard{k}" for k in (1, 2, 3)]
    for index, folder in enumerate(shards, start=1):
        report = extract_pool(sources, folder, config=CONFIG, workers=1, shard=Shard(index, 3))
        assert report.pairs == len(range((index - 1) * 8 // 3, index * 8 // 3))
    with pytest.raises(ValueError, match="need each shard 1/3"):
        merge_pools(shards[:2], tmp_path / "merged")
    merged = tmp_path_factory.mktemp("merged")  # beside the full run: the same relative source paths
    assert merge_pools(shards, merged) == 6
    assert folder_digest(merged) == folder_digest(out)


def test_merge_refuses_unfinished_shards(sources, tmp_path):
    for index in (1, 2):
        extract_pool(sources, tmp_path / f"s{index}", config=CONFIG, workers=1, shard=Shard(index, 2))
    lines = (tmp_path / "s2" / "manifest.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "s2" / "manifest.jsonl").write_text("".join(lines[:-1]))
    with pytest.raises(ValueError, match="shard 2/2 is unfinished"):
        merge_pools([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
