"""Where a student's repo comes from, as typed records: :class:`RepoRef` and what the roster and
git said about it. Nothing here touches the network or the disk."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

# Appended to a student id for the "shadow" target that grades the latest (late) commit.
# It cannot occur in a sanitised id (see :func:`safe_id`).
SHADOW_SUFFIX = "+latest"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def safe_id(name: str) -> str:
    """The file-name-safe form of a student name (used for ids, test ids and file names).
    The display name is kept apart, unchanged (see :attr:`RepoRef.name`)."""
    s = _UNSAFE.sub("_", name.strip()).strip(".") or "student"
    return s[:100]


@dataclass(frozen=True)
class RosterEntry:
    """What the roster files said about one student; every value exactly as written (UTF-8)."""
    name: str = ""                  # display name (Canvas "Student", GitHub Classroom "name")
    github_username: str = ""
    identifier: str = ""            # GitHub Classroom roster identifier
    canvas_id: str = ""             # Canvas user id ("ID" column of a Canvas gradebook export)
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    # other columns worth carrying to the gradebooks (GitHub Classroom grades export:
    # assignment_name, assignment_url, starter_code_url, student_repository_name, group_name ...)
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str:
        return dict(self.extra).get(key, "")

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in (("name", self.name), ("github_username", self.github_username),
                               ("identifier", self.identifier), ("canvas_id", self.canvas_id),
                               ("sis_user_id", self.sis_user_id), ("sis_login_id", self.sis_login_id),
                               ("section", self.section)) if v}
        d.update(dict(self.extra))
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> RosterEntry:
        d = dict(d or {})
        known = {k: str(d.pop(k, "") or "") for k in ("name", "github_username", "identifier", "canvas_id",
                                                      "sis_user_id", "sis_login_id", "section")}
        return cls(**known, extra=tuple((str(k), str(v)) for k, v in d.items()))


@dataclass(frozen=True)
class Commit:
    """A commit of a student's repo: its id and committer date (ISO 8601 with zone)."""
    sha: str
    time: str

    def to_json(self) -> dict[str, str]:
        return {"sha": self.sha, "time": self.time}


@dataclass(frozen=True)
class Late:
    """Commits after the deadline (on the default branch, not reachable from the graded commit)."""
    count: int
    last_time: str                  # committer date of the latest of them
    latest: Commit                  # the branch tip, graded as a shadow target
    path: str = ""                  # work tree of the tip (the shadow target's repo)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "last_time": self.last_time, "latest_commit": self.latest.sha,
                "latest_commit_time": self.latest.time}


@dataclass(frozen=True)
class RepoRef:
    """One student's repo for this run. ``path`` is the folder that is graded (a clone checked out
    at the graded commit when the roster gave a URL or a --deadline is set)."""
    student: str                    # unique, stable, file-name-safe id
    path: str
    name: str = ""                  # display name, exactly as the roster wrote it
    source: str = ""                # the URL or path the roster/option gave
    roster: RosterEntry = field(default_factory=RosterEntry)
    commit: Commit | None = None    # graded commit (None: not a git repo, or nothing to grade)
    late: Late | None = None
    error: str | None = None        # the repo could not be graded at all (unreachable, no repo...)
    notes: tuple[str, ...] = ()     # warnings about this student (id collision, odd commit dates)
    shadow_of: str | None = None    # set on the shadow ref that grades a late student's latest commit
    dates: Mapping[str, Any] | None = None   # with --deadline: what GitHub's push times say (classroom.pushes)
    problem: str | None = None      # graded, but nothing is there to grade (every commit is after the deadline)

    @property
    def display(self) -> str:
        return self.name or self.student

    def with_(self, **changes: Any) -> RepoRef:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {"student": self.student, "path": self.path, "name": self.name, "source": self.source,
                "roster": self.roster.to_json(), "commit": self.commit.to_json() if self.commit else None,
                "late": ({**self.late.to_json(), "path": self.late.path} if self.late else None),
                "error": self.error, "notes": list(self.notes), "shadow_of": self.shadow_of,
                "dates": dict(self.dates) if self.dates else None, "problem": self.problem}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RepoRef:
        c = d.get("commit")
        lt = d.get("late")
        late = None
        if lt:
            late = Late(int(lt["count"]), str(lt["last_time"]), Commit(lt["latest_commit"], lt["latest_commit_time"]),
                        str(lt.get("path") or ""))
        return cls(student=d["student"], path=d["path"], name=d.get("name") or "", source=d.get("source") or "",
                   roster=RosterEntry.from_json(d.get("roster")), commit=Commit(c["sha"], c["time"]) if c else None,
                   late=late, error=d.get("error"), notes=tuple(d.get("notes") or ()), shadow_of=d.get("shadow_of"),
                   dates=d.get("dates") or None, problem=d.get("problem") or None)


def unique_ids(refs: Iterable[RepoRef]) -> tuple[list[RepoRef], list[str]]:
    """Make student ids unique without ever dropping a student: ids that need no sanitising keep
    their id; the others, in input order, get ``_2``, ``_3``... on a collision (with a warning).
    Returns (refs, warnings)."""
    refs = list(refs)
    taken: dict[str, RepoRef] = {}
    out: list[RepoRef | None] = [None] * len(refs)
    warnings: list[str] = []
    # first pass: a student whose name is its id owns it (adding a student never renames another)
    for i, r in enumerate(refs):
        if r.student == r.display and r.student not in taken:
            taken[r.student] = out[i] = r
    for i, r in enumerate(refs):
        if out[i] is not None:
            continue
        sid = r.student
        if sid in taken:
            n = 2
            while f"{sid}_{n}" in taken:
                n += 1
            new = f"{sid}_{n}"
            msg = (f"student id {sid!r} of {r.display!r} ({r.source or r.path}) is already used by "
                   f"{taken[sid].display!r}; graded as {new!r}")
            warnings.append(msg)
            r = r.with_(student=new, notes=(*r.notes, msg))
            sid = new
        taken[sid] = out[i] = r
    return [r for r in out if r is not None], warnings
