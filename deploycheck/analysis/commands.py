"""Deployment and clean-up steps in a deploy folder's README and scripts, recognised by the
commands and SDK calls they use (regexes on *commands*, not on Markdown), plus clean-up described
in prose ("delete the endpoint ... in the console").

Scripts the README names (``python deploy.py``, ``deploy.ipynb``) count as part of the README;
steps found only in other scripts are kept apart so a message can say "name that file".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from deploycheck.analysis.readme import ReadmeDoc
from deploycheck.analysis.sources import SCRIPT_SUFFIXES, Source, logical_lines

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

# gcloud with optional release track / global flags between "gcloud" and the command group
# (each flag starts with a non-dash character after its dashes: unambiguous, no catastrophic backtracking)
GCLOUD = r"\bgcloud\s+(?:(?:beta|alpha)\s+|-{1,2}[A-Za-z0-9_][\w-]*(?:=\S*)?\s+)*"


@dataclass(frozen=True)
class Pattern:
    category: str
    label: str
    regex: re.Pattern[str]


def _p(cat: str, label: str, rx: str) -> Pattern:
    return Pattern(cat, label, re.compile(rx))


# Steps of a SageMaker deployment: SageMaker Python SDK (SKLearnModel/.deploy/.predict),
# boto3 (create_model/create_endpoint_config/create_endpoint/invoke_endpoint) or the AWS CLI.
AWS_STEPS = [
    _p("upload", "aws s3 cp", r"\baws\s+s3\s+(?:cp|sync|mv)\b"),
    _p("upload", "upload_data(...)", r"\.upload_data\s*\("),
    _p("upload", "upload_file(...)", r"\.upload_file\s*\("),
    _p("model", "SKLearnModel(...)", r"\bSKLearnModel\s*\("),
    _p("model", "SKLearn(...)", r"\bSKLearn\s*\("),
    _p("model", "Estimator(...)", r"\bEstimator\s*\("),
    _p("model", "Model(...)", r"\bsagemaker\.(?:model\.)?Model\s*\("),
    _p("model", "create_model(...)", r"\bcreate_model\s*\("),
    _p("model", "aws sagemaker create-model", r"\baws\s+sagemaker\s+create-model\b"),
    _p("model", "create_endpoint_config(...)", r"\bcreate_endpoint_config\s*\("),
    _p("model", "aws sagemaker create-endpoint-config", r"\baws\s+sagemaker\s+create-endpoint-config\b"),
    _p("deploy", ".deploy(...)", r"\.deploy\s*\("),
    _p("deploy", "create_endpoint(...)", r"\bcreate_endpoint\s*\("),
    _p("deploy", "aws sagemaker create-endpoint", r"\baws\s+sagemaker\s+create-endpoint(?!-config)\b"),
    _p("predict", "invoke_endpoint(...)", r"\binvoke_endpoint\s*\("),
    _p("predict", "aws sagemaker-runtime invoke-endpoint", r"\binvoke-endpoint\b"),
    _p("predict", ".predict(...)", r"\.predict\s*\("),
]

# Legacy AI Platform Prediction (gcloud ai-platform ...) and Vertex AI (gcloud ai ... / aiplatform SDK).
GCP_STEPS = [
    _p("upload", "gsutil cp", r"\bgsutil\s+(?:-\w+\s+)*(?:cp|rsync|mv)\b"),
    _p("upload", "gcloud storage cp", GCLOUD + r"storage\s+(?:cp|rsync|mv)\b"),
    _p("upload", "upload_from_filename(...)", r"\.upload_from_filename\s*\("),
    _p("model", "gcloud ai-platform models create", GCLOUD + r"ai-platform\s+models\s+create\b"),
    _p("model", "gcloud ai models upload", GCLOUD + r"ai\s+models\s+upload\b"),
    _p("model", "aiplatform.Model.upload(...)", r"\bModel\.upload(?:_scikit_learn_model_file)?\s*\("),
    _p("model", "gcloud ai endpoints create", GCLOUD + r"ai\s+endpoints\s+create\b"),
    _p("model", "aiplatform.Endpoint.create(...)", r"\bEndpoint\.create\s*\("),
    _p("deploy", "gcloud ai-platform versions create", GCLOUD + r"ai-platform\s+versions\s+create\b"),
    _p("deploy", "gcloud ai endpoints deploy-model", GCLOUD + r"ai\s+endpoints\s+deploy-model\b"),
    _p("deploy", ".deploy(...)", r"\.deploy\s*\("),
    _p("predict", "gcloud ai-platform predict", GCLOUD + r"ai-platform\s+predict\b"),
    _p("predict", "gcloud ai endpoints predict", GCLOUD + r"ai\s+endpoints\s+(?:raw-)?predict\b"),
    _p("predict", ".predict(...)", r"\.predict\s*\("),
    _p("predict", "REST :predict", r":predict\b"),
]

STEP_ORDER = ("upload", "model", "deploy", "predict")

# Deployments to another service than the lab's (the category is the service's name).
OTHER_SERVICES = [
    _p("Google App Engine", "gcloud app deploy", GCLOUD + r"app\s+deploy\b"),
    _p("Google Cloud Run", "gcloud run deploy", GCLOUD + r"run\s+deploy\b"),
    _p("Google Cloud Functions", "gcloud functions deploy", GCLOUD + r"functions\s+deploy\b"),
    _p("Google Compute Engine", "gcloud compute instances create", GCLOUD + r"compute\s+instances\s+create(?![\w-])"),
    _p("AWS Elastic Beanstalk", "eb deploy", r"(?:^|[\s;&|$>])eb\s+(?:deploy|create|init)\b"),
    _p("AWS Lambda", "aws lambda / sam / serverless deploy",
       r"\baws\s+lambda\s+(?:create|update)-function\b|\bsam\s+deploy\b|\bserverless\s+deploy\b"),
    _p("AWS EC2", "an EC2 instance (ssh / aws ec2 run-instances)",
       r"\baws\s+ec2\s+run-instances\b|\bssh\b[^\n]*\bec2-[\w-]+@|@ec2-\d|\bec2-user@"),
    _p("AWS App Runner", "aws apprunner create-service", r"\baws\s+apprunner\s+create-service\b"),
    _p("Heroku", "git push heroku / heroku create", r"\bgit\s+push\s+heroku\b|\bheroku\s+(?:create|container:push)\b"),
]


@dataclass(frozen=True)
class Hit:
    category: str
    label: str
    where: str
    rel: str                  # file (relative to folder)
    text: str                 # the matched logical line (for further inspection)
    pos: tuple[int, int] = (0, 0)   # (notebook cell or 0, line): the order of steps within ``rel``


def find_hits(sources: Iterable[Source], patterns: list[Pattern], folder_rel: str) -> list[Hit]:
    """Lines matching ``patterns``, each with its place in its file."""
    hits: list[Hit] = []
    anyrx = _any_regex(tuple(patterns))
    for src in sources:
        if not anyrx.search(src.text):
            continue
        for line, text in logical_lines(src.text):
            if len(text) > 20_000:
                text = text[:20_000]
            if not anyrx.search(text):
                continue
            for pat in patterns:
                if pat.regex.search(text):
                    hits.append(Hit(pat.category, pat.label, src.where(folder_rel, line), src.rel, text,
                                    (src.cell or 0, src.first_line + line - 1)))
    return hits


def not_recreated(deletes: Iterable[Hit], creates: Iterable[Hit]) -> list[Hit]:
    """The deletes that are clean-up: a delete that the same file follows with a create of the same
    resource only clears the way for a new deployment (``try: delete_endpoint(...) except: pass``
    before ``model.deploy(...)``), however many deletes that block has; a later delete of it is
    clean-up again."""
    last: dict[tuple[str, str], tuple[int, int]] = {}
    for c in creates:
        for kind in c.category.split():
            key = (c.rel, kind)
            if c.pos > last.get(key, (-1, -1)):
                last[key] = c.pos
    return [d for d in deletes if not d.pos < last.get((d.rel, d.category), (-1, -1))]


@lru_cache(maxsize=32)
def _any_regex(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns))


def _referenced_scripts(info: ReadmeDoc, folder: DeployFolder) -> set[str]:
    """Scripts/notebooks of the folder that the README names (by relative path or base name)."""
    names: set[str] = set()
    text = info.text
    for f in folder.files:
        if not f.lower().endswith(SCRIPT_SUFFIXES):
            continue
        base = f.rsplit("/", 1)[-1]
        if re.search(r"(?<![\w.-])" + re.escape(base) + r"(?![\w-])", text):
            names.add(f)
    return names


_DEL_VERB = re.compile(r"\b(?:delete[sd]?|deleting|remove[sd]?|removing|tear(?:ing)?\s+down|teardown|"
                       r"terminat(?:e|ed|ing)|clean(?:ed|ing)?\s+up|destroy(?:ed|ing)?|undeploy(?:ed|ing)?|"
                       r"shut(?:ting)?\s+down)\b", re.I)
_SENT_END = re.compile(r"[.;!?](?:\s|$)")

AWS_CLEAN = [
    _p("endpoint", "delete_endpoint(...)", r"\bdelete_endpoint\s*\("),
    _p("endpoint", "delete_predictor()", r"\.delete_predictor\s*\("),
    _p("endpoint", "aws sagemaker delete-endpoint", r"\baws\s+sagemaker\s+delete-endpoint(?!-config)\b"),
    _p("config", "delete_endpoint_config(...)", r"\bdelete_endpoint_config\s*\("),
    _p("config", "aws sagemaker delete-endpoint-config", r"\bdelete-endpoint-config\b"),
    _p("model", "delete_model(...)", r"\bdelete_model\s*\("),
    _p("model", "aws sagemaker delete-model", r"\baws\s+sagemaker\s+delete-model\b"),
    _p("bucket", "aws s3 rm/rb", r"\baws\s+s3\s+(?:rm|rb)\b"),
    _p("bucket", "delete_bucket/delete_object(s)", r"\.delete_(?:bucket|objects?)\s*\("),
    _p("bucket", "objects.all().delete()", r"objects\.all\(\)\.delete\s*\("),
]
GCP_CLEAN = [
    _p("version", "gcloud ai-platform versions delete", GCLOUD + r"ai-platform\s+versions\s+delete\b"),
    _p("legacy_model", "gcloud ai-platform models delete", GCLOUD + r"ai-platform\s+models\s+delete\b"),
    _p("undeploy", "gcloud ai endpoints undeploy-model", GCLOUD + r"ai\s+endpoints\s+undeploy-model\b"),
    _p("undeploy", "undeploy_all()", r"\.undeploy(?:_all)?\s*\("),
    _p("endpoint", "gcloud ai endpoints delete", GCLOUD + r"ai\s+endpoints\s+delete\b"),
    _p("endpoint", "endpoint.delete(...)", r"\bendpoint\w*\.delete\s*\("),
    _p("model", "gcloud ai models delete", GCLOUD + r"ai\s+models\s+delete\b"),
    _p("model", "model.delete(...)", r"\bmodel\w*\.delete\s*\("),
    _p("bucket", "gsutil rm", r"\bgsutil\s+(?:-\w+\s+)*(?:rm|rb)\b"),
    _p("bucket", "gcloud storage rm", GCLOUD + r"storage\s+(?:rm|buckets\s+delete)\b"),
    _p("bucket", "blob/bucket.delete()", r"\b(?:blob|bucket)\w*\.delete\s*\(|\.delete_blobs?\s*\("),
]

# What creates each resource the clean-up patterns delete: the deployment steps above (their
# regexes), each with the clean-up categories it creates, space-separated. A delete that a create of
# the same resource follows in the same file is not clean-up (:func:`not_recreated`).
_AWS_CREATES = {".deploy(...)": "endpoint config model", "create_endpoint(...)": "endpoint",
                "create_endpoint_config(...)": "config", "create_model(...)": "model",
                "aws sagemaker create-endpoint": "endpoint", "aws sagemaker create-endpoint-config": "config",
                "aws sagemaker create-model": "model", "aws s3 cp": "bucket", "upload_data(...)": "bucket",
                "upload_file(...)": "bucket"}
_GCP_CREATES = {"gcloud ai-platform versions create": "version", "gcloud ai-platform models create": "legacy_model",
                "gcloud ai models upload": "model", "aiplatform.Model.upload(...)": "model",
                "gcloud ai endpoints create": "endpoint", "aiplatform.Endpoint.create(...)": "endpoint",
                "gcloud ai endpoints deploy-model": "undeploy", ".deploy(...)": "undeploy endpoint",
                "gsutil cp": "bucket", "gcloud storage cp": "bucket", "upload_from_filename(...)": "bucket"}
AWS_CREATE = [Pattern(_AWS_CREATES[p.label], p.label, p.regex) for p in AWS_STEPS if p.label in _AWS_CREATES]
GCP_CREATE = [Pattern(_GCP_CREATES[p.label], p.label, p.regex) for p in GCP_STEPS if p.label in _GCP_CREATES]

# Prose ("delete the endpoint, the endpoint configuration and the model in the console"):
# a delete verb followed, in the same sentence, by the resource's name.
_PROSE_NOUNS = {
    "aws": [("config", r"endpoint[\s-]*config(?:uration)?s?"), ("endpoint", r"endpoints?\b(?![\s-]*config)"),
            ("model", r"\bmodels?\b"), ("bucket", r"\b(?:bucket|s3)\b")],
    "gcp": [("version", r"\bversions?\b"), ("endpoint", r"\bendpoints?\b"), ("model", r"\bmodels?\b"),
            ("bucket", r"\bbuckets?\b")],
}


def _paragraphs(text: str) -> list[tuple[int, str]]:
    """(1-based first line, text) of the prose paragraphs (blank-line separated, line breaks kept)."""
    out: list[tuple[int, str]] = []
    cur: list[str] = []
    start = 1
    for i, ln in enumerate(text.split("\n"), 1):
        if ln.strip():
            if not cur:
                start = i
            cur.append(ln)
        elif cur:
            out.append((start, "\n".join(cur)))
            cur = []
    if cur:
        out.append((start, "\n".join(cur)))
    return out


_NAVIGATION = re.compile(r"→|->|»|(?<![-=])>(?!=)|\b(?:click|select|choose|go to|navigate|open|console|"
                         r"actions?|menu|tab|page|browser)\b", re.I)


def prose_hits(info: ReadmeDoc, plat: str) -> list[Hit]:
    """Clean-up told in words: a delete verb with the resource after it in the same sentence, or, for
    console steps ("Endpoints → select → Actions → Delete"), anywhere in that sentence."""
    hits: list[Hit] = []
    nouns = [(c, re.compile(rx, re.I)) for c, rx in _PROSE_NOUNS[plat]]
    for first, para in _paragraphs(info.text):
        text = para[:5000]
        for vm in _DEL_VERB.finditer(text):
            rest = text[vm.end():vm.end() + 300]
            end = _SENT_END.search(rest)
            sentence = rest[: end.start()] if end else rest
            before = text[max(0, vm.start() - 300):vm.start()]
            starts = [m.end() for m in _SENT_END.finditer(before)]
            before = before[starts[-1]:] if starts else before
            if _NAVIGATION.search(before + " " + sentence):
                sentence = before + " " + sentence
            sentence_mod = sentence
            for cat, rx in nouns:
                noun = rx.search(sentence_mod)
                if noun:
                    undeploy = vm.group(0).lower().startswith("undeploy")
                    label = f"'{vm.group(0)} … {noun.group(0)}'"
                    line = first + text.count("\n", 0, vm.start())
                    hits.append(Hit(cat, label, info.where(line), info.rel, text, (0, line)))
                    if plat == "gcp" and undeploy and cat in ("endpoint", "model"):
                        hits.append(Hit("undeploy", label, info.where(line), info.rel, text, (0, line)))
                    # "endpoint configuration" must not also count as "endpoint"
                    sentence_mod = rx.sub(" ", sentence_mod) if cat == "config" else sentence_mod
    return hits


_SDK_DELETE_ENDPOINT = re.compile(r"\.delete_(?:endpoint|predictor)\s*\(([^)]{0,200})\)")


def aws_cleanup_categories(hits: Iterable[Hit]) -> set[str]:
    cats = {h.category for h in hits}
    # SageMaker Python SDK: Predictor.delete_endpoint(delete_endpoint_config=True) deletes the
    # endpoint config too (sagemaker-python-sdk, sagemaker/base_predictor.py); boto3's
    # delete_endpoint(EndpointName=...) does not.
    # Session.delete_endpoint(name) does not delete the config either: only no arguments or a true
    # delete_endpoint_config counts.
    for h in hits:
        if h.category != "endpoint":
            continue
        for m in _SDK_DELETE_ENDPOINT.finditer(h.text):
            args = m.group(1).replace(" ", "")
            if args in ("", "True", "delete_endpoint_config=True"):
                cats.add("config")
    return cats



@dataclass(frozen=True)
class Steps:
    """Step hits of one kind (deployment or clean-up) for a folder."""
    main: tuple[Hit, ...]      # in the README and the scripts it names
    other: tuple[Hit, ...]     # in the folder's other scripts


def readme_sources(doc: ReadmeDoc) -> list[Source]:
    """The README as one searchable source (whole text: code blocks, inline code and prose)."""
    return [Source(doc.rel, "markdown", doc.text, line_map=doc.line_map)]


def steps(folder: DeployFolder, patterns: list[Pattern]) -> Steps:
    """Hits of ``patterns`` in the README (and the scripts it names) and in the other scripts. For
    the clean-up patterns, the README's prose counts too, and deletes that a create of the same
    resource follows are left out (:func:`not_recreated`)."""
    doc = folder.facts.readme
    if doc is None or doc.problem:
        return Steps((), ())
    named = _referenced_scripts(doc, folder)
    scripts = folder.facts.scripts
    main_src = readme_sources(doc) + [s for s in scripts if s.rel in named and s.rel != doc.rel]
    other_src = [s for s in scripts if s.rel not in named and s.rel != doc.rel]   # a notebook README: once
    main = find_hits(main_src, patterns, folder.rel)
    other = find_hits(other_src, patterns, folder.rel)
    if patterns is AWS_CLEAN or patterns is GCP_CLEAN:
        plat = "aws" if patterns is AWS_CLEAN else "gcp"
        creates = AWS_CREATE if plat == "aws" else GCP_CREATE
        main = not_recreated(main + prose_hits(doc, plat), find_hits(main_src, creates, folder.rel))
        other = not_recreated(other, find_hits(other_src, creates, folder.rel))
    return Steps(tuple(main), tuple(other))


def gcp_flavour(folder: DeployFolder) -> str:
    """legacy (gcloud ai-platform), vertex (gcloud ai / aiplatform SDK) or unknown."""
    s = folder.facts.deploy_steps
    hits = s.main + s.other
    labels = " ".join(h.label for h in hits)
    texts = " ".join(h.text for h in hits)
    vertex = ("gcloud ai models" in labels or "gcloud ai endpoints" in labels or "aiplatform" in texts
              or "Model.upload" in labels)
    legacy = "ai-platform" in labels
    if vertex and not legacy:
        return "vertex"
    if legacy and not vertex:
        return "legacy"
    return "unknown"
