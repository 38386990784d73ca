"""security.secrets: no cloud credentials committed anywhere in the repo (values never printed)."""
from __future__ import annotations

import os
from pathlib import Path

from deploycheck.discovery import Target
from deploycheck.model import Outcome, failed, passed
from deploycheck.verdicts import no_folder


def security_secrets(t: Target) -> Outcome:
    """``security.secrets`` on the whole repo of the target. Committed credentials fail it even without a
    deploy folder (the student must rotate them); a repo with no deployment earns no points here."""
    sub = t.submission
    if sub.problem and not t.submission.folders:
        try:
            usable = Path(t.repo).is_dir() and not Path(t.repo).is_symlink() and any(os.scandir(t.repo))
        except OSError:
            usable = False
        if not usable:
            return no_folder(t) or failed(sub.problem)
    res = t.submission.facts.secrets
    if res.problem:
        return failed(sub.problem or res.problem)
    if res.findings:
        shown = "; ".join(f.describe() for f in res.findings[:5])
        more = f" (and {len(res.findings) - 5} more)" if len(res.findings) > 5 else ""
        kinds = {f.kind for f in res.findings}
        rotate = []
        if any(k.startswith("AWS") for k in kinds):
            rotate.append("deactivate and delete the access key in the AWS IAM console")
        if any(k.startswith("GCP") for k in kinds):
            rotate.append("delete the service-account key in the GCP console (IAM > Service accounts > Keys)")
        if any(k == "private key" for k in kinds):
            rotate.append("replace the key pair")
        return failed(f"credentials committed to the repo: {shown}{more}. Remove them, rotate them "
                      f"({'; '.join(rotate)}) and purge them from git history (git filter-repo or BFG): "
                      "anything pushed to GitHub is found by bots within minutes; use `aws configure` / "
                      "`gcloud auth` instead of keys in files",
                      file=res.findings[0].path,
                      findings=[{"path": f.path, "line": f.line, "kind": f.kind} for f in res.findings[:50]])
    if (o := no_folder(t)) is not None:
        return o
    if res.capped:
        some = ", ".join(res.skipped_examples)
        return passed(f"no cloud credentials found in the {res.files} files scanned (the deploy folder and notebooks "
                      f"first); {res.skipped} more files were not scanned, over deploycheck's scan budget "
                      f"(e.g. {some}): check them yourself or keep data files out of the repo",
                      files=res.files, capped=True, skipped=res.skipped)
    return passed(f"no cloud credentials found in {res.files} files", files=res.files, capped=False)
