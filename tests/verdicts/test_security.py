"""verdicts.security (facts: analysis.secrets): security.secrets scans the whole repo and never prints a credential."""
import json
import os
import time

from deploycheck.analysis.secrets import redact_key_id, scan_bytes, scan_repo
from deploycheck.verdicts.security import security_secrets
from deploycheck.discovery import Target, load_submission
from tests.helpers import make_target

# Built at run time so that this test file itself holds no credential-shaped literal.
KEY_ID = "AKIA" + "Q3EGRTYHJ5KZ7WX2"
SECRET = "k9Lq2Zx8Vb/Nf4Tr7Yw+Hs1Pd6Gm3Jc5Ue0Ai2Ro"
assert len(SECRET) == 40


def test_clean_repo_passes(tmp_path):
    o = security_secrets(make_target(tmp_path, {"aws_deploy/README.md": "# deploy\n", "aws_deploy/inference.py": "x = 1\n"}))
    assert o.status == "passed" and "2 files" in o.message


def test_nested_env_file_is_found_and_redacted(tmp_path):
    env = f"# creds\nAWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n"
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x", "aws_deploy/config/.env": env})
    o = security_secrets(t)
    assert o.status == "failed"
    assert "aws_deploy/config/.env line 2" in o.message and "aws_deploy/config/.env line 3" in o.message
    assert redact_key_id(KEY_ID) in o.message and redact_key_id(KEY_ID) == "AKIA…X2"
    everything = o.message + json.dumps(o.data)
    assert KEY_ID not in everything and SECRET not in everything and SECRET[:8] not in everything
    assert "rotate" in o.message and "git history" in o.message and "remove" in o.message.lower()


def test_secret_in_code_and_credentials_file(tmp_path):
    code = f"import boto3\ns = boto3.Session(aws_access_key_id='{KEY_ID}',\n    aws_secret_access_key=\"{SECRET}\")\n"
    creds = f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    o = security_secrets(make_target(tmp_path, {"deploy.py": code, "home/.aws/credentials": creds}))
    assert o.status == "failed" and "deploy.py line 2" in o.message and "home/.aws/credentials line 3" in o.message
    assert SECRET not in o.message


