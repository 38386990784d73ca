"""Serving images and their runtime environments.

* :mod:`.catalog`  THE table of serving images (Python, scikit-learn, numpy... per image, with sources)
  and what is derived from it (registry accounts, image URIs, look-ups by declared value);
* :mod:`.declared` which image a deploy folder declares (``framework_version``, ``--runtime-version``,
  a Vertex container URI...);
* :mod:`.envs`     one cached virtual environment per image (its Python and pins), built on first use;
* :mod:`.cli`      ``deploycheck runtimes list|build|prune``.

The names below are re-exported so that ``from deploycheck import runtimes; runtimes.X`` keeps
working for the callers of the former ``deploycheck/runtimes.py``.
"""
from __future__ import annotations

from deploycheck.runtimes.catalog import (  # noqa: F401
    AI_PLATFORM_SKLEARN, AI_PLATFORM_VERIFIED, IMAGES, KINDS, SAGEMAKER_REGISTRIES, SAGEMAKER_REPOSITORY,
    SAGEMAKER_SKLEARN, VERTEX_SKLEARN_TAGS, VERTEX_URI, Image, ai_platform_sklearn_version,
    best_ai_platform_runtime_for, best_sagemaker_framework_for, for_declared, image, images, major_minor,
    resolve, sagemaker_image_uri, sagemaker_sklearn_version, valid_values, vertex_container_uri,
    vertex_exact_tag, vertex_sklearn_version)
from deploycheck.runtimes.declared import DeclaredRuntime, declared_runtimes  # noqa: F401
