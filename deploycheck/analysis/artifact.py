"""Facts about a deploy folder's model artifact: the archive and the pickle inside it, inspected
without extracting anything to disk and without unpickling.

* AWS: SageMaker downloads ``model_data`` (a gzip'ed tar), extracts it into ``/opt/ml/model`` and calls
  ``model_fn(model_dir)``; so the archive must be gzip, its files at the archive root, and hold the file
  ``model_fn`` loads.
* GCP: AI Platform / Vertex prebuilt scikit-learn containers load exactly one of ``model.joblib``,
  ``model.pkl`` (with ``pickle.load``) or ``model.bst`` from the model directory.

Computed once per folder (``folder.facts.artifact``); identical model files (a class handing in the
same model) are scanned once per process.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable

from deploycheck import files
from deploycheck.errors import StudentInputError
from deploycheck.analysis import pickles
from deploycheck.analysis.pickle_compression import MAX_DECOMPRESSED, compression_kind
from deploycheck.analysis.pickle_format import PickleFormat, pickle_format
from deploycheck.analysis.pickle_safety import is_safe
from deploycheck.model import AWS, GCP

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle", ".sav")
GCP_NAMES = ("model.joblib", "model.pkl", "model.bst")
TAR_NAME = "model.tar.gz"

MAX_TAR_TOTAL = 1024 ** 3          # declared uncompressed bytes of all members
MAX_TAR_MEMBERS = 10_000
MAX_TAR_RATIO = 200                # uncompressed / compressed, checked once past RATIO_FLOOR
RATIO_FLOOR = 10 * 1024 * 1024
MAX_MODEL_BYTES = MAX_DECOMPRESSED
MAX_REQUIREMENTS = 200_000



# --------------------------------------------------------------------------- data

@dataclass
class _Build:
    kind: str                                   # "tar" | "file"
    rel: str                                    # relative to the folder
    members: list[str] = field(default_factory=list)        # tar member names (as stored)
    model_member: str | None = None             # model file inside the tar, or == rel for a file
    sklearn_version: str | None = None
    format: str | None = None                   # PickleScan.format of the model file
    unsafe: bool = False
    unsafe_globals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)       # structural problems (artifact.valid)
    symlink: bool = False
    link_target: str | None = None
    link_escapes: bool = False
    scan_error: str | None = None               # why the model pickle could not be read fully
    scanned: list[str] = field(default_factory=list)        # pickles scanned (member names or rels)
    expected: list[str] | None = None           # files model_fn loads (None: unknown)
    bomb: bool = False
    top: str | None = None                      # class of the pickled object
    params: str | None = None                   # digest of its fitted parameters (pickle_params)
    code_requirements: str | None = None        # text of the archive's code/requirements.txt
    code_sources: dict[str, str] = field(default_factory=dict)   # the archive's code/*.py (relative to code/)
    own_globals: list[str] = field(default_factory=list)         # globals of the student's shipped modules
    own_modules: list[str] = field(default_factory=list)         # where each is defined
    pickle: PickleFormat | None = None          # the model file's format facts

    def freeze(self) -> ArtifactInfo:
        return ArtifactInfo(self.kind, self.rel, tuple(self.members), self.model_member, self.sklearn_version,
                            self.format, self.unsafe, tuple(self.unsafe_globals), tuple(self.problems),
                            self.symlink, self.link_target, self.link_escapes, self.scan_error,
                            tuple(self.scanned), None if self.expected is None else tuple(self.expected),
                            self.bomb, self.top, self.params, self.code_requirements, tuple(self.own_globals),
                            tuple(self.own_modules), self.pickle)


@dataclass(frozen=True)
class ArtifactInfo:
    kind: str                                   # "tar" | "file"
    rel: str                                    # relative to the folder
    members: tuple[str, ...] = ()               # tar member names (as stored)
    model_member: str | None = None             # model file inside the tar, or == rel for a file
    sklearn_version: str | None = None
    format: str | None = None                   # PickleScan.format of the model file
    unsafe: bool = False
    unsafe_globals: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()              # structural problems (artifact.valid)
    symlink: bool = False
    link_target: str | None = None
    link_escapes: bool = False
    scan_error: str | None = None               # why the model pickle could not be read fully
    scanned: tuple[str, ...] = ()               # pickles scanned (member names or rels)
    expected: tuple[str, ...] | None = None     # files model_fn loads (None: unknown)
    bomb: bool = False
    top: str | None = None                      # class of the pickled object
    params: str | None = None                   # digest of its fitted parameters (pickle_params)
    code_requirements: str | None = None        # text of the archive's code/requirements.txt (the SDK's repack
                                                # layout: the container pip-installs it at start)
    own_globals: tuple[str, ...] = ()           # classes/functions of the student's own modules shipped with the
    own_modules: tuple[str, ...] = ()           # entry point (allowed: student code runs only in the sandbox), and
                                                # the files defining them
    pickle: PickleFormat | None = None          # the model file's format facts (analysis.pickle_format)

    @property
    def loadable(self) -> bool:
        """False when the model pickle(s) are flagged or could not be scanned: never load them."""
        return not (self.symlink or self.bomb or self.unsafe or self.scan_error)

    def to_data(self) -> dict[str, object]:
        return {"artifact": self.rel, "kind": self.kind, "model_member": self.model_member,
                "sklearn_version": self.sklearn_version, "format": self.format,
                "unsafe_globals": list(self.unsafe_globals[:20]),
                **({"pickle": self.pickle.to_data()} if self.pickle is not None else {})}


# --------------------------------------------------------------------------- helpers

def _depth_key(rel: str) -> tuple:
    return (rel.count("/"), rel)


def _expected_files(folder: DeployFolder) -> list[str] | None:
    """Files model_fn loads (relative to model_dir); None when unknown."""
    ep = folder.facts.entry_point
    if ep is None or ep.tree is None:
        return None
    from deploycheck.analysis.model_fn_paths import loaded_model_files
    out = [norm_member(x) for x in loaded_model_files(ep.tree) if x]
    return out or None


def norm_member(name: str) -> str:
    n = name.replace("\\", "/")
    while n.startswith("./"):
        n = n[2:]
    return n.rstrip("/")


def _is_model_name(name: str) -> bool:
    return name.lower().endswith(MODEL_SUFFIXES)


def is_model_file(rel: str) -> bool:
    """A file the deployment may load or upload as its model: a pickle, an XGBoost model or an archive."""
    return rel.lower().endswith((*MODEL_SUFFIXES, ".bst", ".tar.gz"))


def find_tar(folder: DeployFolder) -> tuple[str, bool] | None:
    """(rel, is_symlink) of the folder's model.tar.gz, shallowest first."""
    files = [f for f in folder.files if f.rsplit("/", 1)[-1].lower() == TAR_NAME]
    links = [f for f in folder.symlinks if f.rsplit("/", 1)[-1].lower() == TAR_NAME]
    allc = sorted([(f, False) for f in files] + [(f, True) for f in links], key=lambda x: (_depth_key(x[0]), x[1]))
    return allc[0] if allc else None


