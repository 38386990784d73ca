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
