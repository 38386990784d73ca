"""What to deploy from a deploy folder: model archive or file, entry point, requirements, and the
serving image.

The image is THE image the folder runs on (``folder.facts.image``, one rule in
:mod:`deploycheck.analysis.runtimes`: the declaration the deploy call uses, else the last one; the
pickle's nearest image when none is declared), deployed only when the model loads on it
(``folder.facts.image_fit``, the comparison artifact.version reports). A legacy AI Platform runtime
is deployed on the Vertex AI container with the same scikit-learn. deploycheck never deploys a
model onto another version's image.

Two adapters hold every call into the rest of deploycheck, so they can be re-pointed in one place:
:func:`folder_facts` (the analysis of the folder) and :func:`catalog` (the serving-image catalog).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploycheck.cloud.base import Bundle, CloudError, ServingImage, StudentError
from deploycheck.model import AWS, Platform

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

SERVING = {"aws": "SageMaker scikit-learn image", "gcp": "Vertex AI prebuilt scikit-learn container"}


@dataclass(frozen=True)
class FolderFacts:
    """The facts about a deploy folder that deploying needs."""
    platform: Platform
    path: Path                             # absolute path of the folder
    rel: str                               # folder, relative to the repo ("aws_deploy")
    artifact: str | None                   # model.tar.gz / model file, relative to the folder
    artifact_is_tar: bool = False
    sklearn_version: str | None = None     # recorded in the pickle
    unsafe: bool = False                   # flagged by artifact.safe, or could not be scanned
    symlink: bool = False
    entry_point: str | None = None         # AWS entry point, relative to the folder
    entry_is_notebook: bool = False
    has_requirements: bool = False         # requirements.txt beside the entry point
    image: str | None = None               # catalog key of THE image (folder.facts.image); None: unknown value
    image_from: str = ""                   # which declaration it came from (and the ignored ones), or why assumed
    declared: bool = False                 # declared by the folder (not assumed from the pickle)
    unfit: str = ""                        # why the model does not load on it ("" when it does)


def folder_facts(folder: DeployFolder) -> FolderFacts:
    """What the cloud needs from the folder's facts (artifact, entry point, THE image and whether the
    model fits it); nothing else in the cloud package reads the folder."""
    info = folder.facts.artifact
    choice, fit = folder.facts.image, folder.facts.image_fit
    ep = folder.facts.entry_point if folder.platform == AWS else None
    entry = ep.rel if ep is not None else None
    req = None
    if entry:
        req = (entry.rsplit("/", 1)[0] + "/" if "/" in entry else "") + "requirements.txt"
    return FolderFacts(
        platform=AWS if folder.platform == AWS else "gcp", path=folder.path, rel=folder.rel,
        artifact=info.rel if info else None, artifact_is_tar=bool(info and info.kind == "tar"),
        sklearn_version=info.sklearn_version if info else None,
        unsafe=info is not None and not info.loadable, symlink=bool(info and info.symlink),
        entry_point=entry, entry_is_notebook=bool(ep and ep.notebook),
        has_requirements=bool(req and req in folder.files),
        image=choice.image.key if choice.image is not None else None, image_from=choice.described,
        declared=choice.declaration is not None, unfit=fit.cause if fit is not None else "")


def catalog(platform: Platform, region: str) -> tuple[ServingImage, ...]:
    """Every scikit-learn serving image of ``platform`` in THE image catalog, with its URI in ``region``."""
    from deploycheck.runtimes import catalog as runtimes
    if platform == AWS:
        try:
            return tuple(ServingImage(AWS, f'framework_version="{fv}"', fv, sk, runtimes.sagemaker_image_uri(region, fv))
                         for fv, sk in runtimes.SAGEMAKER_SKLEARN.items())
        except ValueError as e:
            raise CloudError(f"{e}: pass --aws-region with a region that has the SageMaker scikit-learn images "
                             "(e.g. us-east-1)") from e
    out = []
    for tag in runtimes.VERTEX_SKLEARN_TAGS:
        sk = tag.replace("-", ".")
        out.append(ServingImage("gcp", f"sklearn-cpu.{tag}", f"sklearn-cpu.{tag}", sk,
                                runtimes.vertex_container_uri(sk, region) or ""))
    return tuple(out)


def choose_image(facts: FolderFacts, images: tuple[ServingImage, ...]) -> ServingImage:
    """The image to deploy (see the module docstring); :class:`StudentError` naming the images that exist."""
    from deploycheck.runtimes import catalog as runtimes
    serving = SERVING[facts.platform]
    where = f"{facts.rel}/{facts.artifact}"
    names = ", ".join(f"{i.label} (scikit-learn {i.sklearn})" for i in images)
    if facts.image is None and facts.declared:
        raise StudentError(f"{facts.image_from}: declare one of {names}.")
    if facts.image is None or not (facts.declared or facts.sklearn_version):
        raise StudentError(f"cannot tell which {serving} serves {where}: the pickle records no scikit-learn version "
                           f"and {facts.rel}/ declares no image; save a fitted scikit-learn model with joblib.dump "
                           f"and declare one of {names}.")
    row = runtimes.image(facts.image)
    if row.kind == "ai_platform":            # retired service: the Vertex container with the same scikit-learn
        row = runtimes.vertex_equivalent(row) or row
    if row.alias_of:                         # a variant with the same pins (arm64): its x86 image
        row = runtimes.image(row.alias_of)
    chosen = next((i for i in images if i.version == row.version), None)
    if facts.unfit or chosen is None:
        if not facts.declared:
            raise StudentError(f"{where} was pickled with scikit-learn {facts.sklearn_version}, and no {serving} serves "
                               f"scikit-learn {runtimes.major_minor(facts.sklearn_version)}; the images are: {names}. "
                               "Retrain and save the model with one of those scikit-learn versions and declare that "
                               "image (deploycheck never deploys a model onto another version's image).")
        raise StudentError(f"{facts.image_from}, but {where} does not load there: "
                           f"{facts.unfit or f'no {serving} is {row.title}'} (see artifact.version; deploycheck never "
                           "deploys a model onto another version's image).")
    return chosen


def bundle_for(folder: DeployFolder, student: str, region: str) -> Bundle:
    """The :class:`Bundle` for a deploy folder, or :class:`StudentError` saying what to change first."""
    return build(folder_facts(folder), student, region)


def build(facts: FolderFacts, student: str, region: str) -> Bundle:
    rel = facts.rel
    if facts.artifact is None:
        what = "model.tar.gz" if facts.platform == AWS else "model.joblib"
        raise StudentError(f"no model artifact in {rel}/ (artifact.present failed): add the {what} you deployed.")
    if facts.symlink:
        raise StudentError(f"{rel}/{facts.artifact} is a symlink, which deploycheck never follows: commit the real file.")
    if facts.unsafe:
        raise StudentError(f"the model pickle in {rel}/ was flagged by artifact.safe (or could not be scanned), so "
                           "deploycheck never deploys it: save the model with joblib.dump using only "
                           "scikit-learn/numpy objects.")
    image = choose_image(facts, catalog(facts.platform, region))
    path = facts.path
    if facts.platform == AWS:
        if facts.entry_is_notebook or not facts.entry_point:
            why = "is a notebook; SageMaker needs a .py script" if facts.entry_is_notebook else "was not found"
            raise StudentError(f"the entry point defining model_fn(model_dir) in {rel}/ {why} "
                               "(entry_point.model_fn): add inference.py with model_fn.")
        d = facts.entry_point.rsplit("/", 1)[0] + "/" if "/" in facts.entry_point else ""
        return Bundle(student, AWS, path, image, facts.sklearn_version,
                      model_files=() if facts.artifact_is_tar else (facts.artifact,),
                      model_archive=facts.artifact if facts.artifact_is_tar else None,
                      entry_point=facts.entry_point,
                      requirements=d + "requirements.txt" if facts.has_requirements else None)
    if facts.artifact_is_tar:
        raise StudentError(f"{rel}/{facts.artifact} is an archive, but Vertex AI loads model.joblib or model.pkl "
                           "directly from the model folder: upload the model file itself (see artifact.valid).")
    return Bundle(student, "gcp", path, image, facts.sklearn_version, model_files=(facts.artifact,))
