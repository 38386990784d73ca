"""readme.present, readme.instructions, readme.cleanup: the deploy README exists, says how the
model was deployed, and says how everything deployed is deleted."""
from __future__ import annotations

from deploycheck.analysis.commands import STEP_ORDER, Hit, aws_cleanup_categories, gcp_flavour
from deploycheck.analysis.readme import MIN_WORDS, README_LIMIT, README_NAMES, ReadmeDoc
from deploycheck.discovery import Target
from deploycheck.model import Outcome, blocked, failed, passed
from deploycheck.verdicts import folder_label, folder_of, no_folder

STEP_NAMES = {
    "aws": {"upload": "upload of model.tar.gz to S3 (aws s3 cp / upload_data)",
            "model": "model creation (SKLearnModel(...) / create_model)",
            "deploy": "endpoint deployment (model.deploy(...) / create_endpoint)",
            "predict": "a prediction call (predictor.predict(...) / invoke_endpoint)"},
    "gcp": {"upload": "upload of the model file to a bucket (gsutil cp / gcloud storage cp)",
            "model": "model creation (gcloud ai-platform models create / gcloud ai models upload)",
            "deploy": "deployment (gcloud ai-platform versions create / gcloud ai endpoints deploy-model)",
            "predict": "a prediction call (gcloud ai-platform predict / gcloud ai endpoints predict)"},
}
EXAMPLE_DEPLOY = {
    "aws": ('e.g. `model = SKLearnModel(model_data="s3://<bucket>/model.tar.gz", role=role, '
            'entry_point="inference.py", framework_version="1.2-1")` then '
            '`predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")`'),
    "gcp": ("e.g. `gsutil cp model.joblib gs://<bucket>/model/`, `gcloud ai models upload --region=us-central1 "
            "--display-name=mymodel --container-image-uri=us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-2:latest "
            "--artifact-uri=gs://<bucket>/model/`, `gcloud ai endpoints create ...` and "
            "`gcloud ai endpoints deploy-model ENDPOINT_ID --model=MODEL_ID ...`"),
}



def _readme_or_blocked(t: Target, check: str) -> tuple[Outcome | None, ReadmeDoc | None]:
    o = no_folder(t)
    if o:
        return o, None
    doc = folder_of(t).facts.readme
    if doc is None:
        return blocked("readme.present", f"{check} needs a README: add {folder_label(t)}README.md with the steps "
                                         "you ran"), None
    if doc.problem:
        return blocked("readme.present", f"{check} needs a readable README: {doc.problem}"), None
    return None, doc


def _summ(hits: list[Hit], limit: int = 4) -> str:
    seen: list[str] = []
    for h in hits:
        s = f"{h.label} ({h.where})"
        if s not in seen:
            seen.append(s)
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more


# ------------------------------------------------------------------------------- checks

def readme_present(t: Target) -> Outcome:
    o = no_folder(t)
    if o:
        return o
    folder = folder_of(t)
    info = folder.facts.readme
    if info is None:
        hint = ""
        root = [e for e in t.submission.facts.top_files if e.lower() in README_NAMES]
        if root:
            hint = (f" (the repo's top-level {root[0]} does not count: the lab asks for a README "
                    f"inside {folder.rel}/)")
        return failed(f"no README in {folder.rel}/: add {folder.rel}/README.md with the steps you ran to deploy "
                      f"and delete your model{hint}", folder=folder.rel)
    if info.problem:
        return failed(info.problem, file=info.path)
    if folder.facts.readme_near_miss:
        where = folder.facts.readme_near_miss
        if info.kind == "notebook":
            base = where.rsplit("/", 1)[-1]
            return failed(f"{folder.rel}/ has no README, but {info.path} is one written as a notebook ({info.words} "
                          f"words): save it as {folder.rel}/README.md (in {folder.rel}/: `jupyter nbconvert --to "
                          f"markdown {base} --output README`, or Jupyter's File > Save and Export Notebook As > "
                          "Markdown); its cells were graded for readme.instructions and readme.cleanup",
                          file=info.path, near_miss=True)
        dest = "README.md" if "/" not in where else f"{folder.rel}/README.md (move it up from {where})"
        return failed(f"{folder.rel}/ has no README, but {info.path} looks like it ({info.words} words): rename it to "
                      f"{dest}; its steps were graded for readme.instructions and readme.cleanup",
                      file=info.path, near_miss=True)
    has_code = any(b.content.strip() for b in info.code_blocks)
    if info.words < MIN_WORDS and not has_code:
        return failed(f"{info.path} only has {info.words} words: describe how you deployed (the commands or "
                      "code you ran, how you predicted, how you deleted the resources)",
                      file=info.path, words=info.words)
    extra = []
    if info.truncated:
        extra.append(f"only the first {README_LIMIT // 1000} KB were read")
    if info.note:
        extra.append(info.note)
    tail = f" ({'; '.join(extra)})" if extra else ""
    return passed(f"{info.path}: {info.words} words, {len(info.code_blocks)} code blocks{tail}",
                  file=info.path, words=info.words, code_blocks=len(info.code_blocks))


