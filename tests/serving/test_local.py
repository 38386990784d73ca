"""serving.local: which image and environment a folder runs in, the honest approximate fallback
(inconclusive instead of a failure when version skew explains it) and deploycheck's own failures
reported as errors of the run, never as the student's."""
from __future__ import annotations

import io
import json
import pickle
import tarfile

import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from deploycheck.analysis.runtimes import assumed_image
from deploycheck.verdicts import predict
from deploycheck.runtimes import catalog, envs
from deploycheck.serving import local
from deploycheck.discovery import Target as SubTarget, make_folder
from deploycheck.discovery import load_submission

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def _model():
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(X, y)


def gcp_folder(tmp_path, runtime: str, model_pkl: bytes):
    d = tmp_path / "repo" / "gcp_deploy"
    d.mkdir(parents=True)
    (d / "README.md").write_text(f"gcloud ai-platform versions create v1 --model m --runtime-version {runtime} "
                                 "--framework scikit-learn --origin gs://b/m/\n")
    (d / "model.pkl").write_bytes(model_pkl)
    (d / "input.json").write_text(json.dumps({"instances": ROWS}))
    sub = load_submission.__wrapped__("s", str(tmp_path / "repo"))
    return sub, sub.folders[0]


def test_declared_image_and_assumed_image(tmp_path):
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")
    t = local.target_for(f, None)
    assert t.image.key == "ai-platform:2.11" and t.declared == "gcp_deploy/README.md:1" and not t.assumed
    im, why = assumed_image("aws", "1.0.2")
    assert im.key == "sagemaker:1.0-1" and "the one for the pickle's scikit-learn 1.0.2" in why
    im, why = assumed_image("aws", "0.19.1")
    assert im.key == "sagemaker:0.20.0" and "the nearest for the pickle's scikit-learn 0.19.1" in why
    assert assumed_image("aws", "1.9.1")[0].key == "sagemaker:1.9-0"
    assert assumed_image("aws", "1.4.2")[0].key == "sagemaker:1.4-2-py312"  # the same release, retired later
    assert assumed_image("aws", "1.6.1")[0].key == "sagemaker:1.9-0"        # the nearest still supported
    assert assumed_image("gcp", "1.9.1")[0].key == "vertex:sklearn-cpu.1-6"
    assert assumed_image("gcp", None)[0].key == "vertex:sklearn-cpu.1-6"


def test_code_dir_in_archive(tmp_path):
    tar = tmp_path / "model.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        for name in ("model.joblib", "code/inference.py"):
            ti = tarfile.TarInfo(name)
            tf.addfile(ti, io.BytesIO(b""))
    (tmp_path / "aws_deploy").mkdir()
    folder = make_folder("aws", tmp_path / "aws_deploy", tmp_path)
    t = local.target_for(folder, None, "src/inference.py", extract=tar)
    assert t.code_dir_rel == "code" and t.assumed.startswith("no serving image is declared")


def test_unsupported_image_runs_approximately_and_says_so(tmp_path):
    # AI Platform 1.10 pins scikit-learn 0.19.1 on Python 2.7/3.5: no environment can exist
    sub, f = gcp_folder(tmp_path, "1.10", pickle.dumps(_model(), protocol=2))
    t = local.target_for(f, None)
    run = local.run(t, [local.HttpRequest("POST", "/predict", (), json.dumps({"instances": ROWS}).encode())])
    assert run.runtime.approximate and run.runtime.env is None
    assert run.runtime_label == (f"AI Platform runtime 1.10: approximate (scikit-learn {sklearn.__version__} instead "
                                 "of 0.19.1, in the grader's own environment)")
    assert run.answers[0].status == 200 and json.loads(run.answers[0].body) == {"predictions": [0, 2]}
    o = predict.predict_local(SubTarget(sub.student, "gcp", sub, sub.student), None)
    assert o.status == "passed" and "approximate (scikit-learn" in o.message and o.data["approximate"] is True


