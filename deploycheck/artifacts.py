"""artifact.present / artifact.valid / artifact.version / artifact.safe: the model archive and the
pickle inside it, inspected without extracting anything to disk and without unpickling.

* AWS: SageMaker downloads ``model_data`` (a gzip'ed tar), extracts it into ``/opt/ml/model`` and calls
  ``model_fn(model_dir)``; so the archive must be gzip, its files at the archive root, and hold the file
  ``model_fn`` loads.
* GCP: AI Platform / Vertex prebuilt scikit-learn containers load exactly one of ``model.joblib``,
  ``model.pkl`` (with ``pickle.load``) or ``model.bst`` from the model directory.

Everything here is read lazily and cached per folder (key: folder path + size/mtime of the files
involved), so the four checks and the later stages (sandbox, serving) share one pass per repo.
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
from pathlib import Path, PurePosixPath
from typing import Callable

from deploycheck import pickles, runtimes
from deploycheck.outcome import Outcome, failed, guarded, passed
from deploycheck.structure import needs_folder
from deploycheck.submission import AWS, GCP, DeployFolder, Target

MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle", ".sav")
GCP_NAMES = ("model.joblib", "model.pkl", "model.bst")
TAR_NAME = "model.tar.gz"

MAX_TAR_TOTAL = 1024 ** 3          # declared uncompressed bytes of all members
MAX_TAR_MEMBERS = 10_000
MAX_TAR_RATIO = 200                # uncompressed / compressed, checked once past RATIO_FLOOR
RATIO_FLOOR = 10 * 1024 * 1024
MAX_MODEL_BYTES = pickles.MAX_DECOMPRESSED



# --------------------------------------------------------------------------- data

@dataclass
class ArtifactInfo:
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

    def to_data(self) -> dict:
        return {"artifact": self.rel, "kind": self.kind, "model_member": self.model_member,
                "sklearn_version": self.sklearn_version, "format": self.format,
                "unsafe_globals": self.unsafe_globals[:20]}


# --------------------------------------------------------------------------- helpers

def _repo_rel(folder: DeployFolder, rel: str) -> str:
    return f"{folder.rel}/{rel}" if folder.rel not in ("", ".") else rel


def _depth_key(rel: str) -> tuple:
    return (rel.count("/"), rel)


def loaded_model_files(folder: DeployFolder) -> list[str] | None:
    """Files model_fn loads (relative to model_dir), from deploycheck.entrypoint; None when unknown."""
    try:
        from deploycheck import entrypoint  # written by another module owner
        fn = entrypoint.loaded_model_files
    except (ImportError, AttributeError):
        return None
    try:
        out = fn(folder)
    except Exception:
        return None
    if not out:
        return None
    return [_norm_member(str(x)) for x in out if x]


def _norm_member(name: str) -> str:
    n = name.replace("\\", "/")
    while n.startswith("./"):
        n = n[2:]
    return n.rstrip("/")


def _is_model_name(name: str) -> bool:
    return name.lower().endswith(MODEL_SUFFIXES)


def _find_tar(folder: DeployFolder) -> tuple[str, bool] | None:
    """(rel, is_symlink) of the folder's model.tar.gz, shallowest first."""
    files = [f for f in folder.files if f.rsplit("/", 1)[-1].lower() == TAR_NAME]
    links = [f for f in folder.symlinks if f.rsplit("/", 1)[-1].lower() == TAR_NAME]
    allc = sorted([(f, False) for f in files] + [(f, True) for f in links], key=lambda x: (_depth_key(x[0]), x[1]))
    return allc[0] if allc else None


def _model_files(folder: DeployFolder, suffixes=MODEL_SUFFIXES) -> list[tuple[str, bool]]:
    out = [(f, False) for f in folder.files if f.lower().endswith(suffixes)]
    out += [(f, True) for f in folder.symlinks if f.lower().endswith(suffixes)]
    return sorted(out, key=lambda x: (_depth_key(x[0]), not x[0].rsplit("/", 1)[-1].lower().startswith("model"), x[1]))


def _find_gcp(folder: DeployFolder) -> tuple[str, bool] | None:
    exact = [x for x in _model_files(folder, MODEL_SUFFIXES + (".bst",)) if x[0].rsplit("/", 1)[-1] in GCP_NAMES]
    if exact:
        return exact[0]
    anyf = _model_files(folder, MODEL_SUFFIXES + (".bst",))
    return anyf[0] if anyf else None


