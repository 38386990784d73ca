"""The proof artefacts of a graded repo (deploycheck.proof.render_artefacts), on real example repos
through the real predict.local."""
import shutil
from pathlib import Path

import pytest

from deploycheck import proof
from deploycheck.discovery import targets_for
from deploycheck.proof import browser as br
from deploycheck.proof import card
from deploycheck.settings import Settings

needs_chromium = pytest.mark.skipif(not br.available()[0], reason=br.available()[1])
CLASSROOM = Path(__file__).resolve().parents[2] / "fixtures" / "built" / "classroom"


def example(tmp_path, name, student="alice"):
    repo = tmp_path / student
    shutil.copytree(CLASSROOM / name, repo)
    (t,) = targets_for(student, str(repo))
    return t


@needs_chromium
def test_a_passed_prediction_gets_a_card_and_a_readme_snapshot(tmp_path):
    report = tmp_path / "report"
    d = proof.render_artefacts(example(tmp_path, "complete_aws"), Settings(report=report))
    assert d["proof"] == {"local": "proof/alice/aws-local.png", "readme": "proof/alice/readme.png"}
    for rel in d["proof"].values():
        assert card.png_problem(report / rel) is None


@needs_chromium
def test_without_a_report_dir_the_files_go_to_a_temp_folder(tmp_path):
    student = f"bob-{tmp_path.name}"
    base, out_dir = proof.proof_dir(Settings(), student)
    try:
        d = proof.render_artefacts(example(tmp_path, "complete_vertex", student), Settings())
        assert d["proof"]["local"] == f"proof/{student}/gcp-local.png"
        assert (out_dir / "gcp-local.png").is_file() and out_dir.parent.parent == base
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def test_no_successful_prediction_renders_nothing(tmp_path):
    assert proof.render_artefacts(example(tmp_path, "no_model_fn"), Settings(report=tmp_path / "r")) == {}


def test_no_proof_option_renders_nothing(tmp_path):
    assert proof.render_artefacts(example(tmp_path, "complete_aws"), Settings(proof=False)) == {}


def test_without_chromium_one_clear_note(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYCHECK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(br, "playwright_browser_path", lambda refresh=False: None)
    d = proof.render_artefacts(example(tmp_path, "complete_aws"), Settings(report=tmp_path / "r"))
    assert br.ENV_VAR in d["proof_note"] and "apt-get install chromium" in d["proof_note"]


@needs_chromium
def test_deploycheck_s_own_pictures_are_refused_as_the_student_s_proof(tmp_path):
    """Issue 21: ``--report`` writes a proof card of the local emulation for every student; committed into
    the deploy folder (or its README snapshot), it is refused by its mark, without OCR."""
    from deploycheck.analysis import ocr
    from deploycheck.verdicts.proof import proof_screenshot
    report = tmp_path / "report"
    t = example(tmp_path, "complete_aws")
    d = proof.render_artefacts(t, Settings(report=report))
    for kind, words in (("local", "proof card of its local emulation"), ("readme", "README snapshot")):
        folder = tmp_path / f"next-{kind}"
        shutil.copytree(CLASSROOM / "complete_aws", folder)
        for old in (folder / "aws_deploy").glob("*.png"):
            old.unlink()
        shutil.copy(report / d["proof"][kind], folder / "aws_deploy" / "screenshot.png")
        (t2,) = targets_for(f"next-{kind}", str(folder))
        before = ocr.STATS["worker_runs"]
        o = proof_screenshot(t2)
        assert o.status == "failed" and f"is deploycheck's own {words}" in o.message, o.message
        assert "not a screenshot of your deployed endpoint" in o.message
        assert o.data["classification"] == "deploycheck" and ocr.STATS["worker_runs"] == before
