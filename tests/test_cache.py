"""The results cache (deploycheck/cache.py): unchanged repos reuse their outcomes and proof images;
any change to a repo's files, the student, the options or the grader grades afresh."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dataclasses import replace

from deploycheck import cache
from deploycheck.cache import ResultsCache
from deploycheck.discovery import targets_for
from deploycheck.model import Screenshot, failed, passed, review, run_error, skipped
from deploycheck.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "fixtures" / "built" / "classroom"


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYCHECK_NO_CACHE"}
    env["DEPLOYCHECK_RESULTS_DIR"] = str(tmp_path / "results")
    monkeypatch.delenv("DEPLOYCHECK_NO_CACHE", raising=False)
    monkeypatch.setenv("DEPLOYCHECK_RESULTS_DIR", str(tmp_path / "results"))
    return env


def grade(env, repo, out, *extra):
    p = subprocess.run([sys.executable, "-m", "deploycheck.cli", "grade", "--repo", str(repo), "--report", str(out),
                        *extra], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    doc = json.loads((out / "report.json").read_text())
    return p, {c["id"]: c for c in doc["students"][0]["checks"]}


def test_an_unchanged_repo_reuses_every_outcome_and_its_proof(tmp_path, cache_env):
    repo = tmp_path / "alice"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    p1, first = grade(cache_env, repo, tmp_path / "out1")
    assert "reused" not in p1.stdout
    p2, second = grade(cache_env, repo, tmp_path / "out2")
    assert f"reused {len(first)} of {len(first)} check results from the cache" in p2.stdout
    assert {k: (c["status"], c["message"]) for k, c in first.items()} == \
           {k: (c["status"], c["message"]) for k, c in second.items()}
    proof = second["predict.local"]["proof"]
    for rel in proof.values():
        assert (tmp_path / "out2" / rel).is_file()          # the reused images are in this run's report
    # --no-cache grades everything again
    p3, _ = grade(cache_env, repo, tmp_path / "out3", "--no-cache")
    assert "reused" not in p3.stdout


def test_a_changed_file_is_graded_afresh(tmp_path, cache_env):
    repo = tmp_path / "bob"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    _, first = grade(cache_env, repo, tmp_path / "out1")
    assert first["entry_point.model_fn"]["status"] == "passed"
    inf = repo / "aws_deploy" / "inference.py"
    inf.write_text(inf.read_text().replace("def model_fn(model_dir):", "def load_model(model_dir):"))
    p2, second = grade(cache_env, repo, tmp_path / "out2")
    assert "reused" not in p2.stdout
    assert second["entry_point.model_fn"]["status"] == "failed" and "model_fn" in second["entry_point.model_fn"]["message"]


def test_entries_are_never_shared_between_students_and_skip_cloud_and_errors(tmp_path, cache_env):
    a, b = tmp_path / "a", tmp_path / "b"
    for r in (a, b):
        shutil.copytree(CLASSROOM / "complete_aws", r)
    (ta,), (tb,) = targets_for("ann", str(a)), targets_for("ben", str(b))
    c = ResultsCache(Settings())
    c.put(ta, "readme.present", passed("ann's README"))
    assert c.get(ta, "readme.present").message == "ann's README"
    assert c.get(tb, "readme.present") is None                     # same content, another student
    (tc,) = targets_for("ann-again", str(a))
    assert c.get(tc, "readme.present") is None                      # the same repo as another id
    c.put(ta, "cloud.deploy", failed("deployed"))
    assert c.get(ta, "cloud.deploy") is None                        # cloud checks act on an account
    c.put(ta, "predict.local", run_error("the sandbox did not start"))
    assert c.get(ta, "predict.local") is None                       # errors of the run are tried again
    assert ResultsCache(Settings(), enabled=False).get(ta, "readme.present") is None
    assert ResultsCache(Settings(sandbox_timeout=5)).get(ta, "readme.present") is None   # other options


# ---------------------------------------------------------------- the key: machine, rubric, what is never stored

@pytest.fixture
def entry(tmp_path, cache_env):
    """A stored outcome for one student, and a fresh machine probe before and after the test."""
    repo = tmp_path / "amy"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    (t,) = targets_for("amy", str(repo))
    cache.machine.cache_clear()
    c = ResultsCache(Settings())
    c.put(t, "proof.screenshot", passed("aws_deploy/prediction.png shows a prediction"))
    assert c.get(t, "proof.screenshot") is not None
    yield c, t
    cache.machine.cache_clear()


@pytest.mark.parametrize("fact", sorted(cache.MACHINE_FACTS))
def test_every_machine_fact_is_part_of_the_key(entry, monkeypatch, fact):
    c, t = entry
    with monkeypatch.context() as m:
        m.setitem(cache.MACHINE_FACTS, fact, lambda: "another machine")
        cache.machine.cache_clear()
        assert c.get(t, "proof.screenshot") is None, fact
    cache.machine.cache_clear()
    assert c.get(t, "proof.screenshot") is not None, fact


def _other_isolation(monkeypatch):
    from deploycheck import sandbox
    real = sandbox.isolation()
    monkeypatch.setattr(sandbox, "isolation", lambda *a, **k: replace(real, mode="none", label="UNSANDBOXED"))


def _other_browser(monkeypatch, tmp_path):
    chrome = tmp_path / "chrome"
    chrome.write_text("#!/bin/sh\nexec /usr/bin/chromium \"$@\"\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("DEPLOYCHECK_CHROMIUM", str(chrome))


def _no_runtimes(monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "empty-cache"))   # no environment built here


def _copy_runtimes(monkeypatch, tmp_path) -> list[Path]:
    """The manifests of this machine's built runtime environments, in a cache of their own (an
    environment is its manifest plus the interpreter it names, which stays where it is)."""
    from deploycheck.runtimes import catalog, envs
    found = [e for im in catalog.images() if im.supported for e in [envs.existing(im)] if e is not None]
    if not found:
        pytest.skip("no runtime environment is built here (make runtimes)")
    monkeypatch.setenv("DEPLOYCHECK_CACHE_DIR", str(tmp_path / "cache"))
    copies = []
    for e in found:
        dest = envs.cache_root() / e.root.name / envs.MANIFEST
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(e.root) / envs.MANIFEST, dest)
        copies.append(dest)
    return copies


def _rebuilt_runtime(monkeypatch, tmp_path):
    """The same environments, one of them rebuilt with another numpy (what `runtimes build` does after
    an upstream release): the same folder name, other versions inside."""
    manifest = _copy_runtimes(monkeypatch, tmp_path)[0]
    m = json.loads(manifest.read_text())
    m["versions"] = {**m["versions"], "numpy": "0.0.1"}
    manifest.write_text(json.dumps(m))


def _tesseract_reporting(tmp_path, version: str | None) -> Path:
    """A Tesseract program that is this machine's, reporting ``version`` (None: its own)."""
    real = shutil.which("tesseract")
    if real is None:
        pytest.skip("tesseract is not installed")
    fake = tmp_path / f"tesseract-{version or 'same'}"
    answer = f'echo "tesseract {version}"; exit 0' if version else f'exec {real} "$@"'
    fake.write_text(f'#!/bin/sh\nif [ "$1" = --version ]; then {answer}; fi\nexec {real} "$@"\n')
    fake.chmod(0o755)
    return fake


