"""Local files named by a deploy folder's README and scripts (``files.referenced``), and the
files they create (so an output like ``model.tar.gz`` written by ``tar -czf`` is not demanded).

Python is read with ``ast`` (never executed); shell lines are split with ``shlex``; README links,
images, code blocks and inline code all count. Names are resolved relative to the referencing file,
the deploy folder and the repo root, without following a symlink out of the repo.
"""
from __future__ import annotations

import ast
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, AbstractSet, Callable
from urllib.parse import unquote

from deploycheck import files
from deploycheck.analysis.sources import logical_lines, python_tree

if TYPE_CHECKING:
    from deploycheck.discovery import DeployFolder

MAX_REFS = 2000               # distinct file references resolved per folder

@dataclass(frozen=True)
class Ref:
    name: str                 # as written (posix)
    where: str                # "aws_deploy/README.md line 14"
    src_rel: str              # referencing file, relative to the folder
    kind: str = "file"        # file | dir | tar-input
    tar_output: str | None = None


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLACEHOLDER_CHARS = set("<>{}$*?[]|%`'\"=,()")


def is_local_name(name: str) -> bool:
    """False for URLs, anchors, absolute paths, /opt/ml/..., placeholders (<your-bucket>, $VAR, YOUR_FILE)."""
    n = name.strip()
    if not n or len(n) > 300 or n.startswith(("#", "/", "~", "\\", "-", "@")):
        return False
    if _SCHEME.match(n) or n.startswith("//"):
        return False
    if any(c in _PLACEHOLDER_CHARS for c in n) or any(c.isspace() for c in n):
        return False
    low = n.lower()
    if "your" in low or "path/to" in low or "..." in n or "xxx" in low or low in (".", "./", ".."):
        return False
    return True


def clean_link(target: str) -> str:
    t = target.strip().strip("<>")
    t = t.split("#", 1)[0].split("?", 1)[0]
    return unquote(t)


