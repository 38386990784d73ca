"""deploycheck.cloud.bundle: what is deployed, and the serving image from the one catalog."""
from dataclasses import replace
from pathlib import Path

import pytest

from deploycheck.cloud.base import CloudError, StudentError
from deploycheck.cloud.bundle import FolderFacts, build, bundle_for, catalog, choose_image, folder_facts
from deploycheck.discovery import targets_for


def facts(platform, sklearn, image=None, **kw):
    return FolderFacts(platform=platform, path=Path("/nowhere"), rel=f"{platform}_deploy",
                       artifact="model.joblib", sklearn_version=sklearn, image=image, **kw)


def folder(ref, platform):
    (t,) = targets_for("ref", str(ref), platform)
    return t.folder


def test_reference_folders_bundle_with_their_declared_images(reference):
    aws = bundle_for(folder(reference, "aws"), "alice", "us-east-1")
    assert aws.image.version == "1.2-1" and aws.image.sklearn == "1.2.1"
    assert aws.image.uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert aws.model_archive == "model.tar.gz" and aws.entry_point == "inference.py" and aws.sklearn_version == "1.2.1"
    gcp = bundle_for(folder(reference, "gcp"), "alice", "europe-west4")
    assert gcp.image.uri == "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest"
    assert gcp.model_files == ("model.joblib",) and gcp.model_archive is None


def test_a_model_no_vertex_container_serves_is_refused_naming_the_containers_that_exist():
    """Issue 8: a model pickled with scikit-learn 1.1 once went silently onto the 1.2 container."""
    unfit = "the model was pickled with scikit-learn 1.1.3 and the image has scikit-learn 1.2.2"
    with pytest.raises(StudentError) as ei:
        choose_image(facts("gcp", "1.1.3", "vertex:sklearn-cpu.1-2", unfit=unfit), catalog("gcp", "us-central1"))
    msg = str(ei.value)
    assert "gcp_deploy/model.joblib was pickled with scikit-learn 1.1.3" in msg and "serves scikit-learn 1.1" in msg
    assert "sklearn-cpu.1-0 (scikit-learn 1.0)" in msg and "sklearn-cpu.1-2 (scikit-learn 1.2)" in msg
    assert "never deploys a model onto another version's image" in msg
    with pytest.raises(StudentError, match="no SageMaker scikit-learn image serves scikit-learn 1.1.*1.2-1"):
        choose_image(facts("aws", "1.1.3", "sagemaker:1.2-1", unfit=unfit), catalog("aws", "us-east-1"))


def test_the_image_deployed_is_the_folders_one_image_and_only_when_the_model_fits_it():
    imgs = catalog("aws", "us-east-1")
    assert choose_image(facts("aws", "1.2.1", "sagemaker:1.2-1", declared=True), imgs).version == "1.2-1"
    with pytest.raises(StudentError) as ei:
        choose_image(facts("aws", "1.2.1", "sagemaker:1.0-1", declared=True,
                           image_from='a/README.md:3 declares framework_version="1.0-1"',
                           unfit="the model was pickled with scikit-learn 1.2.1 and the image has 1.0.2"), imgs)
    assert 'a/README.md:3 declares framework_version="1.0-1", but aws_deploy/model.joblib does not load' in str(ei.value)
    assert "see artifact.version" in str(ei.value)
    with pytest.raises(StudentError, match="declares '9.9-9', which is not a known serving image.*1.2-1"):
        choose_image(facts("aws", "1.2.1", None, declared=True,
                           image_from="a/README.md:3 declares '9.9-9', which is not a known serving image"), imgs)


def test_without_a_declaration_the_assumed_image_is_deployed_and_legacy_runtimes_map_to_vertex():
    assert choose_image(facts("aws", "1.0.2", "sagemaker:1.0-1"), catalog("aws", "us-east-1")).version == "1.0-1"
    vx = catalog("gcp", "us-central1")
    assert choose_image(facts("gcp", "1.0.2", "ai-platform:2.11", declared=True), vx).version == "sklearn-cpu.1-0"
    with pytest.raises(StudentError, match="records no scikit-learn version"):
        choose_image(facts("gcp", None), vx)


def test_folder_problems_are_the_students_and_say_what_to_change(reference):
    f = folder_facts(folder(reference, "aws"))
    assert f.entry_point == "inference.py" and f.artifact_is_tar and not f.unsafe
    with pytest.raises(StudentError, match="artifact.safe"):
        build(replace(f, unsafe=True), "s", "us-east-1")
    with pytest.raises(StudentError, match="symlink"):
        build(replace(f, symlink=True), "s", "us-east-1")
    with pytest.raises(StudentError, match="add inference.py with model_fn"):
        build(replace(f, entry_point=None), "s", "us-east-1")
    g = folder_facts(folder(reference, "gcp"))
    with pytest.raises(StudentError, match="Vertex AI loads model.joblib"):
        build(replace(g, artifact="model.tar.gz", artifact_is_tar=True, sklearn_version="1.2.2"), "s", "us-central1")


def test_a_region_without_images_is_the_runs_problem():
    with pytest.raises(CloudError, match="--aws-region") as ei:
        catalog("aws", "mars-north-1")
    assert not isinstance(ei.value, StudentError)
