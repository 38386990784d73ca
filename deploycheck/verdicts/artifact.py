"""artifact.present, artifact.valid, artifact.version, artifact.safe: the model archive (AWS) or
model file (GCP), its layout, the scikit-learn version in the pickle against the declared serving
runtime, and the pickle's globals against the allowlist. Facts: ``folder.facts.artifact``."""
from __future__ import annotations

from deploycheck.analysis.image_fit import declare, fitting_images, retrain
from deploycheck.runtimes import catalog
from deploycheck.runtimes.catalog import Image
from deploycheck.analysis.artifact import (GCP_NAMES, ArtifactInfo, find_gcp, find_tar, model_files,
                                           norm_member)
from deploycheck.discovery import DeployFolder, Target
from deploycheck.model import AWS, Outcome, blocked, failed, passed
from deploycheck.verdicts import folder_of, no_folder


def _artifact(t: Target) -> Outcome | tuple[DeployFolder, ArtifactInfo]:
    """``blocked`` when there is no deploy folder or no model artifact, else (the folder, its artifact
    facts), for the checks that inspect the artifact."""
    if (o := no_folder(t)) is not None:
        return o
    f = folder_of(t)
    info = f.facts.artifact
    if info is None:
        what = "model.tar.gz" if f.platform == AWS else "model.joblib"
        return blocked("artifact.present", f"no model artifact in {f.rel}/: add the {what} you deployed")
    return f, info


def artifact_present(t: Target) -> Outcome:
    if (o := no_folder(t)) is not None:
        return o
    f = folder_of(t)
    d = f.rel + "/"
    if f.platform == AWS:
        tar = find_tar(f)
        if tar:
            rel, link = tar
            note = " (a symlink: artifact.valid will ask for the real file)" if link else ""
            return passed(f"found {f.repo_rel(rel)}{note}", artifact=rel, kind="tar")
        mf = model_files(f)
        if mf:
            rel, link = mf[0]
            base = rel.rsplit("/", 1)[-1]
            where = f.rel + ("/" + rel.rsplit("/", 1)[0] if "/" in rel else "")
            return passed(f"found the model file {f.repo_rel(rel)} but no model.tar.gz: SageMaker needs "
                          f"model_data as a gzip'ed tar; in {where}/ run `tar -czf model.tar.gz {base}` "
                          "and commit model.tar.gz", artifact=rel, kind="file")
        return failed(f"{d} has no model.tar.gz: save the trained model with joblib.dump(model, "
                      "\"model.joblib\"), run `tar -czf model.tar.gz model.joblib` so the model file is at "
                      f"the archive root, and commit {d}model.tar.gz")
    found = find_gcp(f)
    if found:
        rel, link = found
        note = " (a symlink: artifact.valid will ask for the real file)" if link else ""
        return passed(f"found {f.repo_rel(rel)}{note}", artifact=rel, kind="file")
    return failed(f"{d} has no model file: save the trained model with joblib.dump(model, \"model.joblib\") "
                  f"and commit {d}model.joblib (the file you upload to the bucket)")


def artifact_valid(t: Target) -> Outcome:
    got = _artifact(t)
    if isinstance(got, Outcome):
        return got
    f, info = got
    where = f.repo_rel(info.rel)
    if info.symlink:
        tgt = info.link_target or "?"
        if info.link_escapes:
            return failed(f"{where} is a symlink pointing outside the repo (to `{tgt}`); it is never followed: "
                          f"replace it with the real file", **info.to_data())
        return failed(f"{where} is a symlink (to `{tgt}`); symlinks are never followed: commit the real file "
                      "in its place", **info.to_data())
    if f.platform == AWS:
        if info.kind != "tar":
            base = info.rel.rsplit("/", 1)[-1]
            return failed(f"there is no model.tar.gz in {f.rel}/ (only {where}): SageMaker needs a gzip'ed tar; "
                          f"run `tar -czf model.tar.gz {base}` in that folder and commit it", **info.to_data())
        if info.problems:
            return failed(info.problems[0] + (f" (also: {'; '.join(info.problems[1:3])})" if len(info.problems) > 1 else ""),
                          **info.to_data())
        names = [norm_member(m) for m in info.members if norm_member(m) not in ("", ".")]
        members = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        if info.expected:        # the layout is judged by what model_fn opens (model/model.joblib is fine)
            return passed(f"{where} is a gzip'ed tar holding {members}; model_fn loads "
                          f"{', '.join(info.expected)} from model_dir, and the archive has it", **info.to_data())
        return passed(f"{where} is a gzip'ed tar with {members} at the archive root", **info.to_data())
    # GCP
    d = info.rel.rsplit("/", 1)[0] if "/" in info.rel else ""
    dd = f"{f.rel}/{d}/" if d else f"{f.rel}/"
    here = [x for x in f.files if (x.rsplit("/", 1)[0] if "/" in x else "") == d]
    exact = sorted(x.rsplit("/", 1)[-1] for x in here if x.rsplit("/", 1)[-1] in GCP_NAMES)
    base = info.rel.rsplit("/", 1)[-1]
    if len(exact) > 1:
        keep = _gcp_keep(f, exact)
        drop = [x for x in exact if x != keep]
        return failed(f"{dd} has {' and '.join(exact)}: AI Platform/Vertex refuse a model directory with more than "
                      f"one model file; keep {keep} and delete {', '.join(drop)}", **info.to_data())
    if not exact:
        suggest = "model.pkl" if info.format == "pickle" else "model.joblib"
        return failed(f"{f.repo_rel(info.rel)} has the wrong name: rename it to {suggest} (AI Platform/Vertex "
                      "only load model.joblib, model.pkl or model.bst)", **info.to_data())
    if base == "model.pkl" and info.format and info.format.startswith("joblib"):
        return failed(f"{where} was written by joblib.dump, but AI Platform/Vertex open model.pkl with pickle.load, "
                      "which cannot read joblib files: rename it to model.joblib (or save it with pickle.dump)",
                      **info.to_data())
    if info.scan_error and info.format != "xgboost-booster":
        return failed(f"{where} is not a readable model file ({info.scan_error}): save it again with "
                      "joblib.dump(model, \"model.joblib\") and commit it", **info.to_data())
    return passed(f"{where} is the only model file in {dd} and has a name the prebuilt containers load",
                  **info.to_data())


