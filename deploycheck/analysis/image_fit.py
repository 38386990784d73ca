"""Whether a deploy folder's model loads on the image it runs on (``folder.facts.image_fit``): the
pickle's scikit-learn against the image's. artifact.version reports it, the cloud bundle refuses to
deploy a model that does not fit, and predict.local explains its load failures with it.

scikit-learn loads estimators pickled by the same major.minor release (a different patch release
only warns, ``InconsistentVersionWarning``); across minor releases the estimators' internals change
and unpickling fails or, worse, predicts wrongly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploycheck.runtimes import catalog

if TYPE_CHECKING:
    from deploycheck.analysis.artifact import ArtifactInfo
    from deploycheck.runtimes.catalog import Image


@dataclass(frozen=True)
class Mismatch:
    """One reason the pickle does not load on the image."""
    what: str                  # "scikit-learn"
    pickled: str               # what the pickle needs ("1.2.1")
    image_has: str             # what the image has ("0.23.2")
    cause: str                 # one sentence for the student


@dataclass(frozen=True)
class Fit:
    image: Image
    sklearn: str                          # the pickle's scikit-learn
    mismatches: tuple[Mismatch, ...] = ()
    note: str = ""                        # loads, but with a remark (another patch release)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def cause(self) -> str:
        return "; ".join(m.cause for m in self.mismatches)


def image_fit(artifact: ArtifactInfo | None, image: Image | None) -> Fit | None:
    """How the pickle fits ``image``; None when there is no image or no scikit-learn version to compare."""
    pickled = artifact.sklearn_version if artifact is not None else None
    if image is None or not pickled:
        return None
    out: list[Mismatch] = []
    note = ""
    if catalog.major_minor(pickled) != catalog.major_minor(image.sklearn):
        out.append(Mismatch("scikit-learn", pickled, image.sklearn,
                            f"the model was pickled with scikit-learn {pickled} and the image has scikit-learn "
                            f"{image.sklearn}, another release whose estimators do not unpickle"))
    elif image.sklearn.count(".") >= 2 and pickled != image.sklearn:
        note = (f"pickled with {pickled}, the image has {image.sklearn} (same minor version, it loads, possibly "
                "with an InconsistentVersionWarning)")
    return Fit(image, pickled, tuple(out), note)
