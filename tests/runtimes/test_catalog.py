"""The catalog: every row sourced and complete, look-ups by what students write, labels."""
from __future__ import annotations

import re

import pytest

from deploycheck.runtimes import catalog


FACTS = ("python", "sklearn", "sklearn-patch", "numpy", "scipy", "pandas", "joblib", "transform_fn")


def test_every_build_names_the_source_of_each_fact_and_its_pins():
    keys = [im.key for im in catalog.IMAGES]
    assert len(keys) == len(set(keys))
    for im in catalog.all_builds():
        assert im.source in catalog.SOURCES and len(catalog.SOURCES[im.source]) > 40, im.key
        for fact, src in im.facts:
            assert fact in FACTS and (src in catalog.SOURCES or "commit" in src), (im.key, fact, src)
        assert set(im.assumed) <= set(FACTS), im.key
        for fact in FACTS:
            src = im.source_of(fact)
            assert src == "CHOICE" if im.is_assumed(fact) and fact not in dict(im.facts) else src, (im.key, fact)
        assert re.fullmatch(r"3\.\d+", im.python) and im.sklearn and im.numpy and im.scipy, im.key
        reqs = im.requirements()
        assert reqs[0] == f"scikit-learn=={im.sklearn}" and f"numpy=={im.numpy}" in reqs
        if not im.verified:
            assert "assumed" in im.notes or im.source.startswith(("AIP", "VX")), im.key


def test_builds_follow_each_other_and_the_current_one_is_the_table():
    for im in catalog.IMAGES:
        rows = catalog.builds(im)
        assert rows[-1] is im and im.current and not any(b.current for b in rows[:-1])
        for a, b in zip(rows, rows[1:]):
            assert a.until == b.since and a.since < a.until, (im.key, a.since, a.until, b.since)
            assert a.key == b.key and a.retired is None


def test_the_build_in_force_on_a_date():
    im = catalog.image("1.2-1")
    assert catalog.build_at(im, "2023-05-15").python == "3.8"          # a 2023 deadline: Python 3.8
    assert catalog.build_at(im, "2023-05-15").transform_fn == "exclusive"
    assert catalog.build_at(im, "2023-03-01").transform_fn == "ignored"
    assert catalog.build_at(im, "2023-12-01").scipy == "1.8.0" and catalog.build_at(im, "2023-12-01").python == "3.8"
    assert catalog.build_at(im, "2024-10-09") is im and catalog.build_at(im, None) is im
    assert catalog.build_at(im, "2021-01-01").since == "2023-02-24"    # before the image: its first build
    assert catalog.build_at(catalog.image("1.0-1"), "2022-05-01T23:59:00+02:00").python == "3.7"
    assert "the build of 2023-04-12..2023-11-13" in catalog.build_at(im, "2023-05-15").label()
    # the scheduling key a class graded as of a date uses ("KEY@DATE"), read in one place by the
    # controller's head start, the terminal's environment builds and `deploycheck runtimes build`
    assert catalog.scheduled("sagemaker:1.2-1@2023-05-15") == catalog.build_at(im, "2023-05-15")
    assert catalog.scheduled("sagemaker:1.2-1") is im
    assert catalog.scheduled("sagemaker:1.2-1", "2023-05-15").python == "3.8"
    with pytest.raises(KeyError):
        catalog.scheduled("sagemaker:9.9-9@2023-05-15")


def test_new_images_retirements_and_the_arm64_variant():
    nine = catalog.image("1.9-0")
    assert (nine.python, nine.sklearn, nine.numpy, nine.scipy, nine.pandas, nine.joblib) == \
        ("3.12", "1.9.0", "2.5.1", "1.18.0", "2.2.3", "1.5.3")
    assert nine.verified and "deep-learning-containers" in catalog.SOURCES[nine.source]
    assert "Flask==3.1.3" in nine.serving and "Werkzeug==3.1.8" in nine.serving
    assert catalog.sagemaker_image_uri("us-east-1", "1.9-0").endswith("sagemaker-scikit-learn:1.9-0-cpu-py3")
    arm = catalog.image("1.0-1-arm64-cpu-py3")
    assert arm.alias_of == "sagemaker:1.0-1" and arm.requirements() == catalog.image("1.0-1").requirements()
    import datetime as dt
    assert catalog.retirement(catalog.image("1.4-2"), dt.date(2026, 12, 1)).instead == "1.4-2-py312"
    assert catalog.retirement(catalog.image("1.4-2-py312"), dt.date(2026, 10, 1)) is None
    assert catalog.retirement(catalog.image("1.4-2-py312"), dt.date(2026, 10, 30)).date == "2026-10-30"
    assert catalog.retirement(nine, dt.date(2026, 12, 1)) is None
    assert catalog.best_sagemaker_framework_for("1.4.2") == "1.4-2-py312"   # supported longer than 1.4-2


def test_corrections_from_first_hand_sources():
    assert catalog.image("ai-platform:1.4").sklearn == "0.19.0" and catalog.image("ai-platform:1.4").source == "AIP-1.4"
    assert catalog.image("ai-platform:2.1").sklearn == "0.22.1" and catalog.image("ai-platform:2.1").source == "AIP-2.1"
    two2 = catalog.image("ai-platform:2.2")
    assert two2.sklearn == "0.22.1" and "0.23.1" in two2.notes and two2.source_of("joblib") == "AIP-2ND"
    assert two2.is_assumed("joblib") and not two2.is_assumed("sklearn")
    assert [catalog.image(f"ai-platform:{r}").joblib for r in ("1.15", "2.2", "2.3", "2.4")] == \
        ["0.13.0", "0.15.1", "0.17.0", "1.0.0"]
    assert "Python 3.10" in catalog.image("sklearn-cpu.1-4").notes and catalog.image("sklearn-cpu.1-4").is_assumed("python")


