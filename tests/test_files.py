"""deploycheck.files: safe, bounded, encoding-tolerant reads of student text files."""
import os

from deploycheck.files import decode, is_binary, read_text


def test_plain_utf8(tmp_path):
    (tmp_path / "a.md").write_text("héllo\nworld\n", encoding="utf-8")
    tf = read_text(tmp_path, "a.md")
    assert tf.ok and tf.text == "héllo\nworld\n" and not tf.truncated and tf.note is None


def test_bom_and_crlf_are_normalised(tmp_path):
    (tmp_path / "a.md").write_bytes(b"\xef\xbb\xbf# Title\r\nline two\rline three\r\n")
    tf = read_text(tmp_path, "a.md")
    assert tf.text == "# Title\nline two\nline three\n"
    assert tf.encoding == "utf-8-sig"


def test_cp1252_falls_back_with_note(tmp_path):
    (tmp_path / "a.md").write_bytes("caf\u00e9 \u201cquoted\u201d\r\n".encode("cp1252"))
    tf = read_text(tmp_path, "a.md")
    assert tf.ok and tf.text == "caf\u00e9 \u201cquoted\u201d\n"
    assert tf.encoding == "cp1252" and "UTF-8" in tf.note


def test_latin1_when_cp1252_cannot_decode(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc \x81 def")      # 0x81 is undefined in cp1252
    tf = read_text(tmp_path, "a.txt")
    assert tf.ok and tf.encoding == "latin-1"


def test_utf16_with_bom(tmp_path):
    (tmp_path / "a.md").write_bytes("# Deploy\r\naws s3 cp x s3://b/\r\n".encode("utf-16"))
    tf = read_text(tmp_path, "a.md")
    assert tf.ok and tf.text == "# Deploy\naws s3 cp x s3://b/\n"


def test_binary_is_refused(tmp_path):
    (tmp_path / "README.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200))
    tf = read_text(tmp_path, "README.md")
    assert tf.problem == "binary" and tf.text == ""
    assert is_binary(bytes(range(0, 32)) * 10)
    assert not is_binary(b"plain text\n")


def test_symlink_is_never_followed(tmp_path):
    os.symlink("/etc/passwd", tmp_path / "README.md")
    tf = read_text(tmp_path, "README.md")
    assert tf.problem and "symlink" in tf.problem and tf.text == ""


def test_symlinked_directory_component_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "docs")
    tf = read_text(repo, "docs/secret.txt")
    assert tf.problem and "symlink" in tf.problem and "secret" not in tf.text


def test_parent_escape_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    sub = tmp_path / "sub"
    sub.mkdir()
    assert read_text(sub, "../x.txt").problem


def test_missing_and_directory(tmp_path):
    (tmp_path / "d").mkdir()
    assert read_text(tmp_path, "nope.md").problem == "missing"
    assert read_text(tmp_path, "d").problem


def test_fifo_does_not_hang(tmp_path):
    # without O_NONBLOCK this open would block forever (no writer): the test would hang, not pass
    os.mkfifo(tmp_path / "README.md")
    tf = read_text(tmp_path, "README.md")
    assert tf.problem == "is not a regular file"


def test_huge_file_is_truncated_fast(tmp_path):
    big = tmp_path / "README.md"
    with open(big, "wb") as fh:
        fh.write(b"word " * 10_000_000)                # 50 MB
    tf = read_text(tmp_path, "README.md", limit=100_000)
    assert tf.ok and tf.truncated and len(tf.text) <= 100_000


def test_cut_in_the_middle_of_a_character_is_not_an_encoding_error(tmp_path):
    (tmp_path / "a.md").write_bytes("é".encode() * 100)
    tf = read_text(tmp_path, "a.md", limit=51)         # cuts the 26th "é" in half
    assert tf.encoding == "utf-8" and tf.truncated and tf.text == "é" * 25


def test_decode_helper():
    assert decode(b"a\r\nb")[0] == "a\nb"


def test_tree_size_counts_links_as_themselves(tmp_path):
    from deploycheck.files import tree_size
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"x" * 1000)
    big = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    big.write_bytes(b"y" * 100_000)
    (tmp_path / "d" / "link").symlink_to(big)
    assert 1000 < tree_size(tmp_path) < 2000


def test_one_analysis_budget_per_repository(tmp_path):
    """files.budget_repo: the deploy folder's files first, small before large, at most
    ANALYSIS_PYTHON_BYTES of Python that can be parsed (a script too large to parse counts as text); read_text refuses the contents of the files left out (whoever
    asks first), and a repository within the budget gets none."""
    from deploycheck import files as fs
    repo = tmp_path / "repo"
    (repo / "aws_deploy").mkdir(parents=True)
    (repo / "data").mkdir()
    (repo / "aws_deploy" / "inference.py").write_text("def model_fn(d):\n    return 1\n")
    (repo / "aws_deploy" / "README.md").write_text("# deploy\n")
    big_py = "x = [" + "1," * 195_000 + "]\n"                               # 390 KB, parsed
    for i in range(3):
        (repo / "aws_deploy" / f"gen{i}.py").write_text(big_py)           # the third is over the Python budget
    (repo / "aws_deploy" / "long.py").write_text("x = 1\n" * 70_000)     # 420 KB, 70 000 lines: never parsed,
    for i in range(14):
        (repo / "data" / f"part{i}.csv").write_text("1,2\n" * 300_000)     # 1.2 MB, each counted 1 MB
    listing = fs.sized_listing(repo, {".git"}, fs.BINARY_SUFFIXES, 10_000)
    budget = fs.budget_repo(repo, listing, ["aws_deploy"])
    try:
        assert budget is not None
        # 12 MB: the deploy folder (1.2 MB), then 10 of the 1 MB data files, in name order
        assert set(budget.left_out) == {"aws_deploy/gen2.py", "data/part6.csv", "data/part7.csv", "data/part8.csv",
                                    "data/part9.csv"}
        assert fs.read_text(repo / "aws_deploy", "gen2.py").problem.startswith("not analysed")
        assert fs.read_text(repo, "aws_deploy/inference.py").ok and fs.read_text(repo, "aws_deploy/long.py").ok
        assert "gen2.py" in budget.note() and "too large to analyse whole" in budget.note()
    finally:
        assert fs.budget_repo(repo, [], []) is None                 # (forget it: later tests reuse nothing)
    small = tmp_path / "small"
    small.mkdir()
    (small / "README.md").write_text("hi")
    assert fs.budget_repo(small, fs.sized_listing(small, (), fs.BINARY_SUFFIXES, 100), []) is None


def test_a_repository_that_is_its_deploy_folder_is_read_whole_first(tmp_path):
    """A deploy folder at the repository's root ("."): every file is the deploy folder's, so the larger
    ones are left out, wherever they are (before, src/inference.py came after the top-level data files
    and was the one left out)."""
    from deploycheck import files as fs
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "inference.py").write_text("def model_fn(d):\n    return 1\n")
    for i in range(13):
        (repo / f"part{i:02d}.csv").write_text("1,2\n" * 300_000)           # 1.2 MB each, counted 1 MB
    budget = fs.budget_repo(repo, fs.sized_listing(repo, {".git"}, fs.BINARY_SUFFIXES, 1000), ["."])
    try:
        assert budget is not None and "src/inference.py" not in budget.left_out
        assert budget.left_out == {"part11.csv", "part12.csv"}        # 12 MB: inference.py and 11 of them
    finally:
        fs.budget_repo(repo, [], [])