def _gcp_keep(folder: DeployFolder, names: list[str]) -> str:
    """The model file the README talks about, else model.joblib."""
    doc = folder.facts.readme
    if doc is not None and doc.readable:
        hits = [n for n in names if n in doc.text]
        if len(hits) == 1:
            return hits[0]
    return "model.joblib" if "model.joblib" in names else names[0]


def _kind_name(kind: str) -> str:
    return {"sagemaker": "SageMaker scikit-learn framework_version", "ai_platform": "AI Platform runtime version",
            "vertex": "Vertex prebuilt scikit-learn container"}[kind]


def _how(info: ArtifactInfo, platform: str) -> str:
    """How to declare an image that loads the model as it is, else the re-training for the newest one."""
    pickled = info.sklearn_version or ""
    fits = fitting_images(info.pickle, pickled, platform)
    if fits:
        return declare(fits[0])
    kinds = ("sagemaker",) if platform == AWS else ("vertex",)
    rows = [im for im in catalog.IMAGES if im.kind in kinds and not im.alias_of and catalog.retirement(im) is None]
    newest = max(rows, key=lambda im: catalog.mm(im.sklearn) or (0, 0))
    serving = "SageMaker scikit-learn image" if platform == AWS else "prebuilt Vertex container"
    return (f"no {serving} loads it as it is (scikit-learn {catalog.major_minor(pickled)}): {retrain(newest, pickled)}, "
            f"and {declare(newest)}")


def _retired(image: Image | None) -> str:
    r = catalog.retirement(image) if image is not None else None
    if r is None or image is None:
        return ""
    return (f"; note: {image.title} {r.what} {r.date} (the vendor's support policy)"
            + (f": declare {r.instead} instead" if r.instead else ""))


