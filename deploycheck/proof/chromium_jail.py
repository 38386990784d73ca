"""Start Chromium for Playwright inside bubblewrap, never as root, with no network (issue 21).

    python -I chromium_jail.py CONFIG.json <the arguments Playwright gives Chromium>

:mod:`deploycheck.proof.browser` makes Playwright start this script (through a two-line shell wrapper
named as the browser's executable) instead of Chromium. It replaces itself with ``bwrap``, which runs
Chromium:

* in new user (unprivileged runs), PID, mount, network, IPC and UTS namespaces: no network interface but
  loopback, no view of other processes; dying with Playwright's driver (``--die-with-parent``);
* on a read-only view of ``/usr`` (and the system's library links), the fonts' configuration and cache,
  Chromium's own configuration and the folder of Playwright's downloaded browser; a fresh ``/tmp`` and
  ``/dev/shm``; the only writable folder of the grader's is the profile folder Playwright made for this
  browser (``--user-data-dir``);
* as root: as a uid no account uses (``setpriv`` inside the jail, all capabilities dropped), owning that
  profile folder; as an ordinary user: as that user inside its user namespace;
* with Chromium's own sandbox, unless ``no_sandbox`` (set by the browser module only when Chromium's
  sandbox cannot start here: bubblewrap is then the sandbox).

Student files (README, images, CSS, fonts) reach Chromium only through Playwright's routing over the
pipe (:mod:`deploycheck.proof.snapshot`): nothing of the student's is on the jail's file system.
Where there is no bubblewrap, as root, it runs Chromium through ``setpriv`` alone (the unprivileged uid,
Chromium's own sandbox, a minimal environment). Standard library only; the config is a JSON file written
by :mod:`deploycheck.proof.browser` (:func:`~deploycheck.proof.browser.jail_config`).
"""
import json
import os
import sys


SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives",
                "/etc/fonts", "/etc/chromium", "/etc/chromium.d", "/etc/chromium-browser", "/var/cache/fontconfig",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/sys/devices/system/cpu")


def _parents(paths, made):
    """Folders above ``paths`` made traversable (bwrap would make them 0700 for root)."""
    out = []
    for p in paths:
        parts = p.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in made:
                made.add(d)
                out += ["--perms", "0755", "--dir", d]
    return out


def _ro_binds(extra):
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    wanted = [p for p in SYSTEM_FILES + tuple(extra) if os.path.exists(p) and not p.startswith("/usr/")]
    args += _parents(wanted, {"/", "/usr", "/tmp", "/dev", "/proc"})
    for p in wanted:
        args += ["--ro-bind", p, p]
    return args


def _profile(args):
    for a in args:
        if a.startswith("--user-data-dir="):
            return a.split("=", 1)[1]
    return None


def _chown_tree(top, uid):
    os.chown(top, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            os.chown(os.path.join(dirpath, n), uid, uid, follow_symlinks=False)


def argv(cfg, args):
    """The command line that runs Chromium with ``args``: bwrap, or (root without bubblewrap) setpriv alone."""
    if not cfg.get("bwrap"):
        return _drop(cfg) + [cfg["chromium"]] + list(args)
    a = [cfg["bwrap"]]
    if cfg["root"]:
        # bwrap as root makes the namespaces (no user namespace needed); setpriv then drops to the private uid
        a += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    else:
        a += ["--unshare-all"]
    a += ["--die-with-parent", "--hostname", "chromium"]
    a += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--perms", "1777", "--tmpfs", "/tmp"]
    a += _ro_binds(cfg.get("ro_binds", []))
    profile = _profile(args)
    if profile:
        a += _parents([profile], {"/", "/tmp"}) + ["--bind", profile, profile]
    home = "/tmp/home"
    a += ["--perms", "1777", "--dir", home, "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", home,
          "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "XDG_CACHE_HOME", home + "/.cache",
          "--setenv", "XDG_CONFIG_HOME", home + "/.config", "--chdir", "/tmp", "--"]
    a += _drop(cfg)
    a += [cfg["chromium"]]
    if cfg.get("no_sandbox"):
        a += ["--no-sandbox"]
    return a + list(args)


def _drop(cfg):
    """As root: setpriv to the private uid, no groups, no capabilities (empty otherwise)."""
    if not cfg["root"]:
        return []
    uid = str(int(cfg["uid"]))
    return [cfg["setpriv"], "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            "--"]


def main(av):
    if len(av) < 2:
        sys.stderr.write("usage: chromium_jail.py CONFIG.json [chromium arguments]\n")
        return 2
    with open(av[1]) as fh:
        cfg = json.load(fh)
    args = av[2:]
    profile = _profile(args)
    if cfg["root"] and profile and os.path.isdir(profile):
        _chown_tree(profile, int(cfg["uid"]))
    cmd = argv(cfg, args)
    if cfg.get("bwrap"):
        os.execv(cmd[0], cmd)                 # bwrap sets the whole environment itself
    home = profile or "/tmp"
    os.execve(cmd[0], cmd, {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
                            "LANG": "C.UTF-8"})
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
