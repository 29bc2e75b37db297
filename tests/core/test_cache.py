import numpy as np

from pconv.core.cache import ArrayCache


def test_the_least_recently_used_go_first_once_the_bytes_pass_the_budget():
    made = []

    def make(key):
        made.append(key)
        return np.zeros(100, np.uint8), np.zeros(50, np.uint8)  # 150 bytes

    cache = ArrayCache(make, budget=300)
    cache.get("a"), cache.get("b"), cache.get("a")  # a is now the most recent
    cache.get("c")  # 450 bytes: b, the least recent, goes
    cache.get("a"), cache.get("c")
    assert made == ["a", "b", "c"]
    cache.get("b")
    assert made == ["a", "b", "c", "b"]


def test_the_newest_value_stays_even_above_the_budget():
    cache = ArrayCache(lambda key: np.zeros(1000, np.uint8), budget=10)
    first = cache.get(1)
    assert cache.get(1) is first
    cache.get(2)
    assert cache.get(1) is not first  # 1 went to make room for 2
