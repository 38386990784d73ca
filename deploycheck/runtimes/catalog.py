"""THE table of serving images a student can declare, and what each one runs.

One row per image: the Python minor version of the image, the scikit-learn, numpy, scipy, pandas
and joblib it serves with, the serving libraries deploycheck installs into the image's runtime
environment (see :mod:`deploycheck.runtimes.envs`), and where each value comes from. Everything
else here (SageMaker registry accounts, image URIs, look-ups by declared value) is derived from it;
no other module keeps a version table.

Sources (read 2026-11-28 with the project's fetch tool; cite them when a row changes):

* [SM-SDK] aws/sagemaker-python-sdk, master, ``sagemaker-core/src/sagemaker/core/image_uri_config/
  sklearn.json`` (commit a24812666d2): "inference" lists 0.20.0, 0.23-1, 1.0-1, 1.2-1 and
  1.4-2-py312 (added by #6008, 2026-07-09); 1.4-2 is listed under "training" only, so
  ``SKLearnModel(framework_version="1.4-2")`` needs an explicit ``image_uri``. Every version has
  the same registry account per region (``SAGEMAKER_REGISTRIES`` below).
* [SM-<branch>] aws/sagemaker-scikit-learn-container, branch <branch>: ``requirements.txt`` (pins
  installed by ``docker/<v>/final/Dockerfile.cpu``) and ``docker/<v>/base/Dockerfile.cpu``
  (Python version, ``pip install scikit-learn==X``). Branches read: 0.20.0 (d021ef4), 0.23-1
  (e7ab948), 1.0-1 (117925d), 1.2-1 (b440c40), v1.4-2 (6c5704d), release-1.4-2-py312 (85e9fb9).
  master (eae7b6b) bumps requirements.txt to scikit-learn 1.9.0 but no image for it is listed by
  [SM-SDK], so it is not a row.
* [SM-GLUE] the same branches' ``src/sagemaker_sklearn_container/serving.py``: before 1.2-1 a
  user ``transform_fn`` is ignored (only model/input/predict/output_fn are taken); from 1.2-1 it
  is used, and defining it together with input/predict/output_fn raises ``UserError``.
* [VX-SDK] googleapis/python-aiplatform, main (91cc8ce, version 1.165.1),
  ``google/cloud/aiplatform/constants/prediction.py`` ``SKLEARN_CONTAINER_URIS``:
  sklearn-cpu.{0-20, 0-22, 0-23, 0-24, 1-0, 1-2, 1-3, 1-4, 1-5, 1-6} in us/europe/asia.
  Google publishes only the scikit-learn major.minor of each container ("Prebuilt containers for
  inference", cloud.google.com/vertex-ai/docs/predictions/pre-built-containers), not its Python
  or numpy: those values are deploycheck's choice (``verified=False``).
* [AIP] "Runtime version list", cloud.google.com/ai-platform/training/docs/runtime-version-list
  (scikit-learn row of each runtime). That page could not be found in the reference corpus: the
  scikit-learn values are the ones the previous table carried and are marked ``verified=False``;
  re-check them against an archived copy. AI Platform Prediction is retired in favour of Vertex AI.

"assumed" in a row's notes means: the image does not pin that package; deploycheck pins the
newest release that installs on the row's Python and fits the image's date, so that every machine
builds the same environment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["sagemaker", "vertex", "ai_platform"]
KINDS: tuple[str, ...] = ("sagemaker", "ai_platform", "vertex")
MIN_PYTHON = (3, 7)          # deploycheck's inside jobs and the sandbox server need Python >= 3.7

# The library every SageMaker scikit-learn image serves single-model endpoints with ([SM-*]
# requirements.txt: 0.20.0 ">=2.8.3", later "==2.8.6.post2"). It imports pkg_resources, which
# setuptools 81 dropped (FACTS.md), and its record_pb2 needs protobuf < 4 (the images pin 3.20.2).
SAGEMAKER_CONTAINERS = "sagemaker-containers==2.8.6.post2"


@dataclass(frozen=True)
class Image:
    """One serving image a student can declare, with the environment it serves predictions in."""
    kind: str                         # "sagemaker" | "vertex" | "ai_platform"
    version: str                      # the value a student declares: "1.2-1", "sklearn-cpu.1-2", "2.11"
    python: str                       # Python major.minor of the image
    sklearn: str                      # scikit-learn release
    numpy: str
    scipy: str
    pandas: str | None                # None: not installed by the image
    joblib: str | None                # None: not installed (scikit-learn 0.20 vendors sklearn.externals.joblib)
    serving: tuple[str, ...] = ()     # serving libraries installed besides the scientific stack
    source: str = ""                  # where the values come from (see the module docstring)
    verified: bool = True             # False: some values are deploycheck's choice, not the vendor's
    notes: str = ""
    # SageMaker images only ([SM-GLUE]): "ignored" before 1.2-1, "exclusive" from 1.2-1 on
    transform_fn: Literal["ignored", "exclusive", ""] = ""
    # post-install fixes the image's own Dockerfile applies (see envs.apply_patches)
    patches: tuple[str, ...] = field(default=())
    alias_of: str = ""                # another row's key whose environment this image shares (same pins)

    @property
    def key(self) -> str:
        """Unique id: "sagemaker:1.2-1", "vertex:sklearn-cpu.1-2", "ai-platform:2.11"."""
        return f"{self.kind.replace('_', '-')}:{self.version}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.key).strip("-")

    @property
    def platform(self) -> str:
        return "aws" if self.kind == "sagemaker" else "gcp"

    @property
    def title(self) -> str:
        if self.kind == "sagemaker":
            return f"sagemaker-scikit-learn {self.version}"
        if self.kind == "vertex":
            return f"Vertex AI {self.version}"
        return f"AI Platform runtime {self.version}"

    def label(self, python: str | None = None) -> str:
        """"sagemaker-scikit-learn 1.2-1 (Python 3.9, scikit-learn 1.2.1)"; with ``python`` set to
        another minor: "... (Python 3.10 instead of 3.9, ...)"."""
        py = f"Python {self.python}" if python in (None, self.python) else f"Python {python} instead of {self.python}"
        return f"{self.title} ({py}, scikit-learn {self.sklearn})"

    @property
    def python_tuple(self) -> tuple[int, int]:
        a, b = self.python.split(".")
        return int(a), int(b)

    @property
    def supported(self) -> bool:
        """False when deploycheck cannot run this image's stack (Python older than 3.7)."""
        return self.python_tuple >= MIN_PYTHON or bool(self.fallback_python)

    # For rows whose own Python is older than MIN_PYTHON: the minor to use instead (its pins have
    # wheels there), or "" when none does.
    fallback_python: str = ""

    def requirements(self) -> tuple[str, ...]:
        """pip requirement specifiers of the runtime environment, scientific stack first."""
        reqs = [f"scikit-learn=={self.sklearn}", f"numpy=={self.numpy}", f"scipy=={self.scipy}"]
        if self.pandas:
            reqs.append(f"pandas=={self.pandas}")
        if self.joblib:
            reqs.append(f"joblib=={self.joblib}")
        return tuple(reqs) + self.serving


