"""entry_point.model_fn and entry_point.imports (AWS): the SageMaker entry-point script defines
the handlers the container calls, with the right signatures, and imports only what the serving
image provides (static analysis only: the script is never imported here)."""
from __future__ import annotations

import re
import sys
from pathlib import PurePosixPath

from deploycheck.analysis.handlers import HANDLERS, hidden_defs, module_defs, signature_problem, undefined_names
from deploycheck.analysis.imports import (IMPORT_TO_DIST, ImportUse, image_of, left_behind, local_modules,
                                          removed_api_notes)
from deploycheck.discovery import DeployFolder, Target
from deploycheck.model import Outcome, blocked, failed, passed
from deploycheck.verdicts import aws_only, folder_label, folder_of


def entry_point_model_fn(t: Target) -> Outcome:
    o = aws_only(t, "entry_point.model_fn")
    if o:
        return o
    folder = folder_of(t)
    info = folder.facts.entry_point
    lbl = folder_label(t)
    if info is None:
        return failed(f"no entry-point script in {lbl}: add {lbl}inference.py defining `def model_fn(model_dir):` "
                      "(load and return your model) and pass entry_point=\"inference.py\" to SKLearnModel")
    path = f"{folder.rel}/{info.rel}"
    if info.declared_missing:
        found = "" if info.how == "declared" or info.notebook else (
            f"; {path} defines model_fn: pass entry_point=\"{info.rel}\" instead")
        return failed(f"{info.declared_missing} names a file that is not in {lbl}: the serving container would "
                      f"not find it; add the script (with `def model_fn(model_dir):`) or fix the name{found}",
                      entry_point=info.rel, declared_missing=info.declared_missing)
    if info.notebook:
        return failed(f"model_fn is only defined in the notebook {path}: SageMaker needs a .py entry point; copy "
                      f"model_fn (and any input_fn/predict_fn/output_fn) into {lbl}inference.py and pass "
                      "entry_point=\"inference.py\"", entry_point=info.rel, how=info.how)
    if info.syntax_error:
        msg, line = info.syntax_error
        if msg.startswith("too large"):
            return failed(f"{path} is {msg}: keep the serving script small (move generated code or data into "
                          "files it loads)", entry_point=info.rel)
        if "not analysed" in msg:
            return failed(f"{path} was {msg[msg.index('not analysed'):]}: commit only what the deployment needs "
                          "(no generated code, datasets or copies), so that the entry point is read",
                          entry_point=info.rel)
        return failed(f"{path} line {line}: {msg}; fix it: the container imports this file before serving "
                      "(run `python -m py_compile` on it to check)", entry_point=info.rel, line=line)
    assert info.tree is not None
    defs = module_defs(info.tree)
    via = f" (found via {info.how})" if info.how else ""
    note = ""
    if "model_fn" not in defs:
        hidden = hidden_defs(info.tree, "model_fn")
        where = f" (it is defined {hidden[0]}, where the container cannot see it: move it to module level)" if hidden else ""
        return failed(f"{path} has no model_fn(model_dir){where}: the SageMaker scikit-learn container needs it to "
                      "load your model — add `def model_fn(model_dir): return joblib.load(os.path.join(model_dir, "
                      f"\"model.joblib\"))`{note}", entry_point=info.rel)
    problems = []
    for name in HANDLERS:
        if name in defs:
            p = signature_problem(name, defs[name])
            if p:
                problems.append(p)
    present = [n for n in ("input_fn", "predict_fn", "output_fn") if n in defs]
    if "transform_fn" in defs and present:
        old = _old_image(folder)
        if old:
            note += (f"; note: {old} ignores transform_fn and uses {', '.join(present)}; images from 1.2-1 on "
                     "reject the mix, so keep only one style")
        else:
            problems.append(f"transform_fn is defined together with {', '.join(present)}: the container rejects "
                            "this (\"Cannot use transform_fn implementation with input_fn, predict_fn, and/or "
                            "output_fn\"); keep either transform_fn or the input_fn/predict_fn/output_fn trio")
    for u in undefined_names(info.tree, path):
        if u.runs_at_serving:
            where = "at import" if u.scope == "module" else f"in {u.scope}"
            problems.append(f"`{u.name}` is used {where} (line {u.line}) but never imported or defined, so the "
                            f"container raises NameError: {_define_hint(u.name)}")
    if problems:
        return failed(f"{path}: " + "; ".join(problems) + note, entry_point=info.rel)
    fn = defs["model_fn"]
    fn_line = getattr(fn, "lineno", None)
    extra = [n for n in ("input_fn", "predict_fn", "output_fn", "transform_fn") if n in defs]
    tail = f"; {'/'.join(extra)} signatures OK" if extra else ""
    return passed(f"{path} defines model_fn(model_dir) (line {fn_line}){tail}{via}{note}",
                  entry_point=info.rel, handlers=["model_fn"] + extra, how=info.how)


