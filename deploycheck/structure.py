"""structure.deploy_folder: is there a `<platform>_deploy` folder, and where."""
from __future__ import annotations

from deploycheck.outcome import Outcome, failed, passed
from deploycheck.submission import Target

_NAMES = {"aws": "aws_deploy", "gcp": "gcp_deploy"}


def needs_folder(t: Target, check: str = "") -> Outcome | None:
    """The failed prerequisite Outcome for a check on a target without a deploy folder, else None."""
    if t.folder is not None:
        return None
    why = t.submission.problem or ("put your deployment in aws_deploy/ (SageMaker) or gcp_deploy/ (GCP) "
                                   "at the root of the repo")
    return failed(f"{check + ' ' if check else ''}needs a deploy folder (structure.deploy_folder failed): {why}")


def deploy_folder(t: Target) -> Outcome:
    sub = t.submission
    if sub.problem:
        return failed(sub.problem)
    f = t.folder
    if f is None:
        if t.platform:  # --platform asked for one the repo does not have
            other = ", ".join(x.rel + "/" for x in sub.folders)
            return failed(f"no {_NAMES[t.platform]}/ folder found (looked at the repo root and two levels down)"
                          + (f"; found {other} instead" if other else "")
                          + f": put your {t.platform.upper()} deployment in a folder named {_NAMES[t.platform]}.")
        return failed("no aws_deploy/ or gcp_deploy/ folder found (looked at the repo root and two levels down): "
                      "put everything your deployment needed in a folder named aws_deploy (SageMaker) "
                      "or gcp_deploy (AI Platform / Vertex AI) at the root of your repo.")
    where = "at the repo root" if f.depth == 0 else f"{f.depth} level{'s' if f.depth > 1 else ''} down"
    msg = f"found {f.rel}/ ({t.platform.upper()}, {where}; {len(f.files)} files)"
    notes = []
    if f.rel.split("/")[-1] != _NAMES[t.platform]:
        notes.append(f"the lab asks for the name {_NAMES[t.platform]}/")
    if f.depth:
        notes.append("the lab expects it at the repo root")
    if f.truncated:
        notes.append("it holds more than 5000 files; only the first 5000 were looked at")
    notes.extend(sub.notes)
    if notes:
        msg += "; note: " + "; ".join(notes)
    return passed(msg, folder=f.rel, depth=f.depth)
