"""Serving images and their runtime environments.

* :mod:`.catalog`  THE table of serving images (Python, scikit-learn, numpy... per image, with sources)
  and what is derived from it (registry accounts, image URIs, look-ups by declared value);
* :mod:`.envs`     one cached virtual environment per image (its Python and pins), built on first use;
* :mod:`.cli`      ``deploycheck runtimes list|build|prune``.

Which image a deploy folder declares is a fact about the folder: :mod:`deploycheck.analysis.runtimes`.
"""
from __future__ import annotations
