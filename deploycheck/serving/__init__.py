"""Serving a deploy folder the way the cloud would.

* :mod:`.local` the grader side: which image and runtime environment, the sandboxed run of the
  container's own request path (``deploycheck/inside/sagemaker_job.py``, ``vertex_job.py``), and the
  typed record of what it answered;
* :mod:`.http`  ``deploycheck serve``: the same path behind a loopback HTTP port.
"""
from __future__ import annotations
