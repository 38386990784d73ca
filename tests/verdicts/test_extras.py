"""deploycheck.extras: extras.custom_image (off by default in the rubric)."""

from deploycheck.verdicts.extras import custom_image
from tests.helpers import make_target


FULL = """\
# My project

```
docker build -t model-server .
docker tag model-server gcr.io/my-project/model-server:v1
docker push gcr.io/my-project/model-server:v1
gcloud compute instances create-with-container model-vm --zone=us-central1-a \\
    --container-image=gcr.io/my-project/model-server:v1
```
"""


def test_custom_image_passes_with_dockerfile(tmp_path):
    t = make_target(tmp_path, {"README.md": FULL, "docker/Dockerfile": "FROM python:3.11\n", "gcp_deploy/README.md": "x"}, "gcp")
    o = custom_image(t)
    assert o.status == "passed" and "docker/Dockerfile" in o.message and "create-with-container" in o.message


def test_custom_image_passes_with_image_name_only(tmp_path):
    assert custom_image(make_target(tmp_path, {"README.md": FULL}, "gcp")).status == "passed"


def test_custom_image_missing_steps(tmp_path):
    text = "# x\n\n```\ndocker build -t m .\ndocker push m\n```\n"
    o = custom_image(make_target(tmp_path, {"README.md": text}, "gcp"))
    assert o.status == "failed"
    assert "docker tag" in o.message and "create-with-container" in o.message and "Dockerfile" in o.message
    assert "`docker push" not in o.message


def test_custom_image_needs_container_image_flag(tmp_path):
    text = FULL.replace("--container-image=gcr.io/my-project/model-server:v1", "--zone=x")
    o = custom_image(make_target(tmp_path, {"README.md": text}, "gcp"))
    assert o.status == "failed" and "--container-image" in o.message


def test_custom_image_no_root_readme(tmp_path):
    o = custom_image(make_target(tmp_path, {"gcp_deploy/README.md": FULL}, "gcp"))
    assert o.status == "failed" and "no README at the top of the repo" in o.message
