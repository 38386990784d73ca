"""Whether a deploy folder's model loads on the image it runs on (``folder.facts.image_fit``), and the
changes that would make it load. artifact.version reports it, the cloud bundle refuses to deploy a
model that does not fit, and predict.local explains its load failures with it.

What is compared, pickle against the image's build (``folder.facts.image.build``):

* scikit-learn: estimators unpickle in the same major.minor release (another patch release only
  warns, ``InconsistentVersionWarning``); across minor releases their internals change;
* the pickle's format facts (:mod:`deploycheck.analysis.pickle_format`): numpy 2 module paths
  against the image's numpy, joblib's aligned arrays against its joblib, the pickle protocol against
  its Python, lz4 compression against its packages.

A mismatch is *certain* when the image's side of it is the vendor's own fact, and *uncertain* when
it rests on a value the catalog assumed (``Image.assumed``): uncertain mismatches never fail a
student (artifact.version passes with a note; a local run that fails on it is for review).

Every mismatch carries a fix that works when followed: another image that loads the model as it
is, or the exact install to re-train it in for this image (or for the image the vendor names once
this one is retired), in a Python that install exists for (``catalog.sklearn_pythons``: PyPI's
wheels), made the way deploycheck makes the image's own runtime environment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploycheck.runtimes import catalog

if TYPE_CHECKING:
    from deploycheck.analysis.artifact import ArtifactInfo
    from deploycheck.analysis.pickle_format import PickleFormat
    from deploycheck.runtimes.catalog import Image

SKLEARN_VENDORED_JOBLIB = "0.12.2"     # scikit-learn 0.20.0 vendors joblib as sklearn.externals.joblib


@dataclass(frozen=True)
class Mismatch:
    """One reason the pickle does not load on the image."""
    what: str                  # "scikit-learn" | "numpy" | "joblib" | "python" | "lz4"
    cause: str                 # one sentence for the student
    certain: bool = True       # the image's side is the vendor's fact (False: the catalog assumed it)
    fix: str = ""              # what to change (one sentence)
    joblib: str | None = None  # the image's joblib (joblib mismatches), for a re-save that pins it


@dataclass(frozen=True)
class Fit:
    image: Image                          # the build compared with
    sklearn: str                          # the pickle's scikit-learn
    mismatches: tuple[Mismatch, ...] = ()
    note: str = ""                        # loads, but with a remark (another patch release)
    instead: tuple[Image, ...] = ()       # images of the platform that load the model as it is

    @property
    def ok(self) -> bool:
        """No certain mismatch (uncertain ones are reported, never failed)."""
        return not any(m.certain for m in self.mismatches)

    @property
    def certain(self) -> tuple[Mismatch, ...]:
        return tuple(m for m in self.mismatches if m.certain)

    @property
    def doubts(self) -> tuple[Mismatch, ...]:
        return tuple(m for m in self.mismatches if not m.certain)

    @property
    def cause(self) -> str:
        return "; ".join(m.cause for m in self.certain)

    @property
    def doubt(self) -> str:
        """'may not load: <cause> (the image's joblib is assumed: ...)' for uncertain mismatches."""
        if not self.doubts:
            return ""
        whats = " and ".join(m.what for m in self.doubts)
        return (f"it may not load on {self.image.title}: " + "; ".join(m.cause for m in self.doubts)
                + f" (not counted: the vendor publishes no {whats} version for this image; deploycheck assumed "
                  f"{'it' if len(self.doubts) == 1 else 'them'})")

    def fixes(self, certain_only: bool = True) -> str:
        """The fixes, joined: another image first (it needs no re-training), then one re-training in
        this image's own libraries (it covers scikit-learn, numpy and joblib at once; a pickle the
        image cannot load cannot be loaded there to be re-saved either), for the image the vendor
        says to move to when this one is retired."""
        ms = list(self.certain if certain_only else self.mismatches)
        if not ms:
            return ""
        out: list[str] = []
        if self.instead:
            out.append(declare(self.instead[0]))
        if {m.what for m in ms} & {"scikit-learn", "numpy", "joblib"}:
            joblib = next((m.joblib for m in ms if m.what == "joblib"), None)
            newer = successor(self.image)
            out.append(f"{retrain(newer, self.sklearn)}, and {declare(newer)}" if newer is not None
                       else retrain(self.image, self.sklearn, joblib))
            ms = [m for m in ms if m.what in ("python", "lz4")]
        for m in ms:
            if m.fix and m.fix not in out:
                out.append(m.fix)
        return ", or ".join(out)


# --------------------------------------------------------------------------- comparing