def _stat(folder: DeployFolder, rel: str) -> tuple:
    try:
        st = os.lstat(folder.path / rel)
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return (0, -1, 0)


def _read_file(folder: DeployFolder, rel: str, limit: int = MAX_MODEL_BYTES) -> tuple[bytes | None, str | None]:
    try:
        size = os.lstat(folder.path / rel).st_size
    except OSError as e:
        return None, f"cannot read it ({e.strerror})"
    if size > limit:
        return None, f"too large: more than {limit // (1024 * 1024)} MB"
    data = folder.read_bytes(rel, limit + 1)
    if data is None:
        return None, "cannot read it (not a regular file)"
    return data, None


_LFS = b"version https://git-lfs"


def _looks_pickle(head: bytes) -> bool:
    return head[:1] == b"\x80" or head.startswith(_LFS) or pickles._compression(head) not in (None, "zlib")


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


def _absorb(info: ArtifactInfo, name: str, scan: pickles.PickleScan, primary: bool) -> None:
    info.scanned.append(name)
    ok, offending = pickles.is_safe(scan)
    for g in offending:
        if g not in info.unsafe_globals:
            info.unsafe_globals.append(g)
    if not ok:
        info.unsafe = True
    if primary:
        info.sklearn_version = scan.sklearn_version
        info.format = scan.format
        info.scan_error = scan.error
        info.top = scan.top
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