def test_load_error_explained_by_version_skew_is_inconclusive(tmp_path):
    # a pickle naming a module path older scikit-learn had (sklearn.linear_model.logistic, <= 0.21)
    raw = pickle.dumps(_model(), protocol=2).replace(b"sklearn.linear_model._logistic\n",
                                                     b"sklearn.linear_model.logistic\n")
    sub, f = gcp_folder(tmp_path, "1.10", raw)
    run = local.run(local.target_for(f, None), [local.HttpRequest("POST", "/predict", (), b"{}")])
    assert run.startup and "No module named 'sklearn.linear_model.logistic'" in run.startup.error
    assert run.inconclusive.startswith("inconclusive: loading the model failed")
    assert "not counted against you" in run.inconclusive and "0.19.1" in run.inconclusive


def test_environment_that_cannot_be_built_is_an_error_of_the_run(tmp_path, monkeypatch):
    sub, f = gcp_folder(tmp_path, "2.11", pickle.dumps(_model(), protocol=2))

    def broken(image, **kw):
        raise envs.EnvBuildError(image, "installing the pins failed", "ERROR: disk full")
    monkeypatch.setattr(envs, "ensure", broken)
    run = local.run(local.target_for(f, None), [])
    assert run.machine_error.startswith("could not build the runtime environment for AI Platform runtime 2.11")
    o = predict.predict_local(SubTarget(sub.student, "gcp", sub, sub.student), None)
    assert o.status == "skipped" and o.error is True
    assert "not your fault" in o.message and "disk full" in o.message


def test_sandbox_failure_is_an_error_of_the_run(tmp_path):
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")

    def runner(*a, **k):
        raise RuntimeError("bwrap: setting up uid map: Permission denied")
    run = local.run(local.target_for(f, None), [], runner=runner,
                    runtime=local.Runtime("x", catalog.image("2.11"), None))
    assert "the sandbox could not run the model" in run.machine_error and "Permission denied" in run.machine_error


def _timeouts_then(last: str, first_signal: str = "SIGKILL", last_signal: str = "SIGKILL"):
    """A runner whose first job times out (the wall clock: SIGKILL; the CPU limit: SIGXCPU) and whose
    second ends with ``last``; it records the wall-clock limits and, in ``cpu``, the CPU limits."""
    from deploycheck.sandbox import JobResult
    seen: list[float] = []
    cpu: list[float | None] = []

    def runner(job, args, *, limits=None, **kw):
        timeout = limits.timeout if limits is not None else 20.0
        seen.append(timeout)
        cpu.append(limits.cpu_s if limits is not None else None)
        status = "timeout" if len(seen) == 1 else last
        sig = (first_signal if len(seen) == 1 else last_signal) if status == "timeout" else ""
        data = {"responses": [], "model": {}, "runtime": {}} if status == "ok" else None
        return JobResult(status, data=data, timeout=timeout, signal_name=sig)
    runner.cpu = cpu  # type: ignore[attr-defined]
    return runner, seen


def test_a_timeout_on_a_starved_machine_is_retried_then_an_error_of_the_run(tmp_path, monkeypatch):
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")
    monkeypatch.setattr(local, "machine_busy", lambda: "runnable tasks waited for a CPU 93% of the last 10 s")
    runner, seen = _timeouts_then("timeout")
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=local.Runtime("x", catalog.image("2.11"), None))
    assert seen == [20.0, 40.0] and runner.cpu == [None, 20.0]     # 2x the wall clock, the same CPU time
    assert run.machine_error.startswith("the model did not answer within 20 s nor, retried, within 40 s")
    assert "too busy" in run.machine_error and "--sandbox-timeout" in run.machine_error
    assert run.sandbox_status == "ok"                   # nothing is held against the student

    runner, seen = _timeouts_then("ok")                 # the retry answered: graded on that answer
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=local.Runtime("x", catalog.image("2.11"), None))
    assert seen == [20.0, 40.0] and not run.machine_error and run.sandbox_status == "ok"


