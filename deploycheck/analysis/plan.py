"""What the serving container would run for a deploy folder: the entry point, the model archive or
model folder, and the serving image (declared, or assumed from the pickle). A fact about the folder,
computed once (``folder.facts.serving_plan``); predict.local and ``deploycheck serve`` both use it,
and :mod:`deploycheck.serving` only runs the plan's :class:`Target`.

When the folder cannot be served, the plan says which check's failure blocks it (``blocked_by``)
and the one thing to fix.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from deploycheck.analysis.artifact import ArtifactInfo
    from deploycheck.discovery import DeployFolder
    from deploycheck.runtimes.catalog import Image


@dataclass(frozen=True)
class Target:
    """What to run for one deploy folder."""
    platform: str                     # "aws" | "gcp"
    folder: Path
    rel: str                          # the folder as the student knows it ("aws_deploy")
    image: Image | None               # the build of the folder's image that runs (facts.image.build)
    declared: str = ""                # "aws_deploy/README.md:31" (empty when assumed)
    assumed: str = ""                 # why an image was assumed when none (known) was declared
    image_note: str = ""              # which declaration was used and which were ignored (several)
    entry: str | None = None          # SageMaker entry point, relative to the folder
    model_rel: str = "."              # model directory relative to the folder (no archive)
    extract: Path | None = None       # model.tar.gz to extract (SageMaker)
    code_dir_rel: str | None = None   # "code" when the archive carries the entry point (SDK repack)
    # the code directory when the SDK uploads a selection (facts.shipped_code): (path in the folder,
    # name in the code directory); None: the entry point's folder
    code_files: tuple[tuple[str, str], ...] | None = None
    imports: tuple[str, ...] = ()     # top-level modules the entry point imports


@dataclass(frozen=True)
class Unservable:
    """Why nothing can be run: the failing prerequisite check and what to change."""
    blocked_by: str
    message: str


@dataclass(frozen=True)
class ServingPlan:
    artifact: ArtifactInfo
    entry_rel: str | None           # SageMaker entry point, relative to the folder
    model_rel: str                  # model directory relative to the folder (no archive)
    extract: str | None             # model.tar.gz to extract (absolute path), SageMaker
    target: Target                  # the serving image and paths, for serving.local


def serving_plan(f: DeployFolder) -> ServingPlan | Unservable:
    plat = f.platform
    art = f.facts.artifact
    if art is None:
        what = "model.tar.gz" if plat == "aws" else "model.joblib (or model.pkl)"
        return Unservable("artifact.present", f"no model artifact to run in {f.rel}/: add the {what} you deployed "
                                              "to the folder.")
    if not art.loadable:
        return Unservable("artifact.safe", f"{f.rel}/{art.rel} is never loaded because artifact.safe flagged it (a "
                                           "pickle that references non-scikit-learn code, or that could not be "
                                           "scanned): re-save your model with joblib.dump(model, ...) from a clean "
                                           "training script.")
    entry_rel: str | None = None
    extract: str | None = None
    model_rel = "."
    if plat == "aws":
        ep = f.facts.entry_point
        if ep is None or ep.how == "declared":
            return Unservable("entry_point.model_fn", f"no entry-point script defining model_fn(model_dir) in {f.rel}/: "
                                                      "add inference.py with model_fn and pass "
                                                      "entry_point=\"inference.py\".")
        if ep.declared_missing:        # the cloud would look for the declared file and not find it
            return Unservable("entry_point.model_fn", f"{ep.declared_missing} names a file that is not in {f.rel}/: "
                                                      "add it or fix the entry_point name.")
        if ep.notebook:
            return Unservable("entry_point.model_fn", f"your entry point is a notebook ({f.rel}/{ep.rel}); SageMaker "
                                                      f"needs a .py script: move model_fn into {f.rel}/inference.py.")
        entry_rel = ep.rel
        if art.kind == "tar":
            extract = str(f.path / art.rel)
        else:  # a model file the SDK would pack: model_dir = its folder
            model_rel = art.rel.rsplit("/", 1)[0] if "/" in art.rel else "."
    else:
        if art.kind == "tar":
            return Unservable("artifact.valid", f"{f.rel}/{art.rel} is an archive, but Vertex AI / AI Platform load "
                                                "model.joblib or model.pkl directly from the model folder: upload the "
                                                "model file itself.")
        model_rel = art.rel.rsplit("/", 1)[0] if "/" in art.rel else "."
    target = target_for(f, art, entry_rel, model_rel, Path(extract) if extract else None)
    return ServingPlan(art, entry_rel, model_rel, extract, target)


def archive_holds_entry(members: Iterable[str], entry_name: str) -> bool:
    """Whether model.tar.gz carries the entry point in ``code/`` (the SDK's repack layout): the container
    then runs that code directory, not what the SDK would upload beside it."""
    return bool({f"code/{entry_name}", f"./code/{entry_name}"} & set(members))


def target_for(folder: DeployFolder, artifact: ArtifactInfo | None, entry_rel: str | None = None, model_rel: str = ".",
               extract: Path | None = None) -> Target:
    """The :class:`Target` of a deploy folder (``folder``: a DeployFolder; ``artifact``: its
    ArtifactInfo (folder.facts.artifact), or None)."""
    platform = folder.platform
    choice = folder.facts.image              # THE image decision (deploycheck.analysis.runtimes)
    code_dir = None
    if platform == "aws" and extract is not None and entry_rel:
        members = set((artifact.members if artifact is not None else None) or _members(extract))
        base = entry_rel.rsplit("/", 1)[-1]
        if archive_holds_entry(members, base):
            code_dir = "code"
    imports: tuple[str, ...] = ()
    code_files = None
    ep = folder.facts.entry_point if entry_rel else None
    if ep is not None and ep.rel == entry_rel:
        imports = tuple(sorted({u.module for u in ep.imports}))
        if platform == "aws" and code_dir is None:
            code_files = folder.facts.shipped_code.files
    return Target(platform=platform, folder=Path(folder.path), rel=folder.rel, image=choice.build,
                  declared=choice.where if choice.image is not None else "", assumed=choice.assumed,
                  image_note=choice.note, entry=entry_rel, model_rel=model_rel, extract=extract,
                  code_dir_rel=code_dir, code_files=code_files, imports=imports)


def _members(tar: Path) -> list[str]:
    try:
        with tarfile.open(tar, "r:*") as tf:
            return tf.getnames()[:10000]
    except (OSError, tarfile.TarError, EOFError):
        return []