def model_files(folder: DeployFolder, suffixes=MODEL_SUFFIXES) -> list[tuple[str, bool]]:
    out = [(f, False) for f in folder.files if f.lower().endswith(suffixes)]
    out += [(f, True) for f in folder.symlinks if f.lower().endswith(suffixes)]
    return sorted(out, key=lambda x: (_depth_key(x[0]), not x[0].rsplit("/", 1)[-1].lower().startswith("model"), x[1]))


def find_gcp(folder: DeployFolder) -> tuple[str, bool] | None:
    exact = [x for x in model_files(folder, MODEL_SUFFIXES + (".bst",)) if x[0].rsplit("/", 1)[-1] in GCP_NAMES]
    if exact:
        return exact[0]
    anyf = model_files(folder, MODEL_SUFFIXES + (".bst",))
    return anyf[0] if anyf else None


def _read_file(folder: DeployFolder, rel: str, limit: int = MAX_MODEL_BYTES) -> tuple[bytes | None, str | None]:
    size = files.file_size(folder.path, rel)
    if size is None:
        return None, "cannot read it (not a regular file)"
    if size > limit:
        return None, f"too large: more than {limit // (1024 * 1024)} MB"
    data = folder.read_bytes(rel, limit + 1)
    if data is None:
        return None, "cannot read it (not a regular file)"
    return data, None


_LFS = b"version https://git-lfs"


def _looks_pickle(head: bytes) -> bool:
    return head[:1] == b"\x80" or head.startswith(_LFS) or compression_kind(head) not in (None, "zlib")


