"""Proof cards (deploycheck.proof.card): typed Prediction -> Card -> escaped HTML -> PNG."""
import numpy as np
import pytest
from PIL import Image

import deploycheck
from deploycheck.model import Prediction, Request
from deploycheck.proof import browser as br
from deploycheck.proof import card

needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])


def pred(mode="local", **kw):
    base = dict(mode=mode, platform="aws", ok=True, request=Request(b"[[5.1, 3.5, 1.4, 0.2]]"), status=200,
                response=b"[0]", response_content_type="application/json", latency_ms=12.34,
                endpoint="local emulation" if mode == "local" else "dc-alice-1", runtime="sagemaker-scikit-learn 1.2-1")
    base.update(kw)
    return Prediction(**base)


def test_local_card_is_labelled_and_escapes_everything(tmp_path):
    c = card.card_for(pred(response=b"<img src=x onerror=alert(1)>"), student="mallory<script>alert(1)</script>",
                      repo=str(tmp_path), folder="aws_deploy/")
    h = card.card_html(c)
    assert card.LOCAL_BANNER in h and "CLOUD PREDICTION" not in h
    assert "<script>alert" not in h and "<img src=x" not in h and "mallory&lt;script&gt;" in h
    assert "[5.1, 3.5, 1.4, 0.2]" in h                 # lists of numbers stay on one line
    assert "12.3 ms" in h and "AWS SageMaker" in h and deploycheck.__version__ in h and "UTC" in h
    assert "(not a git repository)" in h


def test_cloud_cards_real_and_offline():
    real = card.card_html(card.card_for(pred("cloud", platform="gcp"), student="a", repo="/r", folder="gcp_deploy/",
                                        region="europe-west1"))
    assert card.LOCAL_BANNER not in real and "CLOUD PREDICTION" in real and "europe-west1" in real and "dc-alice-1" in real
    off = card.card_html(card.card_for(pred("cloud"), student="a", repo="/r", folder="aws_deploy/", offline=True))
    assert card.OFFLINE_BANNER in off and "CLOUD PREDICTION" not in off


def test_bodies_are_pretty_and_bounded():
    big = card.truncate(card.pretty(b'{"predictions": [' + b", ".join(b"[%d, %d]" % (i, i + 1) for i in range(500)) + b"]}"))
    assert "truncated" in big and big.count("\n") <= card.MAX_LINES + 1
    npy = __import__("io").BytesIO()
    np.save(npy, np.array([[1.0, 2.0]]))
    assert card.pretty(npy.getvalue(), "application/x-npy").startswith("NumPy .npy float64 [1, 2]")
    assert card.pretty(b"\x93NUMPY\x01\x00\xff\xfe", "application/x-npy").startswith("<10 bytes application/x-npy")
    assert card.pretty(b"\xff\xfe\x00", None).startswith("<3 bytes")


def test_a_failed_prediction_shows_the_error():
    h = card.card_html(card.card_for(pred(ok=False, status=500, message="ValueError: boom"), student="a", repo="/r",
                                     folder="aws_deploy/"))
    assert "ValueError: boom" in h and 'class="status bad"' in h


def test_git_commit_without_running_git(tmp_path):
    sha = "a" * 40
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(sha + "\n")
    assert card.git_commit(tmp_path / "repo") == sha
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{'b' * 40} refs/heads/main\n")
    assert card.git_commit(tmp_path / "repo") == "b" * 40
    (git / "HEAD").write_text("ref: refs/../../etc/passwd\n")
    assert card.git_commit(tmp_path / "repo") is None
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").symlink_to(git)
    assert card.git_commit(linked) is None
    assert card.git_commit(tmp_path / "nowhere") is None


def test_png_problem(tmp_path):
    Image.new("RGB", (10, 10), (0, 0, 0)).save(tmp_path / "blank.png")
    im = Image.new("RGB", (10, 10), (0, 0, 0))
    im.putpixel((1, 1), (255, 255, 255))
    im.save(tmp_path / "ok.png")
    im.save(tmp_path / "ok.jpg")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    assert card.png_problem(tmp_path / "ok.png") is None
    assert "blank" in card.png_problem(tmp_path / "blank.png")
    assert "not a PNG" in card.png_problem(tmp_path / "ok.jpg")
    assert "does not decode" in card.png_problem(tmp_path / "junk.png")
    assert "was not written" in card.png_problem(tmp_path / "missing.png")
    big = Image.effect_noise((200, 200), 60).convert("RGB")
    big.save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:5000])
    assert card.png_problem(tmp_path / "whole.png") is None
    assert "does not decode" in card.png_problem(tmp_path / "cut.png")
    Image.new("L", (10, 10), 7).save(tmp_path / "grey.png")
    assert "blank" in card.png_problem(tmp_path / "grey.png")


@needs_chromium
def test_capture_reuses_one_page_and_draws_the_banner(tmp_path):
    for i in range(3):
        out = card.capture(card.card_html(card.card_for(pred(), student=f"s{i}", repo="/r", folder="aws_deploy/")),
                           tmp_path / f"card{i}.png")
        assert card.png_problem(out) is None
        with Image.open(out) as im:
            assert 800 <= im.width <= 900 and im.height > 300
            r, g, b = im.convert("RGB").getpixel((40, 8))[:3]     # the striped yellow LOCAL banner
            assert r > 240 and 200 < g < 250 and b < 215, (r, g, b)
    assert br.run(lambda b: len(b.contexts)) >= 1
    assert br.run(lambda b: sum(len(c.pages) for c in b.contexts)) <= 2    # card + readme pages, reused


@needs_chromium
def test_a_card_taller_than_the_page_is_captured_whole(tmp_path):
    """40 lines of response make the card taller than the 600-pixel page: the picture still ends
    with the card's footer (no clip at the viewport)."""
    long = pred(response="\n".join(f"class {i}" for i in range(40)).encode(), response_content_type="text/csv")
    c = card.card_for(long, student="tall", repo="/r", folder="aws_deploy/")
    out = card.capture(card.card_html(c), tmp_path / "tall.png")
    assert card.png_problem(out) is None
    with Image.open(out) as im:
        assert im.height > 700, im.size
        bottom = np.asarray(im.convert("L"))[-40:]
    assert bottom.min() < 128          # the footer's text is in the picture, not cut off