def _ocr_version(monkeypatch, tmp_path):
    """Another Tesseract release: the program answers another version, reads with the same data."""
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", str(_tesseract_reporting(tmp_path, "9.9.9")))


def test_another_tesseract_release_alone_misses(tmp_path, cache_env, monkeypatch):
    """The same engine (the program) at another version, nothing else changed: graded afresh."""
    repo = tmp_path / "amy"
    shutil.copytree(CLASSROOM / "complete_aws", repo)
    (t,) = targets_for("amy", str(repo))
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", str(_tesseract_reporting(tmp_path, None)))
    cache.machine.cache_clear()
    c = ResultsCache(Settings())
    c.put(t, "proof.screenshot", passed("aws_deploy/prediction.png shows a prediction"))
    assert c.get(t, "proof.screenshot") is not None
    before = cache.machine()
    monkeypatch.setenv("DEPLOYCHECK_TESSERACT", str(_tesseract_reporting(tmp_path, "9.9.9")))
    cache.machine.cache_clear()
    try:
        after = cache.machine()
        assert before["ocr"].split("-")[0] == after["ocr"].split("-")[0] == "tesseract"
        assert {k for k in after if after[k] != before[k]} == {"ocr"} and "9.9.9" in after["ocr"]
        assert c.get(t, "proof.screenshot") is None
    finally:
        cache.machine.cache_clear()


def _same_ocr_elsewhere(monkeypatch, tmp_path):
    """The same Tesseract found first on another PATH entry (a link to it): the same engine and version."""
    real = shutil.which("tesseract")
    if real is None:
        pytest.skip("tesseract is not installed")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tesseract").symlink_to(real)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def _ocr_engine(monkeypatch, tmp_path):
    """The same Tesseract as a program (DEPLOYCHECK_OCR=tesseract-cli) instead of the library (tesserocr)."""
    from deploycheck.analysis import ocr
    if ocr.engine().name != "tesserocr":
        pytest.skip("tesserocr is not installed: only one engine here")
    monkeypatch.setenv("DEPLOYCHECK_OCR", "tesseract-cli")


def _library_upgraded(monkeypatch, tmp_path):
    """One of the grader's libraries at another version (a newer Pillow or markdown-it-py): its
    distribution metadata first on the path, as after `pip install -U`."""
    from importlib import metadata
    req = sorted(metadata.requires("deploycheck") or ())[0]
    name = re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0]
    info = tmp_path / "site" / f"{name.replace('-', '_')}-999.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 999.0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert metadata.version(name) == "999.0"


