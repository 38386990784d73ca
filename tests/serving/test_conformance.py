"""Conformance: predict.local's job (through the sandbox) and ``deploycheck serve`` answer exactly
like a REFERENCE that is as close to the real SageMaker scikit-learn container as is possible
offline: sagemaker-containers' own WSGI app (the image's glue) served by gunicorn with gevent
workers (what the container's ``_server.start`` runs) on loopback, inside the image's runtime
environment (its Python, pins and sagemaker-containers 2.8.6.post2).

Compared per request: HTTP status, Content-Type and body, for every entry point in cases.py and
its requests, on the 1.2-1 and 1.0-1 images. One reference server per image for the whole module.
Skipped (with the reason) only where that image's Python cannot be found."""
from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from deploycheck.runtimes import catalog, envs
from deploycheck.serving import http as serve_http
from deploycheck.serving import local

sys.path.insert(0, str(Path(__file__).parent))
import cases  # noqa: E402
from netutil import free_port, wait_listening  # noqa: E402

IMAGES = ["sagemaker:1.2-1", "sagemaker:1.0-1"]
INSIDE = Path(local.__file__).resolve().parents[1] / "inside"

REFAPP = textwrap.dedent('''
    """Reference WSGI app for gunicorn: /c/<case>/<path> -> that case's container app."""
    import json, os, sys
    CFG = json.load(open(os.environ["DC_REF_CONFIG"]))
    sys.path.insert(0, CFG["inside"])
    sys.path.insert(0, CFG["cases_dir"])
    import sagemaker_job as sj
    from sagemaker_containers import _env
    from sagemaker_containers.beta.framework import worker
    _env.model_dir = CFG["model_dir"]
    GLUES = {}

    def app(environ, start_response):
        parts = environ["PATH_INFO"].split("/", 3)
        case = parts[2]
        environ["PATH_INFO"] = "/" + (parts[3] if len(parts) > 3 else "")
        glue = GLUES.setdefault(case, sj.Glue(CFG["mode"]))
        if glue.app is None:          # serving.py main(): import + model_fn on the first request
            t, ep = glue.import_module("case_" + case, CFG["cases_dir"])
            glue.app = worker.Worker(transform_fn=t.transform, module_name="case_" + case,
                                     execution_parameters_fn=ep)
        return glue.app(environ, start_response)
''')


