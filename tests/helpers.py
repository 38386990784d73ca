"""Shared helpers for the unit tests (``from tests.helpers import ...``)."""
import textwrap
from pathlib import Path

from deploycheck.discovery import Target, load_submission


def write_files(root: Path, files: dict[str, str | bytes], dedent: bool = True) -> Path:
    """Write `files` ({relative path: text or bytes}) below `root`; text is dedented unless told not to."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, bytes):
            content = (textwrap.dedent(content) if dedent else content).encode()
        p.write_bytes(content)
    return root


def make_target(tmp_path: Path, files: dict[str, str | bytes], platform: str | None = "aws",
                student: str = "stu", dedent: bool = True) -> Target:
    """A tiny student repo at tmp_path/repo holding `files`, loaded (uncached) as a Target."""
    repo = write_files(tmp_path / "repo", files, dedent)
    sub = load_submission.__wrapped__(student, str(repo))
    return Target(student, platform, sub, student)


ROOT = Path(__file__).resolve().parents[1]


def build_reference(dest: Path) -> None:
    """reference_deploys/build.py --out dest, in-process (saves an interpreter start)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_reference_build", ROOT / "reference_deploys" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.build(root=dest)


def dump_with_version(obj, path, version: str, compress=0) -> Path:
    """``joblib.dump`` ``obj`` so that its ``_sklearn_version`` reads ``version``: for tests of the
    static pickle scanner only (the example repos are pickled for real in each image's runtime).

    scikit-learn writes ``sklearn.base.__version__`` into each estimator's state
    (``BaseEstimator.__getstate__``); it is swapped for the duration of the dump and restored."""
    import joblib
    import sklearn.base as skbase

    old = skbase.__version__
    skbase.__version__ = version
    try:
        joblib.dump(obj, str(path), compress=compress)
    finally:
        skbase.__version__ = old
    return Path(path)
