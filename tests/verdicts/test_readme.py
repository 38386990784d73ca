"""verdicts.readme and verdicts.files (facts: analysis.readme, commands, refs): README parsing and the readme.* / files.referenced checks."""
import json
import os
import textwrap

import pytest

from deploycheck.analysis import refs
from deploycheck.verdicts import files as files_verdict
from deploycheck.analysis.readme import README_LIMIT
from deploycheck.verdicts import readme
from deploycheck.discovery import Target
from tests.helpers import make_target


AWS_README = """\
# Deploying my model to SageMaker

I trained a random forest on the wine data of my project and deployed it with the
SageMaker Python SDK from a notebook instance.

```bash
python train.py
tar -czf model.tar.gz model.joblib
aws s3 cp model.tar.gz s3://my-bucket/model.tar.gz
```

```python
from sagemaker.sklearn.model import SKLearnModel
model = SKLearnModel(model_data="s3://my-bucket/model.tar.gz", role=role,
                     entry_point="inference.py", framework_version="1.2-1")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
print(predictor.predict([[1, 2, 3, 4]]))
```

![proof](screenshot.png) and the [SDK docs](https://sagemaker.readthedocs.io/).

## Clean up

```python
predictor.delete_endpoint()
predictor.delete_model()
```
"""
INFERENCE = """\
import os
import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
TRAIN = """\
import joblib
joblib.dump(object(), "model.joblib")
"""


def aws_repo(tmp_path, readme_text=AWS_README, **extra):
    files = {"aws_deploy/README.md": readme_text, "aws_deploy/inference.py": INFERENCE,
             "aws_deploy/train.py": TRAIN, "aws_deploy/model.tar.gz": b"\x1f\x8b", "aws_deploy/screenshot.png": b"x"}
    files.update(extra)
    files = {k: v for k, v in files.items() if v is not None}
    return make_target(tmp_path, files)


# ------------------------------------------------------------------------------ parsing

def test_readme_info_parses_markdown(tmp_path):
    t = aws_repo(tmp_path, AWS_README + '\n<img src="proof/shot.png" width="300">\n\nRun `python train.py` first.\n')
    info = t.folder.facts.readme
    assert info.rel == "README.md" and info.path == "aws_deploy/README.md"
    langs = [b.lang for b in info.code_blocks]
    assert langs == ["bash", "python", "python"]
    assert info.code_blocks[0].line == 7 and info.code_blocks[0].content.startswith("python train.py")
    assert ("screenshot.png", 20) in info.images
    assert ("proof/shot.png", 29) in info.images
    assert ("https://sagemaker.readthedocs.io/", 20) in info.links
    assert ("python train.py", 31) in info.inline_code
    assert info.words > 30


def test_readme_found_case_insensitively_and_md_preferred(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/readme.TXT": "text", "aws_deploy/ReadMe.MD": "# md"})
    assert t.folder.facts.readme.rel == "ReadMe.MD"


def test_readme_without_extension(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README": "plain text readme"})
    assert t.folder.facts.readme.rel == "README"


def test_rst_readme(tmp_path):
    rst = """\
    Deploy
    ======

    Upload and deploy::

        aws s3 cp model.tar.gz s3://bucket/
        predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")

    .. image:: shot.png

    See `the docs <https://example.com>`_ and ``predictor.delete_endpoint()``.
    """
    t = make_target(tmp_path, {"aws_deploy/README.rst": rst})
    info = t.folder.facts.readme
    assert info.kind == "rst"
    assert any("model.deploy(" in b.content for b in info.code_blocks)
    assert ("shot.png", 9) in info.images
    assert ("https://example.com", 11) in info.links
    assert any(c == "predictor.delete_endpoint()" for c, _ in info.inline_code)


# ------------------------------------------------------------------------ readme.present

def test_present_passes(tmp_path):
    o = readme.readme_present(aws_repo(tmp_path))
    assert o.status == "passed" and "aws_deploy/README.md" in o.message


def test_present_missing(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/inference.py": INFERENCE})
    o = readme.readme_present(t)
    assert o.status == "failed" and "add aws_deploy/README.md" in o.message


def test_present_missing_mentions_root_readme(tmp_path):
    t = make_target(tmp_path, {"README.md": "# my project", "aws_deploy/inference.py": INFERENCE})
    o = readme.readme_present(t)
    assert o.status == "failed" and "top-level README.md" in o.message


def test_present_placeholder_fails(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# AWS deploy\n\nTODO\n"})
    o = readme.readme_present(t)
    assert o.status == "failed" and "only has 3 words" in o.message and "describe how you deployed" in o.message


def test_present_code_block_only_passes(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# Steps\n\n```\naws s3 cp model.tar.gz s3://b/\n```\n"})
    assert readme.readme_present(t).status == "passed"


def test_present_empty_folder(tmp_path):
    (tmp_path / "repo" / "aws_deploy").mkdir(parents=True)
    t = make_target(tmp_path, {})
    o = readme.readme_present(t)
    assert o.status == "failed" and "README" in o.message


def test_present_binary_readme(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": b"\x00\x01\x02PK\x03\x04" * 100})
    o = readme.readme_present(t)
    assert o.status == "failed" and "binary" in o.message


def test_present_symlink_to_etc_passwd_is_not_read(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/inference.py": INFERENCE})
    os.symlink("/etc/passwd", tmp_path / "repo" / "aws_deploy" / "README.md")
    t = make_target(tmp_path, {})
    o = readme.readme_present(t)
    assert o.status == "failed" and "symlink" in o.message
    assert "root:" not in json.dumps(o.data) and "root:" not in o.message
    assert t.folder.facts.readme.text == ""


def test_present_huge_readme_is_bounded_and_truncated(tmp_path):
    repo = tmp_path / "repo" / "aws_deploy"
    repo.mkdir(parents=True)
    with open(repo / "README.md", "wb") as fh:
        fh.write(b"Deploy the model with SageMaker and predict.\n" * 1_100_000)    # ~50 MB
    t = make_target(tmp_path, {})
    o = readme.readme_present(t)
    assert o.status == "passed" and "only the first" in o.message
    doc = t.folder.facts.readme
    assert doc.truncated and len(doc.text.encode()) <= README_LIMIT     # bounded by size, never by the clock


def test_present_cp1252_and_crlf_bom(tmp_path):
    text = ("# D\u00e9ploiement\r\n\r\n" + "Le mod\u00e8le est d\u00e9ploy\u00e9 sur SageMaker " * 5 + "\r\n")
    t = make_target(tmp_path, {"aws_deploy/README.md": text.encode("cp1252")})
    o = readme.readme_present(t)
    assert o.status == "passed" and "cp1252" in o.message
    t2 = make_target(tmp_path / "b", {"aws_deploy/README.md": b"\xef\xbb\xbf" + AWS_README.replace("\n", "\r\n").encode()})
    info = t2.folder.facts.readme
    assert "\r" not in info.text and not info.text.startswith("\ufeff")
    assert readme.readme_instructions(t2).status == "passed"


def test_no_folder_fails_with_prerequisite(tmp_path):
    t = make_target(tmp_path, {"notes.txt": "hi"})
    t = Target("stu", None, t.submission, "stu")
    for fn in (readme.readme_present, readme.readme_instructions, readme.readme_cleanup,
               files_verdict.files_referenced):
        o = fn(t)
        assert o.status == "failed" and o.blocked_by == "structure.deploy_folder" and "aws_deploy/" in o.message


# ------------------------------------------------------------------- readme.instructions

def test_instructions_aws_pass_names_what_was_found(tmp_path):
    o = readme.readme_instructions(aws_repo(tmp_path))
    assert o.status == "passed"
    assert "SKLearnModel(...) in aws_deploy/README.md line 14" in o.message
    assert ".deploy(...) in aws_deploy/README.md line 16" in o.message


def test_instructions_upload_only_fails(tmp_path):
    text = "# Deploy\n\nI uploaded the model to S3 and then deployed it in the console, it worked well.\n\n" \
           "```\naws s3 cp model.tar.gz s3://my-bucket/\n```\n"
    o = readme.readme_instructions(aws_repo(tmp_path, text))
    assert o.status == "failed"
    assert "found only: aws s3 cp" in o.message
    assert "endpoint deployment" in o.message and "SKLearnModel(" in o.message


def test_instructions_prose_only_fails(tmp_path):
    text = "# Deploy\n\n" + "I deployed my model to SageMaker using the notebook and it worked. " * 5
    o = readme.readme_instructions(aws_repo(tmp_path, text))
    assert o.status == "failed" and "model.deploy(" in o.message


def test_instructions_boto3_and_cli(tmp_path):
    text = "# Deploy\n\n```\naws sagemaker create-model --model-name m \\\n  --primary-container Image=x\n" \
           "aws sagemaker create-endpoint-config --endpoint-config-name c\n" \
           "aws sagemaker \\\n  create-endpoint --endpoint-name e --endpoint-config-name c\n```\n"
    o = readme.readme_instructions(aws_repo(tmp_path, text))
    assert o.status == "passed" and "aws sagemaker create-endpoint in aws_deploy/README.md line 7" in o.message


def test_instructions_in_a_script_the_readme_names(tmp_path):
    text = "# Deploy\n\nRun `python deploy.py` to upload, deploy and predict. " + "More words here. " * 8
    deploy = "from sagemaker.sklearn import SKLearnModel\np = SKLearnModel(model_data='s3://b/m.tar.gz', " \
             "role='r', entry_point='inference.py').deploy(1, 'ml.t2.medium')\n"
    o = readme.readme_instructions(aws_repo(tmp_path, text, **{"aws_deploy/deploy.py": deploy}))
    assert o.status == "passed" and "aws_deploy/deploy.py line 2" in o.message


def test_instructions_unnamed_notebook_gives_hint(tmp_path):
    text = "# Deploy\n\n" + "I deployed my model to SageMaker and it worked. " * 5
    nb = {"cells": [{"cell_type": "code", "source": ["predictor = model.deploy(1, 'ml.t2.medium')\n"]}],
          "nbformat": 4}
    o = readme.readme_instructions(aws_repo(tmp_path, text, **{"aws_deploy/work.ipynb": json.dumps(nb)}))
    assert o.status == "failed" and "aws_deploy/work.ipynb cell 1" in o.message and "name that file" in o.message


def test_instructions_gcp_legacy_and_vertex(tmp_path):
    legacy = """\
    # GCP
    ```
    gsutil cp model.joblib gs://my-bucket/model/
    gcloud ai-platform models create mymodel --region=us-central1
    gcloud ai-platform versions create v1 --model=mymodel --runtime-version=2.11 \\
        --framework=scikit-learn --python-version=3.7 --origin=gs://my-bucket/model/
    gcloud ai-platform predict --model=mymodel --version=v1 --json-instances=input.json
    ```
    """
    t = make_target(tmp_path / "a", {"gcp_deploy/README.md": legacy, "gcp_deploy/input.json": "{}"}, "gcp")
    o = readme.readme_instructions(t)
    assert o.status == "passed" and "gcloud ai-platform versions create in gcp_deploy/README.md line 5" in o.message
    vertex = """\
    # Vertex
    ```
    gcloud storage cp model.joblib gs://b/model/
    gcloud ai models upload --region=us-central1 --display-name=m \\
      --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest --artifact-uri=gs://b/model/
    gcloud ai endpoints create --region=us-central1 --display-name=e
    gcloud beta ai endpoints deploy-model 123 --region=us-central1 --model=456 --display-name=d
    ```
    """
    t = make_target(tmp_path / "b", {"gcp_deploy/README.md": vertex}, "gcp")
    assert readme.readme_instructions(t).status == "passed"
    upload_only = "# GCP\n\n```\ngsutil cp model.joblib gs://b/model/\n```\n"
    o = readme.readme_instructions(make_target(tmp_path / "c", {"gcp_deploy/README.md": upload_only}, "gcp"))
    assert o.status == "failed" and "gcloud ai models upload" in o.message and "deploy-model" in o.message


def test_instructions_without_readme_is_prerequisite_failure(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/inference.py": INFERENCE})
    o = readme.readme_instructions(t)
    assert o.status == "failed" and o.blocked_by == "readme.present" and "add aws_deploy/README.md" in o.message


# ------------------------------------------------------------------------ readme.cleanup

def test_cleanup_sdk_passes(tmp_path):
    o = readme.readme_cleanup(aws_repo(tmp_path))
    assert o.status == "passed" and "delete_endpoint" in o.message and "delete_model" in o.message


def test_cleanup_vague_prose_fails(tmp_path):
    text = AWS_README.split("## Clean up")[0] + "## Clean up\n\nAfterwards I deleted everything.\n"
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed"
    assert "`predictor.delete_endpoint()` (deletes the endpoint and its config)" in o.message
    assert "`predictor.delete_model()`" in o.message


def test_cleanup_missing_model_names_it(tmp_path):
    text = AWS_README.replace("predictor.delete_model()\n", "")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed" and "predictor.delete_model()" in o.message
    assert "delete_endpoint()` (deletes" not in o.message


def test_cleanup_boto3_needs_endpoint_config(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\n```python\nsm.delete_endpoint(EndpointName='e')\nsm.delete_model(ModelName='m')\n```\n")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed" and "delete_endpoint_config" in o.message
    text2 = text.replace("sm.delete_model", "sm.delete_endpoint_config(EndpointConfigName='c')\nsm.delete_model")
    assert readme.readme_cleanup(aws_repo(tmp_path / "b", text2)).status == "passed"


def test_cleanup_cli(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\n```\naws sagemaker delete-endpoint --endpoint-name e\n"
        "aws sagemaker delete-endpoint-config --endpoint-config-name c\n"
        "aws sagemaker delete-model --model-name m\naws s3 rm s3://b/model.tar.gz\n```\n")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "passed" and "tip" not in o.message


def test_cleanup_console_prose_naming_resources_passes(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\nIn the SageMaker console I deleted the endpoint, the endpoint configuration and the model.\n")
    assert readme.readme_cleanup(aws_repo(tmp_path, text)).status == "passed"


def test_cleanup_gcp_legacy(tmp_path):
    base = "# GCP\n\n```\ngcloud ai-platform versions create v1 --model=m --origin=gs://b/\n```\n"
    t = make_target(tmp_path / "a", {"gcp_deploy/README.md": base + "```\ngcloud ai-platform versions delete v1 --model=m\n"
                              "gcloud ai-platform models delete m\n```\n"}, "gcp")
    assert readme.readme_cleanup(t).status == "passed"
    t = make_target(tmp_path / "b", {"gcp_deploy/README.md": base + "\nThen delete everything.\n"}, "gcp")
    o = readme.readme_cleanup(t)
    assert o.status == "failed" and "gcloud ai-platform versions delete" in o.message \
        and "gcloud ai-platform models delete" in o.message


def test_cleanup_gcp_vertex(tmp_path):
    base = "# Vertex\n\n```\ngcloud ai models upload --region=r --display-name=m --artifact-uri=gs://b/\n" \
           "gcloud ai endpoints deploy-model 1 --model=2 --region=r --display-name=d\n```\n"
    ok = base + "```\ngcloud ai endpoints undeploy-model 1 --deployed-model-id=3 --region=r\n" \
                "gcloud ai endpoints delete 1 --region=r\ngcloud ai models delete 2 --region=r\n```\n"
    assert readme.readme_cleanup(make_target(tmp_path / "a", {"gcp_deploy/README.md": ok}, "gcp")).status == "passed"
    sdk = base + "```python\nendpoint.undeploy_all()\nendpoint.delete()\nmodel.delete()\n```\n"
    assert readme.readme_cleanup(make_target(tmp_path / "b", {"gcp_deploy/README.md": sdk}, "gcp")).status == "passed"
    partial = base + "```\ngcloud ai endpoints delete 1 --region=r\n```\n"
    o = readme.readme_cleanup(make_target(tmp_path / "c", {"gcp_deploy/README.md": partial}, "gcp"))
    assert o.status == "failed" and "gcloud ai models delete" in o.message


# ----------------------------------------------------------------------- files.referenced

def test_files_referenced_pass(tmp_path):
    o = files_verdict.files_referenced(aws_repo(tmp_path))
    assert o.status == "passed" and "inference.py" in o.message and "screenshot.png" in o.message


def test_files_referenced_missing_entry_point(tmp_path):
    t = aws_repo(tmp_path)
    os.remove(tmp_path / "repo" / "aws_deploy" / "inference.py")
    t = make_target(tmp_path, {})
    o = files_verdict.files_referenced(t)
    assert o.status == "failed"
    assert "aws_deploy/README.md line 15 references inference.py but aws_deploy/ has no such file" in o.message
    assert "add it or fix the name" in o.message


def test_files_referenced_case_hint(tmp_path):
    text = AWS_README.replace('entry_point="inference.py"', 'entry_point="Inference.py"')
    o = files_verdict.files_referenced(aws_repo(tmp_path, text))
    assert o.status == "failed" and "did you mean inference.py" in o.message


def test_files_referenced_ignores_urls_placeholders_and_opt_ml(tmp_path):
    text = AWS_README + textwrap.dedent("""
        See [docs](https://docs.aws.amazon.com/x.html), [mail](mailto:a@b.c), [top](#clean-up),
        [data](s3://bucket/model.tar.gz), [gcs](gs://b/m.joblib).

        ```bash
        aws s3 cp <your-model-file> s3://<your-bucket>/
        aws s3 cp $MODEL s3://bucket/
        python /opt/ml/code/inference.py
        ```
        ```python
        joblib.load("/opt/ml/model/model.joblib")
        open("path/to/your/file.csv")
        ```
        """)
    assert files_verdict.files_referenced(aws_repo(tmp_path, text)).status == "passed"


def test_files_referenced_tar_inputs_and_json_instances(tmp_path):
    text = "# GCP\n\n```\ntar -czvf bundle.tar.gz model.joblib preprocess.py\n" \
           "gcloud ai-platform predict --model m --version v1 --json-instances=input.json\n" \
           "gsutil cp model.joblib gs://b/model/\n```\n"
    t = make_target(tmp_path, {"gcp_deploy/README.md": text, "gcp_deploy/model.joblib": b"x"}, "gcp")
    o = files_verdict.files_referenced(t)
    assert o.status == "failed"
    assert "preprocess.py" in o.message and "input.json" in o.message
    assert "model.joblib but" not in o.message


def test_files_referenced_tar_input_packed_in_existing_archive(tmp_path):
    text = "# x\n\n```\ntar -czf model.tar.gz model.joblib\naws s3 cp model.tar.gz s3://b/\n```\n"
    t = make_target(tmp_path, {"aws_deploy/README.md": text, "aws_deploy/model.tar.gz": b"x"})
    assert files_verdict.files_referenced(t).status == "passed"


def test_files_referenced_notebook_and_script(tmp_path):
    nb = {"nbformat": 4, "cells": [
        {"cell_type": "markdown", "source": "see data.csv"},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import joblib\n",
                                         "m = joblib.load('model.joblib')\n"]},
        {"cell_type": "code", "source": ["!gsutil cp model.joblib gs://b/model/\n",
                                         "!gsutil cp request.json gs://b/r/\n"]},
    ]}
    script = "import json\nwith open('input.json') as f:\n    body = json.load(f)\nopen('out.json', 'w').write('x')\n"
    t = make_target(tmp_path, {"gcp_deploy/README.md": "# readme " + "w " * 40, "gcp_deploy/deploy.ipynb": json.dumps(nb),
                        "gcp_deploy/predict.py": script, "gcp_deploy/model.joblib": b"x"}, "gcp")
    o = files_verdict.files_referenced(t)
    assert o.status == "failed"
    assert "gcp_deploy/deploy.ipynb cell 3 line 2 references request.json" in o.message
    assert "gcp_deploy/predict.py line 2 references input.json" in o.message
    assert "out.json" not in o.message


def test_files_referenced_source_dir(tmp_path):
    text = AWS_README.replace('entry_point="inference.py"', 'entry_point="inference.py", source_dir="code"')
    t = aws_repo(tmp_path, text, **{"aws_deploy/code/inference.py": INFERENCE})
    assert files_verdict.files_referenced(t).status == "passed"
    t2 = aws_repo(tmp_path / "b", text)
    o = files_verdict.files_referenced(t2)
    assert o.status == "failed" and "references code" in o.message


def test_files_referenced_symlink_escaping_repo(tmp_path):
    t = aws_repo(tmp_path)
    os.remove(tmp_path / "repo" / "aws_deploy" / "screenshot.png")
    os.symlink("/etc/hostname", tmp_path / "repo" / "aws_deploy" / "screenshot.png")
    t = make_target(tmp_path, {})
    o = files_verdict.files_referenced(t)
    assert o.status == "failed" and "symlink pointing outside the repository" in o.message


def test_files_referenced_relative_to_repo_root(tmp_path):
    """A file at the repo root named as if it were in the folder exists, but not in aws_deploy/:
    the message says where it is (issue 22)."""
    text = AWS_README + "\nData: [train](data/train.csv)\n"
    t = aws_repo(tmp_path, text, **{"data/train.csv": "a,b\n"})
    o = files_verdict.files_referenced(t)
    assert o.status == "passed" and "outside aws_deploy/: data/train.csv" in o.message
    assert "in aws_deploy/: data/train.csv" not in o.message and o.data["outside_folder"] == ["data/train.csv"]


def test_missing_file_inside_the_repo_is_not_called_outside(tmp_path):
    text = AWS_README + "\nData: [train](../data/iris.csv)\n"
    o = files_verdict.files_referenced(aws_repo(tmp_path, text))
    assert o.status == "failed" and "outside the repository" not in o.message
    assert "references ../data/iris.csv but the repository has no data/iris.csv" in o.message
    o = files_verdict.files_referenced(aws_repo(tmp_path / "b", AWS_README + "\n[x](../../../etc/passwd)\n"))
    assert o.status == "failed" and "outside the repository" in o.message


def test_cd_moves_where_later_names_are_looked_for(tmp_path):
    """``cd aws_deploy/model && tar ... model.joblib``: the names are in aws_deploy/model/ (issue 22)."""
    block = "```bash\ncd aws_deploy/model && tar -czf ../model.tar.gz model.joblib\ncd ../..\npython aws_deploy/train.py\n```\n"
    t = aws_repo(tmp_path, AWS_README + block, **{"aws_deploy/model/model.joblib": b"x"})
    o = files_verdict.files_referenced(t)
    assert o.status == "passed", o.message
    block = "```bash\ncd aws_deploy/model\ntar -czf model.tar.gz model.pkl\n```\n"
    o = files_verdict.files_referenced(aws_repo(tmp_path / "b", AWS_README + block))
    assert o.status == "failed" and "aws_deploy/model/model.pkl" in o.message, o.message


def test_python_and_shell_ref_helpers():
    found, outs = refs.python_refs("m = SKLearnModel(entry_point='inf.py', source_dir='src')\n"
                                    "joblib.dump(m, 'model.joblib')\nx = np.load('arr.npy')\n")
    names = {r[0] for r in found}
    assert {"src/inf.py", "src", "arr.npy"} <= names and "model.joblib" in outs
    srefs, souts = refs.shell_refs("$ tar czf model.tar.gz -C build model.joblib && "
                                     "curl -d @payload.json http://x -o out.json\n")
    names = {r[0] for r in srefs}
    assert "build/model.joblib" in names and "payload.json" in names
    assert {"model.tar.gz", "out.json"} <= souts


def test_cleanup_session_delete_endpoint_keeps_the_config(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\n```python\nsess.delete_endpoint(predictor.endpoint_name)\npredictor.delete_model()\n```\n")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed" and "delete_endpoint_config" in o.message
    text = text.replace("sess.delete_endpoint(predictor.endpoint_name)", "predictor.delete_predictor()")
    assert readme.readme_cleanup(aws_repo(tmp_path / "b", text)).status == "passed"


def test_ipython_bang_commands_in_readme(tmp_path):
    text = "# x\n\n```python\n!tar -czvf model.tar.gz model.joblib helper.py\n!aws s3 cp model.tar.gz s3://b/\n```\n"
    o = files_verdict.files_referenced(make_target(tmp_path, {"aws_deploy/README.md": text, "aws_deploy/model.joblib": b"x"}))
    assert o.status == "failed" and "helper.py" in o.message and "model.joblib but" not in o.message


RECREATE = """
## Deploy

```python
import boto3
sm = boto3.client("sagemaker")
try:
    sm.delete_endpoint(EndpointName="iris")
    sm.delete_endpoint_config(EndpointConfigName="iris")
    sm.delete_model(ModelName="iris")
except Exception:
    pass
sm.create_model(ModelName="iris", ExecutionRoleArn=role, PrimaryContainer=container)
sm.create_endpoint_config(EndpointConfigName="iris", ProductionVariants=variants)
sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris")
```
"""


def test_delete_then_recreate_is_not_cleanup(tmp_path):
    text = AWS_README.split("## Clean up")[0] + RECREATE
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed" and "does not say how to delete" in o.message


def test_the_same_deletes_at_the_end_are_cleanup(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\n```python\nsm.delete_endpoint(EndpointName='iris')\n"
        "sm.delete_endpoint_config(EndpointConfigName='iris')\nsm.delete_model(ModelName='iris')\n```\n")
    assert readme.readme_cleanup(aws_repo(tmp_path, text)).status == "passed"


def test_one_more_delete_in_the_recreate_block_changes_nothing(tmp_path):
    """issue 22: a delete followed by a re-create of the same resource is not clean-up, however many
    deletes the block holds (one more used to push the try/except out of a fixed window)."""
    more = RECREATE.replace('    sm.delete_model(ModelName="iris")\n',
                            '    sm.delete_model(ModelName="iris")\n    s3.delete_object(Bucket="b", Key="m.tar.gz")\n'
                            '    print("deleted the old deployment")\n    sm.delete_model(ModelName="iris-old")\n')
    text = AWS_README.split("## Clean up")[0] + more
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "failed" and "does not say how to delete" in o.message


def test_delete_then_recreate_without_try_is_not_cleanup(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Deploy again\n\n```python\npredictor.delete_endpoint()\npredictor.delete_model()\n"
        "predictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n```\n")
    assert readme.readme_cleanup(aws_repo(tmp_path, text)).status == "failed"


def test_recreate_then_a_later_cleanup_block_is_cleanup(tmp_path):
    text = AWS_README.split("## Clean up")[0] + RECREATE + (
        "\n## Clean up\n\n```python\nsm.delete_endpoint(EndpointName='iris')\n"
        "sm.delete_endpoint_config(EndpointConfigName='iris')\nsm.delete_model(ModelName='iris')\n```\n")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "passed", o.message
    assert "line" in o.message


def test_notebook_cells_keep_their_order(tmp_path):
    cells = ["predictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n",
             "predictor.predict([[1, 2]])\n", "predictor.delete_endpoint()\npredictor.delete_model()\n"]

    def nb(srcs):
        return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c} for c in srcs]})
    text = "# AWS\n\nRun [deploy.ipynb](deploy.ipynb): it deploys, predicts and deletes everything.\n"
    o = readme.readme_cleanup(aws_repo(tmp_path / "a", text, **{"aws_deploy/deploy.ipynb": nb(cells)}))
    assert o.status == "passed", o.message
    again = cells + cells[:1]                  # deploys again after deleting: not clean-up
    o = readme.readme_cleanup(aws_repo(tmp_path / "b", text, **{"aws_deploy/deploy.ipynb": nb(again)}))
    assert o.status == "failed", o.message


def test_console_cleanup_in_words_counts(tmp_path):
    text = AWS_README.split("## Clean up")[0] + (
        "## Clean up\n\nIn the SageMaker console: Inference → Endpoints → select iris-endpoint → Actions → Delete.\n"
        "Then Inference → Endpoint configurations → select it → Actions → Delete, and Inference → Models → "
        "select the model → Actions → Delete.\n")
    o = readme.readme_cleanup(aws_repo(tmp_path, text))
    assert o.status == "passed", o.message


def test_gcp_console_cleanup_in_words_counts(tmp_path):
    text = ("# Vertex\n\n```bash\ngcloud ai models upload --region=us-central1 --display-name=m "
            "--container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest --artifact-uri=gs://b/m\n"
            "gcloud ai endpoints deploy-model E --model=M --region=us-central1\n```\n\n## Clean up\n\n"
            "In the Vertex AI console, open Online prediction, select the endpoint, click Undeploy model, then "
            "Delete endpoint. Under Model Registry select the model and click Delete. Finally delete the bucket "
            "in the Cloud Storage browser.\n")
    t = make_target(tmp_path, {"gcp_deploy/README.md": text, "gcp_deploy/model.joblib": b"x"}, platform="gcp")
    o = readme.readme_cleanup(t)
    assert o.status == "passed", o.message


@pytest.mark.parametrize("command,missing", [
    ("uv run python prepare.py", "prepare.py"),
    ("poetry run python tools/package.py", "tools/package.py"),
    ("conda run -n sagemaker python upload.py", "upload.py"),
    ("pipenv run python serve_check.py", "serve_check.py"),
    ("./deploy.sh", "deploy.sh"),
    ("make deploy", "Makefile"),
])
def test_files_run_through_runners_are_referenced(tmp_path, command, missing):
    text = AWS_README + f"\n```bash\n{command}\n```\n"
    o = files_verdict.files_referenced(aws_repo(tmp_path, text))
    assert o.status == "failed" and missing in o.message, o.message


def test_notebook_run_magics_reference_scripts(tmp_path):
    nb = {"nbformat": 4, "cells": [{"cell_type": "code", "source": ["%run prep_data.py\n", "!python pack.py\n"]}]}
    t = aws_repo(tmp_path, AWS_README + "\nRun [deploy.ipynb](deploy.ipynb).\n",
                 **{"aws_deploy/deploy.ipynb": json.dumps(nb), "aws_deploy/pack.py": "x = 1\n"})
    o = files_verdict.files_referenced(t)
    assert o.status == "failed" and "prep_data.py" in o.message and "pack.py" not in o.message.split("but")[0].split("references")[-1]


@pytest.mark.parametrize("name", ["serving_AI.md", "Reedme.md", "docs/README.md"])
def test_a_readme_under_another_name_is_graded_and_renamed(tmp_path, name):
    t = aws_repo(tmp_path, None, **{f"aws_deploy/{name}": AWS_README})
    present = readme.readme_present(t)
    assert present.status == "failed" and f"aws_deploy/{name}" in present.message and "rename it to" in present.message
    assert readme.readme_instructions(t).status == "passed"
    assert readme.readme_cleanup(t).status == "passed"


@pytest.mark.parametrize("steps,service", [
    ("eb init -p python-3.8 iris-api\neb create iris-env\neb deploy", "AWS Elastic Beanstalk"),
    ("ssh -i key.pem ec2-user@ec2-3-1-2-3.compute-1.amazonaws.com\nnohup python app.py &", "AWS EC2"),
    ("gcloud app deploy app.yaml", "Google App Engine"),
    ("git push heroku main", "Heroku"),
])
def test_a_deployment_to_another_service_is_named(tmp_path, steps, service):
    text = f"# Deploy\n\nI served the model with Flask.\n\n```bash\n{steps}\n```\n\nThen I deleted the endpoint.\n"
    o = readme.readme_instructions(aws_repo(tmp_path, text))
    assert o.status == "failed" and f"deploys to {service}" in o.message and "not to SageMaker" in o.message


def _nb(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": {}, "source": src, **({"outputs": [], "execution_count": None}
                                                              if kind == "code" else {})} for kind, src in cells]})


README_NB = _nb(("markdown", "# Deploying my iris model to SageMaker\n\nThis notebook is the README: it trains, "
                             "packages, deploys, predicts and deletes everything afterwards, step by step."),
                ("code", "!tar -czf model.tar.gz model.joblib\n!aws s3 cp model.tar.gz s3://b/model.tar.gz"),
                ("code", "model = SKLearnModel(model_data='s3://b/model.tar.gz', role=role, entry_point='inference.py',\n"
                         "                     framework_version='1.2-1')\n"
                         "predictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')\n"
                         "predictor.predict([[5.1, 3.5, 1.4, 0.2]])"),
                ("markdown", "## Clean up"),
                ("code", "predictor.delete_endpoint()\npredictor.delete_model()"))


def test_a_notebook_readme_is_graded_for_every_readme_check(tmp_path):
    """issue 22: README.ipynb costs readme.present (save it as README.md) but instructions and
    clean-up are graded from its cells, with cell numbers in the messages."""
    t = aws_repo(tmp_path, None, **{"aws_deploy/README.ipynb": README_NB})
    o = readme.readme_present(t)
    assert o.status == "failed" and "README.ipynb" in o.message and "jupyter nbconvert --to markdown README.ipynb" in o.message
    o = readme.readme_instructions(t)
    assert o.status == "passed" and "aws_deploy/README.ipynb cell 3 line 3" in o.message, o.message
    o = readme.readme_cleanup(t)
    assert o.status == "passed" and "README.ipynb cell 5 line 1" in o.message, o.message
    assert files_verdict.files_referenced(t).status == "passed"
    s = t.folder.facts.sample
    assert s.decides and s.source == "aws_deploy/README.ipynb cell 3 line 4"


@pytest.mark.parametrize("name", ["README.ipynb", "Readme_AWS.ipynb", "READ_ME.md", "readme.md.txt"])
def test_near_miss_readme_names(tmp_path, name):
    body = README_NB if name.endswith(".ipynb") else AWS_README
    t = aws_repo(tmp_path, None, **{f"aws_deploy/{name}": body})
    assert t.folder.facts.readme is not None and t.folder.facts.readme_near_miss == name
    assert readme.readme_instructions(t).status == "passed"
