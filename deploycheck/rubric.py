"""THE rubric: every check id with its points, order, default state, prerequisites and a one-line
description. Markers in ``checks/``, the reports, README.md's table and ``--rubric`` files all
take their facts from :data:`RUBRIC`; nothing else holds points or order.

A ``--rubric FILE.toml`` overrides points and enabled flags per check and the common scale::

    total = 24                    # every student's score is out of this (default: largest platform max)
    as_of = 2023-05-01            # grade against the serving images as they were that day (default:
                                  # the --deadline's date, else today's images)
    [checks."readme.cleanup"]
    points = 3
    [checks."extras.custom_image"]
    enabled = true

Files are validated when the run starts: an unknown id (with a "did you mean"), an unknown key,
non-numeric or negative points end the run with a one-line error.
"""
from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping

from deploycheck.model import AWS, GCP

BOTH = frozenset({AWS, GCP})


@dataclass(frozen=True)
class CheckSpec:
    id: str
    points: float
    doc: str                                   # one line: passes when ...
    platforms: frozenset[str] = BOTH           # elsewhere the check is skipped (does not apply)
    enabled: bool = True                       # off unless a rubric file turns it on
    requires: tuple[str, ...] = ()             # prerequisites: this check may be "blocked by" them
    option: str | None = None                  # only runs with this Settings flag (cloud, audit_account)
    order: int = 0                             # position in reports (set from the table order)


_TABLE: tuple[CheckSpec, ...] = (
    CheckSpec("structure.deploy_folder", 1,
              "an `aws_deploy/` or `gcp_deploy/` folder exists (aws/sagemaker, gcp/google/vertex/ai_platform; any "
              "case, `_` or `-`; up to two levels down); a folder found by its contents under another name "
              "(`AWS/`, `sagemaker/`) fails only this check and is graded"),
    CheckSpec("readme.present", 1, "that folder has a README (.md/.rst/.txt) with real content; a README under "
              "another name (`Reedme.md`, `serving_AI.md`, a notebook `README.ipynb`) fails only this check and is "
              "graded",
              requires=("structure.deploy_folder",)),
    CheckSpec("readme.instructions", 2,
              "the README gives concrete deployment commands or SDK code for the platform",
              requires=("readme.present",)),
    CheckSpec("readme.cleanup", 2,
              "the README says how to delete the endpoint / config / model (commands, SDK calls or console "
              "steps in words; a delete that only clears the way for a re-deploy does not count)",
              requires=("readme.present",)),
    CheckSpec("files.referenced", 1, "every local file the README or deploy scripts name (links, `python x.py`, "
              "`uv run`, `./x.sh`, `make`, `%run`...) exists in the folder (names read after `cd`; one found only "
              "elsewhere in the repo is named as such)",
              requires=("structure.deploy_folder",)),
    CheckSpec("entry_point.model_fn", 2,
              "AWS: the serving entry point defines `model_fn(model_dir)` and names nothing undefined; "
              "handler signatures are right by position and name, as the container calls them",
              platforms=frozenset({AWS}), requires=("structure.deploy_folder",)),
    CheckSpec("entry_point.imports", 1,
              "AWS: the entry point imports nothing the serving image lacks (`sklearn.externals.joblib`!) "
              "unless a requirements.txt the SDK ships provides it (`source_dir`'s, `code/` in model.tar.gz, "
              "`dependencies=`)",
              platforms=frozenset({AWS}), requires=("entry_point.model_fn",)),
    CheckSpec("artifact.present", 1, "AWS: `model.tar.gz` (or a model file to pack); GCP: a model file",
              requires=("structure.deploy_folder",)),
    CheckSpec("artifact.valid", 2,
              "tar.gz is gzip, no links/`..`/absolute members, the files `model_fn` loads are in it where it "
              "opens them (else the model at the archive root); GCP: exactly one of `model.joblib`, `model.pkl`, "
              "`model.bst`",
              requires=("artifact.present",)),
    CheckSpec("artifact.version", 2,
              "the pickle loads on the declared serving image: its scikit-learn release, numpy, joblib format and "
              "pickle protocol match the image (as built on the grading date)",
              requires=("artifact.present",)),
    CheckSpec("artifact.safe", 2,
              "the pickle references only scikit-learn / numpy / scipy / joblib / safe builtins and the "
              "student's own modules shipped with the entry point (flagged pickles are never loaded)",
              requires=("artifact.present",)),
    CheckSpec("predict.local", 3,
              "the student's code and model, run in the declared image's runtime through the container's "
              "own request path in the sandbox, answer the request the student documents (sent unchanged) as "
              "the cloud endpoint would",
              requires=("artifact.present", "artifact.valid", "artifact.safe", "entry_point.model_fn")),
    CheckSpec("proof.screenshot", 1,
              "the folder holds (or its README embeds) a screenshot whose text shows a prediction from the "
              "deployed model",
              requires=("structure.deploy_folder",)),
    CheckSpec("security.secrets", 2, "no cloud credentials are committed anywhere in the repo, its git history included",
              requires=("structure.deploy_folder",)),
    CheckSpec("extras.custom_image", 1,
              "the lab's extra part: a custom Docker image pushed and run (`docker push`, "
              "`gcloud compute instances create-with-container`)",
              enabled=False, requires=("structure.deploy_folder",)),
    CheckSpec("cloud.deploy", 2, "only with `--cloud`: the deployment to the real (or moto) cloud works",
              option="cloud", requires=("predict.local",)),
    CheckSpec("cloud.predict", 2, "only with `--cloud`: the endpoint answers like the local emulation",
              option="cloud", requires=("cloud.deploy",)),
    CheckSpec("cloud.teardown", 2, "only with `--cloud`: everything deployed is deleted",
              option="cloud", requires=("cloud.deploy",)),
    CheckSpec("cloud.leftovers", 2, "only with `--cloud`: nothing tagged with this run remains",
              option="cloud"),
    CheckSpec("cloud.account_clean", 1,
              "only with `--audit-account`: nothing billable is left anywhere in the account/project",
              option="audit_account"),
    CheckSpec("cloud.trail", 1,
              "only with `--audit-trail`: the account's own audit trail (CloudTrail, GCP Admin Activity logs) "
              "shows the deployment in the lab window and the deletion of everything it created",
              option="audit_trail"),
)

