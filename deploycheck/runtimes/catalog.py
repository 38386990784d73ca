"""THE table of serving images a student can declare, what each one runs, and since when.

One row per image and *build*: the vendors rebuilt images under the same tag (``1.2-1`` ran Python
3.8 until October 2024), so each image is a history of builds, each valid from ``since`` to
``until`` with its Python minor version, the scikit-learn, numpy, scipy, pandas and joblib it serves
with, the serving libraries deploycheck installs into its runtime environment (see
:mod:`deploycheck.runtimes.envs`, one environment per distinct build), and the source of each fact
(``facts``: fact -> source id of :data:`SOURCES`; ``assumed``: the facts that are deploycheck's
choice). :data:`IMAGES` holds the current build of each image; :func:`build_at` gives the build in
force on a date (``--deadline``, or a rubric's ``as_of``). Everything else here (SageMaker registry
accounts, image URIs, look-ups by declared value, retirements, the Pythons a scikit-learn release
installs on) is derived from it; no other module keeps a version table.

Build dates are the dates of the vendor's commits that changed the image's Dockerfile or pins (the
image is rebuilt from them; its release may lag by days). "assumed" means: the image does not pin
that package (or its vendor publishes no list); deploycheck pins the newest release that installs on
the build's Python and fits its date, so that every machine builds the same environment, and
verdicts that depend on an assumed value say so instead of failing the student.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["sagemaker", "vertex", "ai_platform"]
KINDS: tuple[str, ...] = ("sagemaker", "ai_platform", "vertex")
MIN_PYTHON = (3, 7)          # deploycheck's inside jobs and the sandbox server need Python >= 3.7

# --------------------------------------------------------------------------- sources

SM = "aws/sagemaker-scikit-learn-container"
SOURCES: dict[str, str] = {
    "SM-SDK": "aws/sagemaker-python-sdk image_uri_config/sklearn.json (inference: 0.20.0, 0.23-1, 1.0-1, 1.2-1; "
              "1.4-2-py312 added by #6008 2026-07-09; inference_graviton: 1.0-1) and image_uris.py "
              "(_get_image_tag: Graviton families m6g/m6gd/c6g/c6gd/c6gn/c7g/r6g/r6gd -> tag 1.0-1-arm64-cpu-py3)",
    "SM-0.20.0": f"{SM}@0.20.0 (d021ef4) requirements.txt, docker/0.20.0/base/Dockerfile.cpu",
    "SM-0.23-1": f"{SM}@0.23-1 (e7ab948) requirements.txt, docker/0.23-1/{{base,final}}/Dockerfile.cpu",
    "SM-1.0-1": f"{SM}@1.0-1 (117925d) requirements.txt, docker/1.0-1/base/Dockerfile.cpu",
    "SM-1.0-1-arm": f"{SM}@1.0-1 docker/1.0-1/{{base,final}}/Dockerfile_arm.cpu (19dfdcb 2022-09-09): Python "
                    "3.8.13, scikit-learn 1.0.2, the same requirements.txt",
    "SM-1.2-1": f"{SM}@1.2-1 (b440c40) requirements.txt, docker/1.2-1/base/Dockerfile.cpu",
    "SM-GLUE-1.2-1": f"{SM}@1.2-1 e677315 (2023-04-12, #173 'Align transform_fn behavior with XGB'): "
                     "serving.py uses a user transform_fn and rejects it mixed with input/predict/output_fn; "
                     "before it (and on 0.20.0, 0.23-1, 1.0-1) transform_fn is ignored",
    "SM-1.4-2": f"{SM}@v1.4-2 (6c5704d) requirements.txt, docker/1.4-2/{{base,final}}/Dockerfile.cpu (dc603db "
                "2025-09-26: scikit-learn 1.4.2, numpy 2.1.0, Python 3.10)",
    "SM-1.4-2-py312": f"{SM}@release-1.4-2-py312 (85e9fb9) requirements.txt, docker/1.4-2-py312/{{base,final}}/"
                      "Dockerfile.cpu",
    "DLC-1.9-0": "aws/deep-learning-containers docker/sklearn/1.9-0/{Dockerfile,pyproject.toml,uv.lock} and "
                 ".github/config/image/sklearn/sagemaker-1.9-0.yml (4f149a0f06 2026-07-15, #6397; prod image "
                 "sagemaker-scikit-learn:1.9-0-cpu-py3; the serving code is sagemaker-scikit-learn-container master "
                 "eae7b6b); the SageMaker SDK does not list it yet: it is declared by image URI",
    "DLC-POLICY": "aws/deep-learning-containers docs/src/data/sagemaker-scikit-learn/*.yml (ga/eop) and "
                  "docs/src/templates/reference/support_policy.template.md (#6412 2026-07-15: 'Scikit-Learn 1.4-2 "
                  "for Python 3.10 is no longer supported'; #6423 2026-07-16: 1.9-0 GA 2026-07-16, EOP 2027-07-16; "
                  "1.4-2-py312 EOP 2026-10-30)",
    "VX-SDK": "googleapis/python-aiplatform (91cc8ce, 1.165.1) google/cloud/aiplatform/constants/prediction.py "
              "SKLEARN_CONTAINER_URIS: sklearn-cpu.{0-20, 0-22, 0-23, 0-24, 1-0, 1-2, 1-3, 1-4, 1-5, 1-6}; Google "
              "publishes the scikit-learn major.minor of each container only (cloud.google.com/vertex-ai/docs/"
              "predictions/pre-built-containers)",
    "VX-2ND": "second-hand (blog posts and Q&A answers quoting 'pip list' inside the containers, as collected in "
              "issue 25): Python 3.10 for sklearn-cpu.1-2 .. 1-6; no first-hand source found",
    "AIP-LIST": "cloud.google.com/ai-platform/training/docs/runtime-version-list (not in the reference corpus: the "
                "values are the ones the previous table carried)",
    "AIP-1.4": "GoogleCloudPlatform/cloudml-samples, sklearn/notebooks 'Online Prediction with scikit-learn' "
               "(runtime 1.4 serves scikit-learn 0.19.0)",
    "AIP-2.1": "AI Platform release notes 2020-04-06 (runtime version 2.1: scikit-learn 0.22.1)",
    "AIP-2ND": "second-hand (issue 25): runtime 2.2 scikit-learn 0.23.1; joblib 0.13.0 (1.15), 0.15.1 (2.2), "
               "0.17.0 (2.3), 1.0.0 (2.4); no first-hand source",
    "AIP-POLICY": "cloud.google.com/ai-platform/prediction/docs/versioning: each runtime version is supported 12 "
                  "months after its release, and its model versions are deleted 24 months after it; AI Platform "
                  "Prediction is superseded by Vertex AI (cloud.google.com/vertex-ai/docs/start/migrating-to-vertex-ai)",
    "PYPI-WHEELS": "pip index versions scikit-learn --python-version X.Y --only-binary=:all: --implementation cp "
                   "--platform manylinux*_x86_64, for X.Y = 3.6 .. 3.14 (PyPI, 2026-12-08)",
    "CHOICE": "deploycheck's choice (see the module docstring): not published by the vendor",
}

# The library every SageMaker scikit-learn image serves single-model endpoints with ([SM-*]
# requirements.txt: 0.20.0 ">=2.8.3", later "==2.8.6.post2"). It imports pkg_resources, which
# setuptools 81 dropped (FACTS.md), and its record_pb2 needs protobuf < 4 (the images pin 3.20.2).
SAGEMAKER_CONTAINERS = "sagemaker-containers==2.8.6.post2"


@dataclass(frozen=True)
class Retirement:
    """The vendor no longer supports (or serves) an image from ``date`` on."""
    date: str                  # ISO date
    what: str                  # "is unsupported since", "left patch support on" (+ the date)
    source: str                # a SOURCES id
    instead: str = ""          # the image to declare instead ("1.4-2-py312")


@dataclass(frozen=True)
class Image:
    """One serving image a student can declare, as built between ``since`` and ``until``, with the
    environment it serves predictions in."""
    kind: str                         # "sagemaker" | "vertex" | "ai_platform"
    version: str                      # the value a student declares: "1.2-1", "sklearn-cpu.1-2", "2.11"
    python: str                       # Python major.minor of the image
    sklearn: str                      # scikit-learn release
    numpy: str
    scipy: str
    pandas: str | None                # None: not installed by the image
    joblib: str | None                # None: not installed (scikit-learn 0.20 vendors sklearn.externals.joblib)
    serving: tuple[str, ...] = ()     # serving libraries installed besides the scientific stack
    source: str = ""                  # SOURCES id of the row (every fact not in ``facts`` comes from it)
    notes: str = ""
    # SageMaker images only ([SM-GLUE-1.2-1]): "ignored" before 1.2-1 (and its first build), "exclusive" after
    transform_fn: Literal["ignored", "exclusive", ""] = ""
    # post-install fixes the image's own Dockerfile applies (see envs.apply_patches)
    patches: tuple[str, ...] = field(default=())
    alias_of: str = ""                # another row's key whose environment this image shares (same pins)
    # For rows whose own Python is older than MIN_PYTHON: the minor to use instead (its pins have
    # wheels there), or "" when none does.
    fallback_python: str = ""
    since: str = ""                   # first day of this build (ISO date); "" unknown
    until: str = ""                   # the day the next build replaced it; "" = the current build
    facts: tuple[tuple[str, str], ...] = ()     # fact -> SOURCES id, where it differs from ``source``
    assumed: tuple[str, ...] = ()               # facts that are deploycheck's choice
    retired: Retirement | None = None           # the vendor's end of support (current build only)
    # uv override-dependencies the image's own lock applies (a pin of a serving library overruled)
    overrides: tuple[str, ...] = ()

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

    @property
    def verified(self) -> bool:
        """Every fact of the build comes from the vendor."""
        return not self.assumed

    @property
    def current(self) -> bool:
        return not self.until

    @property
    def build(self) -> str:
        """"" for the current build, else "the build of 2023-04-12..2023-11-13"."""
        return "" if self.current else f"the build of {self.since or '?'}..{self.until}"

    def label(self, python: str | None = None) -> str:
        """"sagemaker-scikit-learn 1.2-1 (Python 3.9, scikit-learn 1.2.1)"; with ``python`` set to
        another minor: "... (Python 3.10 instead of 3.9, ...)"; an earlier build says which."""
        py = f"Python {self.python}" if python in (None, self.python) else f"Python {python} instead of {self.python}"
        build = f", {self.build}" if self.build else ""
        return f"{self.title} ({py}, scikit-learn {self.sklearn}{build})"

    @property
    def python_tuple(self) -> tuple[int, int]:
        a, b = self.python.split(".")
        return int(a), int(b)

    @property
    def supported(self) -> bool:
        """False when deploycheck cannot run this image's stack (Python older than 3.7)."""
        return self.python_tuple >= MIN_PYTHON or bool(self.fallback_python)

    def source_of(self, fact: str) -> str:
        """The SOURCES id a fact ("python", "numpy", ...) comes from ("CHOICE" when assumed)."""
        if fact in self.assumed:
            return dict(self.facts).get(fact, "CHOICE")
        return dict(self.facts).get(fact, self.source)

    def is_assumed(self, fact: str) -> bool:
        return fact in self.assumed

    def requirements(self) -> tuple[str, ...]:
        """pip requirement specifiers of the runtime environment, scientific stack first."""
        reqs = [f"scikit-learn=={self.sklearn}", f"numpy=={self.numpy}", f"scipy=={self.scipy}"]
        if self.pandas:
            reqs.append(f"pandas=={self.pandas}")
        if self.joblib:
            reqs.append(f"joblib=={self.joblib}")
        return tuple(reqs) + self.serving


