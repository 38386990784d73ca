"""verdicts.entry_point (facts: analysis.entrypoint, handlers, model_fn_paths, imports): static analysis of
the SageMaker entry point (never imported)."""
import json

import pytest

from deploycheck.analysis import imports, model_fn_paths
from deploycheck.discovery import Target
from deploycheck.verdicts.entry_point import entry_point_imports, entry_point_model_fn


def entry_point(folder):
    return folder.facts.entry_point


def loaded_model_files(folder):
    info = folder.facts.entry_point
    return list(model_fn_paths.loaded_model_files(info.tree)) if info is not None and info.tree is not None else []
from tests.helpers import make_target


GOOD = """\
import os
import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type):
    return request_body


def predict_fn(input_data, model, context=None):
    return model.predict(input_data)


def output_fn(prediction, accept):
    return str(prediction)
"""
README = "# Deploy\n\n```python\nm = SKLearnModel(model_data='s3://b/m.tar.gz', role=r,\n" \
         "    entry_point='serve_me.py', framework_version='1.2-1')\n```\n"


# ---------------------------------------------------------------------------- discovery

def test_entry_point_from_readme(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": README, "aws_deploy/serve_me.py": GOOD,
                        "aws_deploy/other.py": "def model_fn(d):\n    return 1\n"})
    info = entry_point(t.folder)
    assert info.rel == "serve_me.py" and info.how == "entry_point= of SKLearnModel in aws_deploy/README.md line 5"
    assert info.tree is not None and info.syntax_error is None


def test_entry_point_with_source_dir(tmp_path):
    readme = README.replace("entry_point='serve_me.py'", "entry_point='serve_me.py', source_dir='code'")
    t = make_target(tmp_path, {"aws_deploy/README.md": readme, "aws_deploy/code/serve_me.py": GOOD})
    info = entry_point(t.folder)
    assert info.rel == "code/serve_me.py" and info.source_dir == "code"