def entry_point_imports(t: Target) -> Outcome:
    o = aws_only(t, "entry_point.imports")
    if o:
        return o
    folder = folder_of(t)
    info = folder.facts.entry_point
    if info is None or info.how == "declared":
        return blocked("entry_point.model_fn", f"entry_point.imports needs an entry-point script: add "
                       f"{folder_label(t)}inference.py")
    path = f"{folder.rel}/{info.rel}"
    if info.tree is None:
        if info.syntax_error and info.syntax_error[0].startswith("too large"):
            return blocked("entry_point.model_fn", f"{path} is {info.syntax_error[0]}", entry_point=info.rel)
        if info.syntax_error:
            return failed(f"cannot check the imports of {path}: line {info.syntax_error[1]}: {info.syntax_error[0]}; "
                          "fix the syntax error first", entry_point=info.rel)
        return failed(f"cannot parse {path}; fix it so Python can import it", entry_point=info.rel)
    uses = info.imports
    problems: list[str] = []
    for u in uses:
        if u.full.startswith("sklearn.externals.joblib") or u.full == "sklearn.externals.joblib" or \
                (u.full.startswith("sklearn.externals") and u.full.endswith(".joblib")):
            problems.append(f"{path} line {u.line} imports joblib from sklearn.externals, which was removed in "
                            "scikit-learn 0.23: use `import joblib` instead")
    reqs = folder.facts.requirements
    ships = [r for r in reqs if r.shipped is not False]
    local = local_modules(folder)
    image_name, image_modules = image_of(info.framework)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    own = t.submission.facts.python_modules
    missing: dict[str, ImportUse] = {}
    elsewhere: dict[str, tuple[ImportUse, str]] = {}
    for u in uses:
        m = u.module
        if m in stdlib or m in image_modules or m in local or m.startswith("_"):
            continue
        if m in own:          # the student's own module, somewhere else in the repo: not a package to install
            if not _copied_in(folder, own[m]):
                elsewhere.setdefault(m, (u, own[m]))
            continue
        if any(r.provides(m) for r in ships):
            continue
        missing.setdefault(m, u)
    ctor = info.constructor or "SKLearnModel"
    unshipped = {m: r for m in missing for r in reqs if r.shipped is False and r.provides(m)}
    for m, r in unshipped.items():
        u = missing.pop(m)
        ep_dir = str(PurePosixPath(info.rel).parent)
        kw = f'source_dir="{ep_dir}"' + (f', entry_point="{PurePosixPath(info.rel).name}"' if ep_dir != "." else "")
        problems.append(f"{path} imports {m} (line {u.line}), which {r.where} lists, but that file never reaches the "
                        f"endpoint: without source_dir= the SDK uploads only the entry-point file; pass {kw} to "
                        f"{ctor} ({info.how.split(' of ', 1)[-1]})")
    if missing:
        ep_dir = str(PurePosixPath(path).parent)
        first = next(iter(reqs), None)
        target = first.where if first is not None else f"{ep_dir}/requirements.txt"
        names = ", ".join(f"{m} (line {u.line})" for m, u in missing.items())
        dist_list = " ".join(IMPORT_TO_DIST.get(m, [m])[0] for m in missing)
        sd = "" if info.source_dir is not None else f" and pass source_dir= to {ctor} so it is uploaded"
        problems.append(f"{path} imports {names}, which {image_name} does not have: add "
                        f"`{dist_list}` to {target}{sd}")
    local_used = sorted({u.module for u in uses if u.module in local and u.module not in stdlib
                         and u.module not in image_modules})
    for m in local_used:                 # beside the entry point, but not uploaded with it (as predict.local finds)
        lb = left_behind(folder, m)
        if lb is not None:
            u = next(x for x in uses if x.module == m)
            problems.append(f"{path} imports {m} (line {u.line}), your own module {folder.rel}/{lb.rel}, but without "
                            f"source_dir= the SDK uploads only {lb.entry_name} to the endpoint: pass {lb.fix} to {ctor}")
    for m, (u, rel) in elsewhere.items():
        ep_dir = str(PurePosixPath(info.rel).parent)
        dest = folder.rel + ("/" + ep_dir if ep_dir != "." else "")
        problems.append(f"{path} imports {m} (line {u.line}), your own module {rel}, which is not in {folder.rel}/: "
                        f"only the files next to the entry point reach the endpoint; copy {rel} into {dest}/ and "
                        f"pass source_dir= to {info.constructor or 'SKLearnModel'} (or dependencies=[...])")
    notes = removed_api_notes(info.tree, path)
    if problems:
        return failed("; ".join(problems + notes), entry_point=info.rel, missing=sorted(missing),
                      own_modules=sorted(elsewhere))
    extra = "".join(f"; note: {n}" for n in notes)
    unknown = [r for r in reqs if r.shipped is None]
    # a module of the folder reaches the endpoint without source_dir= only when the upload is a selection
    # that names it (dependencies=[...]); when no entry_point= was found, whether it does is unknown
    unsure = local_used if folder.facts.shipped_code.files is None else []
    if info.source_dir is None and (unknown or unsure):
        what = [r.where for r in unknown] + [f"your module {m}" for m in unsure]
        extra += (f" (note: {' and '.join(what)} only reach the endpoint when you pass source_dir= to "
                  f"{info.constructor or 'SKLearnModel'}; without it only the entry-point file is uploaded)")
    third = sorted({u.module for u in uses if u.module not in stdlib and u.module not in local})
    provider = image_name + "".join(f" or {r.where}" for r in ships)
    return passed(f"{path} imports only what {provider} provides"
                  + (f" ({', '.join(third)})" if third else "") + extra, entry_point=info.rel, imports=third)