RUBRIC: Mapping[str, CheckSpec] = {s.id: replace(s, order=i) for i, s in enumerate(_TABLE)}
CHECK_IDS: tuple[str, ...] = tuple(RUBRIC)

# Ids that existed once; a rubric file naming them gets this explanation instead of "unknown id".
RETIRED = {
    "proof.generated": "deploycheck's own proof card is an artefact of the run and carries no points; "
                       "remove it from the rubric file",
}

_CHECK_KEYS = {"points", "enabled"}
_TOP_KEYS = {"checks", "total", "as_of"}


class RubricError(ValueError):
    """A rubric file or marker that cannot be used; the message is one line."""


def order_key(cid: str) -> tuple[int, str]:
    spec = RUBRIC.get(cid)
    return (spec.order if spec else len(RUBRIC), cid)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    m = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {m[0]}?)" if m else ""


def unknown_id_message(cid: str, where: str) -> str:
    if cid in RETIRED:
        return f"{where}: {cid} is no longer a check: {RETIRED[cid]}"
    return f"{where}: unknown check id {cid!r}{did_you_mean(cid, CHECK_IDS)}; the ids are listed in README.md"


@dataclass(frozen=True)
class Rubric:
    """The effective rubric of a run: the table with a file's overrides applied."""
    specs: Mapping[str, CheckSpec]
    total: float | None = None          # common scale; None -> the largest platform maximum
    as_of: str | None = None            # ISO date: the serving images as they were then (None: --deadline / today)

    def spec(self, cid: str) -> CheckSpec:
        return self.specs[cid]

    def applies(self, cid: str, platform: str | None) -> bool:
        return platform is None or platform in self.specs[cid].platforms

    def platform_max(self, platform: str, active: Collection[str] | None = None) -> float:
        """Points available on ``platform`` from enabled checks (``active``: ids in this run)."""
        ids = self.specs if active is None else [c for c in active if c in self.specs]
        return sum(self.specs[c].points for c in ids
                   if self.specs[c].enabled and platform in self.specs[c].platforms)

    def scale_total(self, active: Collection[str] | None = None) -> float:
        if self.total is not None:
            return self.total
        return max(self.platform_max(p, active) for p in (AWS, GCP))