def test_entry_point_only_py_defining_model_fn(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/train.py": "print('train')\n", "aws_deploy/my_handler.py": GOOD})
    info = entry_point(t.folder)
    assert info.rel == "my_handler.py" and info.how == "only .py defining model_fn"


def test_entry_point_conventional_name_without_model_fn(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/inference.py": "import joblib\n"})
    assert entry_point(t.folder).rel == "inference.py"
    o = entry_point_model_fn(t)
    assert o.status == "failed"
    assert "aws_deploy/inference.py has no model_fn(model_dir): the SageMaker scikit-learn container needs it" in o.message


def test_entry_point_none(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# hi"})
    assert entry_point(t.folder) is None
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "add aws_deploy/inference.py" in o.message


def test_declared_entry_point_missing(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": README})
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "serve_me.py" in o.message and "not in aws_deploy/" in o.message
    assert "SKLearnModel" in o.message and "README.md line 5" in o.message


def test_declared_serving_entry_point_missing_fails_even_when_another_file_has_model_fn(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": README, "aws_deploy/inference.py": GOOD})
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "serve_me.py" in o.message
    assert 'aws_deploy/inference.py defines model_fn: pass entry_point="inference.py"' in o.message


TUTORIAL = """# SageMaker
```python
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.model import SKLearnModel
est = SKLearn(entry_point="training.py", role=role, instance_type="ml.m5.large",
              framework_version="1.2-1", hyperparameters={"n": 3})
est.fit({"train": s3_uri})
model = SKLearnModel(model_data=est.model_data, role=role,
                     entry_point="inference.py", framework_version="1.2-1")
predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
```
"""


def test_the_serving_models_entry_point_wins_over_the_training_script(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": TUTORIAL, "aws_deploy/training.py": "import sklearn\n",
                               "aws_deploy/inference.py": GOOD})
    info = entry_point(t.folder)
    assert info.rel == "inference.py" and info.constructor == "SKLearnModel"
    assert entry_point_model_fn(t).status == "passed"


def test_an_estimators_script_serves_when_there_is_no_model(tmp_path):
    readme = 'est = SKLearn(entry_point="train_and_serve.py", framework_version="1.2-1")\npredictor = est.deploy(1, "ml.t2.medium")\n'
    t = make_target(tmp_path, {"aws_deploy/README.md": readme, "aws_deploy/train_and_serve.py": "import joblib\n"})
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "aws_deploy/train_and_serve.py has no model_fn" in o.message


def test_undefined_name_in_model_fn_is_reported(tmp_path):
    body = "import os\n\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
    o = entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": body}))
    assert o.status == "failed"
    assert "`joblib` is used in model_fn (line 5) but never imported" in o.message and "add `import joblib`" in o.message


def test_undefined_name_in_an_unused_helper_is_not_a_failure(tmp_path):
    body = GOOD + "\n\ndef plot_things():\n    plt.show()\n"
    assert entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": body})).status == "passed"


MIXED = GOOD + "\n\ndef transform_fn(model, body, content_type, accept):\n    return body\n"


def test_transform_fn_mixed_with_input_fn_depends_on_the_image(tmp_path):
    old = 'm = SKLearnModel(entry_point="inference.py", framework_version="1.0-1")\n'
    new = 'm = SKLearnModel(entry_point="inference.py", framework_version="1.2-1")\n'
    o_old = entry_point_model_fn(make_target(tmp_path / "a", {"aws_deploy/README.md": old, "aws_deploy/inference.py": MIXED}))
    o_new = entry_point_model_fn(make_target(tmp_path / "b", {"aws_deploy/README.md": new, "aws_deploy/inference.py": MIXED}))
    assert o_old.status == "passed" and "ignores transform_fn" in o_old.message
    assert o_new.status == "failed" and "Cannot use transform_fn" in o_new.message


def test_notebook_only_model_fn(tmp_path):
    nb = {"nbformat": 4, "cells": [{"cell_type": "code", "source": [
        "!pip install sagemaker\n", "%matplotlib inline\n", "def model_fn(model_dir):\n", "    return 1\n"]}]}
    t = make_target(tmp_path, {"aws_deploy/deploy.ipynb": json.dumps(nb)})
    info = entry_point(t.folder)
    assert info.notebook and info.how == "notebook"
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "notebook" in o.message and "inference.py" in o.message


# --------------------------------------------------------------------- entry_point.model_fn

def test_model_fn_passes(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/inference.py": GOOD})
    o = entry_point_model_fn(t)
    assert o.status == "passed" and "aws_deploy/inference.py defines model_fn(model_dir) (line 5)" in o.message


def test_model_fn_with_context_or_default_ok(tmp_path):
    src = "def model_fn(model_dir, context=None):\n    pass\n"
    assert entry_point_model_fn(make_target(tmp_path / "a", {"aws_deploy/inference.py": src})).status == "passed"
    src = "def model_fn(model_dir, file_name=None):\n    pass\n"
    assert entry_point_model_fn(make_target(tmp_path / "b", {"aws_deploy/inference.py": src})).status == "passed"


def test_model_fn_bad_signatures(tmp_path):
    src = "def model_fn():\n    pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "a", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "model_fn (line 1) takes 0 parameters" in o.message
    src = "def model_fn(model_dir):\n    pass\ndef predict_fn(data):\n    pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "b", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "predict_fn (line 3)" in o.message and "predict_fn(input_data, model)" in o.message
    src = "def model_fn(model_dir):\n    pass\ndef input_fn(a, b, c, d):\n    pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "c", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "input_fn (line 3) takes 4 parameters" in o.message


@pytest.mark.parametrize("handler,fix", [
    ("def predict_fn(model, input_data):\n    return model.predict(input_data)\n", "def predict_fn(input_data, model):"),
    ("def input_fn(content_type, request_body):\n    return request_body\n", "def input_fn(request_body, request_content_type):"),
    ("def output_fn(accept, prediction):\n    return str(prediction)\n", "def output_fn(prediction, accept):"),
    ("def transform_fn(model, body, accept, content_type):\n    return body\n", "def transform_fn(model, request_body, content_type, accept):"),
])
def test_handler_parameters_in_the_wrong_order_fail(tmp_path, handler, fix):
    """issue 22: the serving code calls handlers by position; a swapped signature must not pass."""
    src = "import joblib, os\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'm.joblib'))\n\n" + handler
    o = entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "by position" in o.message and fix in o.message, o.message


def test_required_context_fails_but_a_default_passes(tmp_path):
    src = "def model_fn(model_dir):\n    pass\ndef predict_fn(input_data, model, context):\n    pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "a", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "context=None" in o.message
    src = src.replace("context)", "context=None)")
    assert entry_point_model_fn(make_target(tmp_path / "b", {"aws_deploy/inference.py": src})).status == "passed"


def test_ordinary_parameter_names_pass(tmp_path):
    src = ("def model_fn(model_dir):\n    pass\ndef input_fn(body, ctype):\n    pass\n"
           "def predict_fn(X, clf):\n    pass\ndef output_fn(y, accept):\n    pass\n")
    assert entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": src})).status == "passed"


def test_transform_fn_conflict(tmp_path):
    src = GOOD + "\n\ndef transform_fn(model, body, content_type, accept):\n    pass\n"
    o = entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "Cannot use transform_fn implementation" in o.message


def test_model_fn_under_main_guard_or_class(tmp_path):
    src = "import joblib\nif __name__ == '__main__':\n    def model_fn(model_dir):\n        pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "a", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and '__name__ == "__main__"' in o.message and "line 3" in o.message
    src = "class Handler:\n    def model_fn(self, model_dir):\n        pass\n"
    o = entry_point_model_fn(make_target(tmp_path / "b", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "inside class Handler" in o.message


def test_model_fn_in_try_block_counts(tmp_path):
    src = "try:\n    import joblib\n    def model_fn(model_dir):\n        pass\nexcept ImportError:\n    pass\n"
    assert entry_point_model_fn(make_target(tmp_path, {"aws_deploy/inference.py": src})).status == "passed"


def test_syntax_error(tmp_path):
    src = "import os\n\ndef model_fn(model_dir)\n    return 1\n"
    t = make_target(tmp_path, {"aws_deploy/inference.py": src})
    info = entry_point(t.folder)
    assert info.rel == "inference.py" and info.syntax_error[1] == 3
    o = entry_point_model_fn(t)
    assert o.status == "failed" and "aws_deploy/inference.py line 3" in o.message and "SyntaxError" in o.message


def test_gcp_is_skipped(tmp_path):
    t = make_target(tmp_path, {"gcp_deploy/README.md": "# x"}, "gcp")
    for fn in (entry_point_model_fn, entry_point_imports):
        o = fn(t)
        assert o.status == "skipped" and o.message.startswith("does not apply to GCP")


def test_no_folder(tmp_path):
    t = make_target(tmp_path, {"notes.md": "x"})
    t = Target("stu", None, t.submission, "stu")
    assert entry_point_model_fn(t).status == "failed"


def test_student_code_is_never_executed(tmp_path):
    sentinel = tmp_path / "pwned"
    src = f"open({str(sentinel)!r}, 'w').write('x')\nraise SystemExit(3)\ndef model_fn(model_dir):\n    pass\n"
    t = make_target(tmp_path, {"aws_deploy/inference.py": src})
    assert entry_point_model_fn(t).status == "passed"
    assert entry_point_imports(t).status == "passed"
    assert not sentinel.exists()


# --------------------------------------------------------------------- entry_point.imports

def test_imports_pass(tmp_path):
    src = "import os, json\nimport numpy as np\nimport pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n" \
          "import boto3\nimport helpers\n" + GOOD
    t = make_target(tmp_path, {"aws_deploy/inference.py": src, "aws_deploy/helpers.py": "X = 1\n"})
    o = entry_point_imports(t)
    assert o.status == "passed" and "numpy" in o.message


def test_imports_sklearn_externals_joblib(tmp_path):
    src = "import os\nfrom sklearn.externals import joblib\n" + GOOD.replace("import joblib\n", "")
    o = entry_point_imports(make_target(tmp_path / "a", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "line 2" in o.message and "`import joblib`" in o.message and "0.23" in o.message
    src = "import sklearn.externals.joblib as joblib\n" + GOOD
    o = entry_point_imports(make_target(tmp_path / "b", {"aws_deploy/inference.py": src}))
    assert o.status == "failed" and "sklearn.externals" in o.message


def test_imports_missing_third_party(tmp_path):
    src = "import xgboost\nimport cv2\n" + GOOD
    o = entry_point_imports(make_target(tmp_path, {"aws_deploy/inference.py": src}))
    assert o.status == "failed"
    assert "xgboost (line 1)" in o.message and "cv2 (line 2)" in o.message
    assert "opencv-python" in o.message and "aws_deploy/requirements.txt" in o.message


def test_imports_requirements_satisfy(tmp_path):
    src = "import xgboost\nimport cv2\nfrom PIL import Image\nimport yaml\n" + GOOD
    req = "# deps\nXGBoost==1.7.6\nopencv_python_headless>=4\nPillow ; python_version > '3'\npyyaml\n"
    o = entry_point_imports(make_target(tmp_path, {"aws_deploy/inference.py": src, "aws_deploy/requirements.txt": req}))
    assert o.status == "passed" and "source_dir" in o.message


def test_imports_requirements_in_source_dir(tmp_path):
    readme = README.replace("entry_point='serve_me.py'", "entry_point='serve_me.py', source_dir='src'")
    t = make_target(tmp_path, {"aws_deploy/README.md": readme, "aws_deploy/src/serve_me.py": "import lightgbm\n" + GOOD,
                        "aws_deploy/src/requirements.txt": "lightgbm\n"})
    assert entry_point_imports(t).status == "passed"


def test_requirement_names():
    names = imports.requirement_names("-r base.txt\nscikit_learn==1.2.1\nnumpy  # pinned\n"
                                      "git+https://github.com/x/y.git#egg=My.Pkg\n--index-url x\n")
    assert names == {"scikit-learn", "numpy", "my-pkg"}


# ----------------------------------------------------------------------- loaded_model_files

@pytest.mark.parametrize("body, expected", [
    ('return joblib.load(os.path.join(model_dir, "model.joblib"))', ["model.joblib"]),
    ('return joblib.load(f"{model_dir}/model.pkl")', ["model.pkl"]),
    ('return pickle.load(open(model_dir + "/model.pkl", "rb"))', ["model.pkl"]),
    ('return joblib.load(model_dir + os.sep + "m.joblib")', ["m.joblib"]),
    ('return joblib.load(Path(model_dir) / "model.joblib")', ["model.joblib"]),
    ('return joblib.load(os.path.join(model_dir, "sub", "m.pkl"))', ["sub/m.pkl"]),
    ('p = os.path.join(model_dir, "sub")\n    return joblib.load(os.path.join(p, "m.pkl"))', ["sub/m.pkl"]),
    ('return joblib.load(os.path.join(model_dir, MODEL_NAME))', ["const.joblib"]),
    ('return joblib.load("{}/fmt.pkl".format(model_dir))', ["fmt.pkl"]),
    ('return _load(model_dir)', ["helper.joblib"]),
    ('return joblib.load(os.path.join(model_dir, name))', []),
])
def test_loaded_model_files(tmp_path, body, expected):
    src = ("import os, joblib, pickle\nfrom pathlib import Path\nMODEL_NAME = 'const.joblib'\n\n"
           "def _load(d):\n    return joblib.load(os.path.join(d, 'helper.joblib'))\n\n"
           f"def model_fn(model_dir):\n    {body}\n")
    t = make_target(tmp_path, {"aws_deploy/inference.py": src})
    assert loaded_model_files(t.folder) == expected


def test_removed_pandas_api_is_noted(tmp_path):
    src = GOOD.replace("return model.predict(input_data)", "return model.predict(input_data.as_matrix())")
    o = entry_point_imports(make_target(tmp_path, {"aws_deploy/inference.py": src}))
    assert o.status == "passed" and "as_matrix" in o.message and ".to_numpy()" in o.message


def test_own_module_elsewhere_in_the_repo_is_never_a_package_to_install(tmp_path):
    body = GOOD.replace("import joblib", "import joblib\nfrom features import clean")
    t = make_target(tmp_path, {"aws_deploy/inference.py": body, "src/features.py": "def clean(x):\n    return x\n"})
    o = entry_point_imports(t)
    assert o.status == "failed" and "your own module src/features.py" in o.message
    assert "copy src/features.py into aws_deploy/" in o.message and "requirements.txt" not in o.message


def test_own_module_next_to_the_entry_point_is_fine(tmp_path):
    body = GOOD.replace("import joblib", "import joblib\nfrom features import clean")
    t = make_target(tmp_path, {"aws_deploy/inference.py": body, "aws_deploy/features.py": "def clean(x):\n    return x\n"})
    o = entry_point_imports(t)
    assert o.status == "passed" and "source_dir=" in o.message


def test_imports_are_judged_against_the_image_the_folder_deploys_with(tmp_path):
    readme = 'm = PyTorchModel(entry_point="inference.py", framework_version="2.1", py_version="py310")\n'
    body = "import torch\n\n\ndef model_fn(model_dir):\n    return torch.load(model_dir + '/m.pt')\n"
    t = make_target(tmp_path, {"aws_deploy/README.md": readme, "aws_deploy/inference.py": body})
    o = entry_point_imports(t)
    assert o.status == "passed" and "SageMaker PyTorch image" in o.message
    sk = make_target(tmp_path / "b", {"aws_deploy/README.md": readme.replace("PyTorchModel", "SKLearnModel"),
                                      "aws_deploy/inference.py": body})
    o = entry_point_imports(sk)
    assert o.status == "failed" and "scikit-learn image does not have" in o.message and "torch" in o.message


def test_own_module_the_students_script_copies_in_is_not_missing(tmp_path):
    body = GOOD.replace("import joblib", "import joblib\nfrom features import clean")
    t = make_target(tmp_path, {"aws_deploy/inference.py": body, "src/features.py": "def clean(x):\n    return x\n",
                               "aws_deploy/package.sh": "cp ../src/features.py .\ntar -czf model.tar.gz model.joblib\n"})
    o = entry_point_imports(t)
    assert o.status == "passed", o.message


# --------------------------------------------------- issue 22: the requirements.txt the SDK ships counts

def _tar(members: dict[str, bytes]) -> bytes:
    from deploycheck.analysis.artifact import make_tar_gz
    return make_tar_gz(members)


DECLARED = "```python\nm = SKLearnModel(model_data='s3://b/model.tar.gz', role=r, entry_point='inference.py',{}\n" \
           "                 framework_version='1.2-1')\n```\n"


def test_requirements_in_the_archives_code_folder_count(tmp_path):
    src = "import lightgbm\n" + GOOD
    t = make_target(tmp_path, {"aws_deploy/README.md": DECLARED.format(""), "aws_deploy/inference.py": src,
                               "aws_deploy/model.tar.gz": _tar({"model.joblib": b"x", "code/inference.py": src.encode(),
                                                                "code/requirements.txt": b"lightgbm==4.1\n"})})
    o = entry_point_imports(t)
    assert o.status == "passed" and "aws_deploy/model.tar.gz: code/requirements.txt" in o.message, o.message


def test_requirements_beside_a_declared_entry_point_without_source_dir_never_ship(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": DECLARED.format(""), "aws_deploy/inference.py": "import lightgbm\n" + GOOD,
                               "aws_deploy/requirements.txt": "lightgbm\n"})
    o = entry_point_imports(t)
    assert o.status == "failed" and "never reaches the endpoint" in o.message and 'source_dir="."' in o.message
    t = make_target(tmp_path / "b", {"aws_deploy/README.md": DECLARED.format(" source_dir='.',"),
                                     "aws_deploy/inference.py": "import lightgbm\n" + GOOD,
                                     "aws_deploy/requirements.txt": "lightgbm\n"})
    assert entry_point_imports(t).status == "passed"


def test_requirements_given_as_a_dependency_count(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": DECLARED.format(" dependencies=['deps/requirements.txt'],"),
                               "aws_deploy/inference.py": "import lightgbm\n" + GOOD,
                               "aws_deploy/deps/requirements.txt": "lightgbm\n"})
    o = entry_point_imports(t)
    assert o.status == "passed" and "aws_deploy/deps/requirements.txt" in o.message, o.message


def test_requirements_at_the_root_of_source_dir_count_for_a_nested_entry_point(tmp_path):
    readme = DECLARED.format("").replace("entry_point='inference.py'", "entry_point='app/inference.py', source_dir='code'")
    t = make_target(tmp_path, {"aws_deploy/README.md": readme, "aws_deploy/code/app/inference.py": "import lightgbm\n" + GOOD,
                               "aws_deploy/code/requirements.txt": "lightgbm\n"})
    o = entry_point_imports(t)
    assert o.status == "passed" and "aws_deploy/code/requirements.txt" in o.message, o.message


def test_the_sdk_upload_is_one_fact_for_the_own_modules_and_the_code_directory(tmp_path):
    """folder.facts.shipped_code (what SKLearnModel uploads as /opt/ml/code) is what the own-module facts
    read: without source_dir only the entry-point file and each dependencies=[...] path (at the top of
    the code directory, a folder with its modules) are the student's shipped modules."""
    files = {"aws_deploy/inference.py": GOOD, "aws_deploy/features.py": "class Cleaner:\n    pass\n",
             "aws_deploy/lib/tools/__init__.py": "def helper():\n    pass\n", "aws_deploy/other.py": "def x():\n    pass\n"}
    t = make_target(tmp_path / "a", {**files, "aws_deploy/README.md": DECLARED.format(
        " dependencies=['features.py', 'lib/tools'],")})
    folder = t.folder
    assert folder.facts.shipped_code.files == (("inference.py", "inference.py"), ("features.py", "features.py"),
                                               ("lib/tools", "tools"))
    own = imports.shipped_modules(folder, folder.facts.entry_point)
    assert own["features"] == ("aws_deploy/features.py", frozenset({"Cleaner"}))
    assert own["tools"][1] == frozenset({"helper"}) and "other" not in own and "lib.tools" not in own
    t = make_target(tmp_path / "b", {**files, "aws_deploy/README.md": DECLARED.format("")})
    assert set(imports.shipped_modules(t.folder, t.folder.facts.entry_point)) == {"inference"}
    t = make_target(tmp_path / "c", {**files, "aws_deploy/README.md": DECLARED.format(" source_dir='.',")})
    assert t.folder.facts.shipped_code.files is None
    assert {"features", "other", "lib.tools", "inference"} <= set(imports.shipped_modules(t.folder, t.folder.facts.entry_point))


def test_an_own_module_the_sdk_does_not_upload_fails_imports_as_it_fails_predict_local(tmp_path):
    """entry_point= without source_dir: the SDK uploads the entry-point file alone, so the student's
    features.py beside it never reaches the endpoint (predict.local fails it the same way, through the
    same fact, analysis.imports.left_behind); dependencies=[...] or source_dir= ships it; with no
    entry_point= found the upload is unknown: a note, never a failure."""
    body = GOOD.replace("import joblib", "import joblib\nfrom features import clean")
    files = {"aws_deploy/inference.py": body, "aws_deploy/features.py": "def clean(x):\n    return x\n"}
    t = make_target(tmp_path / "a", {**files, "aws_deploy/README.md": DECLARED.format("")})
    o = entry_point_imports(t)
    assert o.status == "failed", o.message
    assert "your own module aws_deploy/features.py" in o.message and "uploads only inference.py" in o.message
    assert 'source_dir="."' in o.message and 'dependencies=["features.py"]' in o.message
    lb = imports.left_behind(t.folder, "features")
    assert lb is not None and lb.rel == "features.py"
    for extra in (" dependencies=['features.py'],", " source_dir='.',"):
        t = make_target(tmp_path / extra.strip()[:6], {**files, "aws_deploy/README.md": DECLARED.format(extra)})
        o = entry_point_imports(t)
        assert o.status == "passed" and "only reach the endpoint" not in o.message, (extra, o.message)
        assert imports.left_behind(t.folder, "features") is None
    t = make_target(tmp_path / "b", files)
    o = entry_point_imports(t)
    assert o.status == "passed" and "your module features only reach" in o.message
    assert "features" in imports.shipped_modules(t.folder, t.folder.facts.entry_point)