def _mismatches(fmt: PickleFormat | None, pickled: str, image: Image) -> list[Mismatch]:
    out: list[Mismatch] = []
    if catalog.major_minor(pickled) != catalog.major_minor(image.sklearn):
        out.append(Mismatch("scikit-learn", f"it was pickled with scikit-learn {pickled} and the image has "
                                            f"{image.sklearn} (estimators do not unpickle across releases)",
                            not image.is_assumed("sklearn"),
                            retrain(image, pickled)))
    if fmt is None:
        return out
    if not fmt.numpy_loads(image.numpy):
        mods = ", ".join(f"numpy._core.{m}" for m in fmt.numpy_core) or "numpy._core"
        out.append(Mismatch("numpy", f"it was saved under numpy 2 (it imports {mods}), which the image's numpy "
                                     f"{image.numpy} cannot import (\"No module named 'numpy._core'\")",
                            not image.is_assumed("numpy"),
                            retrain(image, pickled)))
    joblib = image.joblib or (SKLEARN_VENDORED_JOBLIB if catalog.mm(image.sklearn) == (0, 20) else None)
    if fmt.joblib_needed and joblib and _v(joblib) < _v(fmt.joblib_needed):
        out.append(Mismatch("joblib", f"it was written by joblib >= 1.2 (aligned arrays), which the image's joblib "
                                      f"{joblib} reads wrongly", not image.is_assumed("joblib"),
                            retrain(image, pickled, joblib), joblib))
    need = fmt.python_needed
    if need and image.python_tuple < need:
        out.append(Mismatch("python", f"it uses pickle protocol {fmt.protocol}, which the image's Python {image.python} "
                                      f"cannot read (it needs Python {need[0]}.{need[1]})",
                            not image.is_assumed("python"),
                            "save it with joblib.dump(model, \"model.joblib\") (or pickle.dump(model, f, protocol=4))"))
    if fmt.compression == "lz4" and "lz4" not in " ".join(image.serving):
        out.append(Mismatch("lz4", "it is lz4-compressed and the image has no lz4 package (joblib: \"LZ4 is not "
                                   "installed\")", image.kind == "sagemaker",
                            "save it with joblib.dump(model, \"model.joblib\", compress=3) (zlib) or uncompressed"))
    return out


def image_fit(artifact: ArtifactInfo | None, image: Image | None) -> Fit | None:
    """How the pickle fits ``image`` (a build); None when there is no image or no scikit-learn version."""
    pickled = artifact.sklearn_version if artifact is not None else None
    if image is None or not pickled:
        return None
    fmt = artifact.pickle if artifact is not None else None
    found = _mismatches(fmt, pickled, image)
    note = ""
    if not found and image.sklearn.count(".") >= 2 and pickled != image.sklearn \
            and not image.is_assumed("sklearn-patch"):
        note = (f"pickled with {pickled}, the image has {image.sklearn} (same minor version, it loads, possibly "
                "with an InconsistentVersionWarning)")
    instead = fitting_images(fmt, pickled, image.platform, exclude=image.key) if found else ()
    return Fit(image, pickled, tuple(found), note, instead)


def fitting_images(fmt: PickleFormat | None, pickled: str, platform: str, exclude: str = "") -> tuple[Image, ...]:
    """The platform's images that load the model as it is (no certain mismatch), best first: no
    uncertain one either, still supported, the newest Python. Legacy AI Platform runtimes are never
    proposed (retired)."""
    kinds = ("sagemaker",) if platform == "aws" else ("vertex",)
    rows = []
    for im in catalog.IMAGES:
        if im.kind in kinds and im.key != exclude and not im.alias_of:
            found = _mismatches(fmt, pickled, im)
            if not any(m.certain for m in found):
                rows.append((len(found), catalog.retirement(im) is not None, -im.python_tuple[1],
                             catalog.distance(im.sklearn, pickled), im.key, im))
    return tuple(r[-1] for r in sorted(rows, key=lambda r: r[:-1]))


# --------------------------------------------------------------------------- advice that works

def declare(image: Image) -> str:
    """How to declare ``image`` where the student declares it (the SDK call or the container URI),
    with its end of support when it has passed."""
    r = catalog.retirement(image)
    sk = f"scikit-learn {catalog.major_minor(image.sklearn) if image.kind == 'vertex' else image.sklearn}" + \
        (f"; it {r.what} {r.date}" if r else "")
    if image.kind == "sagemaker":
        if image.version in catalog.SDK_INFERENCE:
            return f"use framework_version=\"{image.version}\" ({sk})"
        # not in the SageMaker SDK's inference list: by image URI
        return (f"deploy on {image.title} ({sk}) with image_uri="
                f"\"{catalog.sagemaker_image_uri('us-east-1', image.version)}\" (in your region's registry)")
    if image.kind == "vertex":
        uri = catalog.vertex_container_uri(image.sklearn) or image.version
        return f"use --container-image-uri={uri} on Vertex AI ({sk})"
    return f"use --runtime-version {image.version} ({sk})"


