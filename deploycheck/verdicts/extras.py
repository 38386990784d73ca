"""extras.custom_image (off by default in the rubric).

``extras.custom_image``: the repo's top-level README shows serving the model from a custom
Docker image on a GCE VM: a Dockerfile (or an image name), ``docker tag``, ``docker push`` and
``gcloud compute instances create-with-container … --container-image=…``.
"""
from __future__ import annotations

import re
from pathlib import Path

from deploycheck.analysis.commands import GCLOUD
from deploycheck.analysis.sources import logical_lines
from deploycheck import files
from deploycheck.discovery import Target, subdirs
from deploycheck.model import Outcome, failed, passed

_DOCKER_TAG = re.compile(r"\bdocker\s+(?:image\s+)?tag\b")
_DOCKER_PUSH = re.compile(r"\bdocker\s+(?:image\s+)?push\b")
_DOCKER_BUILD = re.compile(r"\bdocker\s+(?:image\s+)?build\b|\bgcloud\s+builds\s+submit\b")
_CREATE_WITH_CONTAINER = re.compile(GCLOUD + r"compute\s+instances\s+create-with-container\b")
_CONTAINER_IMAGE = re.compile(r"--container-image(?:=|\s+)\S+")
# registry host suffix + path (the host prefix is not matched: keeps the regex linear)
_IMAGE_NAME = re.compile(r"(?:gcr\.io|-docker\.pkg\.dev|docker\.io|\.amazonaws\.com)/[\w./-]+(?::[\w.-]+)?")


def _has_dockerfile(repo: Path) -> str | None:
    """A Dockerfile in the repo, up to three levels down (no symlink followed)."""
    for d in [repo] + [Path(e.path) for _depth, e in subdirs(repo, 2)]:
        for name in files.top_level_files(d):
            if name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile"):
                return (d / name).relative_to(repo).as_posix()
    return None


def custom_image(t: Target) -> Outcome:
    sub = t.submission
    repo = Path(t.repo)
    if sub.problem and not sub.folders and not repo.is_dir():
        return failed(sub.problem)
    doc = sub.facts.readme
    if doc is None:
        return failed("no README at the top of the repo: add README.md describing how you built, pushed and ran "
                      "your Docker image (docker tag, docker push, gcloud compute instances create-with-container)")
    rel = doc.rel
    if doc.problem:
        return failed(f"{doc.problem}: write it as Markdown text")
    found: dict[str, str] = {}
    for line, text in logical_lines(doc.text):
        text = text[:5000]
        for key, rx in (("tag", _DOCKER_TAG), ("push", _DOCKER_PUSH), ("build", _DOCKER_BUILD),
                        ("vm", _CREATE_WITH_CONTAINER), ("image", _IMAGE_NAME)):
            if key not in found and rx.search(text):
                found[key] = f"{rel} line {line}"
        if "vm" in found and "vm_image" not in found and _CREATE_WITH_CONTAINER.search(text) \
                and _CONTAINER_IMAGE.search(text):
            found["vm_image"] = f"{rel} line {line}"
    dockerfile = _has_dockerfile(repo)
    missing = []
    if not dockerfile and "image" not in found:
        missing.append("a Dockerfile in the repo (or the name of the image you used, e.g. gcr.io/PROJECT/model:v1)")
    if "tag" not in found:
        missing.append("`docker tag IMAGE gcr.io/PROJECT/IMAGE:TAG`")
    if "push" not in found:
        missing.append("`docker push gcr.io/PROJECT/IMAGE:TAG`")
    if "vm" not in found:
        missing.append("`gcloud compute instances create-with-container VM --container-image=gcr.io/PROJECT/IMAGE:TAG`")
    elif "vm_image" not in found:
        missing.append(f"--container-image=... on the create-with-container command ({found['vm']})")
    if missing:
        return failed(f"{rel} does not show the custom-image deployment: add " + "; ".join(missing),
                      found=sorted(found), dockerfile=dockerfile)
    what = f"Dockerfile {dockerfile}" if dockerfile else f"image name ({found['image']})"
    return passed(f"{what}, docker tag ({found['tag']}), docker push ({found['push']}) and "
                  f"create-with-container ({found['vm']})", dockerfile=dockerfile)
