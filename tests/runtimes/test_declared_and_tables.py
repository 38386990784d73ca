"""deploycheck.runtimes: version tables (catalog) and runtime declarations found in a deploy folder (declared)."""
from __future__ import annotations

import json

import pytest

from deploycheck.analysis.runtimes import declared_runtimes
from deploycheck.runtimes import catalog as R
from deploycheck.discovery import load_submission


@pytest.mark.parametrize("fv,sk", [("1.0-1", "1.0.2"), ("1.2-1", "1.2.1"), ("1.4-2", "1.4.2"),
                                   ("0.20.0", "0.20.0"), ("0.23-1", "0.23.2"), ("9.9-9", None)])
def test_sagemaker_table(fv, sk):
    assert R.sagemaker_sklearn_version(fv) == sk


def test_ai_platform_and_vertex_tables():
    assert R.ai_platform_sklearn_version("2.11") == "1.0.2"
    assert R.ai_platform_sklearn_version("1.15") == "0.20.4"
    assert R.ai_platform_sklearn_version("3.0") is None
    assert R.vertex_sklearn_version("sklearn-cpu.1-2") == "1.2"
    assert R.vertex_sklearn_version("europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.0-24:latest") == "0.24"
    assert R.vertex_sklearn_version("sklearn-cpu.9-9") is None
    assert "sklearn-cpu.1-6" in R.valid_values("vertex")
    assert "1.2-1" in R.valid_values("sagemaker") and "2.11" in R.valid_values("ai_platform")


def test_image_uris():
    assert (R.sagemaker_image_uri("us-east-1", "1.2-1")
            == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert R.sagemaker_image_uri("eu-west-1", "1.0-1").startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/")
    assert R.sagemaker_image_uri("cn-north-1", "1.2-1").startswith("450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ValueError):
        R.sagemaker_image_uri("mars-1", "1.2-1")
    assert R.vertex_container_uri("1.2.1") == "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest"
    assert R.vertex_container_uri("1.3.2", "europe-west4") == "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest"
    assert R.vertex_container_uri("1.1.3", "asia-east1").startswith("asia-docker.pkg.dev/")   # nearest: 1-0 or 1-2
    assert R.vertex_container_uri("1.9.1").endswith("sklearn-cpu.1-6:latest")
    assert R.best_sagemaker_framework_for("1.2.2") == "1.2-1"
    assert R.best_sagemaker_framework_for("1.9.1") == "1.9-0"
    assert R.best_sagemaker_framework_for("1.6.1") is None


def _folder(tmp_path, files: dict[str, str | bytes], name="aws_deploy"):
    repo = tmp_path / "repo"
    for rel, content in files.items():
        p = repo / name / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    sub = load_submission.__wrapped__("s", str(repo))
    return sub.folders[0]


def test_declared_in_readme_and_scripts(tmp_path):
    f = _folder(tmp_path, {
        "README.md": "# Deploy\r\n\r\n```python\r\nmodel = SKLearnModel(model_data=uri, role=role,\r\n"
                     "    framework_version='1.2-1')\r\n```\r\n",
        "deploy.py": 'FRAMEWORK_VERSION = "1.0-1"\nxgb = XGBoostModel(framework_version="1.7-1")\n',
    })
    got = declared_runtimes(f)
    assert [(d.kind, d.value, d.sklearn, d.file, d.line) for d in got] == [
        ("sagemaker", "1.2-1", "1.2.1", "aws_deploy/README.md", 5),
        ("sagemaker", "1.0-1", "1.0.2", "aws_deploy/deploy.py", 1),
    ]


def test_declared_gcp_forms(tmp_path):
    f = _folder(tmp_path, {
        "README.md": "gcloud ai-platform versions create v1 --model m --runtime-version 2.11 --framework scikit-learn\n"
                     "gcloud ai-platform versions create v2 --runtime-version=1.15\n",
        "config.yaml": 'runtimeVersion: "2.3"\n',
        "upload.sh": "gcloud ai models upload --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest\n",
        "deploy.py": 'aiplatform.Model.upload(serving_container_image_uri="us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.0-24:latest")\n',
        "notes.txt": "we use sklearn-cpu.1-0 too\n",
    }, name="gcp_deploy")
    got = {(d.kind, d.value, d.sklearn) for d in declared_runtimes(f)}
    assert got == {("ai_platform", "2.11", "1.0.2"), ("ai_platform", "1.15", "0.20.4"), ("ai_platform", "2.3", "0.23.2"),
                   ("vertex", "sklearn-cpu.1-2", "1.2"), ("vertex", "sklearn-cpu.0-24", "0.24"),
                   ("vertex", "sklearn-cpu.1-0", "1.0")}


def test_declared_in_notebook_and_broken_notebook(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# Deploy\n", "We use the 1.2 image\n"]},
        {"cell_type": "code", "source": ["from sagemaker.sklearn import SKLearnModel\n",
                                         "m = SKLearnModel(model_data=u, framework_version=\"1.2-1\")\n"],
         "outputs": [{"text": ["framework_version=\"0.23-1\"\n"]}]},
    ], "nbformat": 4}
    text = json.dumps(nb, indent=1)
    f = _folder(tmp_path, {"deploy.ipynb": text, "broken.ipynb": text[:-40].replace("1.2-1", "1.0-1")})
    got = declared_runtimes(f)
    good = [d for d in got if d.file.endswith("deploy.ipynb")]
    # code cells only (a cell's output is not a declaration), located by cell and line
    assert [(d.value, d.cell, d.line, d.where) for d in good] == [
        ("1.2-1", 2, 2, "aws_deploy/deploy.ipynb cell 2 line 2")]
    assert any(d.file.endswith("broken.ipynb") and d.value == "1.0-1" for d in got)


def test_declared_skips_big_files_and_decodes_latin1(tmp_path):
    big = "x" * (2 * 1024 * 1024 + 10) + '\nframework_version="1.0-1"\n'
    f = _folder(tmp_path, {"big.txt": big, "README.md": 'caf\xe9 framework_version="1.2-1"\n'.encode("latin-1")})
    got = declared_runtimes(f)
    assert [(d.value, d.file) for d in got] == [("1.2-1", "aws_deploy/README.md")]


def test_unknown_value_is_reported_unresolved(tmp_path):
    f = _folder(tmp_path, {"README.md": 'SKLearnModel(framework_version="1.3-1")\n'})
    (d,) = declared_runtimes(f)
    assert d.value == "1.3-1" and d.sklearn is None
