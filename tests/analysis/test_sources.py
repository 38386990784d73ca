"""analysis/sources.py: Python syntax trees are parsed once while cached, and the cache holds the
trees of a bounded amount of source (a class's worth of hand-ins never piles up in a worker)."""
from deploycheck.analysis import sources


def test_trees_are_cached_within_a_bound_of_source():
    small = "def model_fn(model_dir):\n    return 1\n"
    first, err = sources.python_tree(small, "a.py")
    assert err is None and sources.python_tree(small, "a.py")[0] is first          # parsed once
    big = ["x%d = [%s]\n" % (i, ",".join(["1"] * 60_000)) for i in range(6)]     # 6 x 120 KB
    for text in big:
        assert sources.python_tree(text)[0] is not None
    assert sources._cached_chars <= sources.TREE_CACHE_CHARS
    assert sum(len(t) for t, _n in sources._TREES) == sources._cached_chars
    assert sources.python_tree(big[-1])[0] is sources.python_tree(big[-1])[0]      # the latest stay
