"""Jobs used by the sandbox's own tests (run inside the sandbox, any Python 3.7+, stdlib only)."""
import os
import sys


def echo(ctx, **args):
    return {"args": args, "cwd": os.getcwd(), "uid": os.getuid(), "env": dict(os.environ),
            "folder": ctx.folder, "extracted": ctx.extracted, "tmp": ctx.tmp,
            "files": sorted(os.listdir(ctx.folder)) if ctx.folder else [],
            "model_files": sorted(os.listdir(ctx.extracted)) if ctx.extracted else [],
            "pid": os.getpid(), "ppid": os.getppid(), "python": sys.version.split()[0],
            "procs": sorted(p for p in os.listdir("/proc") if p.isdigit())}


def code(ctx, src):
    """Runs ``src``; its ``result`` variable is the answer (tests of hostile behaviour)."""
    ns = {"ctx": ctx, "__name__": "student"}
    exec(compile(src, "<student>", "exec"), ns)
    return ns.get("result")
