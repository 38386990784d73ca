"""README snapshots (deploycheck.proof.snapshot): only the folder's own files, no script, no network."""
import numpy as np
import pytest
from PIL import Image

from deploycheck.discovery import make_folder
from deploycheck.proof import browser as br
from deploycheck.proof import card, snapshot

needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])
RED, GREEN = (255, 0, 0), (0, 200, 0)


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
    out = snapshot.snapshot_readme(make_folder("aws", folder, repo), tmp_path / "readme.png", blocked=blocked)
    assert card.png_problem(out) is None
    assert _colour_count(out, GREEN) >= 100 * 50     # the student's own image is shown
    assert _colour_count(out, RED) == 0              # nothing from outside the folder, no script ran
    # example.com and file:// never even reach the router (the page's CSP and Chromium stop them);
    # what does reach it and is refused: paths outside the folder and symlinks
    assert any(u.endswith("/outside.png") for u in blocked)
    assert any(u.endswith("/link.png") for u in blocked)
    # the reused page serves the next student's folder, never the previous one's
    other = repo / "gcp_deploy"
    other.mkdir()
    (other / "README.md").write_text("# GCP\n\n![theirs](../aws_deploy/screenshot.png)\n")
    blocked2 = []
    out2 = snapshot.snapshot_readme(make_folder("gcp", other, repo), tmp_path / "readme2.png", blocked=blocked2)
    assert _colour_count(out2, GREEN) == 0 and any(u.endswith("/screenshot.png") for u in blocked2)


def test_readme_snapshot_without_readme(tmp_path):
    (tmp_path / "aws_deploy").mkdir()
    with pytest.raises(FileNotFoundError):
        snapshot.snapshot_readme(make_folder("aws", tmp_path / "aws_deploy", tmp_path), tmp_path / "x.png")


@needs_chromium
def test_two_students_images_at_the_same_path_are_each_their_own(tmp_path):
    """The reused page must never answer one student's image URL from Chromium's cache of the
    previous student's (same relative path, different pixels)."""
    shots = []
    for name, colour in (("first", RED), ("second", GREEN)):
        folder = tmp_path / name / "aws_deploy"
        folder.mkdir(parents=True)
        Image.new("RGB", (160, 90), colour).save(folder / "screenshot.png")
        (folder / "README.md").write_text("# Deploy\n\n![proof](screenshot.png)\n")
        shots.append(snapshot.snapshot_readme(make_folder("aws", folder, tmp_path / name), tmp_path / f"{name}.png"))
    assert _colour_count(shots[0], RED) >= 150 * 80 and _colour_count(shots[0], GREEN) == 0
    assert _colour_count(shots[1], GREEN) >= 150 * 80 and _colour_count(shots[1], RED) == 0