def _number(v: object, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RubricError(f"{where}: points must be a number, not {v!r}")
    if v < 0:
        raise RubricError(f"{where}: points must not be negative ({v})")
    return float(v)


def parse(data: Mapping[str, Any], where: str = "rubric") -> Rubric:
    """The table with ``data``'s overrides (a parsed TOML document)."""
    unknown_top = set(data) - _TOP_KEYS
    if unknown_top:
        k = sorted(unknown_top)[0]
        if k in RUBRIC or k in RETIRED or "." in k:
            raise RubricError(f"{where}: put check settings under [checks.\"{k}\"]")
        raise RubricError(f"{where}: unknown key {k!r}{did_you_mean(k, _TOP_KEYS)}; "
                          "allowed: total, as_of, [checks.\"<id>\"]")
    specs = dict(RUBRIC)
    table = data.get("checks", {})
    if not isinstance(table, Mapping):
        raise RubricError(f"{where}: [checks] must be a table of check ids")
    for cid, spec in table.items():
        if cid not in RUBRIC:
            raise RubricError(unknown_id_message(cid, where))
        if isinstance(spec, bool):
            spec = {"enabled": spec}
        elif isinstance(spec, (int, float)):
            spec = {"points": spec}
        if not isinstance(spec, Mapping):
            raise RubricError(f"{where}: checks.{cid} must be a table with points and/or enabled")
        bad = set(spec) - _CHECK_KEYS
        if bad:
            k = sorted(bad)[0]
            raise RubricError(f"{where}: checks.{cid}: unknown key {k!r}{did_you_mean(k, _CHECK_KEYS)}; "
                              "allowed: points, enabled")
        new = specs[cid]
        if "points" in spec:
            new = replace(new, points=_number(spec["points"], f"{where}: checks.{cid}.points"))
        if "enabled" in spec:
            if not isinstance(spec["enabled"], bool):
                raise RubricError(f"{where}: checks.{cid}.enabled must be true or false, not {spec['enabled']!r}")
            new = replace(new, enabled=spec["enabled"])
        specs[cid] = new
    total = data.get("total")
    if total is not None:
        total = _number(total, f"{where}: total")
        if total == 0:
            raise RubricError(f"{where}: total must be greater than 0")
    return Rubric(specs, total, _as_of(data.get("as_of"), where))


def _as_of(v: object, where: str) -> str | None:
    """A rubric's ``as_of``: a TOML date (2023-05-01) or an ISO date string."""
    import datetime as dt
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    try:
        return dt.date.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise RubricError(f"{where}: as_of must be a date such as 2023-05-01, not {v!r}") from None


def read_toml(path: str | Path, where: str, error: type[ValueError]) -> dict[str, Any]:
    """A TOML file given on the command line (``where``: "--rubric FILE"); one-line ``error`` otherwise."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{where}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{where}: not valid TOML ({e})") from None
    except OSError as e:
        raise error(f"{where}: cannot be read ({e.strerror or e})") from None


def load(path: str | Path | None) -> Rubric:
    if not path:
        return Rubric(dict(RUBRIC))
    return parse(read_toml(path, f"--rubric {path}", RubricError), f"--rubric {path}")


def validate_marker(args: tuple[object, ...], kwargs: Mapping[str, object], where: str) -> str:
    """The check id of a ``@pytest.mark.check(id)`` marker; markers carry only the id (points,
    order and prerequisites come from this table)."""
    if len(args) != 1 or kwargs or not isinstance(args[0], str):
        raise RubricError(f"{where}: use @pytest.mark.check(\"<id>\") with the id only "
                          "(points and prerequisites live in deploycheck/rubric.py)")
    cid = args[0]
    if cid not in RUBRIC:
        raise RubricError(unknown_id_message(cid, where))
    return cid


def markdown_table(rubric: Rubric | None = None) -> str:
    """README.md's rubric table (``python -m deploycheck.rubric`` prints it; a test compares)."""
    r = rubric or Rubric(dict(RUBRIC))
    lines = ["| id | points | passes when |", "|---|---|---|"]
    for s in sorted(r.specs.values(), key=lambda s: s.order):
        pts = f"{s.points:g}" + ("" if s.enabled else " (off by default)")
        lines.append(f"| `{s.id}` | {pts} | {s.doc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