def _inspect_tar(folder: DeployFolder, rel: str, info: ArtifactInfo) -> None:
    where = _repo_rel(folder, rel)
    try:
        fd = os.open(folder.path / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        info.problems.append(f"{where} cannot be opened ({e.strerror})")
        return
    with os.fdopen(fd, "rb") as fh:
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
                norm = _norm_member(name)
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
    for n, sc in scans:
        _absorb(info, n, sc, n == primary)
    info.model_member = primary
    if bad:
        info.problems.append(f"{where}: " + "; ".join(bad[:5]) + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
                             + ": recreate it from the model file only, e.g. `tar -czf model.tar.gz model.joblib`")
    if info.bomb or not info.members:
        if not info.members and not info.problems:
            info.problems.append(f"{where} is an empty archive: create it with `tar -czf model.tar.gz model.joblib`")
        return
    # layout: files at the archive root, and the files model_fn loads are there
    norms = [_norm_member(n) for n in info.members]
    root_files = {n for n in norms if n and "/" not in n}
    tops = {n.split("/", 1)[0] for n in norms if n and n != "."}
    models_anywhere = [n for n in norms if _is_model_name(n)]
    root_models = [n for n in models_anywhere if "/" not in n]
    if len(tops) == 1 and not root_files:
        d = next(iter(tops))
        info.problems.append(f"{where}: files must be at the archive root, but everything is inside `{d}/`: "
                             f"recreate it with `tar -czf model.tar.gz -C {d} .`")
    elif info.expected:
        missing = [e for e in info.expected if e not in norms]
        if missing:
            have = ", ".join(sorted(root_models or norms)[:5]) or "nothing"
            info.problems.append(f"model_fn loads {', '.join(missing)} but {where} has no such member at the "
                                 f"archive root (it has {have}): pack that file, e.g. "
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

_CACHE: dict[tuple, ArtifactInfo | None] = {}


def model_artifact(folder: DeployFolder) -> ArtifactInfo | None:
    """The folder's model artifact, inspected once (cached on folder path + file stats)."""
    if folder.platform == AWS:
        found = _find_tar(folder)
        kind = "tar"
        if found is None:
            mf = _model_files(folder)
            found = mf[0] if mf else None
            kind = "file"
    else:
        found = _find_gcp(folder)
        kind = "file"
    if found is None:
        return None
    rel, is_link = found
    expected = loaded_model_files(folder) if (folder.platform == AWS and kind == "tar") else None
    extra: tuple = ()
    if folder.platform == GCP:
        d = rel.rsplit("/", 1)[0] if "/" in rel else ""
        extra = tuple(sorted(f for f in folder.files if (f.rsplit("/", 1)[0] if "/" in f else "") == d
                             and f.rsplit("/", 1)[-1] in GCP_NAMES))
    key = (str(folder.path), folder.platform, rel, is_link, _stat(folder, rel), tuple(expected or ()),
           tuple((e, _stat(folder, e)) for e in extra))
    if key in _CACHE:
        return _CACHE[key]
    info = ArtifactInfo(kind=kind, rel=rel, symlink=is_link, expected=expected)
    try:
        _build(folder, info, extra)
    except Exception as e:  # never let one hostile repo raise
        info.problems.append(f"{_repo_rel(folder, rel)} could not be inspected ({type(e).__name__}: {e})")
        info.scan_error = info.scan_error or "could not be inspected"
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = info
    return info


def _build(folder: DeployFolder, info: ArtifactInfo, extra: tuple) -> None:
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
    _absorb(info, rel, _scan_bytes(data), True)
    for other in extra:          # GCP: every model file the container might load
        if other == rel or other.endswith(".bst"):
            continue
        d2, err2 = _read_file(folder, other)
        if d2 is None:
            info.unsafe = True
            info.scan_error = info.scan_error or f"{other}: {err2}"
            continue
        _absorb(info, other, _scan_bytes(d2), False)


def is_unsafe(folder: DeployFolder) -> bool:
    """True when the model pickle(s) are flagged or could not be scanned: the sandbox must not load them."""
    try:
        info = model_artifact(folder)
    except Exception:
        return True
    if info is None:
        return False
    if info.symlink or info.bomb:
        return True
    return bool(info.unsafe or info.scan_error)


# --------------------------------------------------------------------------- checks

def _artifact(t: Target) -> tuple[Outcome | None, DeployFolder | None, ArtifactInfo | None]:
    """(the failed Outcome to return when there is no deploy folder or no model artifact, else None;
    the folder; its :func:`model_artifact`) for the checks that inspect the artifact."""
    if (o := needs_folder(t, "the model artifact check")) is not None:
        return o, t.folder, None
    f = t.folder
    info = model_artifact(f)
    if info is None:
        return failed(f"no model artifact in {f.rel}/ (artifact.present failed): add it first"), f, None
    return None, f, info


@guarded
def artifact_present(t: Target) -> Outcome:
    if (o := needs_folder(t, "the model artifact check")) is not None:
        return o
    f = t.folder
    d = f.rel + "/"
    if f.platform == AWS:
        tar = _find_tar(f)
        if tar:
            rel, link = tar
            note = " (a symlink: artifact.valid will ask for the real file)" if link else ""
            return passed(f"found {_repo_rel(f, rel)}{note}", artifact=rel, kind="tar")
        mf = _model_files(f)
        if mf:
            rel, link = mf[0]
            base = rel.rsplit("/", 1)[-1]
            where = f.rel + ("/" + rel.rsplit("/", 1)[0] if "/" in rel else "")
            return passed(f"found the model file {_repo_rel(f, rel)} but no model.tar.gz: SageMaker needs "
                          f"model_data as a gzip'ed tar; in {where}/ run `tar -czf model.tar.gz {base}` "
                          "and commit model.tar.gz", artifact=rel, kind="file")
        return failed(f"{d} has no model.tar.gz: save the trained model with joblib.dump(model, "
                      "\"model.joblib\"), run `tar -czf model.tar.gz model.joblib` so the model file is at "
                      f"the archive root, and commit {d}model.tar.gz")
    found = _find_gcp(f)
    if found:
        rel, link = found
        note = " (a symlink: artifact.valid will ask for the real file)" if link else ""
        return passed(f"found {_repo_rel(f, rel)}{note}", artifact=rel, kind="file")
    return failed(f"{d} has no model file: save the trained model with joblib.dump(model, \"model.joblib\") "
                  f"and commit {d}model.joblib (the file you upload to the bucket)")


@guarded
def artifact_valid(t: Target) -> Outcome:
    o, f, info = _artifact(t)
    if o is not None:
        return o
    where = _repo_rel(f, info.rel)
    if info.symlink:
        tgt = info.link_target or "?"
        if info.link_escapes:
            return failed(f"{where} is a symlink pointing outside the repo (to `{tgt}`); it is never followed: "
                          f"replace it with the real file", **info.to_data())
        return failed(f"{where} is a symlink (to `{tgt}`); symlinks are never followed: commit the real file "
                      "in its place", **info.to_data())
    if f.platform == AWS:
        if info.kind != "tar":
            base = info.rel.rsplit("/", 1)[-1]
            return failed(f"there is no model.tar.gz in {f.rel}/ (only {where}): SageMaker needs a gzip'ed tar; "
                          f"run `tar -czf model.tar.gz {base}` in that folder and commit it", **info.to_data())
        if info.problems:
            return failed(info.problems[0] + (f" (also: {'; '.join(info.problems[1:3])})" if len(info.problems) > 1 else ""),
                          **info.to_data())
        members = ", ".join(_norm_member(m) for m in info.members[:5] if _norm_member(m) not in ("", "."))
        loads = f"; model_fn loads {', '.join(info.expected)}" if info.expected else ""
        return passed(f"{where} is a gzip'ed tar with {members} at the archive root{loads}", **info.to_data())
    # GCP
    d = info.rel.rsplit("/", 1)[0] if "/" in info.rel else ""
    dd = f"{f.rel}/{d}/" if d else f"{f.rel}/"
    here = [x for x in f.files if (x.rsplit("/", 1)[0] if "/" in x else "") == d]
    exact = sorted(x.rsplit("/", 1)[-1] for x in here if x.rsplit("/", 1)[-1] in GCP_NAMES)
    base = info.rel.rsplit("/", 1)[-1]
    if len(exact) > 1:
        keep = _gcp_keep(f, exact)
        drop = [x for x in exact if x != keep]
        return failed(f"{dd} has {' and '.join(exact)}: AI Platform/Vertex refuse a model directory with more than "
                      f"one model file; keep {keep} and delete {', '.join(drop)}", **info.to_data())
    if not exact:
        suggest = "model.pkl" if info.format == "pickle" else "model.joblib"
        return failed(f"{_repo_rel(f, info.rel)} has the wrong name: rename it to {suggest} (AI Platform/Vertex "
                      "only load model.joblib, model.pkl or model.bst)", **info.to_data())
    if base == "model.pkl" and info.format and info.format.startswith("joblib"):
        return failed(f"{where} was written by joblib.dump, but AI Platform/Vertex open model.pkl with pickle.load, "
                      "which cannot read joblib files: rename it to model.joblib (or save it with pickle.dump)",
                      **info.to_data())
    if info.scan_error and info.format != "xgboost-booster":
        return failed(f"{where} is not a readable model file ({info.scan_error}): save it again with "
                      "joblib.dump(model, \"model.joblib\") and commit it", **info.to_data())
    return passed(f"{where} is the only model file in {dd} and has a name the prebuilt containers load",
                  **info.to_data())


def _gcp_keep(folder: DeployFolder, names: list[str]) -> str:
    """The model file the README talks about, else model.joblib."""
    for r in folder.files:
        if r.rsplit("/", 1)[-1].lower().startswith("readme"):
            raw = folder.read_bytes(r, 2_000_000) or b""
            txt = raw.decode("utf-8", "replace")
            hits = [n for n in names if n in txt]
            if len(hits) == 1:
                return hits[0]
    return "model.joblib" if "model.joblib" in names else names[0]


def _version_note(pickled: str, declared_sk: str | None) -> str:
    if declared_sk and declared_sk.count(".") >= 2 and pickled != declared_sk:
        return (f"; note: pickled with {pickled}, the image has {declared_sk} (same minor version, it loads, "
                "possibly with an InconsistentVersionWarning)")
    return ""


def _aws_fix(pickled: str) -> str:
    fv = runtimes.best_sagemaker_framework_for(pickled)
    mm = runtimes.major_minor(pickled)
    if fv:
        return f"use framework_version=\"{fv}\" (scikit-learn {runtimes.SAGEMAKER_SKLEARN[fv]})"
    newest = list(runtimes.SAGEMAKER_SKLEARN)[-1]
    return (f"no SageMaker scikit-learn image has scikit-learn {mm}: retrain and save the model with scikit-learn "
            f"{runtimes.major_minor(runtimes.SAGEMAKER_SKLEARN[newest])} (pip install "
            f"\"scikit-learn=={runtimes.SAGEMAKER_SKLEARN[newest]}\") and use framework_version=\"{newest}\"")


def _gcp_fix(pickled: str, region: str = "us-central1") -> str:
    tag = runtimes.vertex_exact_tag(pickled)
    mm = runtimes.major_minor(pickled)
    if tag:
        return (f"deploy it on Vertex AI with --container-image-uri="
                f"{runtimes.vertex_container_uri(pickled, region)}")
    uri = runtimes.vertex_container_uri(pickled, region) or ""
    near = runtimes.vertex_sklearn_version(uri) or "1.6"
    return (f"no prebuilt Vertex container has scikit-learn {mm}: retrain and save the model with scikit-learn "
            f"{near} (pip install \"scikit-learn=={near}.*\") and use --container-image-uri={uri}")


@guarded
def artifact_version(t: Target) -> Outcome:
    o, f, info = _artifact(t)
    if o is not None:
        return o
    where = _repo_rel(f, info.rel) + (f" (member {info.model_member})" if info.kind == "tar" and info.model_member else "")
    if info.symlink:
        return failed(f"{where} is a symlink and is never followed, so its scikit-learn version cannot be read: "
                      "commit the real file")
    pickled = info.sklearn_version
    if not pickled:
        if info.format == "xgboost-booster":
            return failed(f"{where} is an XGBoost booster, not a scikit-learn model: this lab deploys a "
                          "scikit-learn model; save it with joblib.dump(model, \"model.joblib\")")
        if info.kind == "tar" and info.model_member is None:
            why = info.problems[0] if info.problems else "it holds no model file"
            return failed(f"cannot read the scikit-learn version: {why}")
        why = f" ({info.scan_error})" if info.scan_error else ""
        top = f" (it holds a {info.top})" if info.top and not info.scan_error else ""
        return failed(f"no scikit-learn version found in {where}{why}{top}: the file must be a fitted scikit-learn "
                      "model saved with joblib.dump(model, \"model.joblib\") so the serving runtime can be matched")
    kinds = ("sagemaker",) if f.platform == AWS else ("vertex", "ai_platform")
    declared = [d for d in runtimes.declared_runtimes(f) if d.kind in kinds]
    if not declared:
        readme = next((r for r in sorted(f.files, key=_depth_key) if r.rsplit("/", 1)[-1].lower().startswith("readme")),
                      "README.md")
        rr = _repo_rel(f, readme)
        if f.platform == AWS:
            return failed(f"{rr} never says which SageMaker scikit-learn image serves the model (pickled with "
                          f"scikit-learn {pickled}): {_aws_fix(pickled).replace('use framework_version', 'pass framework_version', 1)} "
                          f"to SKLearnModel in {rr}", sklearn_version=pickled)
        return failed(f"{rr} never says which runtime serves the model (pickled with scikit-learn {pickled}): "
                      f"{_gcp_fix(pickled)}", sklearn_version=pickled)
    known = [d for d in declared if d.sklearn]
    if not known:
        d = declared[0]
        label = _label(d)
        return failed(f"{d.where} declares {label}, which is not a known {_kind_name(d.kind)} value; valid values: "
                      f"{', '.join(runtimes.valid_values(d.kind))}; for a model pickled with scikit-learn {pickled} "
                      f"{_aws_fix(pickled) if d.kind == 'sagemaker' else _gcp_fix(pickled)}",
                      sklearn_version=pickled, declared=d.value, where=d.where)
    pm = runtimes.major_minor(pickled)
    match = [d for d in known if runtimes.major_minor(d.sklearn) == pm]
    data = {"sklearn_version": pickled}
    if match:
        d = match[0]
        msg = (f"{where} was pickled with scikit-learn {pickled}; {d.where} declares {_label(d)} "
               f"(scikit-learn {d.sklearn}){_version_note(pickled, d.sklearn)}")
        if d.kind == "ai_platform":
            uri = runtimes.vertex_container_uri(pickled)
            msg += (f"; note: AI Platform Prediction is retired, on Vertex AI use {uri}" if uri else
                    "; note: AI Platform Prediction is retired, use Vertex AI")
        return passed(msg, declared=d.value, where=d.where, **data)
    d = known[0]
    label = _label(d)
    dmm = runtimes.major_minor(d.sklearn)
    pin = d.sklearn if d.sklearn.count(".") >= 2 else f"{d.sklearn}.*"
    retrain = f"retrain and save the model with scikit-learn {dmm} (pip install \"scikit-learn=={pin}\")"
    if d.kind == "sagemaker":
        fv = runtimes.best_sagemaker_framework_for(pickled)
        fix = (f"use framework_version=\"{fv}\" (scikit-learn {runtimes.SAGEMAKER_SKLEARN[fv]}), or {retrain} "
               f"to keep {label}" if fv else
               f"no SageMaker scikit-learn image has scikit-learn {pm}: {retrain} to match {label}")
    else:
        tag = runtimes.vertex_exact_tag(pickled)
        fix = (f"use --container-image-uri={runtimes.vertex_container_uri(pickled)} on Vertex AI, or {retrain} "
               f"to keep {label}" if tag else
               f"no prebuilt Vertex container has scikit-learn {pm}: {retrain} to match {label}")
        if d.kind == "ai_platform":
            rt = runtimes.best_ai_platform_runtime_for(pickled)
            if rt:
                fix += f" (on the retired AI Platform, --runtime-version {rt} has scikit-learn {pm})"
            fix += "; note: AI Platform Prediction is retired in favour of Vertex AI"
    return failed(f"{d.where} declares {label} (scikit-learn {d.sklearn}) but {where} was pickled with "
                  f"scikit-learn {pickled}: {fix}", declared=d.value, where=d.where, **data)


def _label(d: runtimes.DeclaredRuntime) -> str:
    if d.kind == "sagemaker":
        return f"framework_version=\"{d.value}\""
    if d.kind == "ai_platform":
        return f"AI Platform --runtime-version {d.value}"
    return f"the Vertex container {d.value}"


def _kind_name(kind: str) -> str:
    return {"sagemaker": "SageMaker scikit-learn framework_version", "ai_platform": "AI Platform runtime version",
            "vertex": "Vertex prebuilt scikit-learn container"}[kind]


@guarded
def artifact_safe(t: Target) -> Outcome:
    o, f, info = _artifact(t)
    if o is not None:
        return o
    where = _repo_rel(f, info.rel)
    if info.symlink:
        return failed(f"{where} is a symlink; it is never followed or loaded: commit the real file")
    if info.bomb:
        return failed(f"{where} looks like a tar bomb, so nothing in it is read or loaded: "
                      "pack only the trained model file")
    if info.format == "xgboost-booster" and not info.unsafe_globals:
        return passed(f"{where} is an XGBoost booster file (not a pickle): nothing in it runs code when loaded")
    if info.unsafe_globals:
        gl = info.unsafe_globals
        shown = ", ".join(f"`{g}`" for g in gl[:6]) + (f" and {len(gl) - 6} more" if len(gl) > 6 else "")
        files = ", ".join(n for n in info.scanned if n != info.rel)
        files = f" ({files})" if files else ""
        hint = ""
        if any(g.startswith("__main__.") for g in gl):
            hint = (" (`__main__.` names are functions/classes defined in your notebook or script: the serving "
                    "container cannot import them; use scikit-learn built-ins or ship them with the entry point)")
        return failed(f"{where}{files} references {shown}, outside the allowed scikit-learn/numpy/scipy/joblib "
                      f"globals{hint}; loading it could run arbitrary code, so it will not be loaded: save only the "
                      "fitted scikit-learn model with joblib.dump(model, \"model.joblib\")",
                      unsafe_globals=gl[:20], **{k: v for k, v in info.to_data().items() if k != "unsafe_globals"})
    if info.scan_error:
        return failed(f"{where} could not be read completely ({info.scan_error}), so it cannot be checked and "
                      "will not be loaded: save the fitted model again with joblib.dump(model, \"model.joblib\")",
                      **info.to_data())
    if not info.scanned:
        why = info.problems[0] if info.problems else "no model file found in it"
        return failed(f"no model pickle to check in {where}: {why}")
    what = where if info.kind == "file" else f"{', '.join(info.scanned)} in {where}"
    return passed(f"{what}: the pickle references only scikit-learn/numpy/scipy/joblib and safe builtins",
                  **info.to_data())
