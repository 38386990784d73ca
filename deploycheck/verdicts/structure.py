"""structure.deploy_folder: is there a `<platform>_deploy` folder, and where."""
from __future__ import annotations

from deploycheck.discovery import LAB_NAMES, Target
from deploycheck.model import Outcome, failed, passed


def deploy_folder(t: Target) -> Outcome:
    sub = t.submission
    if sub.problem:
        return failed(sub.problem)
    f = t.folder
    if f is None:
        if t.platform:  # --platform asked for one the repo does not have
            other = ", ".join(x.rel + "/" for x in sub.folders)
            return failed(f"no {LAB_NAMES[t.platform]}/ folder found (looked at the repo root and two levels down)"
                          + (f"; found {other} instead" if other else "")
                          + f": put your {t.platform.upper()} deployment in a folder named {LAB_NAMES[t.platform]}.")
        return failed("no aws_deploy/ or gcp_deploy/ folder found (looked at the repo root and two levels down): "
                      "put everything your deployment needed in a folder named aws_deploy (SageMaker) "
                      "or gcp_deploy (AI Platform / Vertex AI) at the root of your repo.")
    want = LAB_NAMES[f.platform]
    if not f.named:
        parent = f.rel.rsplit("/", 1)[0] + "/" if "/" in f.rel else ""
        return failed(f"found {f.rel}/ ({f.evidence}), but the lab asks for a folder named {want}/: rename "
                      f"{f.rel}/ to {parent}{want}/ (its contents were graded as your {f.platform.upper()} "
                      "deployment)", folder=f.rel, named=False, evidence=f.evidence)
    where = "at the repo root" if f.depth == 0 else f"{f.depth} level{'s' if f.depth > 1 else ''} down"
    msg = f"found {f.rel}/ ({f.platform.upper()}, {where}; {len(f.files)} files)"
    notes = []
    if f.rel.split("/")[-1] != want:
        notes.append(f"the lab asks for the name {want}/")
    if f.depth:
        notes.append("the lab expects it at the repo root")
    if f.truncated:
        notes.append("it holds more than 5000 files; only the first 5000 were looked at")
    notes.extend(sub.notes)
    if notes:
        msg += "; note: " + "; ".join(notes)
    return passed(msg, folder=f.rel, depth=f.depth)
