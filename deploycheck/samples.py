"""Transition shim: sample requests live in deploycheck.analysis.samples (``folder.facts.sample``)."""
from typing import Any

from deploycheck.analysis.samples import (CSV, JSON, NPY, SampleRequest, documented, encode_for,  # noqa: F401
                                          n_rows_of, synthesize_from_info)


def sample_request(folder, model_info=None, platform=None):  # noqa: ANN001, ANN201
    if model_info is None and (platform is None or platform == folder.platform):
        return folder.facts.sample
    from deploycheck.analysis.samples import sample_request as _sr
    return _sr(folder, model_info, platform)


def synthesize(model: Any, platform: str, custom_input_fn: bool = False) -> SampleRequest | None:
    """In the sandbox child: a two-row request built from the loaded model."""
    from deploycheck.serving import model_info
    if model is None:
        return None
    return synthesize_from_info(model_info(model), platform, custom_input_fn)