def test_json_secret_access_key(tmp_path):
    js = json.dumps({"AccessKey": {"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET}}, indent=2)
    res = scan_bytes(js.encode(), "key.json")
    assert {f.kind for f in res} == {"AWS access key id", "AWS secret access key"}


def test_aws_example_keys_are_ignored(tmp_path):
    text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    assert security_secrets(make_target(tmp_path, {"aws_deploy/README.md": text})).status == "passed"


def test_gcp_service_account_and_pem(tmp_path):
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 3
    sa = json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "abc",
                     "private_key": f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n",
                     "client_email": "svc@p.iam.gserviceaccount.com"})
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    o = security_secrets(make_target(tmp_path, {"gcp_deploy/key.json": sa, "id_rsa": pem}, "gcp"))
    assert o.status == "failed"
    assert "gcp_deploy/key.json line 1: GCP service-account key" in o.message and "id_rsa line 1: private key" in o.message
    assert body[:20] not in o.message and "service-account key in the GCP console" in o.message


def test_pem_header_without_body_is_not_a_key(tmp_path):
    text = "Never commit files that start with -----BEGIN PRIVATE KEY----- ...\n"
    assert security_secrets(make_target(tmp_path, {"aws_deploy/README.md": text})).status == "passed"


def test_symlinks_git_and_venv_are_not_scanned(tmp_path):
    outside = tmp_path / "outside.env"
    outside.write_text(f"AWS_ACCESS_KEY_ID={KEY_ID}\n")
    t = make_target(tmp_path, {".git/config": f"key={KEY_ID}\n", ".venv/lib/x.py": f"k='{KEY_ID}'\n",
                        "node_modules/a/index.js": f"k='{KEY_ID}'\n", "aws_deploy/README.md": "# x"})
    os.symlink(outside, tmp_path / "repo" / "aws_deploy" / "link.env")
    os.symlink(tmp_path, tmp_path / "repo" / "loop")
    o = security_secrets(t)
    assert o.status == "passed"


def test_large_and_binary_files_are_skipped(tmp_path):
    big = ("x" * 100 + "\n") * 11_000 + f"AWS_ACCESS_KEY_ID={KEY_ID}\n"
    binary = b"\x00\x01" * 10 + f"AWS_ACCESS_KEY_ID={KEY_ID}".encode()
    o = security_secrets(make_target(tmp_path, {"aws_deploy/big.txt": big, "aws_deploy/blob.bin": binary}))
    assert o.status == "passed"


def test_a_repo_without_a_deployment_earns_nothing(tmp_path):
    t = make_target(tmp_path, {"README.md": "# my project\n"}, platform=None)
    o = security_secrets(t)
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"


def test_works_without_a_deploy_folder(tmp_path):
    t = make_target(tmp_path, {"notes/.env": f"AWS_ACCESS_KEY_ID={KEY_ID}\n"})
    t = Target("stu", None, t.submission, "stu")
    o = security_secrets(t)
    assert o.status == "failed" and "notes/.env line 1" in o.message and KEY_ID not in o.message


def test_unusable_repo_fails_with_the_submission_problem(tmp_path):
    sub = load_submission.__wrapped__("stu", str(tmp_path / "does-not-exist"))
    o = security_secrets(Target("stu", None, sub, "stu"))
    assert o.status == "failed" and "does not exist" in o.message


def test_20000_file_repo(tmp_path):
    repo = tmp_path / "repo"
    for i in range(200):
        d = repo / f"pkg{i}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"m{j}.py").write_text(f"# module {i}.{j}\nVALUE = {j}\nsecret_name = 'not a key'\n")
    (repo / "pkg7" / "creds.env").write_text(f"AWS_ACCESS_KEY_ID={KEY_ID}\n")
    t0 = time.monotonic()
    res = scan_repo(repo)
    elapsed = time.monotonic() - t0
    print(f"scanned {res.files} files in {elapsed:.2f}s")   # roughly 0.3-0.6 s here; no timed assertion
    assert res.files >= 19_999
    if not res.capped:
        assert any(f.path == "pkg7/creds.env" for f in res.findings)


PEM_BODY = "-----BEGIN RSA PRIVATE KEY-----\n" + ("MIIEowIBAAKCAQEA" + "q" * 48 + "\n") * 4 + "-----END RSA PRIVATE KEY-----\n"


def test_a_pem_in_a_vendored_test_fixture_is_not_a_cloud_credential(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x",
                               "vendor/requests/tests/test_ssl.py": f'KEY = """{PEM_BODY}"""\n'})
    assert security_secrets(t).status == "passed"


