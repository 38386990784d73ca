"""Facts about a deploy folder (and its repo), each computed once, from one reader
(:mod:`deploycheck.files`) and one README rule (:func:`deploycheck.analysis.readme.find_readme`).

``folder.facts`` is the only cache: verdicts, the sandbox plan, proofs and the cloud bundle all read
the same members, so they can never disagree about which README, entry point or artifact a folder
has. Members are computed lazily (a check that is deselected costs nothing).
"""
from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from deploycheck.analysis import artifact as _artifact
from deploycheck.analysis.plan import Unservable
from deploycheck.analysis import commands as _commands
from deploycheck.analysis import entrypoint as _entrypoint
from deploycheck.analysis import imports as _imports
from deploycheck.analysis import readme as _readme
from deploycheck.analysis import refs as _refs
from deploycheck.analysis import sources as _sources

if TYPE_CHECKING:
    from deploycheck.analysis.plan import ServingPlan
    from deploycheck.analysis.samples import SampleRequest
    from deploycheck.analysis.screenshot import ScreenshotFacts
    from deploycheck.sandbox import Limits
    from deploycheck.serving.local import LocalRun
    from deploycheck.analysis.secrets import ScanResult
    from deploycheck.discovery import DeployFolder, Submission
    from deploycheck.analysis.image_fit import Fit
    from deploycheck.analysis.runtimes import DeclaredRuntime, ImageChoice


