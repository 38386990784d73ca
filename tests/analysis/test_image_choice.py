"""THE image a deploy folder runs on (``folder.facts.image``, deploycheck.analysis.runtimes): the
declaration the deploy call uses, else the last one; every consumer (artifact.version, the serving
plan / predict.local, the proof card, the cloud bundle) uses that one answer."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploycheck.analysis.runtimes import choose_declaration
from deploycheck.cloud.bundle import bundle_for
from deploycheck.verdicts import artifact, predict
from tests.helpers import make_target

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
import build as fixtures_build  # noqa: E402


def image_of(tmp_path, files, platform="aws"):
    t = make_target(tmp_path, files, platform)
    return t, t.folder.facts.image


TRIED_THEN_SETTLED = '''# Deploy
First I tried the tutorial's image:

```python
model = SKLearnModel(model_data=uri, role=role, entry_point="inference.py", framework_version="0.23-1")
```

It failed, so:

```python
model = SKLearnModel(model_data=uri, role=role, entry_point="inference.py",
                     framework_version="1.2-1")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
```
'''

DEPLOYED_THEN_MENTIONED = '''# Deploy
```python
model = SKLearnModel(model_data=uri, role=role, entry_point="inference.py", framework_version="1.2-1")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
```

## Troubleshooting
If the endpoint fails to start, older models need `framework_version="1.0-1"`.
'''


def test_a_readme_that_tries_one_image_and_deploys_another_runs_on_the_deployed_one(tmp_path):
    _t, c = image_of(tmp_path, {"aws_deploy/README.md": TRIED_THEN_SETTLED})
    assert c.image.key == "sagemaker:1.2-1" and c.declaration.line == 12
    assert c.declaration.used_by.startswith("model.deploy() (line 13)")
    assert [d.value for d in c.ignored] == ["0.23-1"] and not c.ignored[0].used_by
    assert c.note == ("used aws_deploy/README.md:12 (1.2-1), the one model.deploy() (line 13) uses; "
                      "ignored aws_deploy/README.md:5 (0.23-1)")


def test_the_declaration_the_deploy_call_uses_wins_over_a_later_mention(tmp_path):
    _t, c = image_of(tmp_path, {"aws_deploy/README.md": DEPLOYED_THEN_MENTIONED})
    assert c.image.key == "sagemaker:1.2-1" and [d.value for d in c.ignored] == ["1.0-1"]


def test_without_a_deploy_call_the_last_declaration_wins(tmp_path):
    readme = ('I first had `framework_version="0.23-1"`; the console deploy used this model:\n\n'
              '```python\nSKLearnModel(model_data=uri, role=role, framework_version="1.2-1")\n```\n')
    _t, c = image_of(tmp_path, {"aws_deploy/README.md": readme})
    assert c.image.key == "sagemaker:1.2-1" and not c.declaration.used_by
    assert "the last one; ignored aws_deploy/README.md:1 (0.23-1)" in c.note



def test_a_notebook_readme_is_cited_by_cell_and_line(tmp_path):
    """README.ipynb: declarations are cited as every README check cites them (cell N line M), not by
    a line of the notebook's JSON or of its text read as one document."""
    import json
    cells = [("markdown", "# Deploy\nFirst I tried `framework_version=\"0.23-1\"`; it failed."),
             ("code", "import sagemaker\nfrom sagemaker.sklearn import SKLearnModel"),
             ("code", "model = SKLearnModel(model_data=uri, role=role, entry_point='inference.py',\n"
                      "                     framework_version='1.2-1')\n"
                      "predictor = model.deploy(initial_instance_count=1, instance_type='ml.t2.medium')")]
    nb = {"cells": [{"cell_type": k, "metadata": {}, "source": src.splitlines(True),
                     **({"outputs": [], "execution_count": None} if k == "code" else {})} for k, src in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    _t, c = image_of(tmp_path, {"aws_deploy/README.ipynb": json.dumps(nb, indent=1)})
    assert c.image.key == "sagemaker:1.2-1"
    assert c.declaration.where == "aws_deploy/README.ipynb cell 3 line 2", c.declaration
    assert c.declaration.used_by == "model.deploy() (cell 3 line 3)", c.declaration.used_by
    assert c.note.endswith("ignored aws_deploy/README.ipynb cell 1 line 2 (0.23-1)"), c.note

@pytest.mark.parametrize("files,platform,key", [
    # a variable assigned the value and passed to the deployed model
    ({"aws_deploy/deploy.py": 'FRAMEWORK_VERSION = "1.2-1"\nOLD = dict(framework_version="1.0-1")\n'
                              'm = SKLearnModel(model_data=u, framework_version=FRAMEWORK_VERSION)\n'
                              'p = m.deploy(initial_instance_count=1)\n'}, "aws", "sagemaker:1.2-1"),
    # a chained Model(...).deploy()
    ({"aws_deploy/README.md": 'SKLearnModel(model_data=u, framework_version="1.0-1").deploy(instance_type="x")\n\n'
                              'Next time: `framework_version="1.2-1"`\n'}, "aws", "sagemaker:1.0-1"),
    # an estimator trained and deployed
    ({"aws_deploy/train.ipynb": '{"cells": [{"cell_type": "code", "source": ["est = SKLearn(entry_point=\\"t.py\\", '
                                'framework_version=\\"1.0-1\\")\\n"]}, {"cell_type": "code", "source": ['
                                '"est.fit(data)\\n", "p = est.deploy(1, \\"ml.m5.large\\")\\n"]}, {"cell_type": '
                                '"code", "source": ["# later: framework_version=\\"1.2-1\\"\\n"]}], "nbformat": 4}'},
     "aws", "sagemaker:1.0-1"),
    # gcloud: the runtime version of the versions create that runs, through a shell variable
    ({"gcp_deploy/README.md": "RUNTIME_VERSION=2.11\ngcloud ai-platform versions create v1 --model m \\\n"
                             "  --runtime-version=$RUNTIME_VERSION --framework scikit-learn\n\n"
                             "config.yaml used to say runtimeVersion: 1.15\n"}, "gcp", "ai-platform:2.11"),
    # two deployments: the last one that deploys
    ({"gcp_deploy/README.md": "gcloud ai-platform versions create v1 --model m --runtime-version 1.15\n"
                             "gcloud ai-platform versions create v2 --model m --runtime-version 2.11\n"
                             "(the notebook had runtimeVersion: '1.15')\n"}, "gcp", "ai-platform:2.11"),
    # Vertex: the container of the upload, not the one named in prose afterwards
    ({"gcp_deploy/deploy.py": 'm = aiplatform.Model.upload(display_name="w", artifact_uri=a,\n'
                              '    serving_container_image_uri="us-docker.pkg.dev/vertex-ai/prediction/'
                              'sklearn-cpu.1-2:latest")\n# sklearn-cpu.1-0 did not work\n'}, "gcp", "vertex:sklearn-cpu.1-2"),
])
def test_deploy_calls_in_every_form(tmp_path, files, platform, key):
    _t, c = image_of(tmp_path, files, platform)
    assert c.image is not None and c.image.key == key, (c.declaration, c.ignored)
    assert c.declaration.used_by, c.declaration


def test_a_graviton_instance_type_deploys_the_arm64_variant(tmp_path):
    readme = ('```python\nmodel = SKLearnModel(model_data=u, role=r, entry_point="inference.py", framework_version="1.0-1")\n'
              'predictor = model.deploy(initial_instance_count=1, instance_type="ml.c6g.large")\n```\n')
    _t, c = image_of(tmp_path, {"aws_deploy/README.md": readme})
    assert c.image.key == "sagemaker:1.0-1-arm64" and "on Graviton (ml.c6g.large)" in c.declaration.used_by
    assert c.build.key == "sagemaker:1.0-1"              # the same pins: runs in the 1.0-1 environment
    _t, c = image_of(tmp_path / "x86", {"aws_deploy/README.md": readme.replace("ml.c6g.large", "ml.m5.large")})
    assert c.image.key == "sagemaker:1.0-1"


def test_the_rule_itself():
    from deploycheck.analysis.runtimes import DeclaredRuntime as D
    a, b, c = D("sagemaker", "1.0-1", "1.0.2", "f", 1), D("sagemaker", "1.2-1", "1.2.1", "f", 5, used_by="m.deploy()"), \
        D("sagemaker", "0.23-1", "0.23.2", "f", 9)
    assert choose_declaration([a, b, c]) is b
    assert choose_declaration([a, c]) is c
    b2 = D("sagemaker", "1.4-2", "1.4.2", "g", 2, used_by="m.deploy()")
    assert choose_declaration([a, b, c, b2]) is b2
    assert choose_declaration([]) is None


def test_unknown_declared_value_is_the_choice_and_a_local_run_approximates(tmp_path):
    _t, c = image_of(tmp_path, {"aws_deploy/README.md": 'First: SKLearnModel(framework_version="1.2-1")\n'
                                                        'Then: SKLearnModel(framework_version="1.3-1")\n'})
    assert c.image is None and c.unknown and c.declaration.value == "1.3-1"
    assert c.runs_on is not None and "which is not a known serving image" in c.assumed
    assert "ignored aws_deploy/README.md:1 (1.2-1)" in c.note


# ------------------------------------------------------------------ the example: one image everywhere

@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """fixtures/build.py's settled_on_newer_image: a model pickled by scikit-learn 1.2.1 in the 1.2-1
    runtime environment; the README tries 0.23-1, then deploys with 1.2-1."""
    ex = next(e for e in fixtures_build.EXAMPLES if e.name == "settled_on_newer_image")
    root = tmp_path_factory.mktemp("settled") / "repo"
    fixtures_build.write(root, ex.build())
    from deploycheck.discovery import Target, load_submission
    sub = load_submission.__wrapped__("settled", str(root))
    return Target("settled", "aws", sub, "settled")


def test_settled_image_is_the_same_in_every_consumer(settled):
    f = settled.folder
    assert f.facts.artifact.sklearn_version == "1.2.1"
    assert f.facts.image.image.key == "sagemaker:1.2-1"
    v = artifact.artifact_version(settled)
    assert v.status == "passed", v.message
    assert 'declares framework_version="1.2-1"' in v.message
    assert "the one model.deploy()" in v.message and "ignored aws_deploy/README.md:" in v.message and "(0.23-1)" in v.message
    dc = SimpleNamespace(sandbox_timeout=20, sandbox_memory_mb=1024)
    p = predict.predict_local(settled, dc)
    assert p.status == "passed", p.message
    assert "sagemaker-scikit-learn 1.2-1" in p.data["runtime"] and "0.23-1" in p.message
    card = predict.local_prediction(settled, dc)          # what the proof card shows
    assert card is not None and "sagemaker-scikit-learn 1.2-1" in card.runtime
    b = bundle_for(f, "settled", "us-east-1")
    assert b.image.version == "1.2-1" and b.image.uri.endswith("sagemaker-scikit-learn:1.2-1-cpu-py3")