def _lit(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    return None


def call_name(func: ast.AST) -> str:
    """The name a call uses: ``f`` of ``f(...)`` and of ``x.f(...)`` ("" otherwise)."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _open_mode(call: ast.Call) -> str:
    mode = None
    if len(call.args) > 1:
        mode = _lit(call.args[1])
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = _lit(kw.value)
    return mode or "r"


def _py_parse(text: str) -> ast.AST | None:
    tree, _err = python_tree(text)
    if tree is None and _err and not _err[0].startswith("too large"):
        # tolerate IPython-isms in README snippets: drop !/% lines and retry once
        lines = ["" if ln.lstrip().startswith(("!", "%", ">>>", "$ ")) else ln for ln in text.split("\n")]
        tree, _err = python_tree("\n".join(lines))
    return tree


_RX_PY_REFS = [
    ("file", re.compile(r"\bentry_point\s*=\s*[\"']([^\"']+)[\"']")),
    ("dir", re.compile(r"\bsource_dir\s*=\s*[\"']([^\"']+)[\"']")),
    ("file", re.compile(r"\b(?:joblib|pickle|np|numpy)\.load\s*\(\s*[\"']([^\"']+)[\"']")),
    ("file", re.compile(r"\bopen\s*\(\s*[\"']([^\"']+)[\"']\s*(?:,\s*[\"']r[bt]?[\"'])?\s*\)")),
]


def python_refs(text: str) -> tuple[list[tuple[str, int, str]], set[str]]:
    """(refs [(name, line, kind)], outputs) named by Python code; never executes anything."""
    refs: list[tuple[str, int, str]] = []
    outs: set[str] = set()
    tree = _py_parse(text)
    if tree is None:
        for kind, rx in _RX_PY_REFS:
            for m in rx.finditer(text):
                refs.append((m.group(1), text.count("\n", 0, m.start()) + 1, kind))
        return refs, outs
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            var = node.targets[0].id
            val = _lit(node.value)
            if val is not None and var in ("entry_point", "source_dir"):
                refs.append((val, node.lineno, "file" if var == "entry_point" else "dir"))
            continue
        if not isinstance(node, ast.Call):
            continue
        name = call_name(node.func)
        kws = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        line = getattr(node, "lineno", 1)
        src_dir = _lit(kws.get("source_dir"))
        if src_dir is not None:
            refs.append((src_dir, getattr(kws["source_dir"], "lineno", line), "dir"))
        ep = _lit(kws.get("entry_point"))
        if ep is not None:
            refs.append((f"{src_dir.rstrip('/')}/{ep}" if src_dir and is_local_name(src_dir) else ep,
                         getattr(kws["entry_point"], "lineno", line), "file"))
        deps = kws.get("dependencies")
        if isinstance(deps, (ast.List, ast.Tuple)):
            for el in deps.elts:
                d = _lit(el)
                if d is not None:
                    refs.append((d, line, "any"))
        first = _lit(node.args[0]) if node.args else None
        if name == "open":
            if first is not None:
                mode = _open_mode(node)
                (outs.add(first) if any(c in mode for c in "wax") else refs.append((first, line, "file")))
        elif name in ("load", "read_pickle") and isinstance(node.func, ast.Attribute):
            if first is not None:
                refs.append((first, line, "file"))
        elif name in ("upload_data",):
            p = _lit(kws.get("path")) if "path" in kws else first
            if p is not None:
                refs.append((p, line, "any"))
        elif name in ("upload_file", "upload_from_filename"):
            p = _lit(kws.get("Filename") or kws.get("filename")) if (kws.get("Filename") or kws.get("filename")) else first
            if p is not None:
                refs.append((p, line, "file"))
        elif name == "dump":
            target = _lit(node.args[1]) if len(node.args) > 1 else _lit(kws.get("filename"))
            if target is not None:
                outs.add(target)
        elif name in ("to_csv", "to_json", "to_pickle", "savefig", "save", "save_model", "to_parquet"):
            if first is not None:
                outs.add(first)
        elif name == "download_file":
            p = _lit(node.args[2]) if len(node.args) > 2 else _lit(kws.get("Filename"))
            if p is not None:
                outs.add(p)
        elif name in ("download_to_filename", "urlretrieve"):
            p = _lit(node.args[-1]) if node.args else None
            if p is not None:
                outs.add(p)
    return refs, outs


_SH_SPLIT = {"&&", "||", ";", "|", "&"}
_S3_FLAGS = {"--recursive", "--quiet", "--dryrun", "--no-progress", "--only-show-errors", "--follow-symlinks",
             "--no-follow-symlinks", "--no-guess-mime-type", "--force-glacier-transfer"}


_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'")
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_ASSIGN = re.compile(r"^[A-Za-z_]\w*=")


def _ansi_c(m: re.Match[str]) -> str:
    """bash's ``$'...'`` quoting (``--body $'1,2\\n3,4'``), decoded and re-quoted for shlex."""
    try:
        text = m.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, UnicodeEncodeError):
        text = m.group(1)
    return shlex.quote(text)


def _commands(line: str, env: dict[str, str] | None = None) -> list[list[str]]:
    """The commands of one logical shell line (prompts stripped, split at ``&&``, ``;``, ``|``...),
    with ``$NAME`` expanded from ``env`` (variables the same snippet assigned before)."""
    s = line.strip()
    for prompt in ("$ ", "> ", "PS> ", "% ", "!"):
        if s.startswith(prompt):
            s = s[len(prompt):].lstrip()
    if "$'" in s:
        s = _ANSI_C.sub(_ansi_c, s)
    try:
        lex = shlex.shlex(s, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        toks = list(lex)
    except ValueError:
        toks = s.split()
    cmds: list[list[str]] = [[]]
    for tok in toks:
        if tok in _SH_SPLIT:
            cmds.append([])
        else:
            if env and "$" in tok:
                tok = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), tok)
            cmds[-1].append(tok)
    return [c for c in cmds if c]


@dataclass(frozen=True)
class ShellCommand:
    """One command of a shell snippet, with the directory it runs in."""
    line: int                 # 1-based line in the snippet
    argv: tuple[str, ...]
    cwd: str = ""             # posix, relative to where the snippet started (``cd model`` -> "model")