class Facts:
    """Lazily computed, typed facts about one :class:`~deploycheck.discovery.DeployFolder`."""

    def __init__(self, folder: DeployFolder) -> None:
        self.folder = folder
        self._screenshot_lock = threading.Lock()

    @cached_property
    def readme_rel(self) -> str | None:
        """The README's name at the top of the folder (files and symlinks), by THE README rule."""
        return _readme.find_readme(list(self.folder.files) + list(self.folder.symlinks))

    @cached_property
    def readme_near_miss(self) -> str | None:
        """No README by name: the document the student meant as one (``Reedme.md``, ``serving_AI.md``,
        ``docs/README.md``); it is graded for instructions and clean-up, and readme.present asks
        for the rename."""
        if self.readme_rel is not None:
            return None
        return _readme.near_miss_readme(self.folder.files, [f for f in self.folder.files if f.count("/") == 1])

    @cached_property
    def readme(self) -> _readme.ReadmeDoc | None:
        rel = self.readme_rel or self.readme_near_miss
        if rel is None:
            return None
        return _readme.parse_readme(self.folder.path, rel, self.folder.repo_rel(rel),
                                    is_symlink=rel in self.folder.symlinks)

    @cached_property
    def scripts(self) -> tuple[_sources.Source, ...]:
        return _sources.script_sources(self.folder)

    @cached_property
    def refs(self) -> _refs.FileRefs:
        return _refs.collect_refs(self.folder)

    @cached_property
    def deploy_steps(self) -> _commands.Steps:
        pats = _commands.AWS_STEPS if self.folder.platform == "aws" else _commands.GCP_STEPS
        return _commands.steps(self.folder, pats)

    @cached_property
    def cleanup_steps(self) -> _commands.Steps:
        pats = _commands.AWS_CLEAN if self.folder.platform == "aws" else _commands.GCP_CLEAN
        return _commands.steps(self.folder, pats)

    @cached_property
    def other_services(self) -> tuple[_commands.Hit, ...]:
        """Deployments to another service (App Engine, Elastic Beanstalk, EC2 + Flask, ...)."""
        s = _commands.steps(self.folder, _commands.OTHER_SERVICES)
        return s.main + s.other

    @cached_property
    def entry_point(self) -> _entrypoint.EntryPointInfo | None:
        return _entrypoint.find_entry_point(self.folder) if self.folder.platform == "aws" else None

    @cached_property
    def requirements(self) -> tuple[_imports.Requirements, ...]:
        """The entry point's requirements.txt files and whether the SDK ships them (AWS)."""
        return _imports.shipped_requirements(self.folder, self.entry_point) if self.folder.platform == "aws" else ()

    @cached_property
    def shipped_code(self) -> _imports.ShippedCode:
        """The entry point's code directory as the SageMaker SDK uploads it (what the sandbox puts on
        sys.path, AWS)."""
        return _imports.shipped_code(self.folder, self.entry_point)

    @cached_property
    def artifact(self) -> _artifact.ArtifactInfo | None:
        return _artifact.inspect_artifact(self.folder)

    @cached_property
    def serving_plan(self) -> ServingPlan | Unservable:
        """What the serving container would run (entry point, model, image), or why nothing can run."""
        from deploycheck.analysis.plan import serving_plan
        return serving_plan(self.folder)

    def local_run(self, limits: Limits) -> LocalRun | Unservable:
        """The student's code and model run the way the container would, in the sandbox (once per
        process and limits: predict.local, the proof card and the cloud comparison share it)."""
        key = (limits.timeout, limits.memory_mb)
        runs: dict[tuple[float, int], LocalRun | Unservable] = self.__dict__.setdefault("_local_runs", {})
        if key not in runs:
            from deploycheck.serving.local import run_plan
            plan = self.serving_plan
            runs[key] = plan if isinstance(plan, Unservable) else run_plan(plan, self.sample, limits)
        return runs[key]

    def finished_local_run(self, limits: Limits) -> LocalRun | None:
        """The local run made with ``limits`` in this process, if it was made (never starts one)."""
        run = self.__dict__.get("_local_runs", {}).get((limits.timeout, limits.memory_mb))
        return None if run is None or isinstance(run, Unservable) else run

    @property
    def screenshot(self) -> ScreenshotFacts:
        """The candidate screenshots, read (OCR) and classified. Computed once, also when the
        warm-up thread (which starts the OCR early) and a check ask at the same time."""
        with self._screenshot_lock:
            done: ScreenshotFacts | None = self.__dict__.get("_screenshot")
            if done is None:
                from deploycheck.analysis.screenshot import screenshot_facts
                done = self.__dict__["_screenshot"] = screenshot_facts(self.folder)
            return done

    @cached_property
    def runtimes(self) -> tuple[DeclaredRuntime, ...]:
        """The serving runtimes the folder declares; when it declares none, those the repo's own
        top-level README, notebooks and scripts declare."""
        from deploycheck.analysis import runtimes
        return runtimes.declared_runtimes(self.folder) or runtimes.repo_declared_runtimes(self.folder.repo)

    @cached_property
    def image(self) -> ImageChoice:
        """THE image the folder runs on, and the declaration it came from (one rule, in
        :mod:`deploycheck.analysis.runtimes`): artifact.version, the serving plan, predict.local,
        the proof card and the cloud bundle all use it."""
        from deploycheck.analysis import runtimes

        def pickled() -> str | None:             # read only when no known image is declared
            art = self.artifact
            return art.sklearn_version if art else None
        return runtimes.choose_image(self.folder.platform, self.runtimes, pickled, self.folder.as_of)

    @cached_property
    def image_fit(self) -> Fit | None:
        """Whether the model loads on :attr:`image` (None: no image or no scikit-learn version)."""
        from deploycheck.analysis.image_fit import image_fit
        choice = self.image
        return image_fit(self.artifact, choice.build if choice.image is not None else None)

    @cached_property
    def sample(self) -> SampleRequest:
        """THE request predict.local sends (documented, else a request file, else synthesized)."""
        from deploycheck.analysis import samples
        return samples.sample_request(self.folder)


class RepoFacts:
    """Repo-wide facts of a :class:`~deploycheck.discovery.Submission`."""

    def __init__(self, submission: Submission) -> None:
        self.submission = submission

    @cached_property
    def secrets(self) -> ScanResult:
        from deploycheck.analysis import secrets
        return secrets.scan_repo(self.submission.repo, tuple(f.rel for f in self.submission.folders))

    @cached_property
    def top_files(self) -> list[str]:
        from deploycheck import files
        return files.top_level_files(self.submission.repo)

    @cached_property
    def python_modules(self) -> dict[str, str]:
        """Import names of the student's own modules anywhere in the repo -> their path (bounded walk,
        no symlinks), so a student is never told to pip-install a module they wrote."""
        from deploycheck import files
        out: dict[str, str] = {}
        listed, _links, _truncated = files.list_tree(self.submission.repo)
        for rel in listed:
            if rel.endswith(".py"):
                parts = rel.split("/")
                name = parts[-2] if parts[-1] == "__init__.py" and len(parts) > 1 else parts[-1][:-3]
                out.setdefault(name, rel)
        return out

    @cached_property
    def readme(self) -> _readme.ReadmeDoc | None:
        rel = _readme.find_readme(self.top_files)
        return None if rel is None else _readme.parse_readme(self.submission.repo, rel, rel)
