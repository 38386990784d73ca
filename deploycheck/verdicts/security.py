"""security.secrets: no cloud credentials committed anywhere in the repo (values never printed)."""
from __future__ import annotations

import os
from pathlib import Path

from deploycheck.analysis.secrets import ScanResult
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
    found = [*res.findings, *res.history]
    if found:
        return failed(_found_message(res), file=found[0].path,
                      findings=([{"path": f.path, "line": f.line, "kind": f.kind} for f in res.findings]
                                + [{"path": f.path, "line": f.line, "kind": f.kind, "commit": f.commit,
                                    "in_history": True} for f in res.history])[:50])
    if (o := no_folder(t)) is not None:
        return o
    facts = {"files": res.files, "capped": res.capped, "history": res.history_state,
             "history_versions": res.history_versions}
    history = _history_note(res)
    if res.ignored:
        paths = sorted({f.path for f in res.ignored})
        history += (f"; {', '.join(paths[:3])}{' and more' if len(paths) > 3 else ''} "
                    f"{'holds' if len(paths) == 1 else 'hold'} credentials but git ignores "
                    f"{'it' if len(paths) == 1 else 'them'} (never committed): keep {'it' if len(paths) == 1 else 'them'} "
                    "out of the repo")
        facts["ignored"] = paths
    if res.capped:
        some = ", ".join(res.skipped_examples)
        return passed(f"no cloud credentials found in the {res.files} files scanned (the deploy folder and notebooks "
                      f"first){history}; {res.skipped} more files were not scanned, over deploycheck's scan budget "
                      f"(e.g. {some}): check them yourself or keep data files out of the repo",
                      skipped=res.skipped, **facts)
    return passed(f"no cloud credentials found in {res.files} files{history}", **facts)


def _history_note(res: ScanResult) -> str:
    """What the pass covered of the git history (nothing is said of a folder that is no git repo)."""
    if res.history_state == "scanned":
        return f" and {res.history_versions} older file versions in git history" if res.history_versions else ""
    if res.history_state == "shallow":
        return ("; the git history was not scanned (a shallow clone: `git fetch --unshallow`, or actions/checkout's "
                "fetch-depth: 0, gives it)")
    if res.history_state == "partial":
        return (f" and {res.history_versions} older file versions in git history ({res.history_missing} more are not "
                "in this clone and were not scanned)")
    if res.history_state == "unreadable":
        return "; the git history could not be read (git failed on .git/) and was not scanned"
    return ""


def _found_message(res: ScanResult) -> str:
    """Where each credential is (files first, then older versions in git history; never a value)
    and what to do: rotate, remove, purge the history."""
    found = [*res.findings, *res.history]
    kinds = {f.kind for f in found}
    rotate = []
    if any(k.startswith("AWS") for k in kinds):
        rotate.append("deactivate and delete the access key in the AWS IAM console")
    if any(k.startswith("GCP") for k in kinds):
        rotate.append("delete the service-account key in the GCP console (IAM > Service accounts > Keys)")
    if any(k == "private key" for k in kinds):
        rotate.append("replace the key pair")
    parts = []
    if res.findings:
        more = f" (and {len(res.findings) - 5} more)" if len(res.findings) > 5 else ""
        parts.append(f"credentials committed to the repo: {'; '.join(f.describe() for f in res.findings[:5])}{more}")
    if res.history:
        more = f" (and {len(res.history) - 5} more)" if len(res.history) > 5 else ""
        shown = "; ".join(f.describe() for f in res.history[:5]) + more
        parts.append(f"{'also ' if res.findings else ''}credentials in the repo's git history (no longer in its files, "
                     f"but every clone and GitHub still have them): {shown}")
    purge = ("purge them from git history (git filter-repo --replace-text, or BFG), then force-push"
             if res.history else "purge them from git history (git filter-repo or BFG)")
    remove = "Remove them, rotate" if res.findings else "Rotate"
    return (f"{'. '.join(parts)}. {remove} them ({'; '.join(rotate)}) and {purge}: anything pushed to GitHub is "
            "found by bots within minutes; use `aws configure` / `gcloud auth` instead of keys in files")
