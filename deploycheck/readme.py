"""Transition shim: README facts in deploycheck.analysis.{readme,sources,commands,refs}, verdicts in
deploycheck.verdicts.{readme,files}. Old call sites only; this module goes away."""
from deploycheck.analysis.commands import GCLOUD as _G  # noqa: F401
from deploycheck.analysis.readme import MIN_WORDS, README_LIMIT, README_NAMES, ReadmeDoc, md_chunks  # noqa: F401
from deploycheck.analysis.refs import clean_link as _clean_link  # noqa: F401
from deploycheck.analysis.refs import is_local_name, python_refs, resolve_ref, shell_refs  # noqa: F401
from deploycheck.analysis.sources import (NOTEBOOK_LIMIT, Source, logical_lines, notebook_cells,  # noqa: F401
                                          split_cell)
from deploycheck.files import path_status  # noqa: F401
from deploycheck.verdicts import folder_label  # noqa: F401
from deploycheck.verdicts.files import files_referenced  # noqa: F401
from deploycheck.verdicts.readme import readme_cleanup, readme_instructions, readme_present  # noqa: F401

ReadmeInfo = ReadmeDoc


def readme_info(folder):  # noqa: ANN001, ANN201
    return folder.facts.readme


def script_sources(folder):  # noqa: ANN001, ANN201
    return list(folder.facts.scripts)


def find_readme(folder):  # noqa: ANN001, ANN201
    return folder.facts.readme_rel


def collect_refs(folder):  # noqa: ANN001, ANN201
    r = folder.facts.refs
    return list(r.refs), set(r.outputs)
