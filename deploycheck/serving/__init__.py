"""Serving a deploy folder the way the cloud would.

* :mod:`.local` the grader side: which image and runtime environment, the sandboxed run of the
  container's own request path (``deploycheck/inside/sagemaker_job.py``, ``vertex_job.py``), and the
  typed record of what it answered;
* :mod:`.http`  ``deploycheck serve``: the same path behind a loopback HTTP port.
"""
from __future__ import annotations

from typing import Any


def model_info(model: Any) -> dict[str, Any]:
    """Kept for deploycheck.samples.synthesize (unused since synthesis moved into the jobs)."""
    info: dict[str, Any] = {"class": f"{type(model).__module__}.{type(model).__name__}"}
    n = getattr(model, "n_features_in_", None)
    if n is not None:
        try:
            info["n_features_in_"] = int(n)
        except (TypeError, ValueError):
            pass
    return info