def successor(image: Image) -> Image | None:
    """The image the vendor says to declare instead of ``image`` once its support has ended (followed
    while that one is retired too; None while ``image`` is supported): re-training for a retired
    image is advice nobody should follow."""
    seen = {image.key}
    got = None
    r = catalog.retirement(image)
    while r is not None and r.instead:
        try:
            nxt = catalog.image(f"{image.kind}:{r.instead}")
        except KeyError:
            break
        if nxt.key in seen:
            break
        seen.add(nxt.key)
        got, r = nxt, catalog.retirement(nxt)
    return got


def python_for(image: Image) -> str:
    """The Python a model for ``image`` is saved in: the image's own, else (older than any Python
    uv and deploycheck run) the one deploycheck builds the image's runtime environment on."""
    if image.python_tuple >= catalog.MIN_PYTHON or not image.fallback_python:
        return image.python
    return image.fallback_python


def env_command(image: Image, joblib: str | None = None) -> str:
    """The commands that make the environment a model for ``image`` is saved in: its Python, its
    scikit-learn and numpy (and scipy and joblib where the vendor published them; ``joblib`` forces
    that one), installed as deploycheck installs the image's runtime environment (``uv venv`` then
    ``uv pip install --python``: a uv venv has no pip of its own)."""
    pins = [f"scikit-learn=={image.sklearn}", f"numpy=={image.numpy}"]
    if image.scipy and not image.is_assumed("scipy"):
        pins.append(f"scipy=={image.scipy}")
    joblib = joblib or (image.joblib if image.joblib and not image.is_assumed("joblib") else None)
    if joblib:
        pins.append(f"joblib=={joblib}")
    py = python_for(image)
    return (f"uv venv --python {py} model-env && uv pip install --python model-env "
            + " ".join(f'"{p}"' for p in pins))


def retrain(image: Image, pickled: str, joblib: str | None = None) -> str:
    """Re-train and save the model for ``image``: its Python (when that is not the Python the
    pickle's scikit-learn release runs on, says so) and the command that installs its libraries."""
    target = catalog.sklearn_pythons(image.sklearn)
    mine = catalog.sklearn_pythons(pickled)
    where = ""
    if target is not None:
        where = f"; scikit-learn {image.sklearn} installs on Python {target[0]} to {target[1]} only"
        if mine is not None and (_v(mine[0]) > _v(target[1]) or _v(mine[1]) < _v(target[0])):
            where += f", your scikit-learn {pickled} on Python {mine[0]} to {mine[1]}"
    return (f"retrain and save the model with scikit-learn {image.sklearn} in {image.title}'s Python "
            f"{python_for(image)}{where}: `{env_command(image, joblib)}`, then fit it and joblib.dump it with "
            "model-env/bin/python (e.g. `model-env/bin/python train.py`)")


def _v(version: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


# what a failed load says when a mismatch is its cause: the error's own words (``_NAMES``), then words
# a failed load of that kind often shows among others (``_HINTS``)
_NAMES = {"numpy": ("numpy._core",), "python": ("unsupported pickle protocol",), "lz4": ("lz4",),
          "scikit-learn": ("no module named 'sklearn", "can't get attribute", "inconsistentversion", "__setstate__"),
          "joblib": ()}
_HINTS = {"joblib": ("invalid load key", "array data", "unpickl", "could not load", "error code", "buffer",
                     "reshape", "truncat", "joblib"),
          "scikit-learn": ("sklearn", "unpickl", "could not load", "error code")}


def explain_load_failure(fit: Fit | None, error: str) -> tuple[str, bool] | None:
    """(what the format facts say about a failed load, certain) when they explain ``error``; None
    when they do not. The mismatch the error names comes first (a numpy 2 pickle on a numpy 1 image
    stops at "No module named 'numpy._core'" however old its scikit-learn), the others after it, as
    what would fail next. predict.local uses it instead of the container's text alone."""
    if fit is None or not fit.mismatches:
        return None
    low = error.lower()
    named = [m for m in fit.mismatches if any(h in low for h in _NAMES.get(m.what, ()))]
    hinted = [m for m in fit.mismatches if m not in named and any(h in low for h in _HINTS.get(m.what, ()))]
    if not named and not hinted:
        return None
    first = named or hinted
    certain = any(m.certain for m in first)
    if certain:
        first = [m for m in first if m.certain]
    cause = "; ".join(m.cause for m in first)
    rest = [m for m in fit.mismatches if m not in first and m.certain == certain and (m.certain or m in hinted)]
    if named and rest:
        cause += "; once that is fixed it still would not load: " + "; ".join(m.cause for m in rest)
    elif rest:
        cause += "; " + "; ".join(m.cause for m in rest)
    return cause, certain