def test_a_pem_key_file_is_a_credential(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x", "aws_deploy/ec2-key.pem": PEM_BODY})
    o = security_secrets(t)
    assert o.status == "failed" and "aws_deploy/ec2-key.pem line 1: private key" in o.message


def test_a_key_inside_a_notebooks_json_string_is_found(tmp_path):
    cell = {"cell_type": "code", "source": [f"aws_access_key_id = \"{KEY_ID}\"\n", f"aws_secret_access_key = \"{SECRET}\"\n"]}
    nb = json.dumps({"nbformat": 4, "cells": [cell]})
    assert '\\"' in nb                                   # the quotes are escaped in the file
    o = security_secrets(make_target(tmp_path, {"aws_deploy/deploy.ipynb": nb}))
    assert o.status == "failed" and "AWS secret access key" in o.message and SECRET not in o.message


def test_a_capped_scan_says_what_it_skipped_and_scans_the_deploy_folder_first(tmp_path, monkeypatch):
    from deploycheck.analysis import secrets
    monkeypatch.setattr(secrets, "MAX_FILES", 3)
    files = {f"data/part{i}.csv": "a,b\n1,2\n" for i in range(6)}
    files["aws_deploy/.env"] = f"AWS_ACCESS_KEY_ID={KEY_ID}\n"
    o = security_secrets(make_target(tmp_path, files))
    assert o.status == "failed" and "aws_deploy/.env" in o.message       # found although it sorts late
    clean = make_target(tmp_path / "b", {**{f"data/part{i}.csv": "a\n" for i in range(6)}, "aws_deploy/README.md": "x"})
    o = security_secrets(clean)
    assert o.status == "passed" and "were not scanned" in o.message and "data/part" in o.message


# ---------------------------------------------------------------- git history

def _history_repo(tmp_path, later: dict):
    """A repo whose first commit holds a key in aws_deploy/deploy.py and whose HEAD changed it to ``later``."""
    from tests.classroom.gitrepos import make_repo
    code = f"import boto3\nimport os\nsm = boto3.client('sagemaker', aws_access_key_id='{KEY_ID}',\n" \
           f"    aws_secret_access_key='{SECRET}')\n"
    repo = tmp_path / "repo"
    shas = make_repo(repo, [("2024-04-01T10:00:00+00:00", {"aws_deploy/README.md": "# deploy\n", "aws_deploy/deploy.py": code}),
                            ("2024-04-02T10:00:00+00:00", later)])
    return repo, shas


def _grade(repo):
    return security_secrets(Target("stu", "aws", load_submission.__wrapped__("stu", str(repo)), "stu"))


def test_a_key_removed_from_the_files_but_still_in_git_history_fails_without_its_value(tmp_path):
    repo, shas = _history_repo(tmp_path, {"aws_deploy/deploy.py": "import boto3\nsm = boto3.client('sagemaker')\n"})
    o = _grade(repo)
    assert o.status == "failed", o.message
    assert "git history" in o.message and f"aws_deploy/deploy.py line 3 (commit {shas[0][:7]}" in o.message
    assert "aws_deploy/deploy.py line 4" in o.message and redact_key_id(KEY_ID) in o.message
    assert "filter-repo" in o.message and "force-push" in o.message and "rotate" in o.message.lower()
    assert "committed to the repo:" not in o.message        # the files themselves are clean now
    everything = o.message + json.dumps(o.data)
    assert KEY_ID not in everything and SECRET not in everything and SECRET[:8] not in everything
    assert {f["in_history"] for f in o.data["findings"]} == {True} and o.file == "aws_deploy/deploy.py"


def test_a_key_still_in_the_files_is_reported_once_not_again_for_its_history(tmp_path):
    repo, _ = _history_repo(tmp_path, {"aws_deploy/README.md": "# deploy\nmore text\n"})
    o = _grade(repo)
    assert o.status == "failed" and "committed to the repo" in o.message
    assert "git history" not in o.message.split("purge")[0], o.message       # the same key, not twice
    assert len(o.data["findings"]) == 2


def test_a_clean_history_passes_and_says_it_was_read(tmp_path):
    from tests.classroom.gitrepos import make_repo
    repo = tmp_path / "repo"
    make_repo(repo, [("2024-04-01T10:00:00+00:00", {"aws_deploy/README.md": "# one\n"}),
                     ("2024-04-02T10:00:00+00:00", {"aws_deploy/README.md": "# two\n"})])
    o = _grade(repo)
    assert o.status == "passed" and "1 older file versions in git history" in o.message, o.message


def test_shallow_and_partial_clones_say_what_of_the_history_was_not_scanned(tmp_path):
    import shutil
    import subprocess
    repo, _ = _history_repo(tmp_path, {"aws_deploy/deploy.py": "import boto3\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    shallow, partial = tmp_path / "shallow", tmp_path / "partial"
    subprocess.run(["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(shallow)], check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", repo.as_uri(), str(partial)], check=True, env=env)
    shutil.rmtree(repo)                       # a missing version can never be fetched (no network, no source)
    o = _grade(shallow)
    assert o.status == "passed" and "not scanned (a shallow clone" in o.message and "--unshallow" in o.message
    o = _grade(partial)
    assert o.status == "passed" and "1 more are not in this clone" in o.message, o.message


def test_git_facts_come_only_from_the_repos_own_git_folder_and_run_nothing_of_it(tmp_path):
    """A hostile .git/config (fsmonitor, hooks, an alternate transport) starts nothing; a folder without
    its own .git inside another checkout has no history; a .git symlink is not followed."""
    repo, _ = _history_repo(tmp_path, {"aws_deploy/deploy.py": "import boto3\n"})
    marker = tmp_path / "ran"
    with open(repo / ".git" / "config", "a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {marker}\n\thooksPath = hooks2\n"
                 f"[remote \"origin\"]\n\turl = ext::sh -c 'touch {marker}'\n\tpromisor = true\n")
    (repo / ".git" / "hooks2").mkdir()
    for hook in ("post-checkout", "pre-commit", "reference-transaction"):
        (repo / ".git" / "hooks2" / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (repo / ".git" / "hooks2" / hook).chmod(0o755)
    assert _grade(repo).status == "failed" and not marker.exists()
    inner, linked = repo / "nested", tmp_path / "linked"      # inside the checkout, no .git of its own
    for d in (inner, linked):
        (d / "aws_deploy").mkdir(parents=True)
        (d / "aws_deploy" / "README.md").write_text("# x\n")
    (linked / ".git").symlink_to(repo / ".git")
    for d in (inner, linked):
        o = _grade(d)
        assert o.status == "passed" and o.data["history"] == "none" and "git history" not in o.message, o.message
    assert not marker.exists()


def test_credentials_in_a_file_git_ignores_are_not_committed(tmp_path):
    """A .env that .gitignore keeps out of every commit is on this disk only: the instructor's clone and CI
    never see it, so the student's own run must not fail them for it; the same file tracked, or not
    ignored, fails."""
    from tests.classroom.gitrepos import git, make_repo
    repo = tmp_path / "repo"
    make_repo(repo, [("2024-04-01T10:00:00+00:00", {"aws_deploy/README.md": "# deploy\n", ".gitignore": ".env\n"})])
    (repo / "aws_deploy" / ".env").write_text(f"AWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    o = _grade(repo)
    assert o.status == "passed", o.message
    assert "aws_deploy/.env holds credentials but git ignores it (never committed)" in o.message
    assert KEY_ID not in o.message + json.dumps(o.data) and o.data["ignored"] == ["aws_deploy/.env"]
    (repo / ".gitignore").write_text("")                       # no longer ignored: the next `git add -A` commits it
    assert _grade(repo).status == "failed"
    (repo / ".gitignore").write_text(".env\n")
    git(repo, "add", "-f", "aws_deploy/.env")                  # tracked: ignore rules no longer apply
    o = _grade(repo)
    assert o.status == "failed" and "aws_deploy/.env line 1" in o.message


def test_the_instructors_class_clone_sees_the_history_the_students_checkout_sees(tmp_path):
    """The same verdict for the student's full checkout and the instructor's class clone (with or
    without a deadline): deploycheck's clone holds every file version security.secrets reads in the
    history (classroom.git.HISTORY_FILTER), so a key still in an older version fails in both; only
    contents larger than the scanner reads (a model file) are left out of the clone."""
    from deploycheck.analysis import secrets
    from deploycheck.classroom import git as cg
    size = int(cg.HISTORY_FILTER.split("=")[1].rstrip("m")) * 1024 * 1024
    assert cg.HISTORY_FILTER.startswith("blob:limit=") and size > secrets.MAX_FILE_BYTES
    big = "x" * (secrets.MAX_FILE_BYTES + 200_000)
    repo, _ = _history_repo(tmp_path, {"aws_deploy/deploy.py": "import boto3\n", "aws_deploy/model.txt": big})
    own = _grade(repo)                                   # the student's own checkout
    assert own.status == "failed" and "git history" in own.message
    for deadline in (None, cg.parse_deadline("2030-01-01T00:00:00+00:00")):
        dest = tmp_path / f"clone-{deadline is None}"
        f = cg.fetch(repo.as_uri(), dest, deadline, None, cg.Limits())
        assert f.selected.graded is not None and not (dest / ".git" / "shallow").exists()
        o = _grade(dest)
        assert o.status == "failed" and "git history" in o.message, (deadline, o.message)
        assert "aws_deploy/deploy.py line 3" in o.message