_SCAN_CACHE: dict[bytes, pickles.PickleScan] = {}


def _scan_bytes(data: bytes) -> pickles.PickleScan:
    """Scan a model file's bytes; identical files (a class handing in the same model) are scanned once."""
    if data.startswith(_LFS):
        return pickles.PickleScan(error="it is a Git LFS pointer, not the model itself (run `git lfs pull`, "
                                        "or commit the real file without LFS)")
    key = hashlib.blake2b(data, digest_size=20).digest()
    hit = _SCAN_CACHE.get(key)
    if hit is None:
        hit = pickles.scan_pickle(data)
        if len(_SCAN_CACHE) > 4096:
            _SCAN_CACHE.clear()
        _SCAN_CACHE[key] = hit
    return hit


def _absorb(info: _Build, name: str, scan: pickles.PickleScan, primary: bool,
            own: dict[str, tuple[str, frozenset[str]]] | None = None) -> None:
    info.scanned.append(name)
    _ok, offending = is_safe(scan)
    for g in offending:
        mod, _, attr = g.rpartition(".")
        shipped = (own or {}).get(mod)
        if shipped is not None and attr in shipped[1]:
            # a class or function of the student's own module shipped with the entry point: the
            # student's code, which runs only in the sandbox (as on the endpoint), not an attack
            if g not in info.own_globals:
                info.own_globals.append(g)
                info.own_modules.append(shipped[0])
            continue
        if g not in info.unsafe_globals:
            info.unsafe_globals.append(g)
    if info.unsafe_globals or scan.error is not None:
        info.unsafe = True
    if primary:
        info.sklearn_version = scan.sklearn_version
        info.format = scan.format
        info.scan_error = scan.error
        info.top = scan.top
        info.params = scan.params
        info.pickle = pickle_format(scan)
    elif scan.error and not info.scan_error:
        info.scan_error = f"{name}: {scan.error}"


# --------------------------------------------------------------------------- tar inspection