def artifact_version(t: Target) -> Outcome:
    got = _artifact(t)
    if isinstance(got, Outcome):
        return got
    f, info = got
    where = f.repo_rel(info.rel) + (f" (member {info.model_member})" if info.kind == "tar" and info.model_member else "")
    if info.symlink:
        return failed(f"{where} is a symlink and is never followed, so its scikit-learn version cannot be read: "
                      "commit the real file")
    pickled = info.sklearn_version
    if not pickled:
        if info.format == "xgboost-booster":
            return failed(f"{where} is an XGBoost booster, not a scikit-learn model: this lab deploys a "
                          "scikit-learn model; save it with joblib.dump(model, \"model.joblib\")")
        if info.kind == "tar" and info.model_member is None:
            why = info.problems[0] if info.problems else "it holds no model file"
            return failed(f"cannot read the scikit-learn version: {why}")
        why = f" ({info.scan_error})" if info.scan_error else ""
        top = f" (it holds a {info.top})" if info.top and not info.scan_error else ""
        return failed(f"no scikit-learn version found in {where}{why}{top}: the file must be a fitted scikit-learn "
                      "model saved with joblib.dump(model, \"model.joblib\") so the serving runtime can be matched")
    choice = f.facts.image                    # THE image decision (analysis.runtimes)
    d = choice.declaration
    if d is None:
        doc = f.facts.readme
        if doc is not None:
            where, fix_in = f"{doc.path} never says", f"in {doc.path}"
        else:
            where = f"no README or script in {f.rel}/ says"
            fix_in = f"in {f.rel}/README.md (add the README with the steps you ran)"
        how = _how(info, f.platform)
        if f.platform == AWS:
            return failed(f"{where} which SageMaker scikit-learn image serves the model (pickled with scikit-learn "
                          f"{pickled}): {how.replace('use framework_version', 'pass framework_version', 1)} "
                          f"{'to SKLearnModel ' if how.startswith('use framework_version') else ''}{fix_in}",
                          sklearn_version=pickled)
        return failed(f"{where} which runtime serves the model (pickled with scikit-learn {pickled}): "
                      f"{how} ({fix_in})", sklearn_version=pickled)
    data = {"sklearn_version": pickled, "declared": d.value, "where": d.where, "file": d.file,
            "ignored": [o.where for o in choice.ignored],
            **({"pickle": info.pickle.to_data()} if info.pickle is not None else {})}
    note = f" ({choice.note})" if choice.note else ""
    image, fit = choice.image, f.facts.image_fit
    if image is None or fit is None:
        return failed(f"{d.where} declares {d.label}, which is not a known {_kind_name(d.kind)} value{note}; valid "
                      f"values: {', '.join(catalog.valid_values(d.kind))}; for a model pickled with scikit-learn "
                      f"{pickled} {_how(info, f.platform)}", **data)
    b = fit.image                            # the build in force on the grading date
    era = f"; {choice.era}" if choice.era else ""
    if b is not image:
        data["build"] = b.build
    aip = ""
    if d.kind == "ai_platform":
        uri = catalog.vertex_container_uri(pickled)
        aip = (f"; note: AI Platform Prediction is retired, on Vertex AI use {uri}" if uri else
               "; note: AI Platform Prediction is retired, use Vertex AI")
    if fit.ok:
        msg = (f"{where} was pickled with scikit-learn {pickled}; {choice.described} (scikit-learn {b.sklearn}{era})"
               + (f"; note: {fit.note}" if fit.note else "") + (f"; note: {fit.doubt}" if fit.doubt else ""))
        if fit.doubts:
            data["uncertain"] = [m.cause for m in fit.doubts]
        return passed(msg + aip + _retired(image), **data)
    fix = fit.fixes()
    if d.kind == "ai_platform":
        rt = catalog.best_ai_platform_runtime_for(pickled)
        if rt and rt != d.value:
            fix += (f" (on the retired AI Platform, --runtime-version {rt} has scikit-learn "
                    f"{catalog.major_minor(pickled)})")
    data["causes"] = [m.what for m in fit.certain]
    return failed(f"{choice.described} (scikit-learn {b.sklearn}, numpy {b.numpy}, Python {b.python}{era}) but {where}"
                  f" does not load there: {fit.cause}. Fix: {fix}{aip.replace('; note:', '. Note:', 1)}"
                  f"{_retired(image)}", **data)


def artifact_safe(t: Target) -> Outcome:
    got = _artifact(t)
    if isinstance(got, Outcome):
        return got
    f, info = got
    where = f.repo_rel(info.rel)
    if info.symlink:
        return failed(f"{where} is a symlink; it is never followed or loaded: commit the real file")
    if info.bomb:
        return failed(f"{where} looks like a tar bomb, so nothing in it is read or loaded: "
                      "pack only the trained model file")
    if info.format == "xgboost-booster" and not info.unsafe_globals:
        return passed(f"{where} is an XGBoost booster file (not a pickle): nothing in it runs code when loaded")
    if info.unsafe_globals:
        gl = info.unsafe_globals
        shown = ", ".join(f"`{g}`" for g in gl[:6]) + (f" and {len(gl) - 6} more" if len(gl) > 6 else "")
        files = ", ".join(n for n in info.scanned if n != info.rel)
        files = f" ({files})" if files else ""
        hint = ""
        if any(g.startswith("__main__.") for g in gl):
            hint = (" (`__main__.` names are functions/classes defined in your notebook or script: the serving "
                    "container cannot import them; put them in a module of their own beside the entry point (e.g. "
                    "features.py), import them from there when you train and save the model, and pass source_dir= "
                    "so the module is shipped)")
        return failed(f"{where}{files} references {shown}, outside the allowed scikit-learn/numpy/scipy/joblib "
                      f"globals{hint}; loading it could run arbitrary code, so it will not be loaded: save only the "
                      "fitted scikit-learn model with joblib.dump(model, \"model.joblib\")",
                      unsafe_globals=gl[:20], **{k: v for k, v in info.to_data().items() if k != "unsafe_globals"})
    if info.scan_error:
        return failed(f"{where} could not be read completely ({info.scan_error}), so it cannot be checked and "
                      "will not be loaded: save the fitted model again with joblib.dump(model, \"model.joblib\")",
                      **info.to_data())
    if not info.scanned:
        why = info.problems[0] if info.problems else "no model file found in it"
        return failed(f"no model pickle to check in {where}: {why}")
    what = where if info.kind == "file" else f"{', '.join(info.scanned)} in {where}"
    if info.own_globals:
        own = ", ".join(f"`{g}` ({w})" for g, w in list(zip(info.own_globals, info.own_modules))[:4])
        return passed(f"{what}: the pickle references scikit-learn/numpy/scipy/joblib, safe builtins and your own "
                      f"code shipped with the entry point: {own}; it is loaded only in the sandbox, as the endpoint "
                      "would", own_globals=list(info.own_globals[:20]), **info.to_data())
    return passed(f"{what}: the pickle references only scikit-learn/numpy/scipy/joblib and safe builtins",
                  **info.to_data())