def test_the_pythons_each_scikit_learn_release_installs_on():
    assert catalog.sklearn_pythons("0.23.2") == ("3.6", "3.8")
    assert catalog.sklearn_pythons("1.0.1") == ("3.7", "3.9") and catalog.sklearn_pythons("1.0.2") == ("3.7", "3.10")
    assert catalog.sklearn_pythons("1.2.1") == ("3.8", "3.11") and catalog.sklearn_pythons("1.9.1") == ("3.11", "3.14")
    for im in catalog.all_builds():        # every build's own Python installs its scikit-learn
        lo, hi = catalog.sklearn_pythons(im.sklearn)
        py = im.fallback_python or im.python
        if im.supported:
            assert tuple(map(int, lo.split("."))) <= tuple(map(int, py.split("."))) <= tuple(map(int, hi.split("."))), im.key


def test_sagemaker_rows_serve_with_sagemaker_containers_and_their_glue():
    rows = catalog.images("sagemaker")
    assert [im.version for im in rows] == ["0.20.0", "0.23-1", "1.0-1", "1.0-1-arm64", "1.2-1", "1.4-2",
                                           "1.4-2-py312", "1.9-0"]
    for im in rows:
        assert "sagemaker-containers==2.8.6.post2" in im.serving and "protobuf==3.20.2" in im.serving
        assert any(r.startswith("setuptools") and ("<81" in r or "==65" in r or "==80" in r) for r in im.serving)
        assert im.transform_fn == ("ignored" if im.version in ("0.20.0", "0.23-1", "1.0-1", "1.0-1-arm64") else "exclusive")
    assert {im.version: (im.python, im.sklearn, im.numpy) for im in rows} == {
        "0.20.0": ("3.7", "0.20.0", "1.19.5"), "0.23-1": ("3.7", "0.23.2", "1.19.2"), "1.0-1": ("3.8", "1.0.2", "1.24.1"),
        "1.2-1": ("3.9", "1.2.1", "1.24.1"), "1.4-2": ("3.10", "1.4.2", "2.1.0"), "1.4-2-py312": ("3.12", "1.4.2", "2.1.0"),
        "1.0-1-arm64": ("3.8", "1.0.2", "1.24.1"), "1.9-0": ("3.12", "1.9.0", "2.5.1")}
    assert catalog.image("1.4-2").patches == ("collections-abc-mapping",)


def test_vertex_tags_are_the_sdks():
    assert catalog.VERTEX_SKLEARN_TAGS == ("0-20", "0-22", "0-23", "0-24", "1-0", "1-2", "1-3", "1-4", "1-5", "1-6")
    for im in catalog.images("vertex"):
        assert catalog.major_minor(im.sklearn) == im.version.split(".", 1)[1].replace("-", ".")


@pytest.mark.parametrize("written,key", [
    ("1.2-1", "sagemaker:1.2-1"), ("sagemaker:1.0-1", "sagemaker:1.0-1"), ("sklearn-cpu.1-2", "vertex:sklearn-cpu.1-2"),
    ("europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.0-24:latest", "vertex:sklearn-cpu.0-24"),
    ("2.11", "ai-platform:2.11"), ("2.11.0", "ai-platform:2.11"), ("ai-platform:1.15", "ai-platform:1.15")])
def test_lookup_by_what_students_write(written, key):
    assert catalog.image(written).key == key


def test_unknown_values():
    with pytest.raises(KeyError, match="unknown serving image '9.9-9'"):
        catalog.image("9.9-9")
    assert catalog.for_declared("sagemaker", "1.3-1") is None
    assert catalog.for_declared("ai_platform", "2.11").key == "ai-platform:2.11"


def test_labels_say_when_python_is_substituted():
    im = catalog.image("1.2-1")
    assert im.label() == "sagemaker-scikit-learn 1.2-1 (Python 3.9, scikit-learn 1.2.1)"
    assert im.label("3.10") == "sagemaker-scikit-learn 1.2-1 (Python 3.10 instead of 3.9, scikit-learn 1.2.1)"
    assert catalog.build_at(im, "2023-06-01").label() == ("sagemaker-scikit-learn 1.2-1 (Python 3.8, scikit-learn "
                                                          "1.2.1, the build of 2023-04-12..2023-11-13)")


def test_old_ai_platform_runtimes_have_no_environment():
    assert not catalog.image("1.10").supported                 # scikit-learn 0.19.1, Python 2.7/3.5
    assert catalog.image("1.13").supported and catalog.image("1.13").fallback_python == "3.7"
    assert catalog.image("2.11").supported


def test_image_uris_for_new_partitions():
    assert catalog.sagemaker_image_uri("us-isof-east-1", "1.4-2-py312").endswith(
        ".csp.hci.ic.gov/sagemaker-scikit-learn:1.4-2-py312-cpu-py3")


def test_runtimes_list_shows_each_image_with_its_source_builds_and_retirement(capsys):
    from deploycheck.runtimes.cli import main
    assert main(["list", "--kind", "sagemaker", "--sources"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("sagemaker:1.9-0"))
    assert "Python 3.12" in row and "scikit-learn 1.9.0" in row
    assert "source [DLC-1.9-0]" in out and "[DLC-1.9-0] aws/deep-learning-containers docker/sklearn/1.9-0" in out
    assert "2023-04-12..2023-11-13: python 3.8, scipy 1.5.3" in out          # 1.2-1's earlier builds
    assert "is unsupported since 2026-07-15 [DLC-POLICY]: declare 1.4-2-py312 instead" in out
    assert "sagemaker:1.0-1-arm64" in out and "runs in the sagemaker:1.0-1 environment" in out