def _model_bytes(python: str, workdir: Path) -> bytes:
    out = workdir / "model.joblib"
    subprocess.run([python, "-I", "-c", "import sys, joblib\nfrom sklearn.datasets import load_iris\n"
                    "from sklearn.linear_model import LogisticRegression\nX, y = load_iris(return_X_y=True)\n"
                    "joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), sys.argv[1])", str(out)],
                   check=True, timeout=300, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    return out.read_bytes()


class _Http10(http.client.HTTPConnection):
    """HTTP/1.0, as the container's nginx speaks to gunicorn (proxy_pass without proxy_http_version):
    an answer without Content-Length ends where the connection does."""
    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def _http(port: int, method: str, path: str, headers: dict, body: bytes) -> tuple[int, str | None, bytes]:
    conn = _Http10("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body if (body or method != "GET") else None,
                     headers={"Host": f"127.0.0.1:{port}", **headers})     # (HTTP/1.0: not added by http.client)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


class Reference:
    def __init__(self, image: catalog.Image, env: envs.RuntimeEnv, root: Path):
        self.image, self.env, self.root = image, env, root
        self.cases_dir = root / "cases"
        self.cases_dir.mkdir(parents=True)
        model_dir = root / "model"
        model_dir.mkdir()
        self.model = _model_bytes(env.python, root)
        (model_dir / "model.joblib").write_bytes(self.model)
        for name, code in cases.ENTRY_POINTS.items():
            (self.cases_dir / f"case_{name}.py").write_text(code)
        (root / "refapp.py").write_text(REFAPP)
        cfg = root / "ref.json"
        cfg.write_text(json.dumps({"inside": str(INSIDE), "cases_dir": str(self.cases_dir),
                                   "model_dir": str(model_dir), "mode": image.transform_fn}))
        self.port = free_port()
        self.log = open(root / "gunicorn.log", "wb")
        self.proc = subprocess.Popen(
            [env.python, "-c", "import sys; from gunicorn.app.wsgiapp import run; sys.argv[0] = 'gunicorn'; run()",
             "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--chdir", str(root), "refapp:app"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "DC_REF_CONFIG": str(cfg), "OMP_NUM_THREADS": "1", "HOME": str(root)})
        wait_listening(self.port, self.proc, root / "gunicorn.log", "the reference gunicorn", 120)

    def ask(self, case: str, method: str, path: str, headers: dict, body: bytes):
        return _http(self.port, method, f"/c/{case}{path}", headers, body)

    def folder(self, case: str) -> Path:
        d = self.root / "folders" / case
        if not d.exists():
            d.mkdir(parents=True)
            (d / "inference.py").write_text(cases.ENTRY_POINTS[case])
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tf:
                ti = tarfile.TarInfo("model.joblib")
                ti.size = len(self.model)
                tf.addfile(ti, io.BytesIO(self.model))
            (d / "model.tar.gz").write_bytes(buf.getvalue())
        return d

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module", params=IMAGES)
def ref(request, tmp_path_factory):
    image = catalog.image(request.param)
    try:
        env = envs.ensure(image)
    except envs.EnvUnavailable as e:
        pytest.skip(f"{image.label()}: {e}")
    if env.substituted:
        pytest.skip(f"{image.label()}: Python {image.python} not found (would use {env.python_minor})")
    r = Reference(image, env, tmp_path_factory.mktemp(image.slug))
    yield r
    r.close()


def _target(ref: Reference, case: str) -> local.Target:
    d = ref.folder(case)
    return local.Target(platform="aws", folder=d, rel=case, image=ref.image, entry="inference.py",
                        extract=d / "model.tar.gz")


def _runtime(ref: Reference) -> local.Runtime:
    return local.Runtime(ref.env.label, ref.image, ref.env, sklearn=ref.image.sklearn)


def _short(answer: tuple) -> tuple:
    status, ctype, body = answer
    return status, ctype, body[:300]


@pytest.mark.parametrize("case", sorted(cases.ENTRY_POINTS))
def test_job_and_serve_answer_like_the_container(ref, case):
    reqs = cases.requests_for(case)
    expected = [ref.ask(case, m, p, h, b) for _n, m, p, h, b in reqs]
    # predict.local's job: one sandboxed container start, the requests in order
    target = _target(ref, case)
    run = local.run(target, [local.HttpRequest(m, p, tuple(h.items()), b) for _n, m, p, h, b in reqs],
                    runtime=_runtime(ref))
    assert not run.machine_error, run.machine_error
    got_job = [(a.status, a.content_type, a.body) for a in run.answers]
    # deploycheck serve: the same target behind a loopback HTTP port
    srv = serve_http.Server(("127.0.0.1", 0), target, _runtime(ref), None, None, open(os.devnull, "w"))
    import threading
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        got_serve = [_http(srv.port, m, p, h, b) for _n, m, p, h, b in reqs]
    finally:
        srv.shutdown()
        srv.server_close()
    names = [n for n, *_ in reqs]
    for name, exp, job, srv_ in zip(names, expected, got_job, got_serve):
        assert job == exp, f"{ref.image.key} {case} {name}: job {_short(job)} != container {_short(exp)}"
        assert srv_ == exp, f"{ref.image.key} {case} {name}: serve {_short(srv_)} != container {_short(exp)}"
    assert len(got_job) == len(expected)


def test_the_reference_shows_the_real_differences(ref):
    """What the issue measured, on the reference itself (so the emulation's expectations are the
    container's): output_fn results Flask cannot send -> 500; a dict -> 200 JSON; unsupported
    types -> 500 (the glue wraps the default input_fn); model_fn failing -> /ping 500; transform_fn
    ignored before 1.2-1 and an error mixed with input_fn from 1.2-1."""
    J = ("POST", "/invocations", cases.JSON, cases.JSON_MANY)
    for case in ("output_fn_list", "output_fn_ndarray", "output_fn_dict_ndarray", "output_fn_none"):
        assert ref.ask(case, *J)[0] == 500, case
    status, ctype, body = ref.ask("output_fn_dict", *J)
    assert (status, ctype, json.loads(body)) == (200, "application/json", {"labels": [0, 2, 1]})
    assert ref.ask("model_fn_only", "POST", "/invocations", {"Content-Type": "text/plain"}, b"1 2 3 4")[0] == 500
    assert ref.ask("model_fn_only", "POST", "/invocations", {**cases.JSON, "Accept": "text/html"}, cases.JSON_MANY)[0] == 500
    assert ref.ask("model_fn_raises", "GET", "/ping", {}, b"")[:2] == (500, "text/html")
    assert ref.ask("model_fn_only", "POST", "/invocations", {**cases.JSON, "Accept": "*/*"}, cases.JSON_MANY)[1] == "application/json"
    mixed = ref.ask("transform_fn_with_input_fn", *J)
    if ref.image.transform_fn == "ignored":
        assert mixed[:2] == (200, "application/json") and json.loads(mixed[2]) == [0, 2, 1]
    else:
        assert mixed[0] == 500 and ref.ask("transform_fn_with_input_fn", "GET", "/ping", {}, b"")[0] == 500


def test_startup_import_failure_is_reported(ref):
    run = local.run(_target(ref, "import_error"), [local.HttpRequest.ping()], runtime=_runtime(ref))
    assert run.startup is not None and run.startup.phase == "import"
    assert "not_a_module_in_the_image" in run.startup.error
    assert run.answers[0].status == 500 and run.answers[0].failure.phase == "import"


def test_model_fn_failure_names_the_students_error(ref):
    run = local.run(_target(ref, "model_fn_raises"), [local.HttpRequest.ping()], runtime=_runtime(ref))
    f = run.answers[0].failure
    assert f.phase == "model_fn" and f.error_type == "RuntimeError" and "cannot load the model" in f.error
    assert "inference.py" in f.traceback and "/tmp/" not in f.traceback


def test_runtime_versions_are_the_images(ref):
    run = local.run(_target(ref, "model_fn_only"), [local.HttpRequest.ping()], runtime=_runtime(ref))
    assert run.versions["sklearn"] == ref.image.sklearn and run.versions["sagemaker_containers"] == "2.8.6.post2"
    assert run.versions["python"].startswith(ref.image.python + ".")
    assert run.isolation.startswith("bubblewrap") or run.isolation.startswith("UNSANDBOXED")


@pytest.mark.parametrize("case", ["predict_fn_swapped", "predict_fn_requires_context", "predict_fn_context_default",
                                  "predict_fn_only", "all_three", "transform_fn_only"])
def test_handler_signatures_are_judged_as_the_serving_code_calls_them(ref, case):
    """entry_point.model_fn's signature rule (analysis/handlers.py) against the real serving code:
    a handler the static rule rejects is one the container cannot answer with, and the other way."""
    import ast

    from deploycheck.analysis.handlers import HANDLERS, module_defs, signature_problem
    defs = module_defs(ast.parse(cases.ENTRY_POINTS[case]))
    if ref.image.transform_fn == "ignored":
        defs.pop("transform_fn", None)
    problems = [p for n in HANDLERS if n in defs and (p := signature_problem(n, defs[n]))]
    status = ref.ask(case, "POST", "/invocations", cases.JSON, cases.JSON_MANY)[0]
    assert (status == 200) == (not problems), (ref.image.key, case, status, problems)