def shell_commands(text: str) -> list[ShellCommand]:
    """The commands of a shell snippet in order: ``cd``/``pushd``/``popd`` move the directory the
    following commands run in (``cd aws_deploy/model && tar -czf ...``); ``NAME=value`` and
    ``export NAME=value`` define variables that later ``$NAME``/``${NAME}`` use. A ``cd`` somewhere
    deploycheck cannot follow (absolute, ``~``, a variable) leaves ``cwd`` as ``"?"``."""
    out: list[ShellCommand] = []
    cwd = ""
    stack: list[str] = []
    env: dict[str, str] = {}
    for line, ll in logical_lines(text):
        if len(ll) > 5000:
            continue
        for cmd in _commands(ll, env):
            if cmd[0] == "export":
                cmd = cmd[1:]
            if cmd and all(_ASSIGN.match(t) for t in cmd):
                for t in cmd:
                    k, _, v = t.partition("=")
                    env[k] = v
                continue
            if not cmd:
                continue
            if cmd[0] in ("cd", "pushd", "popd"):
                if cmd[0] == "popd":
                    cwd = stack.pop() if stack else ""
                    continue
                if cmd[0] == "pushd":
                    stack.append(cwd)
                dest = cmd[1] if len(cmd) > 1 else "~"
                if cwd == "?" or dest.startswith(("/", "~", "$", "-")):
                    cwd = "?"
                else:
                    joined = os.path.normpath(os.path.join(cwd, dest)).replace(os.sep, "/")
                    cwd = "" if joined == "." else joined
                continue
            out.append(ShellCommand(line, tuple(cmd), cwd))
    return out


def in_cwd(cwd: str, name: str) -> str:
    """``name`` as written in a command run in ``cwd`` (see :func:`shell_commands`), relative to
    where the snippet started."""
    if not cwd or cwd == "?" or name.startswith(("/", "~")):
        return name
    return os.path.normpath(os.path.join(cwd, name)).replace(os.sep, "/")


def _positional(args: list[str], valued: bool = True, flags: AbstractSet[str] = frozenset()) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            if valued and a.startswith("--") and "=" not in a and a not in flags and i + 1 < len(args) \
                    and not args[i + 1].startswith("-"):
                i += 2
                continue
            i += 1
            continue
        out.append(a)
        i += 1
    return out


def shell_refs(text: str) -> tuple[list[tuple[str, int, str, str | None]], set[str]]:
    """(refs [(name, line, kind, tar_output)], outputs) named by shell commands."""
    refs: list[tuple[str, int, str, str | None]] = []
    outs: set[str] = set()
    for sc in shell_commands(text):
        line, here = sc.line, sc.cwd
        if here == "?":
            continue              # after a cd deploycheck cannot follow, names cannot be placed
        cmd = list(sc.argv)
        crefs: list[tuple[str, int, str, str | None]] = []
        couts: set[str] = set()
        # redirections / output options
        for i, tok in enumerate(cmd[:-1]):
            if tok in (">", ">>", "-o", "-O", "--output", "--outfile", "--output-file"):
                couts.add(cmd[i + 1])
        for i, tok in enumerate(cmd):
            key, eq, val = tok.partition("=")
            if key in ("--json-instances", "--json-request", "--upload-file", "-T"):
                v = val if eq else (cmd[i + 1] if i + 1 < len(cmd) else "")
                if v:
                    crefs.append((v, line, "file", None))
            elif key in ("-d", "--data", "--data-binary", "--data-raw"):
                v = val if eq else (cmd[i + 1] if i + 1 < len(cmd) else "")
                if v.startswith("@") and key != "--data-raw":
                    crefs.append((v[1:], line, "file", None))
        for tok in cmd:
            for pre in ("fileb://", "file://"):
                if tok.startswith(pre):
                    crefs.append((tok[len(pre):], line, "file", None))
                elif ("=" + pre) in tok:
                    crefs.append((tok.split("=" + pre, 1)[1], line, "file", None))
        prog = cmd[0].rsplit("/", 1)[-1]
        args = cmd[1:]
        if cmd[0].startswith(("./", "../")) or (cmd[0].endswith((".sh", ".py")) and "/" in cmd[0]):
            crefs.append((cmd[0], line, "file", None))      # ./deploy.sh, scripts/run.py
        prog, args = _unwrap(prog, args)
        if prog == "make":
            crefs.append(("Makefile", line, "file", None))
        if prog == "aws" and len(args) >= 2 and args[0] == "s3" and args[1] in ("cp", "mv", "sync"):
            pos = _positional(args[2:], flags=_S3_FLAGS)
            if len(pos) >= 2:
                src, dst = pos[0], pos[1]
                if not src.startswith("s3://"):
                    crefs.append((src, line, "any", None))
                elif not dst.startswith("s3://"):
                    couts.add(dst)
        elif prog == "aws" and "invoke-endpoint" in args:
            pos = _positional(args[args.index("invoke-endpoint") + 1:])
            if pos:
                couts.add(pos[-1])
        elif prog == "gsutil" or (prog == "gcloud" and len(args) >= 2 and args[0] == "storage"):
            rest = args[1:] if prog == "gcloud" else args
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            if rest and rest[0] in ("cp", "mv", "rsync"):
                pos = _positional(rest[1:], valued=False)
                if len(pos) >= 2:
                    if pos[-1].startswith("gs://"):
                        for s in pos[:-1]:
                            if not s.startswith("gs://"):
                                crefs.append((s, line, "any", None))
                    else:
                        couts.add(pos[-1])
        elif prog in ("tar", "gtar"):
            _tar_refs(args, line, crefs, couts)
        elif prog in ("python", "python3", "py", "bash", "sh", "zsh", "ipython", "source", "."):
            pos = [a for a in args if not a.startswith("-")]
            if "-m" not in args and "-c" not in args and pos and pos[0].lower().endswith((".py", ".sh", ".ipynb")):
                crefs.append((pos[0], line, "file", None))
        elif prog in ("jupyter", "papermill"):
            for a in args:
                if a.lower().endswith(".ipynb"):
                    crefs.append((a, line, "file", None))
                    if prog == "papermill":
                        break
        refs.extend((in_cwd(here, n), ln, kind, in_cwd(here, tar) if tar else tar) for n, ln, kind, tar in crefs)
        outs.update(in_cwd(here, o) for o in couts)
    return refs, outs