def make_tar_gz(members: dict[str, bytes], *, extra: Callable[[tarfile.TarFile], None] | None = None) -> bytes:
    """A deterministic ``.tar.gz`` of ``members`` ({archive name: bytes}): sorted, regular files with
    mode 0644 and mtime 0, gzip mtime 0, so the same members always give the same bytes.
    ``extra(tar)`` may add further members (e.g. links) before the archive is closed."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            for name in sorted(members):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mtime, ti.mode = len(members[name]), 0, 0o644
                tar.addfile(ti, io.BytesIO(members[name]))
            if extra:
                extra(tar)
    return raw.getvalue()



def _not_gzip_reason(head: bytes) -> str:
    if head.startswith(_LFS):
        return "it is a Git LFS pointer, not the archive (run `git lfs pull`, or commit the real file without LFS)"
    if head[257:262] == b"ustar":
        return "it is an uncompressed tar, not a gzip file: create it with `tar -czf model.tar.gz model.joblib`"
    if head[:4] == b"PK\x03\x04":
        return "it is a zip file, not a gzip'ed tar: create it with `tar -czf model.tar.gz model.joblib`"
    if not head:
        return "it is empty: create it with `tar -czf model.tar.gz model.joblib`"
    return "it is not a gzip file: create it with `tar -czf model.tar.gz model.joblib`"


def _inspect_tar(folder: DeployFolder, rel: str, info: _Build) -> None:
    where = folder.repo_rel(rel)
    try:
        fh = files.open_binary(folder.path, rel)
    except OSError as e:
        info.problems.append(f"{where} cannot be opened ({e.strerror or e})")
        return
    with fh:
        head = fh.read(512)
        comp_size = max(os.fstat(fh.fileno()).st_size, 1)
        if head[:2] != b"\x1f\x8b":
            info.problems.append(f"{where}: {_not_gzip_reason(head)}")
            return
        fh.seek(0)
        expected = set(info.expected or [])
        try:
            tf = tarfile.open(fileobj=fh, mode="r:gz")   # listing only: nothing is ever extracted
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            info.problems.append(f"{where} is not a readable gzip'ed tar ({e}): recreate it with "
                                 "`tar -czf model.tar.gz model.joblib`")
            return
        total = 0
        count = 0
        bad: list[str] = []
        scans: list[tuple[str, pickles.PickleScan]] = []
        try:
            while True:
                m = tf.next()
                if m is None:
                    break
                count += 1
                if count > MAX_TAR_MEMBERS:
                    info.bomb = True
                    info.problems.append(f"{where} has more than {MAX_TAR_MEMBERS} members: it looks like a tar "
                                         "bomb; put only the model file (and what model_fn needs) in it")
                    break
                total += max(m.size, 0)
                if total > MAX_TAR_TOTAL:
                    info.bomb = True
                    info.problems.append(f"{where} unpacks to more than {MAX_TAR_TOTAL // 1024 ** 3} GB "
                                         f"({m.name} alone declares {m.size} bytes): it looks like a tar bomb; "
                                         "pack only the trained model file")
                    break
                if total > RATIO_FLOOR and total / comp_size > MAX_TAR_RATIO:
                    info.bomb = True
                    info.problems.append(f"{where} expands more than {MAX_TAR_RATIO}x ({total} bytes from "
                                         f"{comp_size}): it looks like a tar bomb; pack only the trained model file")
                    break
                name = m.name
                info.members.append(name)
                norm = norm_member(name)
                parts = PurePosixPath(norm).parts
                if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
                    bad.append(f"member `{name}` has an absolute path")
                elif ".." in parts:
                    bad.append(f"member `{name}` contains `..` (it would be written outside model_dir)")
                elif m.issym() or m.islnk():
                    bad.append(f"member `{name}` is a {'symbolic' if m.issym() else 'hard'} link "
                               f"(to `{m.linkname}`)")
                elif m.isdev():
                    bad.append(f"member `{name}` is a device or fifo")
                elif m.isfile():
                    if norm == "code/requirements.txt" and m.size <= MAX_REQUIREMENTS:
                        got = tf.extractfile(m)
                        info.code_requirements = got.read().decode("utf-8", "replace") if got is not None else None
                        continue
                    if norm.startswith("code/") and norm.endswith(".py") and m.size <= MAX_REQUIREMENTS \
                            and len(info.code_sources) < 50:
                        got = tf.extractfile(m)
                        if got is not None:
                            info.code_sources[norm[len("code/"):]] = got.read().decode("utf-8", "replace")
                        continue
                    ex = None
                    head = b""
                    wanted = _is_model_name(norm) or norm in expected
                    if not wanted and m.size >= 2:
                        ex = tf.extractfile(m)
                        head = ex.read(16) if ex is not None else b""
                        wanted = _looks_pickle(head)
                    if not wanted:
                        continue
                    if m.size > MAX_MODEL_BYTES:
                        info.scan_error = f"{norm} is too large to inspect (more than {MAX_MODEL_BYTES // 1024 ** 2} MB)"
                        info.unsafe = True
                        continue
                    if ex is None:
                        ex = tf.extractfile(m)
                    data = head + (ex.read(m.size - len(head)) if ex is not None else b"")
                    scans.append((norm, _scan_bytes(data)))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            info.problems.append(f"{where} is truncated or corrupt ({e}): recreate it with "
                                 "`tar -czf model.tar.gz model.joblib` and commit it again")
        finally:
            try:
                tf.close()
            except Exception:
                pass
    # the model file: the one model_fn loads, else a root-level model file, else the first pickle found
    primary = None
    for cond in (lambda n: n in expected, lambda n: "/" not in n and _is_model_name(n), lambda n: "/" not in n,
                 lambda n: True):
        primary = next((n for n, _s in scans if cond(n)), None)
        if primary:
            break
    own = _own_modules(folder, info.code_sources)
    for n, sc in scans:
        _absorb(info, n, sc, n == primary, own)
    info.model_member = primary
    if bad:
        info.problems.append(f"{where}: " + "; ".join(bad[:5]) + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
                             + ": recreate it from the model file only, e.g. `tar -czf model.tar.gz model.joblib`")
    if info.bomb or not info.members:
        if not info.members and not info.problems:
            info.problems.append(f"{where} is an empty archive: create it with `tar -czf model.tar.gz model.joblib`")
        return
    # layout: files at the archive root, and the files model_fn loads are there
    norms = [norm_member(n) for n in info.members]
    root_files = {n for n in norms if n and "/" not in n}
    tops = {n.split("/", 1)[0] for n in norms if n and n != "."}
    models_anywhere = [n for n in norms if _is_model_name(n)]
    root_models = [n for n in models_anywhere if "/" not in n]
    # judged by what model_fn opens: model/model.joblib opened as such is the right layout
    missing = [e for e in info.expected if e not in norms] if info.expected else []
    if info.expected and not missing:
        pass
    elif len(tops) == 1 and not root_files:
        d = next(iter(tops))
        info.problems.append(f"{where}: files must be at the archive root, but everything is inside `{d}/`: "
                             f"recreate it with `tar -czf model.tar.gz -C {d} .`")
    elif info.expected:
        if missing:
            have = ", ".join(sorted(root_models or norms)[:5]) or "nothing"
            info.problems.append(f"model_fn loads {', '.join(missing)} (from model_dir) but {where} has no "
                                 f"member {missing[0]} (it has {have}): pack that file, e.g. "
                                 f"`tar -czf model.tar.gz {missing[0]}`, or change the file name in model_fn")
    elif not root_models:
        if models_anywhere:
            info.problems.append(f"{where}: the model file `{models_anywhere[0]}` must be at the archive root: "
                                 f"recreate it with `tar -czf model.tar.gz -C {PurePosixPath(models_anywhere[0]).parent} .`")
        else:
            info.problems.append(f"{where} holds no model file (.joblib/.pkl): pack the trained model, e.g. "
                                 "`tar -czf model.tar.gz model.joblib`")
    if info.model_member is None and root_models:
        info.model_member = root_models[0]


# --------------------------------------------------------------------------- the cached per-folder view

def inspect_artifact(folder: DeployFolder) -> ArtifactInfo | None:
    """The folder's model artifact, inspected once (use ``folder.facts.artifact``)."""
    if folder.platform == AWS:
        found = find_tar(folder)
        kind = "tar"
        if found is None:
            mf = model_files(folder)
            found = mf[0] if mf else None
            kind = "file"
    else:
        found = find_gcp(folder)
        kind = "file"
    if found is None:
        return None
    rel, is_link = found
    expected = _expected_files(folder) if (folder.platform == AWS and kind == "tar") else None
    extra: tuple[str, ...] = ()
    if folder.platform == GCP:
        d = rel.rsplit("/", 1)[0] if "/" in rel else ""
        extra = tuple(sorted(f for f in folder.files if (f.rsplit("/", 1)[0] if "/" in f else "") == d
                             and f.rsplit("/", 1)[-1] in GCP_NAMES))
    info = _Build(kind=kind, rel=rel, symlink=is_link, expected=expected)
    try:
        _build(folder, info, extra)
    except StudentInputError as e:       # a bounded problem with the file itself (anything else is the run's)
        info.problems.append(f"{folder.repo_rel(rel)} could not be inspected: {e}")
        info.scan_error = info.scan_error or "could not be inspected"
    return info.freeze()