def test_code_that_uses_up_its_cpu_time_is_the_models_however_busy_the_machine(tmp_path, monkeypatch):
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")
    monkeypatch.setattr(local, "machine_busy", lambda: "runnable tasks waited for a CPU 93% of the last 10 s")
    rt = local.Runtime("x", catalog.image("2.11"), None)
    runner, seen = _timeouts_then("ok", first_signal="SIGXCPU")      # the kernel's CPU limit: no retry
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=rt)
    assert seen == [20.0] and not run.machine_error and run.sandbox_status == "timeout" and run.limit_s == 20.0

    runner, seen = _timeouts_then("timeout", last_signal="SIGXCPU")  # the retry met the CPU limit
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=rt)
    assert seen == [20.0, 40.0] and not run.machine_error
    assert run.sandbox_status == "timeout" and run.limit_s == 20.0   # "took longer than 20 s", the student's


def test_a_busy_job_on_a_busy_machine_is_not_retried(tmp_path, monkeypatch):
    """A fork bomb computes: when the job's processes together used as much CPU time as its wall clock,
    the timeout is the model's however busy the machine: one timeout of wall clock and the student's
    timeout (before: retried with three times the wall clock, then an error of the run). A job that got
    less (half: maybe a correct but slow model a busy machine starved) gets its retry."""
    from deploycheck.sandbox import JobResult
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")
    monkeypatch.setattr(local, "machine_busy", lambda: "runnable tasks waited for a CPU 93% of the last 10 s")
    seen: list[float] = []

    def runner(job, args, *, limits=None, cpu_used=25.0, **kw):
        seen.append(limits.timeout if limits is not None else 20.0)
        return JobResult("timeout", timeout=seen[-1], signal_name="SIGKILL", cpu_used=cpu_used)
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=local.Runtime("x", catalog.image("2.11"), None))
    assert seen == [20.0] and not run.machine_error and run.sandbox_status == "timeout"

    for used in (0.4, 10.0, 19.0):                       # hardly ran; ran half or most of the time
        def starved(job, args, used=used, **kw):
            return runner(job, args, cpu_used=used, **kw)
        seen.clear()
        run = local.run(local.target_for(f, None), [], runner=starved,
                        runtime=local.Runtime("x", catalog.image("2.11"), None))
        assert seen == [20.0, 40.0] and run.machine_error, used


def test_a_timeout_on_an_idle_machine_is_the_models(tmp_path, monkeypatch):
    _sub, f = gcp_folder(tmp_path, "2.11", b"x")
    monkeypatch.setattr(local, "machine_busy", lambda: "")
    runner, seen = _timeouts_then("ok")
    run = local.run(local.target_for(f, None), [], runner=runner, runtime=local.Runtime("x", catalog.image("2.11"), None))
    assert seen == [20.0] and not run.machine_error and run.sandbox_status == "timeout"


def test_machine_busy_reads_cpu_pressure_or_load(monkeypatch):
    import builtins
    real_open = builtins.open

    def fake_open(path, *a, **k):
        if path == "/proc/pressure/cpu":
            return io.StringIO(pressure)
        return real_open(path, *a, **k)
    monkeypatch.setattr(builtins, "open", fake_open)
    pressure = "some avg10=71.50 avg60=40.00 avg300=10.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    assert local.machine_busy() == "runnable tasks waited for a CPU 72% of the last 10 s"
    pressure = "some avg10=3.10 avg60=40.00 avg300=10.00 total=1\n"
    assert local.machine_busy() == ""
    pressure = "garbage"                                  # no PSI: the load average decides
    monkeypatch.setattr(local.os, "getloadavg", lambda: (9.0, 1.0, 1.0))
    monkeypatch.setattr(local.os, "cpu_count", lambda: 2)
    assert local.machine_busy() == "load average 9.0 on 2 CPUs"
    monkeypatch.setattr(local.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert local.machine_busy() == ""
