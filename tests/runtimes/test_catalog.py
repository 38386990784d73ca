"""The catalog: every row sourced and complete, look-ups by what students write, labels."""
from __future__ import annotations

import re

import pytest

from deploycheck.runtimes import catalog


def test_every_row_has_a_source_and_pins():
    keys = [im.key for im in catalog.IMAGES]
    assert len(keys) == len(set(keys))
    for im in catalog.IMAGES:
        assert im.source and len(im.source) > 20, im.key
        assert re.fullmatch(r"3\.\d+", im.python) and im.sklearn and im.numpy and im.scipy, im.key
        reqs = im.requirements()
        assert reqs[0] == f"scikit-learn=={im.sklearn}" and f"numpy=={im.numpy}" in reqs
        if not im.verified:
            assert "assumed" in im.notes or "not verified" in im.source, im.key


def test_sagemaker_rows_serve_with_sagemaker_containers_and_their_glue():
    rows = catalog.images("sagemaker")
    assert [im.version for im in rows] == ["0.20.0", "0.23-1", "1.0-1", "1.2-1", "1.4-2", "1.4-2-py312"]
    for im in rows:
        assert "sagemaker-containers==2.8.6.post2" in im.serving and "protobuf==3.20.2" in im.serving
        assert any(r.startswith("setuptools") and ("<81" in r or "==65" in r or "==80" in r) for r in im.serving)
        assert im.transform_fn == ("ignored" if im.version in ("0.20.0", "0.23-1", "1.0-1") else "exclusive")
    assert {im.version: (im.python, im.sklearn, im.numpy) for im in rows} == {
        "0.20.0": ("3.7", "0.20.0", "1.19.5"), "0.23-1": ("3.7", "0.23.2", "1.19.2"), "1.0-1": ("3.8", "1.0.2", "1.24.1"),
        "1.2-1": ("3.9", "1.2.1", "1.24.1"), "1.4-2": ("3.10", "1.4.2", "2.1.0"), "1.4-2-py312": ("3.12", "1.4.2", "2.1.0")}
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


def test_old_ai_platform_runtimes_have_no_environment():
    assert not catalog.image("1.10").supported                 # scikit-learn 0.19.1, Python 2.7/3.5
    assert catalog.image("1.13").supported and catalog.image("1.13").fallback_python == "3.7"
    assert catalog.image("2.11").supported


def test_image_uris_for_new_partitions():
    assert catalog.sagemaker_image_uri("us-isof-east-1", "1.4-2-py312").endswith(
        ".csp.hci.ic.gov/sagemaker-scikit-learn:1.4-2-py312-cpu-py3")
