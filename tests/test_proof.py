"""Proof cards and README snapshots (deploycheck.proof): artefacts of a run, no points."""
import sys
import types

import numpy as np
import pytest
from PIL import Image

import deploycheck
import deploycheck.cloud
from deploycheck import browser as br
from deploycheck import proof
from deploycheck.settings import Settings
from deploycheck.discovery import targets_for

needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])
RED, GREEN = (255, 0, 0), (0, 200, 0)


# ---------------------------------------------------------------- the card (no browser)

def test_local_card_is_labelled_and_escapes_everything():
    h = proof.render_proof_card({"student": "mallory<script>alert(1)</script>", "platform": "aws",
                                 "request": '[[5.1, 3.5, 1.4, 0.2]]', "response": "<img src=x onerror=alert(1)>",
                                 "latency_ms": 12.34, "content_type": "application/json", "commit": "abc"})
    assert proof.LOCAL_BANNER in h
    assert "<script>alert" not in h and "<img src=x" not in h
    assert "mallory&lt;script&gt;" in h
    assert "[5.1, 3.5, 1.4, 0.2]" in h            # lists of numbers stay on one line
    assert "12.3 ms" in h and "AWS SageMaker" in h and deploycheck.__version__ in h and "UTC" in h


def test_cloud_card_is_not_marked_local():
    h = proof.render_proof_card({"mode": "cloud", "platform": "gcp", "region": "europe-west1",
                                 "endpoint_id": "1234567890", "response": {"predictions": [0, 2]}})
    assert proof.LOCAL_BANNER not in h
    assert "CLOUD PREDICTION" in h and "europe-west1" in h and "1234567890" in h
    # a moto / fake-API run is never presented as a real deployment
    h = proof.render_proof_card({"mode": "cloud", "platform": "aws", "offline": True, "endpoint": "dc-x"})
    assert proof.OFFLINE_BANNER in h and "CLOUD PREDICTION" not in h


def test_long_and_binary_bodies_are_summarised():
    big = proof.truncate(proof.pretty({"predictions": [[i, i + 1] for i in range(500)]}))
    assert "truncated" in big and len(big) < proof.MAX_CHARS + 200
    b = proof.pretty(b"\x93NUMPY\x01\x00\xff\xfe", "application/x-npy")
    assert b.startswith("<10 bytes application/x-npy")


def test_git_commit_read_without_git(tmp_path):
    sha = "a" * 40
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(sha + "\n")
    assert proof.git_commit(tmp_path / "repo") == sha
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{'b' * 40} refs/heads/main\n")
    assert proof.git_commit(tmp_path / "repo") == "b" * 40
    (git / "HEAD").write_text("ref: ../../../etc/passwd\n")
    assert proof.git_commit(tmp_path / "repo") is None
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").symlink_to(git)        # a symlinked .git is not followed
    assert proof.git_commit(linked) is None
    assert proof.git_commit(tmp_path / "nowhere") is None


def test_png_problem(tmp_path):
    Image.new("RGB", (20, 20), (255, 255, 255)).save(tmp_path / "blank.png")
    im = Image.new("RGB", (20, 20), (255, 255, 255))
    im.putpixel((3, 3), (0, 0, 0))
    im.save(tmp_path / "ok.png")
    im.save(tmp_path / "ok.jpg")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    assert proof.png_problem(tmp_path / "ok.png") is None
    assert "blank" in proof.png_problem(tmp_path / "blank.png")
    assert "not a PNG" in proof.png_problem(tmp_path / "ok.jpg")
    assert "does not decode" in proof.png_problem(tmp_path / "junk.png")
    assert "was not written" in proof.png_problem(tmp_path / "missing.png")


# ---------------------------------------------------------------- screenshots (real Chromium)

@needs_chromium
def test_capture_card(tmp_path):
    out = proof.capture(proof.render_proof_card({"student": "alice", "platform": "aws", "request": "[[1, 2]]",
                                                 "response": "[0]"}), tmp_path / "card.png")
    assert proof.png_problem(out) is None
    with Image.open(out) as im:
        assert 800 <= im.width <= 900 and im.height > 300
        # the striped yellow LOCAL EMULATION banner is at the top
        r, g, b = im.convert("RGB").getpixel((40, 8))[:3]
        assert r > 240 and 200 < g < 250 and b < 215, (r, g, b)


def _colour_count(png, colour):
    with Image.open(png) as im:
        arr = np.asarray(im.convert("RGB"))
    return int(np.all(arr == np.array(colour, dtype=arr.dtype), axis=-1).sum())


