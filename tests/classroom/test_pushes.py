"""Dates you can trust (issue 21): with a GitHub token, the graded commit's committer date is compared
with the time GitHub received it (its repository activity API, here a local fake of it); work pushed
after the deadline is flagged whatever its dates; without a token, the dates are said unverified."""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gitrepos import make_repo  # noqa: E402

from deploycheck.classroom import pushes, resolve_sources  # noqa: E402
from tests.helpers import json_server  # noqa: E402

DEADLINE = "2024-05-01T23:59:00+02:00"
TOKEN = "ghs_CANARYTOKEN0123456789"


@pytest.fixture
def forged(tmp_path):
    """zoe's last commit claims 23:30 on the deadline day; GitHub received it the next morning."""
    src = tmp_path / "github" / "deploy-lab-zoe"
    shas = make_repo(src, [("2024-04-28T10:00:00+02:00", {"aws_deploy/README.md": "# deploy"}),
                           ("2024-05-01T23:30:00+02:00", {"aws_deploy/README.md": "# deploy\nall of it"})])
    acts = [{"id": 1, "node_id": "A1", "before": "0" * 40, "after": shas[0], "ref": "refs/heads/main",
             "timestamp": "2024-04-28T08:00:05Z", "activity_type": "push", "actor": {"login": "zoe"}},
            {"id": 2, "node_id": "A2", "before": shas[0], "after": shas[1], "ref": "refs/heads/main",
             "timestamp": "2024-05-02T07:12:40Z", "activity_type": "push", "actor": {"login": "zoe"}}]
    return src, shas, acts


@pytest.fixture
def github_api():
    """A local fake of GET /repos/{owner}/{repo}/activity: two pages (Link header), the token checked."""
    state = {"acts": [], "seen": []}
    base = []

    def route(method, path, headers, body):
        state["seen"].append((path, headers))
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}, None
        if method != "GET" or not path.startswith("/repos/course/deploy-lab-zoe/activity"):
            return 404, {"message": "Not Found"}, None
        if "after=cursor1" in path:
            return 200, state["acts"][1:], None
        return 200, state["acts"][:1], {"Link": f'<{base[0]}/repos/course/deploy-lab-zoe/activity?per_page=100&'
                                                f'after=cursor1>; rel="next"'}
    url, stop = json_server(route)
    base.append(url)
    yield url, state
    stop()


def test_activity_api_is_read_page_by_page_with_the_token(github_api, forged):
    api, state = github_api
    _src, shas, acts = forged
    state["acts"] = acts
    got = pushes.activities(api, "course", "deploy-lab-zoe", TOKEN)
    assert [a.after for a in got] == shas and got[1].timestamp == dt.datetime(2024, 5, 2, 7, 12, 40, tzinfo=dt.timezone.utc)
    path, headers = state["seen"][0]
    assert path.startswith("/repos/course/deploy-lab-zoe/activity?") and "direction=asc" in path
    assert headers["x-github-api-version"] == "2022-11-28" and headers["accept"] == "application/vnd.github+json"
    with pytest.raises(pushes.GitHubError) as e:
        pushes.activities(api, "course", "deploy-lab-zoe", "wrong-token")
    assert "the token was refused" in str(e.value) and "wrong-token" not in str(e.value)


def _roster(tmp_path, url):
    path = tmp_path / "roster.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["student", "url"], ["zoe", url]])
    return path


def test_work_pushed_after_the_deadline_is_flagged_whatever_its_dates(github_api, forged, tmp_path, monkeypatch):
    api, state = github_api
    src, shas, acts = forged
    state["acts"] = acts
    # the roster's repository is this local one; its GitHub identity is course/deploy-lab-zoe on the fake
    monkeypatch.setattr(pushes, "github_repo", lambda url: (api, "course", "deploy-lab-zoe") if url == src.as_uri() else None)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    refs, warnings, _ = resolve_sources([], None, [str(_roster(tmp_path, src.as_uri()))], clone_dir=tmp_path / "c",
                                        deadline=DEADLINE)
    (zoe,) = refs
    assert zoe.commit.sha == shas[1] and zoe.late is None            # by its dates, on time
    assert zoe.dates["verified"] is True and zoe.dates["pushed_late"] is True
    assert zoe.dates["pushed_at"] == "2024-05-02T07:12:40Z"
    note = next(n for n in zoe.notes if n.startswith("pushed after the deadline"))
    assert f"commit {shas[1][:10]} (committer date 2024-05-01T23:30:00+02:00) reached GitHub at 2024-05-02T07:12:40Z" in note
    assert TOKEN not in json.dumps(zoe.to_json()) + " ".join(warnings)
    # pushed in time: verified, nothing flagged
    state["acts"] = [dict(a, timestamp="2024-05-01T21:40:00Z") if a["id"] == 2 else a for a in acts]
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    (zoe,), _w, _ = resolve_sources([], None, [str(_roster(tmp_path, src.as_uri()))], clone_dir=tmp_path / "c",
                                    deadline=DEADLINE)
    assert zoe.dates["verified"] is True and not zoe.dates.get("pushed_late")
    assert not any(n.startswith("pushed after the deadline") for n in zoe.notes)


def test_without_a_token_the_dates_are_said_unverified(forged, tmp_path, monkeypatch):
    src, _shas, _acts = forged
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    refs, warnings, _ = resolve_sources([], None, [str(_roster(tmp_path, src.as_uri()))], clone_dir=tmp_path / "c",
                                        deadline=DEADLINE)
    assert refs[0].dates == {"verified": False, "note": pushes.UNVERIFIED_NO_TOKEN}
    assert "can be forged" in pushes.UNVERIFIED_NO_TOKEN and "GITHUB_TOKEN" in pushes.UNVERIFIED_NO_TOKEN


def test_a_commit_github_never_received_is_unverified_not_on_time(forged):
    _src, shas, acts = forged
    c = pushes.check("f" * 40, "2024-05-01T23:30:00+02:00", dt.datetime(2024, 5, 1, 21, 59, tzinfo=dt.timezone.utc),
                     [pushes.Activity(a["before"], a["after"], a["ref"], dt.datetime.fromisoformat(a["timestamp"][:-1] +
                                                                                                  "+00:00"), "push")
                      for a in acts], lambda after, sha: False)
    assert not c.verified and not c.pushed_late and "shows no push of commit ffffffffff" in c.note


def test_github_identity_of_a_roster_url(monkeypatch):
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    assert pushes.github_repo("https://github.com/course/deploy-lab-zoe.git") == \
        ("https://api.github.com", "course", "deploy-lab-zoe")
    assert pushes.github_repo("git@github.com:course/deploy-lab-zoe.git") == \
        ("https://api.github.com", "course", "deploy-lab-zoe")
    assert pushes.github_repo("https://gitlab.com/course/x") is None
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://git.uni.example")
    monkeypatch.setenv("GITHUB_API_URL", "https://git.uni.example/api/v3")
    assert pushes.github_repo("https://git.uni.example/course/r") == ("https://git.uni.example/api/v3", "course", "r")