def _sm_serving(flask: str, werkzeug: str, jinja2: str, markupsafe: str, gunicorn: str, six: str,
                setuptools: str = "setuptools<81", gevent: str | None = None,
                itsdangerous: str = "==2.0.1") -> tuple[str, ...]:
    """sagemaker-containers with the request-path libraries the image pins (Flask/Werkzeug decide
    status codes and error bodies; gunicorn(+gevent) runs the conformance reference)."""
    out = (SAGEMAKER_CONTAINERS, f"Flask=={flask}", f"Werkzeug{werkzeug}", f"Jinja2{jinja2}",
           f"MarkupSafe{markupsafe}", f"itsdangerous{itsdangerous}", f"gunicorn=={gunicorn}", f"six=={six}",
           "protobuf==3.20.2", setuptools)
    return out + ((f"gevent=={gevent}",) if gevent else ())


# --------------------------------------------------------------------------- the table (current builds)

_SM_0_23 = _sm_serving("1.1.1", "==0.15.6", "==3.0.3", "==2.1.1", "20.0.4", "1.15.0")
_SM_1_0 = _sm_serving("1.1.1", "==0.15.6", "==3.0.3", "==2.1.1", "20.0.4", "1.15.0",
                      setuptools="setuptools==65.5.1", gevent="23.9.1")