@needs_chromium
def test_readme_snapshot_shows_own_images_and_blocks_everything_else(tmp_path):
    repo = tmp_path / "repo"
    folder = repo / "aws_deploy"
    folder.mkdir(parents=True)
    Image.new("RGB", (120, 60), GREEN).save(folder / "screenshot.png")
    Image.new("RGB", (120, 60), RED).save(repo / "outside.png")       # in the repo, not the folder
    Image.new("RGB", (120, 60), RED).save(tmp_path / "elsewhere.png")
    (folder / "link.png").symlink_to(repo / "outside.png")           # a symlink out of the folder
    (folder / "README.md").write_text(
        "# Deploy\n\n![mine](screenshot.png)\n\n![up](../outside.png)\n\n![link](link.png)\n\n"
        f"<img src=\"file://{tmp_path}/elsewhere.png\">\n\n"
        "<img src=\"https://example.com/x.png\">\n\n"
        "<script>document.body.style.background = 'rgb(255, 0, 0)'</script>\n\n"
        "<iframe src=\"../outside.png\"></iframe>\n")
    blocked = []
    out = proof.snapshot_readme(folder, tmp_path / "readme.png", blocked=blocked)
    assert proof.png_problem(out) is None
    assert _colour_count(out, GREEN) >= 100 * 50     # the student's own image is shown
    assert _colour_count(out, RED) == 0              # nothing from outside the folder, no script ran
    # example.com and file:// never even reach the router (the page's CSP and Chromium stop them);
    # what does reach it and is refused: paths outside the folder and symlinks
    assert any(u.endswith("/outside.png") for u in blocked)
    assert any(u.endswith("/link.png") for u in blocked)


def test_readme_snapshot_without_readme(tmp_path):
    with pytest.raises(FileNotFoundError):
        proof.snapshot_readme(tmp_path, tmp_path / "x.png")


# ---------------------------------------------------------------- the check

def _target(tmp_path, name="alice", readme=True):
    repo = tmp_path / name
    (repo / "aws_deploy").mkdir(parents=True)
    if readme:
        (repo / "aws_deploy" / "README.md").write_text("# Deploy\n\n```python\npredictor.predict([[1, 2]])\n```\n")
    return targets_for(name, str(repo))[0]


@pytest.fixture
def fake_predictions(monkeypatch):
    """A stand-in for deploycheck.localpredict."""
    state = {"local": {"request": "[[5.1, 3.5, 1.4, 0.2]]", "response": "[0]", "content_type": "application/json",
                       "accept": "application/json", "latency_ms": 8.0, "isolation": "sandbox", "status": "ok"},
             "cloud": None}
    lp = types.ModuleType("deploycheck.localpredict")
    lp.prediction = lambda t, dc: state["local"]
    monkeypatch.setitem(sys.modules, "deploycheck.localpredict", lp)
    monkeypatch.setattr(deploycheck, "localpredict", lp, raising=False)
    return state


@needs_chromium
def test_artefacts_are_cards_and_readme(tmp_path, fake_predictions):
    report = tmp_path / "report"
    d = proof.render_artefacts(_target(tmp_path), Settings(report=report, cloud="moto"))
    assert d["proof"] == {"local": "proof/alice/aws-local.png", "readme": "proof/alice/readme.png"}
    for rel in d["proof"].values():
        assert proof.png_problem(report / rel) is None


@needs_chromium
def test_artefacts_without_report_dir_and_without_readme(tmp_path, fake_predictions, monkeypatch):
    monkeypatch.setattr(proof.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    d = proof.render_artefacts(_target(tmp_path, "bob", readme=False), Settings())
    assert (tmp_path / "tmp" / "deploycheck-proof" / "proof" / "bob" / "aws-local.png").is_file()
    assert d["proof_note"] == "no README to snapshot"


@pytest.mark.parametrize("rec", [None, {"status": "error", "error": "model_fn raised", "response": None},
                                 {"ok": False}])
def test_no_successful_prediction_renders_nothing(tmp_path, fake_predictions, rec):
    fake_predictions["local"] = rec
    assert proof.render_artefacts(_target(tmp_path), Settings(report=tmp_path / "r")) == {}


def test_no_proof_option_renders_nothing(tmp_path, fake_predictions):
    assert proof.render_artefacts(_target(tmp_path), Settings(proof=False)) == {}


def test_without_chromium_one_clear_note(tmp_path, fake_predictions, monkeypatch):
    monkeypatch.setattr(br, "available", lambda: (False, br.NOT_FOUND))
    d = proof.render_artefacts(_target(tmp_path), Settings(report=tmp_path / "r"))
    assert br.ENV_VAR in d["proof_note"] and "apt-get install chromium" in d["proof_note"]


def test_a_crash_is_a_note_never_an_exception(tmp_path, fake_predictions, monkeypatch):
    def boom(t, dc):
        raise RuntimeError("kaput")
    monkeypatch.setattr(sys.modules["deploycheck.localpredict"], "prediction", boom)
    d = proof.render_artefacts(_target(tmp_path), Settings(report=tmp_path / "r"))
    assert "kaput" in d["proof_note"]
