"""``deploycheck runtimes list|build|prune``: the serving images' runtime environments.

    deploycheck runtimes list [--sources]        every image: its builds, pins, sources, environments
    deploycheck runtimes build 1.2-1 sklearn-cpu.1-2 ai-platform:2.11 [--as-of 2023-05-15]
    deploycheck runtimes build --for fixtures/built/classroom/complete_aws   what a repo declares
    deploycheck runtimes prune [--all] [--dry-run]   remove stale (or all) environments
    deploycheck runtimes key --for PATH          a cache key for CI (actions/cache) of what a repo declares
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploycheck.runtimes import catalog, envs, pythons


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def cmd_list(a: argparse.Namespace) -> int:
    built = {str(e.path): e for e in envs.cached(every_root=True) if e.current}
    pys = pythons.python_report()
    print("environments in " + " and ".join(str(r) for r in envs.search_roots()))
    print("Pythons: " + ", ".join(f"{m} {'-> ' + p.path + ' (' + p.how + ')' if p else 'not found'}"
                                  for m, p in pys.items()))
    used: list[str] = []
    for im in catalog.IMAGES:
        if a.kind and im.kind != a.kind:
            continue
        print(f"{im.key:28} Python {im.python:5} scikit-learn {im.sklearn:13} {_state(im, built)}"
              f"{'' if im.verified else '  [assumed: ' + ', '.join(im.assumed) + ']'}")
        print(f"{'':30}numpy {im.numpy}, scipy {im.scipy}, pandas {im.pandas or '-'}, joblib {im.joblib or '-'}; "
              f"since {im.since or '?'}; source [{im.source}]"
              + "".join(f", {f} [{s}]" for f, s in im.facts if s in catalog.SOURCES))
        used += [im.source] + [s for _f, s in im.facts if s in catalog.SOURCES]
        if im.retired:
            print(f"{'':30}{im.retired.what} {im.retired.date} [{im.retired.source}]"
                  + (f": declare {im.retired.instead} instead" if im.retired.instead else ""))
            used.append(im.retired.source)
        if im.alias_of:
            print(f"{'':30}runs in the {im.alias_of} environment (same pins)")
        for b in catalog.builds(im)[:-1]:
            changed = ", ".join(f"{f} {getattr(b, f)}" for f in ("python", "numpy", "scipy", "pandas", "joblib")
                                if getattr(b, f) != getattr(im, f))
            extra = "; transform_fn ignored" if b.transform_fn != im.transform_fn else ""
            print(f"{'':30}{b.since}..{b.until}: {changed or 'the same pins'}{extra} {_state(b, built)}"
                  + "".join(f" [{s}]" for _f, s in b.facts if s not in catalog.SOURCES))
    if a.sources:
        print("sources:")
        for sid in dict.fromkeys(used):
            print(f"  [{sid}] {catalog.SOURCES[sid]}")
    else:
        print("(deploycheck runtimes list --sources prints each source)")
    return 0


def _state(im: catalog.Image, built: dict) -> str:
    if not im.supported:
        return "no environment (needs Python < 3.7): approximate runs only"
    if im.alias_of:
        return ""
    env = envs.existing(im)
    if env is None:
        return "not built"
    e = built.get(str(env.root))
    return f"built: Python {env.python_minor} ({_mb(e.size) if e else '?'})"


def _declared_keys(path: str) -> list[str]:
    from deploycheck.discovery import load_submission
    sub = load_submission("runtimes", str(Path(path).resolve()))
    keys: list[str] = []
    for f in sub.folders:
        im = f.facts.image.image if f.facts.image.declaration is not None else None
        if im is not None and im.key not in keys:
            keys.append(im.key)
    return keys


def cmd_build(a: argparse.Namespace) -> int:
    keys = list(a.images)
    for p in a.for_:
        found = _declared_keys(p)
        if not found:
            print(f"{p}: declares no known serving image", file=sys.stderr)
        keys += [k for k in found if k not in keys]
    if a.all:
        keys = [im.key for im in catalog.IMAGES if im.supported]
    if not keys:
        print("nothing to build: name images (deploycheck runtimes list) or use --for PATH / --all", file=sys.stderr)
        return 2
    rc = 0
    for k in keys:             # one at a time: a build already uses every core it can
        try:                                       # "sagemaker:1.2-1@2023-05-15": that day's build
            im = catalog.scheduled(k, a.as_of)
        except KeyError as e:
            print(f"deploycheck runtimes: {e.args[0]}", file=sys.stderr)
            rc = 2
            continue
        try:
            env = envs.ensure(im, log=lambda m: print(m, flush=True))
            print(f"{k}: {env.label} at {env.root}")
        except envs.EnvUnavailable as e:
            print(f"{im.key}: unavailable here: {e}", file=sys.stderr)
            rc = rc or 1
        except envs.EnvBuildError as e:
            print(f"{im.key}: {e}", file=sys.stderr)
            rc = 1
    return rc


def cmd_key(a: argparse.Namespace) -> int:
    """One line: a key that changes whenever the environments the repo(s) need would (their images,
    pins, recipe) or the machine kind does; the Action caches ~/.cache/deploycheck under it."""
    import hashlib
    import platform
    keys = sorted({k for p in a.for_ for k in _declared_keys(p)})
    names = [envs.env_name(catalog.image(k), catalog.image(k).python) for k in keys]
    digest = hashlib.sha256("\n".join([str(envs.RECIPE), *names]).encode()).hexdigest()[:16]
    print(f"deploycheck-runtimes-{platform.system().lower()}-{platform.machine()}-"
          f"{'-'.join(k.replace(':', '_') for k in keys) or 'undeclared'}-{digest}")
    return 0


def cmd_prune(a: argparse.Namespace) -> int:
    removed = envs.prune(everything=a.all, dry_run=a.dry_run)
    verb = "would remove" if a.dry_run else "removed"
    for e in removed:
        print(f"{verb} {e.path} ({_mb(e.size)})")
    print(f"{verb} {len(removed)} environment(s), {_mb(sum(e.size for e in removed))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="deploycheck runtimes", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="every serving image, its builds, sources and environments")
    p.add_argument("--kind", choices=catalog.KINDS)
    p.add_argument("--sources", action="store_true", help="print the text of every source cited")
    p.set_defaults(fn=cmd_list)
    p = sub.add_parser("build", help="build environments (on first use they are built anyway)")
    p.add_argument("images", nargs="*", help="1.2-1, sagemaker:1.2-1, sklearn-cpu.1-2, ai-platform:2.11 ...; "
                                             "KEY@YYYY-MM-DD: the image's build of that day")
    p.add_argument("--for", dest="for_", action="append", default=[], metavar="PATH",
                   help="the image(s) a repo or deploy folder declares")
    p.add_argument("--all", action="store_true", help="every image that can have an environment")
    p.add_argument("--as-of", metavar="DATE", default="",
                   help="the builds in force on DATE (YYYY-MM-DD), as a class graded with --deadline DATE uses")
    p.set_defaults(fn=cmd_build)
    p = sub.add_parser("prune", help="remove environments of old pins/recipes and half-built leftovers")
    p.add_argument("--all", action="store_true", help="remove every environment")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(fn=cmd_prune)
    p = sub.add_parser("key", help="a cache key for CI of the environments repos declare")
    p.add_argument("--for", dest="for_", action="append", default=[], metavar="PATH", required=True)
    p.set_defaults(fn=cmd_key)
    a = ap.parse_args(argv)
    envs.set_progress(lambda m: print(m, file=sys.stderr, flush=True))
    return int(a.fn(a) or 0)


if __name__ == "__main__":
    sys.exit(main())