def _own_modules(folder: DeployFolder, archive_code: dict[str, str]) -> dict[str, tuple[str, frozenset[str]]]:
    """The student's modules shipped with the SageMaker entry point (none on GCP: the prebuilt
    containers import no student code)."""
    if folder.platform != AWS:
        return {}
    from deploycheck.analysis.imports import shipped_modules
    return shipped_modules(folder, folder.facts.entry_point, archive_code)


def _build(folder: DeployFolder, info: _Build, extra: tuple[str, ...]) -> None:
    rel = info.rel
    if info.symlink:
        info.link_target = folder.symlinks.get(rel)
        info.link_escapes = folder.link_escapes(rel)
        info.scan_error = "it is a symlink (never followed)"
        return
    if info.kind == "tar":
        _inspect_tar(folder, rel, info)
        return
    info.model_member = rel
    if rel.lower().endswith(".bst"):
        info.format = "xgboost-booster"
        return
    data, err = _read_file(folder, rel)
    if data is None:
        info.scan_error = err
        info.unsafe = True
        return
    own = _own_modules(folder, {})
    _absorb(info, rel, _scan_bytes(data), True, own)
    for other in extra:          # GCP: every model file the container might load
        if other == rel or other.endswith(".bst"):
            continue
        d2, err2 = _read_file(folder, other)
        if d2 is None:
            info.unsafe = True
            info.scan_error = info.scan_error or f"{other}: {err2}"
            continue
        _absorb(info, other, _scan_bytes(d2), False, own)
