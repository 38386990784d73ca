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


def test_python_warns_nothing_to_the_grader_about_a_students_code():
    """An invalid escape sequence in a student's file (SyntaxWarning: Python still runs it, as the
    serving container does) is parsed as Python parses it: no warning reaches the grader's
    warnings summary, and under -W error it is not a parse failure."""
    import warnings
    text = 'import re\nPATTERN = "\\d+,\\s*\\d+"\ndef model_fn(model_dir):\n    return re.compile(PATTERN)\n'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree, err = sources.python_tree(text, "aws_deploy/inference_escape.py")
    assert err is None and tree is not None