def readme_instructions(t: Target) -> Outcome:
    o, info = _readme_or_blocked(t, "readme.instructions")
    if o:
        return o
    assert info is not None
    steps = folder_of(t).facts.deploy_steps
    main, other = list(steps.main), list(steps.other)
    plat = folder_of(t).platform
    cats = {h.category for h in main}
    found = {c: [h for h in main if h.category == c] for c in STEP_ORDER}
    service = "SageMaker" if plat == "aws" else "GCP (AI Platform / Vertex AI)"
    if "deploy" not in cats:
        missing = [STEP_NAMES[plat][c] for c in STEP_ORDER if c not in cats]
        have = f" (found only: {_summ(main)})" if main else ""
        other_deploy = [h for h in other if h.category == "deploy"]
        hint = ""
        elsewhere = folder_of(t).facts.other_services
        if elsewhere:
            h = elsewhere[0]
            return failed(f"{folder_of(t).rel}/ deploys to {h.category} ({h.label}, {h.where}), not to {service}: the "
                          f"lab asks for a {service} deployment of your model; add the code or commands you ran for "
                          f"it, {EXAMPLE_DEPLOY[plat]}", file=info.path, other_service=h.category)
        if other_deploy:
            hint = (f"; {other_deploy[0].where} has a deploy step: name that file in the README "
                    f"(e.g. 'run {other_deploy[0].rel}') or copy the steps into it")
        return failed(f"{info.path} has no concrete {service} deployment step{have}: missing "
                      f"{'; '.join(missing)}. Add the code or commands you ran, {EXAMPLE_DEPLOY[plat]}{hint}",
                      file=info.path, found=sorted(cats), missing=[c for c in STEP_ORDER if c not in cats])
    shown = [found[c][0] for c in STEP_ORDER if found[c]]
    msg = f"found {', '.join(f'{h.label} in {h.where}' for h in shown)}"
    if "predict" not in cats:
        msg += f" (tip: also show {STEP_NAMES[plat]['predict']})"
    return passed(msg, file=info.path, found=sorted(cats))


# ------------------------------------------------------------------------------ cleanup

AWS_FIX = {
    "endpoint": "`predictor.delete_endpoint()` (deletes the endpoint and its config)",
    "config": "`sagemaker_client.delete_endpoint_config(EndpointConfigName=...)` (or use `predictor.delete_endpoint()`, which deletes the config too)",
    "model": "`predictor.delete_model()` (or `aws sagemaker delete-model --model-name ...`)",
}
GCP_FIX_LEGACY = {
    "version": "`gcloud ai-platform versions delete VERSION --model=MODEL`",
    "legacy_model": "`gcloud ai-platform models delete MODEL`",
}
GCP_FIX_VERTEX = {
    "endpoint": ("`gcloud ai endpoints undeploy-model ENDPOINT_ID --deployed-model-id=DEPLOYED_MODEL_ID "
                 "--region=REGION` then `gcloud ai endpoints delete ENDPOINT_ID --region=REGION` "
                 "(SDK: `endpoint.undeploy_all(); endpoint.delete()`)"),
    "model": "`gcloud ai models delete MODEL_ID --region=REGION` (SDK: `model.delete()`)",
}


def readme_cleanup(t: Target) -> Outcome:
    o, info = _readme_or_blocked(t, "readme.cleanup")
    if o:
        return o
    assert info is not None
    folder = folder_of(t)
    steps = folder.facts.cleanup_steps
    main, other = list(steps.main), list(steps.other)
    plat = folder.platform
    hits = main
    hint = ""
    if other:
        hint = (f" ({other[0].where} has {other[0].label}: name that file in the README or copy the step into it)")
    if plat == "aws":
        cats = aws_cleanup_categories(hits)
        missing = [c for c in ("endpoint", "config", "model") if c not in cats]
        if "endpoint" in missing and "config" in missing:
            missing.remove("config")   # predictor.delete_endpoint() covers both
        if missing:
            what = " and ".join(AWS_FIX[c] for c in missing)
            have = f" (found {_summ(hits)})" if hits else ""
            return failed(f"{info.path} does not say how to delete everything you deployed{have}: add {what}; "
                          "an idle endpoint is billed by the hour" + hint,
                          file=info.path, found=sorted(cats), missing=missing)
        msg = f"found {_summ(hits)}"
        if "bucket" not in cats:
            msg += " (tip: also remove the model.tar.gz from S3, e.g. `aws s3 rm s3://<bucket>/model.tar.gz`)"
        return passed(msg, file=info.path, found=sorted(cats))
    cats = {h.category for h in hits}
    flavour = gcp_flavour(folder)
    legacy_ok = {"version", "legacy_model"} <= cats or ("version" in cats and "model" in cats)
    vertex_ok = "endpoint" in cats and "model" in cats
    ok = {"legacy": legacy_ok, "vertex": vertex_ok}.get(flavour, legacy_ok or vertex_ok)
    if not ok:
        have = f" (found {_summ(hits)})" if hits else ""
        if flavour == "legacy":
            missing = [c for c in ("version", "legacy_model") if c not in cats
                       and not (c == "legacy_model" and "model" in cats)]
            what = " and ".join(GCP_FIX_LEGACY[c] for c in missing)
        else:
            missing = [c for c in ("endpoint", "model") if c not in cats]
            what = " and ".join(GCP_FIX_VERTEX[c] for c in missing)
        return failed(f"{info.path} does not say how to delete what you deployed{have}: add {what}; a deployed "
                      "model is billed while it is up" + hint,
                      file=info.path, found=sorted(cats), missing=missing, flavour=flavour)
    msg = f"found {_summ(hits)}"
    if "bucket" not in cats:
        msg += " (tip: also delete the uploaded model, e.g. `gsutil rm -r gs://<bucket>/model/`)"
    return passed(msg, file=info.path, found=sorted(cats), flavour=flavour)


# ----------------------------------------------------------------------- files.referenced

