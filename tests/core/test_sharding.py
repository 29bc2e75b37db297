import pytest

from pconv.core.sharding import Shard


def test_shards_partition_the_jobs():
    shards = [Shard.parse(f"{k}/3") for k in (1, 2, 3)]
    owners = [[job in shard.jobs(20) for shard in shards].count(True) for job in range(20)]
    assert owners == [1] * 20
    assert [list(shard.jobs(7)) for shard in shards] == [[0, 1], [2, 3], [4, 5, 6]]
    assert [len(Shard(k, 4).jobs(2)) for k in (1, 2, 3, 4)] == [0, 1, 0, 1]  # more shards than jobs


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "x", "1-3"])
def test_bad_shards_are_refused(text):
    with pytest.raises(ValueError, match="shard"):
        Shard.parse(text)