def _sm_serving(flask: str, werkzeug: str, jinja2: str, markupsafe: str, gunicorn: str, six: str,
                setuptools: str = "setuptools<81", gevent: str | None = None) -> tuple[str, ...]:
    """sagemaker-containers with the request-path libraries the image pins (Flask/Werkzeug decide
    status codes and error bodies; gunicorn(+gevent) runs the conformance reference)."""
    out = (SAGEMAKER_CONTAINERS, f"Flask=={flask}", f"Werkzeug{werkzeug}", f"Jinja2{jinja2}",
           f"MarkupSafe{markupsafe}", "itsdangerous==2.0.1", f"gunicorn=={gunicorn}", f"six=={six}",
           "protobuf==3.20.2", setuptools)
    return out + ((f"gevent=={gevent}",) if gevent else ())


# --------------------------------------------------------------------------- the table

IMAGES: tuple[Image, ...] = (
    # ---- SageMaker scikit-learn images ---------------------------------------------------
    # [SM-0.20.0] base Dockerfile: conda python 3.7.10, `pip install scikit-learn==0.20.0`,
    # `conda install -c anaconda scipy` (unpinned); requirements.txt: numpy==1.19.5,
    # pandas==0.25.*, sagemaker-containers>=2.8.3, Werkzeug==0.15.6, jinja2==2.10.2,
    # MarkupSafe==1.1.1, itsdangerous==2.0.1; Flask comes from sagemaker-containers (flask==1.1.1).
    # No joblib package: scikit-learn 0.20 vendors sklearn.externals.joblib.
    Image("sagemaker", "0.20.0", "3.7", "0.20.0", "1.19.5", "1.7.3", "0.25.3", None,
          _sm_serving("1.1.1", "==0.15.6", "==2.10.2", "==1.1.1", "20.0.4", "1.15.0"),
          source="aws/sagemaker-scikit-learn-container@0.20.0 requirements.txt, docker/0.20.0/base/Dockerfile.cpu",
          notes="scipy (conda, unpinned) assumed 1.7.3; gunicorn and six not pinned by the image, assumed",
          transform_fn="ignored"),
    # [SM-0.23-1] conda python 3.7.10, scikit-learn==0.23.2; requirements.txt: numpy==1.19.2,
    # scipy==1.5.3, pandas==1.1.3, Flask==1.1.1, Werkzeug==0.15.6, jinja2==3.0.3,
    # MarkupSafe==2.1.1, gunicorn==20.0.4, six==1.15.0, protobuf==3.20.2.
    Image("sagemaker", "0.23-1", "3.7", "0.23.2", "1.19.2", "1.5.3", "1.1.3", "1.2.0",
          _sm_serving("1.1.1", "==0.15.6", "==3.0.3", "==2.1.1", "20.0.4", "1.15.0"),
          source="aws/sagemaker-scikit-learn-container@0.23-1 requirements.txt, docker/0.23-1/base/Dockerfile.cpu",
          notes="joblib not pinned, assumed 1.2.0", transform_fn="ignored"),
    # [SM-1.0-1] conda python 3.8.13, scikit-learn==1.0.2; requirements.txt: numpy==1.24.1,
    # scipy==1.8.0, pandas==1.1.3, Flask==1.1.1, Werkzeug==0.15.6, jinja2==3.0.3,
    # MarkupSafe==2.1.1, gunicorn==20.0.4, gevent==23.9.1, six==1.15.0, setuptools==65.5.1.
    Image("sagemaker", "1.0-1", "3.8", "1.0.2", "1.24.1", "1.8.0", "1.1.3", "1.3.2",
          _sm_serving("1.1.1", "==0.15.6", "==3.0.3", "==2.1.1", "20.0.4", "1.15.0",
                      setuptools="setuptools==65.5.1", gevent="23.9.1"),
          source="aws/sagemaker-scikit-learn-container@1.0-1 requirements.txt, docker/1.0-1/base/Dockerfile.cpu",
          notes="joblib not pinned, assumed 1.3.2", transform_fn="ignored"),
    # [SM-1.2-1] conda python 3.9, scikit-learn==1.2.1; requirements.txt: numpy==1.24.1,
    # scipy==1.8.0, pandas==1.1.3, Flask==1.1.1, Werkzeug==2.0.3, jinja2==3.0.3,
    # MarkupSafe==2.1.1, gunicorn==23.0.0, gevent==23.9.1, six==1.15.0, setuptools (unpinned).
    Image("sagemaker", "1.2-1", "3.9", "1.2.1", "1.24.1", "1.8.0", "1.1.3", "1.5.2",
          _sm_serving("1.1.1", "==2.0.3", "==3.0.3", "==2.1.1", "23.0.0", "1.15.0", gevent="23.9.1"),
          source="aws/sagemaker-scikit-learn-container@1.2-1 requirements.txt, docker/1.2-1/base/Dockerfile.cpu",
          notes="joblib not pinned, assumed 1.5.2", transform_fn="exclusive"),
    # [SM-v1.4-2] python 3.10 (uv), `uv pip install numpy==2.1.0 scikit-learn==1.4.2`;
    # requirements.txt: scipy>=1.9.0, pandas==2.3.2, Flask==1.1.1, Werkzeug==2.0.3, jinja2<3.0,
    # MarkupSafe<2.0, gunicorn==23.0.0, gevent==23.9.1, six==1.15.0, setuptools==80.9.0; the final
    # Dockerfile rewrites collections.Mapping -> collections.abc.Mapping in sagemaker_containers/_mapping.py.
    Image("sagemaker", "1.4-2", "3.10", "1.4.2", "2.1.0", "1.15.3", "2.3.2", "1.5.3",
          _sm_serving("1.1.1", "==2.0.3", "<3.0", "<2.0", "23.0.0", "1.15.0",
                      setuptools="setuptools==80.9.0", gevent="23.9.1"),
          source="aws/sagemaker-scikit-learn-container@v1.4-2 requirements.txt, docker/1.4-2/{base,final}/Dockerfile.cpu",
          notes="scipy>=1.9.0 resolved to 1.15.3 (assumed); joblib assumed 1.5.3; the SageMaker SDK lists "
                "1.4-2 for training only: deploying it needs image_uri=...:1.4-2-cpu-py3",
          transform_fn="exclusive", patches=("collections-abc-mapping",)),
    # [SM-release-1.4-2-py312] python 3.12, same pins as v1.4-2 except six==1.16.0 (forced
    # reinstall) and the same _mapping.py rewrite; listed for inference by [SM-SDK].
    Image("sagemaker", "1.4-2-py312", "3.12", "1.4.2", "2.1.0", "1.15.3", "2.3.2", "1.5.3",
          _sm_serving("1.1.1", "==2.0.3", "<3.0", "<2.0", "23.0.0", "1.16.0",
                      setuptools="setuptools==80.9.0", gevent="23.9.1"),
          source="aws/sagemaker-scikit-learn-container@release-1.4-2-py312 requirements.txt, "
                 "docker/1.4-2-py312/{base,final}/Dockerfile.cpu",
          notes="scipy>=1.9.0 resolved to 1.15.3 (assumed); joblib assumed 1.5.3",
          transform_fn="exclusive", patches=("collections-abc-mapping",)),

    # ---- Vertex AI prebuilt scikit-learn prediction containers ([VX-SDK]) ------------------
    # Google publishes the scikit-learn major.minor only; deploycheck uses its last patch release,
    # the oldest Python (>= 3.7) that release supports, and numpy/scipy/joblib of its time.
    *(Image("vertex", f"sklearn-cpu.{tag}", py, sk, np_, sp, None, jl,
            source="googleapis/python-aiplatform google/cloud/aiplatform/constants/prediction.py "
                   "SKLEARN_CONTAINER_URIS; Python and library pins not published by Google",
            verified=False, notes="Python, numpy, scipy, joblib assumed")
      for tag, py, sk, np_, sp, jl in (
          ("0-20", "3.7", "0.20.4", "1.19.5", "1.5.4", "0.14.1"),
          ("0-22", "3.7", "0.22.2.post1", "1.19.5", "1.5.4", "0.14.1"),
          ("0-23", "3.7", "0.23.2", "1.19.5", "1.5.4", "1.0.1"),
          ("0-24", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1"),
          ("1-0", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1"),
          ("1-2", "3.8", "1.2.2", "1.24.4", "1.10.1", "1.2.0"),
          ("1-3", "3.8", "1.3.2", "1.24.4", "1.10.1", "1.3.2"),
          ("1-4", "3.9", "1.4.2", "1.26.4", "1.13.1", "1.4.2"),
          ("1-5", "3.9", "1.5.2", "1.26.4", "1.13.1", "1.4.2"),
          ("1-6", "3.9", "1.6.1", "1.26.4", "1.13.1", "1.4.2"),
      )),

    # ---- legacy AI Platform Prediction runtime versions ([AIP], not verified) --------------
    # Runtimes 1.4-1.10 pin scikit-learn 0.19.1 on Python 2.7/3.5: no wheels for Python >= 3.7,
    # so no runtime environment; predict.local runs them approximately (see serving.local).
    *(Image("ai_platform", rt, py, sk, np_, sp, None, jl,
            source="cloud.google.com/ai-platform/training/docs/runtime-version-list (not found in the "
                   "reference corpus; values not verified)",
            verified=False, fallback_python=fb,
            notes=f"numpy, scipy, joblib assumed{'; image Python ' + py + ', runs on ' + fb if fb else ''}")
      for rt, py, sk, np_, sp, jl, fb in (
          *((r, "3.5", "0.19.1", "1.16.6", "1.2.3", "0.14.1", "") for r in
            ("1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10")),
          ("1.11", "3.5", "0.20.0", "1.19.5", "1.5.4", "0.14.1", "3.7"),
          ("1.12", "3.5", "0.20.0", "1.19.5", "1.5.4", "0.14.1", "3.7"),
          ("1.13", "3.5", "0.20.2", "1.19.5", "1.5.4", "0.14.1", "3.7"),
          ("1.14", "3.5", "0.20.2", "1.19.5", "1.5.4", "0.14.1", "3.7"),
          ("1.15", "3.7", "0.20.4", "1.19.5", "1.5.4", "0.14.1", ""),
          ("2.1", "3.7", "0.22.1", "1.19.5", "1.5.4", "0.14.1", ""),
          ("2.2", "3.7", "0.22.1", "1.19.5", "1.5.4", "0.14.1", ""),
          ("2.3", "3.7", "0.23.2", "1.19.5", "1.5.4", "1.0.1", ""),
          ("2.4", "3.7", "0.24.0", "1.19.5", "1.6.3", "1.0.1", ""),
          ("2.5", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1", ""),
          ("2.6", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1", ""),
          ("2.7", "3.7", "1.0.1", "1.21.6", "1.7.3", "1.1.1", ""),
          ("2.8", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", ""),
          ("2.9", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", ""),
          ("2.10", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", ""),
          ("2.11", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", ""),
      )),
)

_BY_KEY: dict[str, Image] = {im.key: im for im in IMAGES}


def image(key: str) -> Image:
    """The row for "sagemaker:1.2-1" / "vertex:sklearn-cpu.1-2" / "ai-platform:2.11", or a bare
    declared value ("1.2-1", "sklearn-cpu.1-2", a Vertex container URI, "2.11"). KeyError otherwise."""
    k = key.strip()
    if k in _BY_KEY:
        return _BY_KEY[k]
    tag = _VERTEX_TAG.search(k)
    if tag and f"vertex:sklearn-cpu.{tag.group(1)}" in _BY_KEY:
        return _BY_KEY[f"vertex:sklearn-cpu.{tag.group(1)}"]
    kind, sep, value = k.partition(":")
    if not sep:
        kind, value = "", k
    kind = kind.replace("-", "_")
    if re.fullmatch(r"\d+\.\d+\.0", value) and kind in ("", "ai_platform"):   # runtime "2.11.0" -> "2.11"
        value = value[:-2]
    found = [im for im in IMAGES if im.version == value and kind in ("", im.kind)]
    if len(found) == 1:
        return found[0]
    raise KeyError(f"unknown serving image {key!r}; known: {', '.join(im.key for im in IMAGES)}")


def images(kind: str | None = None) -> tuple[Image, ...]:
    return tuple(im for im in IMAGES if kind in (None, im.kind))


def for_declared(kind: str, value: str) -> Image | None:
    """The row a declaration (``DeclaredRuntime.kind``/``.value``) names, or None."""
    try:
        return image(f"{kind.replace('_', '-')}:{value}")
    except KeyError:
        return None


# --------------------------------------------------------------------------- derived tables

SAGEMAKER_SKLEARN: dict[str, str] = {im.version: im.sklearn for im in IMAGES if im.kind == "sagemaker"}
AI_PLATFORM_SKLEARN: dict[str, str] = {im.version: im.sklearn for im in IMAGES if im.kind == "ai_platform"}
AI_PLATFORM_VERIFIED = False   # see [AIP] in the module docstring
VERTEX_SKLEARN_TAGS: tuple[str, ...] = tuple(im.version.split(".", 1)[1] for im in IMAGES if im.kind == "vertex")
VERTEX_URI = "{prefix}-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.{tag}:latest"

# region -> ECR registry account of `sagemaker-scikit-learn` ([SM-SDK], the same for every version)
SAGEMAKER_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623", "ap-east-1": "651117190479", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886", "ap-south-1": "720646828776",
    "ap-south-2": "628508329040", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "341280168497",
    "ca-west-1": "190319476487", "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770", "eu-central-2": "680994064768", "eu-north-1": "662702820516",
    "eu-south-1": "978288397137", "eu-south-2": "104374241257", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "801668240914", "sa-east-1": "737474898029",
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902", "us-iso-east-1": "833128469047", "us-isob-east-1": "281123927165",
    "us-isof-east-1": "108575199400", "us-isof-south-1": "124985052026",
    "us-west-1": "746614075791", "us-west-2": "246618743249",
}
SAGEMAKER_REPOSITORY = "sagemaker-scikit-learn"


def mm(version: str | None) -> tuple[int, int] | None:
    """(major, minor) of "1.2.1", "1.2", "1.2-1", "1-2" ; None when unparseable."""
    if not version:
        return None
    m = re.match(r"^\s*v?(\d+)[.\-](\d+)", str(version))
    return (int(m.group(1)), int(m.group(2))) if m else None


_mm = mm


def major_minor(version: str | None) -> str | None:
    m = mm(version)
    return f"{m[0]}.{m[1]}" if m else None


def distance(a: str | None, b: str | None) -> tuple[int, int]:
    """How far apart two scikit-learn versions are (by major.minor), newer first on a tie."""
    va, vb = mm(a) or (0, 0), mm(b) or (0, 0)
    return abs((va[0] * 100 + va[1]) - (vb[0] * 100 + vb[1])), -(va[0] * 100 + va[1])


def nearest(rows: "list[Image] | tuple[Image, ...]", sklearn: str) -> Image:
    """The row whose scikit-learn is nearest ``sklearn`` (the newer on a tie)."""
    return min(rows, key=lambda im: distance(im.sklearn, sklearn))


def sagemaker_sklearn_version(framework_version: str) -> str | None:
    return SAGEMAKER_SKLEARN.get(str(framework_version).strip())


def ai_platform_sklearn_version(runtime: str) -> str | None:
    r = str(runtime).strip()
    if r in AI_PLATFORM_SKLEARN:
        return AI_PLATFORM_SKLEARN[r]
    mm = re.match(r"^(\d+)\.(\d+)(?:\.0)?$", r)      # "2.11.0" -> "2.11"
    return AI_PLATFORM_SKLEARN.get(f"{mm.group(1)}.{mm.group(2)}") if mm else None


_VERTEX_TAG = re.compile(r"sklearn-cpu\.(\d+-\d+)")


def vertex_sklearn_version(tag_or_uri: str) -> str | None:
    """``sklearn-cpu.1-2`` or a full container URI -> "1.2" (the containers pin major.minor only)."""
    m = _VERTEX_TAG.search(str(tag_or_uri))
    if not m or m.group(1) not in VERTEX_SKLEARN_TAGS:
        return None
    return m.group(1).replace("-", ".")


def valid_values(kind: str) -> list[str]:
    if kind not in KINDS:
        raise ValueError(f"unknown runtime kind {kind!r}; use one of {', '.join(KINDS)}")
    return [im.version for im in IMAGES if im.kind == kind]


def _ecr_domain(region: str) -> str:
    # sagemaker-python-sdk resolves the domain per partition (aws-cn, aws-iso, aws-iso-b, aws-iso-f)
    if region.startswith("cn-"):
        return "amazonaws.com.cn"
    if region.startswith("us-isob-"):
        return "sc2s.sgov.gov"
    if region.startswith("us-isof-"):
        return "csp.hci.ic.gov"
    if region.startswith("us-iso-"):
        return "c2s.ic.gov"
    return "amazonaws.com"


def sagemaker_image_uri(region: str, framework_version: str, py_version: str = "py3") -> str:
    """The inference image the SDK's ``image_uris.retrieve("sklearn", region, version)`` resolves to."""
    acct = SAGEMAKER_REGISTRIES.get(region)
    if acct is None:
        raise ValueError(f"no SageMaker scikit-learn registry known for region {region!r}")
    if framework_version not in SAGEMAKER_SKLEARN:
        raise ValueError(f"unknown SageMaker scikit-learn framework_version {framework_version!r}; "
                         f"use one of {', '.join(SAGEMAKER_SKLEARN)}")
    return (f"{acct}.dkr.ecr.{region}.{_ecr_domain(region)}/{SAGEMAKER_REPOSITORY}:"
            f"{framework_version}-cpu-{py_version}")


def _vertex_prefix(region: str) -> str:
    r = (region or "").lower()
    if r.startswith("europe"):
        return "europe"
    if r.startswith(("asia", "australia")):
        return "asia"
    return "us"


def vertex_container_uri(sklearn_version: str | None, region: str = "us-central1") -> str | None:
    """Prebuilt container for ``sklearn_version``: the same major-minor, else the nearest one."""
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    tags = {tuple(int(x) for x in t.split("-")): t for t in VERTEX_SKLEARN_TAGS}
    if mm in tags:
        tag = tags[mm]
    else:
        def dist(k: tuple[int, ...]) -> tuple[int, int]:
            return (abs((k[0] * 100 + k[1]) - (mm[0] * 100 + mm[1])), -k[0] * 100 - k[1])
        tag = tags[min(tags, key=dist)]
    return VERTEX_URI.format(prefix=_vertex_prefix(region), tag=tag)


def vertex_equivalent(image: Image) -> Image | None:
    """The Vertex AI prebuilt container serving ``image``'s scikit-learn major.minor (legacy AI Platform
    runtimes are retired in favour of Vertex AI)."""
    return next((im for im in IMAGES if im.kind == "vertex" and major_minor(im.sklearn) == major_minor(image.sklearn)),
                None)


def vertex_exact_tag(sklearn_version: str) -> str | None:
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    t = f"{mm[0]}-{mm[1]}"
    return f"sklearn-cpu.{t}" if t in VERTEX_SKLEARN_TAGS else None


def best_sagemaker_framework_for(sklearn_version: str) -> str | None:
    mm = _mm(sklearn_version)
    if mm is None:
        return None
    for fv, sk in SAGEMAKER_SKLEARN.items():
        if _mm(sk) == mm:
            return fv
    return None


def best_ai_platform_runtime_for(sklearn_version: str) -> str | None:
    """The newest legacy runtime whose scikit-learn has the same major-minor."""
    mm = _mm(sklearn_version)
    best = None
    for rt, sk in AI_PLATFORM_SKLEARN.items():
        if _mm(sk) == mm:
            best = rt
    return best


def resolve(kind: str, value: str) -> str | None:
    """The scikit-learn version a declared value stands for (Vertex: major.minor only)."""
    if kind == "sagemaker":
        return sagemaker_sklearn_version(value)
    if kind == "ai_platform":
        return ai_platform_sklearn_version(value)
    if kind == "vertex":
        return vertex_sklearn_version(value)
    return None