_SM_1_2 = _sm_serving("1.1.1", "==2.0.3", "==3.0.3", "==2.1.1", "23.0.0", "1.15.0", gevent="23.9.1")

IMAGES: tuple[Image, ...] = (
    # ---- SageMaker scikit-learn images ---------------------------------------------------
    # [SM-0.20.0] base Dockerfile: conda python 3.7.10, `pip install scikit-learn==0.20.0`,
    # `conda install -c anaconda scipy` (unpinned); requirements.txt: numpy==1.19.5 (90a850b
    # 2021-11-04), pandas==0.25.*, sagemaker-containers>=2.8.3, Werkzeug==0.15.6, jinja2==2.10.2,
    # MarkupSafe==1.1.1, itsdangerous==2.0.1; Flask comes from sagemaker-containers (flask==1.1.1).
    # No joblib package: scikit-learn 0.20 vendors sklearn.externals.joblib.
    Image("sagemaker", "0.20.0", "3.7", "0.20.0", "1.19.5", "1.7.3", "0.25.3", None,
          _sm_serving("1.1.1", "==0.15.6", "==2.10.2", "==1.1.1", "20.0.4", "1.15.0"),
          source="SM-0.20.0", notes="scipy (conda, unpinned) assumed 1.7.3; pandas==0.25.* is 0.25.3; gunicorn "
                                    "and six not pinned by the image, assumed",
          transform_fn="ignored", since="2021-11-04", assumed=("scipy",)),
    # [SM-0.23-1] conda python 3.7.10, scikit-learn==0.23.2; requirements.txt: numpy==1.19.2 (back
    # from 1.21.0 in 2268f2f 2022-07-15), scipy==1.5.3, pandas==1.1.3, Flask==1.1.1, Werkzeug==0.15.6,
    # jinja2==3.0.3, MarkupSafe==2.1.1, gunicorn==20.0.4, six==1.15.0, protobuf==3.20.2. The final
    # Dockerfile then runs `conda install numpy --force-reinstall`: the numpy served is conda's.
    Image("sagemaker", "0.23-1", "3.7", "0.23.2", "1.19.2", "1.5.3", "1.1.3", "1.2.0", _SM_0_23,
          source="SM-0.23-1", notes="numpy: requirements.txt pins 1.19.2, then conda force-reinstalls numpy "
                                    "(assumed the same release); joblib not pinned, assumed 1.2.0",
          transform_fn="ignored", since="2022-07-15", assumed=("numpy", "joblib")),
    # [SM-1.0-1] conda python 3.8.13 (c2acd2c 2022-06-01), scikit-learn==1.0.2; requirements.txt:
    # numpy==1.24.1 (dba0ae3 2023-02-07), scipy==1.8.0 (21e088f 2023-11-13), pandas==1.1.3,
    # Flask==1.1.1, Werkzeug==0.15.6, jinja2==3.0.3, MarkupSafe==2.1.1, gunicorn==20.0.4,
    # gevent==23.9.1, six==1.15.0, setuptools==65.5.1.
    Image("sagemaker", "1.0-1", "3.8", "1.0.2", "1.24.1", "1.8.0", "1.1.3", "1.3.2", _SM_1_0,
          source="SM-1.0-1", notes="joblib not pinned, assumed 1.3.2", transform_fn="ignored",
          since="2023-11-13", assumed=("joblib",)),
    # [SM-1.0-1-arm] the Graviton image the SageMaker SDK picks for framework_version 1.0-1 on arm
    # instance types ([SM-SDK]): the same Python, scikit-learn and requirements.txt; deploycheck runs
    # it in the 1.0-1 environment (x86_64).
    Image("sagemaker", "1.0-1-arm64", "3.8", "1.0.2", "1.24.1", "1.8.0", "1.1.3", "1.3.2", _SM_1_0,
          source="SM-1.0-1-arm", notes="arm64 (Graviton) variant of 1.0-1; joblib not pinned, assumed 1.3.2",
          transform_fn="ignored", alias_of="sagemaker:1.0-1", since="2023-11-13", assumed=("joblib",)),
    # [SM-1.2-1] conda python 3.9 (30303fd 2024-10-09 "bump python version to 3.9"), scikit-learn==1.2.1;
    # requirements.txt: numpy==1.24.1, scipy==1.8.0, pandas==1.1.3, Flask==1.1.1, Werkzeug==2.0.3,
    # jinja2==3.0.3, MarkupSafe==2.1.1, gunicorn==23.0.0, gevent==23.9.1, six==1.15.0, setuptools (unpinned).
    Image("sagemaker", "1.2-1", "3.9", "1.2.1", "1.24.1", "1.8.0", "1.1.3", "1.5.2", _SM_1_2,
          source="SM-1.2-1", notes="joblib not pinned, assumed 1.5.2", transform_fn="exclusive",
          since="2024-10-09", assumed=("joblib",), facts=(("transform_fn", "SM-GLUE-1.2-1"),)),
    # [SM-1.4-2] python 3.10 (uv), `uv pip install numpy==2.1.0 scikit-learn==1.4.2`;
    # requirements.txt: scipy>=1.9.0, pandas==2.3.2, Flask==1.1.1, Werkzeug==2.0.3, jinja2<3.0,
    # MarkupSafe<2.0, gunicorn==23.0.0, gevent==23.9.1, six==1.15.0, setuptools==80.9.0; the final
    # Dockerfile rewrites collections.Mapping -> collections.abc.Mapping in sagemaker_containers/_mapping.py.
    Image("sagemaker", "1.4-2", "3.10", "1.4.2", "2.1.0", "1.15.3", "2.3.2", "1.5.3",
          _sm_serving("1.1.1", "==2.0.3", "<3.0", "<2.0", "23.0.0", "1.15.0",
                      setuptools="setuptools==80.9.0", gevent="23.9.1"),
          source="SM-1.4-2",
          notes="scipy>=1.9.0 resolved to 1.15.3 (assumed); joblib assumed 1.5.3; the SageMaker SDK lists "
                "1.4-2 for training only: deploying it needs image_uri=...:1.4-2-cpu-py3",
          transform_fn="exclusive", patches=("collections-abc-mapping",), since="2025-09-26",
          assumed=("scipy", "joblib"),
          retired=Retirement("2026-07-15", "is unsupported since", "DLC-POLICY", instead="1.4-2-py312")),
    # [SM-1.4-2-py312] python 3.12, same pins as v1.4-2 except six==1.16.0 (forced reinstall) and the
    # same _mapping.py rewrite; listed for inference by [SM-SDK].
    Image("sagemaker", "1.4-2-py312", "3.12", "1.4.2", "2.1.0", "1.15.3", "2.3.2", "1.5.3",
          _sm_serving("1.1.1", "==2.0.3", "<3.0", "<2.0", "23.0.0", "1.16.0",
                      setuptools="setuptools==80.9.0", gevent="23.9.1"),
          source="SM-1.4-2-py312", notes="scipy>=1.9.0 resolved to 1.15.3 (assumed); joblib assumed 1.5.3",
          transform_fn="exclusive", patches=("collections-abc-mapping",), since="2026-03-06",
          assumed=("scipy", "joblib"),
          retired=Retirement("2026-10-30", "left patch support on", "DLC-POLICY", instead="1.9-0")),
    # [DLC-1.9-0] Amazon Linux 2023, Python 3.12, uv.lock: scikit-learn 1.9.0, numpy 2.5.1, scipy
    # 1.18.0, pandas 2.2.3, joblib 1.5.3, Flask 3.1.3, Werkzeug 3.1.8, Jinja2 3.1.6, MarkupSafe 3.0.3,
    # itsdangerous 2.2.0, gunicorn 26.0.0, gevent 26.5.0, six 1.17.0, protobuf 3.20.2, setuptools
    # 80.10.2, sagemaker-containers 2.8.6.post2 (whose flask==1.1.1 pin pyproject.toml's
    # [tool.uv] override-dependencies overrule: flask==3.1.3, werkzeug==3.1.8) with the same
    # _mapping.py rewrite.
    Image("sagemaker", "1.9-0", "3.12", "1.9.0", "2.5.1", "1.18.0", "2.2.3", "1.5.3",
          _sm_serving("3.1.3", "==3.1.8", "==3.1.6", "==3.0.3", "26.0.0", "1.17.0",
                      setuptools="setuptools==80.10.2", gevent="26.5.0", itsdangerous="==2.2.0"),
          source="DLC-1.9-0", notes="the SageMaker SDK does not list 1.9-0 yet: deploy it with image_uri="
                                    "...sagemaker-scikit-learn:1.9-0-cpu-py3",
          transform_fn="exclusive", patches=("collections-abc-mapping",), since="2026-07-16",
          facts=(("transform_fn", "SM-GLUE-1.2-1"),), overrides=("flask==3.1.3", "werkzeug==3.1.8"),
          retired=Retirement("2027-07-16", "leaves patch support on", "DLC-POLICY")),

    # ---- Vertex AI prebuilt scikit-learn prediction containers ([VX-SDK]) ------------------
    # Google publishes the scikit-learn major.minor only; deploycheck uses its last patch release,
    # the oldest Python (>= 3.7) that release supports, and numpy/scipy/joblib of its time. Second-hand
    # sources ([VX-2ND]) give Python 3.10 for 1-2 .. 1-6: with no first-hand source, the rows keep
    # deploycheck's choice (3.8/3.9, whose environments the suite builds) and name that claim.
    *(Image("vertex", f"sklearn-cpu.{tag}", py, sk, np_, sp, None, jl, source="VX-SDK",
            notes="Python, patch release, numpy, scipy, joblib assumed"
                  + ("; second-hand sources [VX-2ND] say Python 3.10" if snd else ""),
            assumed=("python", "sklearn-patch", "numpy", "scipy", "joblib"))
      for tag, py, sk, np_, sp, jl, snd in (
          ("0-20", "3.7", "0.20.4", "1.19.5", "1.5.4", "0.14.1", False),
          ("0-22", "3.7", "0.22.2.post1", "1.19.5", "1.5.4", "0.14.1", False),
          ("0-23", "3.7", "0.23.2", "1.19.5", "1.5.4", "1.0.1", False),
          ("0-24", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1", False),
          ("1-0", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", False),
          ("1-2", "3.8", "1.2.2", "1.24.4", "1.10.1", "1.2.0", True),
          ("1-3", "3.8", "1.3.2", "1.24.4", "1.10.1", "1.3.2", True),
          ("1-4", "3.9", "1.4.2", "1.26.4", "1.13.1", "1.4.2", True),
          ("1-5", "3.9", "1.5.2", "1.26.4", "1.13.1", "1.4.2", True),
          ("1-6", "3.9", "1.6.1", "1.26.4", "1.13.1", "1.4.2", True),
      )),

    # ---- legacy AI Platform Prediction runtime versions ([AIP-LIST], retired: [AIP-POLICY]) --
    # Runtimes 1.4-1.10 pin scikit-learn 0.19 on Python 2.7/3.5: no wheels for Python >= 3.7, so no
    # runtime environment; predict.local runs them approximately (see serving.local). 1.4's 0.19.0
    # is first-hand ([AIP-1.4]), as is 2.1's 0.22.1 ([AIP-2.1]); the other Python and scikit-learn
    # values are the runtime version list's as the previous table carried them ([AIP-LIST], not
    # re-checkable); numpy, scipy and joblib were never published: assumed (joblib of 1.15, 2.2, 2.3,
    # 2.4 from second-hand sources, [AIP-2ND]; 2.2's scikit-learn is 0.23.1 there, 0.22.1 here).
    *(Image("ai_platform", rt, py, sk, np_, sp, None, jl, source=src, fallback_python=fb,
            notes=f"numpy, scipy, joblib assumed{'; image Python ' + py + ', runs on ' + fb if fb else ''}"
                  + ("; second-hand sources [AIP-2ND] say scikit-learn 0.23.1" if rt == "2.2" else ""),
            assumed=("numpy", "scipy", "joblib"), facts=tuple((f, "AIP-2ND") for f in snd))
      for rt, py, sk, np_, sp, jl, fb, src, snd in (
          ("1.4", "3.5", "0.19.0", "1.16.6", "1.2.3", "0.14.1", "", "AIP-1.4", ()),
          *((r, "3.5", "0.19.1", "1.16.6", "1.2.3", "0.14.1", "", "AIP-LIST", ()) for r in
            ("1.5", "1.6", "1.7", "1.8", "1.9", "1.10")),
          ("1.11", "3.5", "0.20.0", "1.19.5", "1.5.4", "0.14.1", "3.7", "AIP-LIST", ()),
          ("1.12", "3.5", "0.20.0", "1.19.5", "1.5.4", "0.14.1", "3.7", "AIP-LIST", ()),
          ("1.13", "3.5", "0.20.2", "1.19.5", "1.5.4", "0.14.1", "3.7", "AIP-LIST", ()),
          ("1.14", "3.5", "0.20.2", "1.19.5", "1.5.4", "0.14.1", "3.7", "AIP-LIST", ()),
          ("1.15", "3.7", "0.20.4", "1.19.5", "1.5.4", "0.13.0", "", "AIP-LIST", ("joblib",)),
          ("2.1", "3.7", "0.22.1", "1.19.5", "1.5.4", "0.14.1", "", "AIP-2.1", ()),
          ("2.2", "3.7", "0.22.1", "1.19.5", "1.5.4", "0.15.1", "", "AIP-LIST", ("joblib",)),
          ("2.3", "3.7", "0.23.2", "1.19.5", "1.5.4", "0.17.0", "", "AIP-LIST", ("joblib",)),
          ("2.4", "3.7", "0.24.0", "1.19.5", "1.6.3", "1.0.0", "", "AIP-LIST", ("joblib",)),
          ("2.5", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1", "", "AIP-LIST", ()),
          ("2.6", "3.7", "0.24.2", "1.19.5", "1.6.3", "1.0.1", "", "AIP-LIST", ()),
          ("2.7", "3.7", "1.0.1", "1.21.6", "1.7.3", "1.1.1", "", "AIP-LIST", ()),
          ("2.8", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", "", "AIP-LIST", ()),
          ("2.9", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", "", "AIP-LIST", ()),
          ("2.10", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", "", "AIP-LIST", ()),
          ("2.11", "3.7", "1.0.2", "1.21.6", "1.7.3", "1.1.1", "", "AIP-LIST", ()),
      )),
)

# --------------------------------------------------------------------------- earlier builds

def _was(key: str, since: str, until: str, changed: tuple[tuple[str, str], ...], assumed: tuple[str, ...] = (),
         notes: str = "", **values: object) -> Image:
    """An earlier build of the current row ``key``: ``values`` differ, ``changed`` names their sources."""
    cur = _BY_KEY[key]
    sourced = dict(changed)
    kept = tuple(a for a in cur.assumed if a not in sourced or a in assumed)
    return replace(cur, since=since, until=until, retired=None, notes=notes or cur.notes,
                   facts=tuple(dict((*cur.facts, *changed)).items()),
                   assumed=tuple(dict.fromkeys((*kept, *assumed))), **values)  # type: ignore[arg-type]


_BY_KEY: dict[str, Image] = {im.key: im for im in IMAGES}

_C = f"{SM} commit"
HISTORY: dict[str, tuple[Image, ...]] = {
    # scikit-learn 0.20.0 image: numpy unpinned (pip's newest) until 90a850b pinned 1.19.5 on 2021-11-04
    "sagemaker:0.20.0": (
        _was("sagemaker:0.20.0", "2020-10-26", "2021-11-04", (("numpy", "CHOICE"),), assumed=("numpy",),
             notes="numpy unpinned before 90a850b (2021-11-04): assumed 1.21.3, the newest with Python 3.7 "
                   "wheels then", numpy="1.21.3"),
    ),
    # 0.23-1: unpinned numpy/scipy/pandas until 20832ac (2020-12-18); numpy 1.21.0 from bb35de8
    # (2022-02-23) until 2268f2f (2022-07-15)
    "sagemaker:0.23-1": (
        _was("sagemaker:0.23-1", "2020-08-05", "2020-12-18", (), assumed=("numpy", "scipy", "pandas"),
             notes="numpy, scipy, pandas unpinned before 20832ac (2020-12-18): assumed the newest then",
             numpy="1.19.4", scipy="1.5.4", pandas="1.1.5"),
        _was("sagemaker:0.23-1", "2020-12-18", "2022-02-23", ()),
        _was("sagemaker:0.23-1", "2022-02-23", "2022-07-15", (("numpy", f"{_C} bb35de8 (2022-02-23)"),),
             assumed=("numpy",), numpy="1.21.0"),
    ),
    # 1.0-1: Python 3.7.10 until c2acd2c (2022-06-01); numpy 1.21.0, then 1.19.2 (766ad77 2022-07-14),
    # 1.22 (2a47361 2023-01-12; unpinned from 623cd13 2023-01-17), 1.24.1 (dba0ae3 2023-02-07);
    # scipy 1.5.3 until 21e088f (2023-11-13)
    "sagemaker:1.0-1": (
        _was("sagemaker:1.0-1", "2022-03-24", "2022-06-01", (("python", f"{_C} 523b137 (2022-03-24)"),),
             python="3.7", numpy="1.21.0", scipy="1.5.3", joblib="1.1.0",
             notes="joblib not pinned, assumed 1.1.0"),
        _was("sagemaker:1.0-1", "2022-06-01", "2022-07-14", (("python", f"{_C} c2acd2c (2022-06-01)"),),
             numpy="1.21.0", scipy="1.5.3", joblib="1.1.0", notes="joblib not pinned, assumed 1.1.0"),
        _was("sagemaker:1.0-1", "2022-07-14", "2023-01-12", (("numpy", f"{_C} 766ad77 (2022-07-14)"),),
             numpy="1.19.2", scipy="1.5.3", joblib="1.2.0", notes="joblib not pinned, assumed 1.2.0"),
        _was("sagemaker:1.0-1", "2023-01-12", "2023-02-07", (("numpy", f"{_C} 2a47361 (2023-01-12)"),),
             numpy="1.22.0", scipy="1.5.3", joblib="1.2.0",
             notes="numpy==1.22 (unpinned from 623cd13, 2023-01-17: assumed 1.22.0); joblib assumed 1.2.0"),
        _was("sagemaker:1.0-1", "2023-02-07", "2023-11-13", (("numpy", f"{_C} dba0ae3 (2023-02-07)"),),
             scipy="1.5.3"),
    ),
    # 1.2-1: branched from 1.0-1 by cd86eb2 (2023-02-24) with Python 3.8.13 and scipy 1.5.3; user
    # transform_fn used from e677315 (2023-04-12); scipy 1.8.0 from 2430abd (2023-11-13); Python 3.9
    # from 30303fd (2024-10-09)
    "sagemaker:1.2-1": (
        _was("sagemaker:1.2-1", "2023-02-24", "2023-04-12",
             (("python", f"{_C} cd86eb2 (2023-02-24)"), ("transform_fn", "SM-GLUE-1.2-1")),
             python="3.8", scipy="1.5.3", joblib="1.2.0", transform_fn="ignored",
             notes="the first 1.2-1 build: Python 3.8, scipy 1.5.3, a user transform_fn ignored; joblib assumed 1.2.0"),
        _was("sagemaker:1.2-1", "2023-04-12", "2023-11-13", (("python", f"{_C} e677315 (2023-04-12)"),),
             python="3.8", scipy="1.5.3", joblib="1.3.2", notes="Python 3.8, scipy 1.5.3; joblib assumed 1.3.2"),
        _was("sagemaker:1.2-1", "2023-11-13", "2024-10-09", (("scipy", f"{_C} 2430abd (2023-11-13)"),),
             python="3.8", joblib="1.3.2", notes="Python 3.8, scipy 1.8.0; joblib assumed 1.3.2"),
    ),
}


# The SageMaker images the SDK's image_uris.retrieve resolves for inference ([SM-SDK]): the others
# (1.4-2, 1.9-0) are deployed with an explicit image_uri.
SDK_INFERENCE: tuple[str, ...] = ("0.20.0", "0.23-1", "1.0-1", "1.2-1", "1.4-2-py312")


def builds(image: Image) -> tuple[Image, ...]:
    """Every build of ``image``'s row, oldest first, the current one last."""
    cur = _BY_KEY.get(image.key, image)
    return (*HISTORY.get(cur.key, ()), cur)


def all_builds() -> tuple[Image, ...]:
    return tuple(b for im in IMAGES for b in builds(im))


def as_date(when: dt.date | dt.datetime | str | None) -> dt.date | None:
    """A date from an ISO date/time string ("2023-05-01", "2023-05-01T23:59:00+02:00") or a date."""
    if when is None or when == "":
        return None
    if isinstance(when, dt.datetime):
        return when.date()
    if isinstance(when, dt.date):
        return when
    return dt.date.fromisoformat(str(when).strip()[:10])


def build_at(image: Image, when: dt.date | dt.datetime | str | None) -> Image:
    """The build of ``image`` in force on ``when`` (None: today's, the current one). Before the
    image's first known build: that first build."""
    day = as_date(when)
    rows = builds(image)
    if day is None:
        return rows[-1]
    for b in rows:
        if (not b.since or as_date(b.since) <= day) and (not b.until or day < as_date(b.until)):  # type: ignore[operator]
            return b
    return rows[0]


def retirement(image: Image, today: dt.date | None = None) -> Retirement | None:
    """The image's end of support when it has passed (``today``: the date to compare with)."""
    r = _BY_KEY.get(image.key, image).retired
    if r is None:
        return None
    return r if as_date(r.date) <= (today or dt.date.today()) else None  # type: ignore[operator]


# --------------------------------------------------------------------------- look-ups

def image(key: str) -> Image:
    """The row for "sagemaker:1.2-1" / "vertex:sklearn-cpu.1-2" / "ai-platform:2.11", or a bare
    declared value ("1.2-1", "sklearn-cpu.1-2", a Vertex container URI, "2.11", "1.0-1-arm64-cpu-py3").
    KeyError otherwise."""
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
    value = re.sub(r"-cpu(?:-py3\d*)?$", "", value)                  # an image tag: "1.0-1-arm64-cpu-py3"
    found = [im for im in IMAGES if im.version == value and kind in ("", im.kind)]
    if not found and re.fullmatch(r"\d+\.\d+\.0", value) and kind in ("", "ai_platform"):   # "2.11.0" -> "2.11"
        found = [im for im in IMAGES if im.version == value[:-2] and im.kind == "ai_platform"]
    if len(found) == 1:
        return found[0]
    raise KeyError(f"unknown serving image {key!r}; known: {', '.join(im.key for im in IMAGES)}")


def scheduled(key: str, when: dt.date | dt.datetime | str | None = None) -> Image:
    """The build a scheduling key names: "sagemaker:1.2-1@2023-05-15" is that image's build of that
    day, a key without "@DATE" the build of ``when`` (None: today's). KeyError for an unknown image."""
    name, _, day = key.partition("@")
    return build_at(image(name), day or when or None)


def images(kind: str | None = None) -> tuple[Image, ...]:
    return tuple(im for im in IMAGES if kind in (None, im.kind))


def for_declared(kind: str, value: str) -> Image | None:
    """The row a declaration (``DeclaredRuntime.kind``/``.value``) names, or None."""
    try:
        return image(f"{kind.replace('_', '-')}:{value}")
    except KeyError:
        return None


# --------------------------------------------------------------------------- Pythons of scikit-learn releases

# The CPython minors each scikit-learn release has manylinux x86_64 wheels for ([PYPI-WHEELS]),
# as (first, last) minor; a release not listed installs where its neighbours do.
SKLEARN_WHEELS: tuple[tuple[str, str, str], ...] = (
    # (first release of the range, Python first, Python last)
    ("0.18", "3.6", "3.6"), ("0.19.2", "3.6", "3.7"), ("0.22", "3.6", "3.8"), ("0.24.0", "3.6", "3.9"),
    ("1.0", "3.7", "3.9"), ("1.0.2", "3.7", "3.10"), ("1.1.0", "3.8", "3.10"), ("1.1.3", "3.8", "3.11"),
    ("1.3.1", "3.8", "3.12"), ("1.4.0", "3.9", "3.12"), ("1.5.2", "3.9", "3.13"), ("1.7.0", "3.10", "3.13"),
    ("1.7.2", "3.10", "3.14"), ("1.8.0", "3.11", "3.14"),
)


def _vkey(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3]) + (0,) * (3 - len(re.findall(r"\d+", v)[:3]))


def sklearn_pythons(version: str) -> tuple[str, str] | None:
    """(first, last) Python minor the scikit-learn release ``version`` installs on from wheels."""
    if not re.match(r"^\d+\.\d+", version or ""):
        return None
    got = None
    for first, lo, hi in SKLEARN_WHEELS:
        if _vkey(version) >= _vkey(first):
            got = (lo, hi)
    return got


# --------------------------------------------------------------------------- derived tables

SAGEMAKER_SKLEARN: dict[str, str] = {im.version: im.sklearn for im in IMAGES
                                     if im.kind == "sagemaker" and not im.alias_of}
AI_PLATFORM_SKLEARN: dict[str, str] = {im.version: im.sklearn for im in IMAGES if im.kind == "ai_platform"}
AI_PLATFORM_VERIFIED = False   # see [AIP-LIST]
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
    im = for_declared("sagemaker", str(framework_version))
    return im.sklearn if im is not None else None


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
    v = mm(sklearn_version)
    if v is None:
        return None
    tags = {tuple(int(x) for x in t.split("-")): t for t in VERTEX_SKLEARN_TAGS}
    if v in tags:
        tag = tags[v]
    else:
        def dist(k: tuple[int, ...]) -> tuple[int, int]:
            return (abs((k[0] * 100 + k[1]) - (v[0] * 100 + v[1])), -k[0] * 100 - k[1])
        tag = tags[min(tags, key=dist)]
    return VERTEX_URI.format(prefix=_vertex_prefix(region), tag=tag)


def vertex_equivalent(image: Image) -> Image | None:
    """The Vertex AI prebuilt container serving ``image``'s scikit-learn major.minor (legacy AI Platform
    runtimes are retired in favour of Vertex AI)."""
    return next((im for im in IMAGES if im.kind == "vertex" and major_minor(im.sklearn) == major_minor(image.sklearn)),
                None)


def vertex_exact_tag(sklearn_version: str) -> str | None:
    v = mm(sklearn_version)
    if v is None:
        return None
    t = f"{v[0]}-{v[1]}"
    return f"sklearn-cpu.{t}" if t in VERTEX_SKLEARN_TAGS else None


def best_sagemaker_framework_for(sklearn_version: str) -> str | None:
    """The SageMaker image serving ``sklearn_version``'s major.minor: a supported one first, else the
    one supported longest."""
    v = mm(sklearn_version)
    rows = [im for im in IMAGES if im.kind == "sagemaker" and not im.alias_of and mm(im.sklearn) == v]
    if v is None or not rows:
        return None
    return max(rows, key=lambda im: (retirement(im) is None, im.retired.date if im.retired else "",
                                     im.python_tuple)).version


def best_ai_platform_runtime_for(sklearn_version: str) -> str | None:
    """The newest legacy runtime whose scikit-learn has the same major-minor."""
    v = mm(sklearn_version)
    best = None
    for rt, sk in AI_PLATFORM_SKLEARN.items():
        if mm(sk) == v:
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
