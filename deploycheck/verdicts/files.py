"""files.referenced: every local file the README or the deploy scripts name exists in the folder."""
from __future__ import annotations

import os

from deploycheck import files as fs
from deploycheck.analysis.refs import MAX_REFS, is_local_name, locate_ref
from deploycheck.discovery import Target
from deploycheck.model import Outcome, failed, passed
from deploycheck.verdicts import folder_of, no_folder


def files_referenced(t: Target) -> Outcome:
    o = no_folder(t)
    if o:
        return o
    folder = folder_of(t)
    refs, outs = folder.facts.refs.refs, folder.facts.refs.outputs
    outs_norm = {os.path.normpath(x) for x in outs if x}
    files_lower = {f.lower(): f for f in folder.files}
    # names that are not UTF-8, by their display name (files.printable): "résultat.png" in the README
    odd_names = {fs.printable(f): f for f in folder.files if fs.undecodable(f)}
    problems: list[str] = []
    checked: set[str] = set()
    elsewhere: dict[str, str] = {}
    seen: set[str] = set()
    for r in refs:
        name = r.name.replace("\\", "/").strip()
        if name.startswith("./"):
            name = name[2:]
        if not is_local_name(name) or name.startswith("opt/ml/"):
            continue
        norm = os.path.normpath(name)
        if norm in outs_norm or norm in seen:
            continue
        if len(seen) >= MAX_REFS:
            break
        seen.add(norm)
        if r.kind == "tar-input" and r.tar_output and locate_ref(folder, r.src_rel, r.tar_output)[0] in ("ok", "elsewhere"):
            continue   # packed into an archive that is there: artifact.* checks look inside it
        st, found = locate_ref(folder, r.src_rel, name)
        checked.add(name)
        if st == "ok":
            continue
        if st == "elsewhere":
            elsewhere[name] = found
        elif st == "escapes":
            problems.append(f"{r.where} references {name}, which is a symlink pointing outside the repository: "
                            "commit the real file instead")
        elif st == "outside":
            problems.append(f"{r.where} references {name}, which is outside the repository: copy the file into "
                            f"{folder.rel}/ and fix the path")
        elif norm in odd_names:
            continue   # there, under a name that is not UTF-8: the submission's one note says so (discovery)
        else:
            alt = files_lower.get(norm.lower())
            did = f" (did you mean {alt}? names are case-sensitive)" if alt and alt != norm else ""
            in_folder = found == folder.rel or found.startswith(folder.rel + "/")
            where_not = f"{folder.rel}/ has no such file" if in_folder else f"the repository has no {found}"
            problems.append(f"{r.where} references {name} but {where_not}{did}: add it or fix the name")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return failed("; ".join(problems[:3]) + more, missing=problems[:20])
    if not checked:
        return passed(f"no local files are referenced by the README or scripts in {folder.rel}/", checked=[])
    inside = sorted(checked - set(elsewhere))
    msg = f"all {len(checked)} referenced files exist"
    if inside:
        msg += f", in {folder.rel}/: {', '.join(inside[:8])}" + (" ..." if len(inside) > 8 else "")
    if elsewhere:
        out = [f"{n} (at {p})" if p != n else n for n, p in sorted(elsewhere.items())]
        msg += (f"; outside {folder.rel}/: {', '.join(out[:5])}" + (" ..." if len(out) > 5 else "")
                + f" (note: the lab asks {folder.rel}/ to hold every file the deployment needs: copy them in "
                  "if it does)")
    return passed(msg, checked=sorted(checked)[:50], outside_folder=sorted(elsewhere.values())[:50])