_IMPORT_HINTS = {"joblib": "import joblib", "os": "import os", "np": "import numpy as np", "pd": "import pandas as pd",
                 "pickle": "import pickle", "json": "import json", "numpy": "import numpy",
                 "pandas": "import pandas", "io": "import io", "sys": "import sys"}


def _define_hint(name: str) -> str:
    imp = _IMPORT_HINTS.get(name)
    return f"add `{imp}` at the top of the file" if imp else f"import or define `{name}` before it is used"


def _old_image(folder: DeployFolder) -> str | None:
    """The folder's image (THE image decision, as built on the grading date) when it ignores a user
    transform_fn (the catalog's ``transform_fn``: SageMaker images before 1.2-1 and 1.2-1's first build)."""
    choice = folder.facts.image
    build = choice.build if choice.image is not None else None
    if choice.declaration is not None and build is not None and build.transform_fn == "ignored":
        return choice.declaration.label + (f" ({choice.note})" if choice.note else "")
    return None


_COPY = re.compile(r"\b(?:cp|copy|rsync|shutil\.copy\w*|copyfile)\b")


def _copied_in(folder: DeployFolder, rel: str) -> bool:
    """Whether the folder's own scripts or README copy ``rel`` (a module elsewhere in the repo) into
    the folder before deploying (``cp ../src/features.py .``, ``shutil.copy(...)``)."""
    name = rel.rsplit("/", 1)[-1]
    doc = folder.facts.readme
    texts = [s.text for s in folder.facts.scripts] + ([doc.text] if doc is not None and doc.readable else [])
    return any(_COPY.search(line) and name in line for text in texts for line in text.splitlines())
