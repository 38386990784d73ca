"""What to deploy from a deploy folder: model archive or file, entry point, requirements, and the
serving image, chosen from THE image catalog.

The image rule (one place, no second version table): the image must load models with the pickle's
scikit-learn major.minor (the same rule as ``artifact.version``). When the folder declares an image
(``framework_version``, a Vertex container, a legacy AI Platform runtime), that one is deployed if
it matches; a model whose scikit-learn no image serves is refused with the list of images that
exist. deploycheck never deploys a model onto another version's image.

Two adapters hold every call into the rest of deploycheck, so they can be re-pointed in one place:
:func:`folder_facts` (the analysis of the folder) and :func:`catalog` (the serving-image catalog).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploycheck.cloud.base import Bundle, CloudError, ServingImage, StudentError
from deploycheck.model import AWS, Platform

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

SERVING = {"aws": "SageMaker scikit-learn image", "gcp": "Vertex AI prebuilt scikit-learn container"}


@dataclass(frozen=True)
class Declared:
    """A serving runtime the folder names (README, scripts, notebooks)."""
    kind: str                  # "sagemaker" | "vertex" | "ai_platform"
    value: str                 # "1.2-1" | "sklearn-cpu.1-2" | "2.11"
    sklearn: str | None        # scikit-learn of that runtime, None if the value is unknown
    where: str                 # "aws_deploy/README.md:12"


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
    declared: tuple[Declared, ...] = ()


def folder_facts(folder: DeployFolder) -> FolderFacts:
    """What the cloud needs from the folder's facts (artifact, entry point, declared runtimes);
    nothing else in the cloud package reads the folder."""
    info = folder.facts.artifact
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
        declared=tuple(Declared(d.kind, d.value, d.sklearn, d.where) for d in folder.facts.runtimes))


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


def major_minor(version: str | None) -> str | None:
    m = re.match(r"^\s*v?(\d+)[.\-](\d+)", version or "")
    return f"{m[1]}.{m[2]}" if m else None


def choose_image(facts: FolderFacts, images: tuple[ServingImage, ...]) -> ServingImage:
    """The image to deploy (see the module docstring); :class:`StudentError` naming the images that exist."""
    serving = SERVING[facts.platform]
    where = f"{facts.rel}/{facts.artifact}"
    names = ", ".join(f"{i.label} (scikit-learn {i.sklearn})" for i in images)
    pickled = facts.sklearn_version
    pm = major_minor(pickled)
    exact = [i for i in images if major_minor(i.sklearn) == pm] if pm else []
    if pm and not exact:
        raise StudentError(f"{where} was pickled with scikit-learn {pickled}, and no {serving} serves scikit-learn "
                           f"{pm}; the images are: {names}. Retrain and save the model with one of those "
                           "scikit-learn versions and declare that image (deploycheck never deploys a model "
                           "onto another version's image).")
    kinds = ("sagemaker",) if facts.platform == AWS else ("vertex", "ai_platform")
    declared = [d for d in facts.declared if d.kind in kinds]
    chosen = [(d, _image_for(d, images)) for d in declared]
    known = [(d, i) for d, i in chosen if i is not None]
    if declared and not known:
        d = declared[0]
        raise StudentError(f"{d.where} declares {d.value}, which is not a {serving}: declare one of {names}.")
    for d, img in known:
        if img is not None and (pm is None or major_minor(img.sklearn) == pm):
            return img
    if known:
        d, img = known[0]
        assert img is not None
        raise StudentError(f"{d.where} declares {img.label} (scikit-learn {img.sklearn}) but {where} was pickled "
                           f"with scikit-learn {pickled}: declare {exact[0].label} instead, or retrain with "
                           f"scikit-learn {img.sklearn} (see artifact.version).")
    if exact:
        return exact[0]
    raise StudentError(f"cannot tell which {serving} serves {where}: the pickle records no scikit-learn version and "
                       f"{facts.rel}/ declares no image; save a fitted scikit-learn model with joblib.dump and "
                       f"declare one of {names}.")


def _image_for(d: Declared, images: tuple[ServingImage, ...]) -> ServingImage | None:
    if d.kind == "ai_platform":      # retired service: its Vertex equivalent serves the same scikit-learn
        mm = major_minor(d.sklearn)
        return next((i for i in images if mm and major_minor(i.sklearn) == mm), None)
    return next((i for i in images if i.version == d.value), None)


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