# Runners that start another command: `uv run python x.py`, `poetry run python x.py`,
# `pipenv run python x.py`, `conda run -n env python x.py`, `sudo`, `time`, `nohup`, `env A=b`.
_RUNNERS = {"uv": "run", "poetry": "run", "pipenv": "run", "conda": "run", "mamba": "run", "pdm": "run",
            "hatch": "run", "rye": "run"}
_RUNNER_VALUED = {"-n", "--name", "-p", "--prefix", "--with", "--python", "-e", "--env", "--env-file", "--project",
                  "--directory", "--group", "--extra"}


def _unwrap(prog: str, args: list[str]) -> tuple[str, list[str]]:
    """The command a runner or prefix starts (``uv run python x.py`` -> ``python``, ``[x.py]``)."""
    for _ in range(4):
        if prog in ("sudo", "time", "nohup", "exec") and args:
            prog, args = args[0].rsplit("/", 1)[-1], args[1:]
        elif prog == "env":
            rest = [a for a in args if "=" not in a or a.startswith("-")]
            if not rest:
                break
            prog, args = rest[0].rsplit("/", 1)[-1], rest[1:]
        elif prog in _RUNNERS and args and args[0] == _RUNNERS[prog]:
            rest = args[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in _RUNNER_VALUED else rest[1:]
            if not rest:
                break
            prog, args = rest[0].rsplit("/", 1)[-1], rest[1:]
            if prog.endswith((".py", ".sh")):              # `uv run x.py`
                args, prog = [prog] + args, "python" if prog.endswith(".py") else "bash"
        else:
            break
    return prog, args


def _tar_refs(args: list[str], line: int, refs: list, outs: set[str]) -> None:
    """``tar -czf out.tar.gz in1 in2`` / ``tar czvf ...`` / ``tar --create --file=out ...`` / ``tar -xzf in``."""
    toks = list(args)
    if toks and not toks[0].startswith("-"):
        toks[0] = "-" + toks[0]          # old-style bundled flags: "tar czf x ..."
    create = False
    archive: str | None = None
    cdir: str | None = None
    inputs: list[str] = []
    i = 0
    while i < len(toks):
        a = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if a.startswith("--"):
            key, eq, val = a.partition("=")
            if key == "--create":
                create = True
            elif key in ("--file", "--directory"):
                v = val if eq else nxt
                if not eq:
                    i += 1
                if key == "--file":
                    archive = v
                else:
                    cdir = v
        elif a.startswith("-") and len(a) > 1:
            letters = a[1:]
            if letters == "C":
                cdir = nxt
                i += 1
            else:
                create = create or "c" in letters
                if "f" in letters:
                    archive = nxt
                    i += 1
        else:
            inputs.append(a)
        i += 1
    if create:
        if archive:
            outs.add(archive)
        for inp in inputs:
            if inp in (".", "*", "./"):
                continue
            name = f"{cdir.rstrip('/')}/{inp}" if cdir and is_local_name(cdir) else inp
            refs.append((name, line, "tar-input", archive))
    elif archive:
        refs.append((archive, line, "file", None))


@dataclass(frozen=True)
class FileRefs:
    refs: tuple[Ref, ...]
    outputs: frozenset[str]


def collect_refs(folder: DeployFolder) -> FileRefs:
    """Every local file name the README and the deploy scripts mention, and the files they create
    (use ``folder.facts.refs``)."""
    refs: list[Ref] = []
    outs: set[str] = set()
    info = folder.facts.readme
    if info is not None and not info.problem:
        for target, line in info.links + info.images:
            refs.append(Ref(clean_link(target), info.where(line), info.rel, "any"))
        snippets = [(b.content, b.line) for b in info.code_blocks] + list(info.inline_code)
        for content, line in snippets:
            _add_code_refs(content, line, info.rel, info.where, refs, outs)
    for src in folder.facts.scripts:
        if info is not None and src.rel == info.rel:
            continue              # a notebook README, read above
        if src.lang == "python":
            prefs, pouts = python_refs(src.text)
            outs |= pouts
            for n, ln, kind in prefs:
                refs.append(Ref(n, src.where(folder.rel, ln), src.rel, kind))
        else:
            srefs, souts = shell_refs(src.text)
            outs |= souts
            for n, ln, kind, tar in srefs:
                refs.append(Ref(n, src.where(folder.rel, ln), src.rel, kind, tar))
    return FileRefs(tuple(refs), frozenset(outs))


def _add_code_refs(content: str, line: int, rel: str, where: Callable[[int], str], refs: list[Ref],
                   outs: set[str]) -> None:
    prefs, pouts = python_refs(content) if _looks_python(content) else ([], set())
    outs |= pouts
    for n, ln, kind in prefs:
        refs.append(Ref(n, where(line + ln - 1), rel, kind))
    srefs, souts = shell_refs(content)
    outs |= souts
    for n, ln, kind, tar in srefs:
        refs.append(Ref(n, where(line + ln - 1), rel, kind, tar))


def _looks_python(content: str) -> bool:
    return "(" in content or "=" in content


def locate_ref(folder: DeployFolder, src_rel: str, name: str) -> tuple[str, str]:
    """(status, path relative to the repo) of a referenced name, tried relative to the referencing
    file, the deploy folder and the repo root (without following a symlink out of the repo):

    * ``ok``: there, inside the deploy folder; ``elsewhere``: only outside it (a file at the repo
      root named as if it were in the folder, or a ``../`` path);
    * ``missing``: nowhere (the path is the one read relative to the referencing file);
    * ``outside``: the name, read relative to the referencing file, leaves the repository;
    * ``escapes``: a symlink pointing out of the repository."""
    repo = Path(folder.repo)
    src_dir = (Path(folder.path) / src_rel).parent
    primary = Path(os.path.normpath(src_dir / name))
    escapes = False
    for b in (src_dir, Path(folder.path), repo):
        p = Path(os.path.normpath(b / name))
        if not files.inside(p, repo):
            continue
        st = files.path_status(repo, p)
        if st == "ok":
            rel = p.relative_to(repo).as_posix()
            return ("ok" if files.inside(p, Path(folder.path)) else "elsewhere"), rel
        escapes = escapes or st == "escapes"
    if escapes:
        return "escapes", name
    if not files.inside(primary, repo):
        return "outside", name
    return "missing", primary.relative_to(repo).as_posix()