def _python_upgraded(monkeypatch, tmp_path):
    """The grader on another Python release (a point release parses the student's code too)."""
    monkeypatch.setattr(sys, "version", "3.11.99 (main, Jan  1 2030, 00:00:00) [GCC 12.2.0]")


# each real change, and the one fact it changes (every fact of MACHINE_FACTS has at least one)
CHANGES = {"ocr off": ("ocr", lambda m, p: m.setenv("DEPLOYCHECK_OCR", "off")), "ocr version": ("ocr", _ocr_version),
           "ocr engine": ("ocr", _ocr_engine), "isolation": ("isolation", lambda m, p: _other_isolation(m)),
           "browser": ("browser", _other_browser), "runtimes removed": ("runtimes", _no_runtimes),
           "runtime rebuilt": ("runtimes", _rebuilt_runtime), "library upgraded": ("libraries", _library_upgraded),
           "python upgraded": ("python", _python_upgraded)}


def test_every_machine_fact_has_a_real_change_below():
    assert {fact for fact, _ in CHANGES.values()} == set(cache.MACHINE_FACTS)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_real_change_of_the_machine_misses(entry, monkeypatch, tmp_path, change):
    """The facts change the way they do on a real machine: OCR switched off (or installed later),
    another Tesseract release or engine, another isolation, another Chromium, runtime environments
    built, removed or rebuilt with other versions, a library upgraded, another Python. Each change
    moves exactly its own fact, and the stored outcome is not reused."""
    c, t = entry
    before = cache.machine()
    fact, make = CHANGES[change]
    make(monkeypatch, tmp_path)
    cache.machine.cache_clear()
    after = cache.machine()
    assert {k for k in after if after[k] != before[k]} == {fact}, (before, after)
    assert c.get(t, "proof.screenshot") is None


@pytest.mark.parametrize("same", ["runtimes elsewhere", "tesseract elsewhere on PATH"])
def test_the_same_machine_reached_another_way_still_hits(entry, monkeypatch, tmp_path, same):
    """What is not a change keeps the entry: the same environments found in another cache folder, the
    same Tesseract first found elsewhere on PATH (so the misses above are the facts, not the probing)."""
    c, t = entry
    before = cache.machine()
    (_copy_runtimes if same == "runtimes elsewhere" else _same_ocr_elsewhere)(monkeypatch, tmp_path)
    cache.machine.cache_clear()
    assert cache.machine() == before
    assert c.get(t, "proof.screenshot") is not None


def test_the_rubric_keys_what_can_change_a_verdict_not_points(entry):
    c, t = entry
    from deploycheck import rubric as rb
    assert ResultsCache(Settings(rubric=rb.parse({"checks": {"proof.screenshot": {"points": 5}}, "total": 50}))
                        ).get(t, "proof.screenshot") is not None          # points are applied after the cache
    assert ResultsCache(Settings(rubric=rb.parse({"checks": {"extras.custom_image": {"enabled": True}}}))
                        ).get(t, "proof.screenshot") is None


def test_provisional_and_error_outcomes_are_never_stored_review_is(entry):
    c, t = entry
    c.put(t, "predict.local", replace(passed("approximate (scikit-learn 1.2.1 instead of 1.4.2)"), provisional=True))
    assert c.get(t, "predict.local") is None
    c.put(t, "predict.local", skipped("inconclusive: version skew", provisional=True))
    assert c.get(t, "predict.local") is None
    c.put(t, "predict.local", run_error("the sandbox did not start"))
    assert c.get(t, "predict.local") is None
    c.put(t, "readme.cleanup", review("cannot tell", screenshot=Screenshot("aws_deploy/p.png", "x")))
    assert c.get(t, "readme.cleanup").screenshot == Screenshot("aws_deploy/p.png", "x")


def test_ocr_installed_after_a_run_without_it_grades_the_screenshot_again(tmp_path, cache_env):
    """Issue 20's case: graded with OCR off, the screenshot is 'content not read'; once OCR
    works, the cached pass is not reused and the image is read."""
    repo = tmp_path / "sam"
    shutil.copytree(CLASSROOM / "screenshot_no_prediction", repo)
    _, first = grade({**cache_env, "DEPLOYCHECK_OCR": "off"}, repo, tmp_path / "out1", "--no-proof")
    assert first["proof.screenshot"]["status"] in ("passed", "review"), first["proof.screenshot"]
    assert "DEPLOYCHECK_OCR=off" in first["proof.screenshot"]["message"]
    p2, second = grade(cache_env, repo, tmp_path / "out2", "--no-proof")
    assert second["proof.screenshot"]["status"] == "failed", second["proof.screenshot"]["message"]
    assert "reused" not in p2.stdout
