"""SageMaker scikit-learn container's request path, run INSIDE the sandbox under the image's Python.

Job: ``sagemaker_job:serve`` (``fn(ctx, **args)``), run with a conversation channel
(``ctx.channel``, see ``deploycheck/serving/local.py``). Runs with the image's own runtime environment
(its Python, scikit-learn, numpy... and ``sagemaker-containers`` 2.8.6.post2, the library every
scikit-learn image serves with, with its gunicorn and gevent). Python 3.7 compatible; stdlib + that
environment.

What comes from the library (not re-implemented): handler wrapping (``_functions.error_wrapper``),
``Transformer`` (default handlers, 415/406 error bodies, tuple results), the Flask ``Worker`` app
(routes, ``Request.content_type``/``accept``/``content`` rules, Flask's own 500 page and response
conversion), ``encoders``/``decoders``, and gunicorn's gevent worker, which serves every request
(``GeventWorker.handle``: gunicorn's request parser, ``wsgi.create``, the response writer that sends
the status line and headers and then each body item -- ``TypeError: 0 is not a byte`` for an item
that is not bytes, after the headers went out --, its error page for an exception that escapes the
WSGI app). The grader hands over each connection (the request written as the container's nginx
forwards it) and reads the answer from it itself, byte for byte; this job only reports, after each
request, the student's error and the loaded model (for messages: never a status or an answer).

What is reproduced here, because it lives in the image and not in a library (cited):

* the image's glue, aws/sagemaker-scikit-learn-container ``src/sagemaker_sklearn_container/
  serving.py`` on each branch: ``default_model_fn`` (the toolkit's, which raises),
  ``default_input_fn`` (decode, then ``astype(np.float32)`` for the UTF-8 types),
  ``default_predict_fn`` (``model.predict``), ``default_output_fn`` (``worker.Response(encode(...),
  accept, mimetype=accept)``), ``_user_module_transformer`` (branches 0.20.0/0.23-1/1.0-1 take
  model/input/predict/output_fn and ignore ``transform_fn``; 1.2-1 and later take ``transform_fn``
  and raise ``UserError`` when it is mixed with input/predict/output_fn), ``import_module`` and the
  lazy ``main(environ, start_response)`` WSGI entry point that gunicorn serves;
* the container start (sagemaker-containers ``_server.start``): the user module is imported once
  before gunicorn starts; if that import fails the container exits and the endpoint never becomes
  InService (reported as ``startup``). The start also ``pip install``s the code directory and its
  requirements.txt: there is no network in the sandbox, so the module is imported from its folder
  instead (the only deliberate difference; see serving/local.py); gunicorn's command line
  (``-k gevent``, ``--log-level info``, bound to ``unix:/tmp/gunicorn.sock`` behind nginx).

The working directory is an empty scratch directory, like the container's ``/`` (a model_fn that
opens a relative path fails there too).
"""
import importlib
import io
import json
import logging
import os
import sys
import traceback
import warnings

# sagemaker_containers._env creates <SAGEMAKER_BASE_DIR>/code at import time unless it exists
# (default /opt/ml). This module is preloaded in the sandbox's fork server, whose file system is
# read-only: point the library at a base whose code/ folder ships with deploycheck.
os.environ.setdefault("SAGEMAKER_BASE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "sagemaker_base"))

import numpy as np  # noqa: E402
from sagemaker_containers.beta.framework import (  # noqa: E402,F401 (the import serving.py does)
    content_types, encoders, env, modules, transformer, worker, server)
from sagemaker_containers import _env, _errors  # noqa: E402

from job_util import Channel, cleaner, model_info  # noqa: E402 (deploycheck/inside)

TRACEBACK_LINES = 12
MODEL_SERVER_TIMEOUT = 60             # sagemaker_containers' SAGEMAKER_MODEL_SERVER_TIMEOUT default


class UserError(Exception):
    """sagemaker_sklearn_container.exceptions.UserError (1.2-1 and later)."""


# ------------------------------------------------------------------ the image's serving.py glue

def default_model_fn(model_dir):
    return transformer.default_model_fn(model_dir)


def default_input_fn(input_data, content_type):
    np_array = encoders.decode(input_data, content_type)
    return np_array.astype(np.float32) if content_type in content_types.UTF8_TYPES else np_array


def default_predict_fn(input_data, model):
    return model.predict(input_data)


def default_output_fn(prediction, accept):
    return worker.Response(encoders.encode(prediction, accept), accept, mimetype=accept)


def user_module_transformer(user_module, transform_fn_mode):
    """``_user_module_transformer`` of the image: "ignored" (before 1.2-1) or "exclusive"."""
    if transform_fn_mode == "ignored":
        model_fn = getattr(user_module, "model_fn", default_model_fn)
        input_fn = getattr(user_module, "input_fn", default_input_fn)
        predict_fn = getattr(user_module, "predict_fn", default_predict_fn)
        output_fn = getattr(user_module, "output_fn", default_output_fn)
        return transformer.Transformer(model_fn=model_fn, input_fn=input_fn, predict_fn=predict_fn,
                                       output_fn=output_fn)
    model_fn = getattr(user_module, "model_fn", default_model_fn)
    input_fn = getattr(user_module, "input_fn", None)
    predict_fn = getattr(user_module, "predict_fn", None)
    output_fn = getattr(user_module, "output_fn", None)
    transform_fn = getattr(user_module, "transform_fn", None)
    if transform_fn and (input_fn or predict_fn or output_fn):
        raise UserError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform_fn is not None:
        return transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
    return transformer.Transformer(model_fn=model_fn, input_fn=input_fn or default_input_fn,
                                   predict_fn=predict_fn or default_predict_fn,
                                   output_fn=output_fn or default_output_fn)


def _install_and_import(module_dir, name):
    """Stands for sagemaker_containers ``_modules.import_module(uri, name)`` (copy the code dir,
    ``pip install .``, import, reload, wrap errors in ImportModuleError) without pip: the code
    directory is already first on sys.path."""
    import six
    try:
        module = importlib.import_module(name)
        six.moves.reload_module(module)
        return module
    except Exception as e:  # noqa: BLE001 - as the library does
        six.reraise(_errors.ImportModuleError, _errors.ImportModuleError(e), sys.exc_info()[2])


class Glue(object):
    """serving.py's ``import_module`` and ``main``, with a record of which step failed."""

    def __init__(self, transform_fn_mode):
        self.mode = transform_fn_mode
        self.app = None
        self.step = ""
        self.transformer = None

    def import_module(self, module_name, module_dir):
        self.step = "import"
        try:
            user_module = importlib.import_module(module_name)
        except ImportError:
            user_module = _install_and_import(module_dir, module_name)
        self.step = "handlers"
        user_module_transformer = user_module_transformer_for(user_module, self.mode)
        self.transformer = user_module_transformer
        self.step = "model_fn"
        user_module_transformer.initialize()
        self.step = ""
        return user_module_transformer, getattr(user_module, "execution_parameters_fn", None)

    def main(self, environ, start_response):
        if self.app is None:
            serving_env = env.ServingEnv()
            user_module_transformer, execution_parameters_fn = self.import_module(
                serving_env.module_name, serving_env.module_dir)
            self.app = worker.Worker(transform_fn=user_module_transformer.transform,
                                     module_name=serving_env.module_name,
                                     execution_parameters_fn=execution_parameters_fn)
        return self.app(environ, start_response)


def user_module_transformer_for(user_module, mode):
    return user_module_transformer(user_module, mode)


# ------------------------------------------------------------------ gunicorn, as the container runs it

class _Listener(object):
    """The socket gunicorn listens on in the container (sagemaker_containers ``_server.UNIX_SOCKET_BIND``,
    behind nginx); gunicorn asks it only for its name."""

    def getsockname(self):
        return "/tmp/gunicorn.sock"


def gunicorn_worker(app, capture):
    """gunicorn's gevent worker configured as the container's command line configures it
    (sagemaker_containers ``_server.start``: ``gunicorn --timeout 60 -k gevent -b unix:/tmp/gunicorn.sock
    --worker-connections 1000 -w 1 --log-level info``), serving ``app``; its error log (the exceptions
    it answers with its own error page, or after which it closes the connection) also goes to
    ``capture``."""
    from gunicorn import config, glogging
    from gunicorn.workers.ggevent import GeventWorker
    cfg = config.Config()
    for name, value in (("worker_class", "gevent"), ("loglevel", "info"), ("timeout", MODEL_SERVER_TIMEOUT),
                        ("worker_connections", 1000), ("workers", 1),
                        # the defaults are the ids of the process that imported gunicorn (the fork server)
                        ("user", os.geteuid()), ("group", os.getegid())):
        cfg.set(name, value)
    log = glogging.Logger(cfg)
    log.error_log.addHandler(capture)
    worker = GeventWorker(1, os.getppid(), [], None, MODEL_SERVER_TIMEOUT, cfg, log)
    worker.wsgi = app                      # what init_process -> load_wsgi sets from the app's main
    return worker


# ------------------------------------------------------------------ the job

class _Capture(logging.Handler):
    """Exceptions Flask (``app.log_exception``) or gunicorn log while answering, for the grader's
    messages."""

    def __init__(self):
        logging.Handler.__init__(self, level=logging.ERROR)
        self.records = []

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            self.records.append(record.exc_info[1])


def _tb(exc, clean):
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip().splitlines()
    return clean("\n".join(lines[-TRACEBACK_LINES:]))


def _root_cause(exc):
    """The student's exception inside the library's wrappers (ClientError, ImportModuleError)."""
    seen = 0
    while isinstance(exc, (_errors.ClientError,)) and seen < 5:
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc.__cause__
        if inner is None:
            break
        exc, seen = inner, seen + 1
    return exc


def _describe(exc, phase, clean):
    root = _root_cause(exc)
    if isinstance(root, MemoryError):
        # out of memory is the sandbox's verdict (its limit, in its words), not a handler's error
        raise MemoryError(str(root))
    return {"phase": phase, "error_type": type(root).__name__, "wrapper": type(exc).__name__,
            "error": clean(("%s: %s" % (type(root).__name__, root))[:4000]), "traceback": _tb(root, clean)}


def _encode_rows(rows, content_type):
    if content_type == "application/x-npy":
        buf = io.BytesIO()
        np.save(buf, np.asarray(rows))
        return buf.getvalue()
    if content_type == "text/csv":
        return ("\n".join(",".join(str(v) for v in r) for r in rows) + "\n").encode()
    return json.dumps(rows).encode()


def _code_dir_of(ctx, folder, files):
    """The code directory the SDK uploads when it is a selection of the folder's files (``files``:
    [path in the folder, name in the code directory]): links to them in a directory of their own."""
    code_dir = os.path.join(ctx.root, "code")
    os.mkdir(code_dir)
    for rel, name in files:
        src = os.path.join(folder, rel)
        if os.path.exists(src) and os.sep not in name and name not in (".", ".."):
            os.symlink(src, os.path.join(code_dir, name))
    return code_dir


def serve(ctx, entry, transform_fn="exclusive", model_rel=None, boot=True, code_dir_rel=None, code_files=None):
    """Start the container like SageMaker does, then serve each connection the grader hands over on
    ``ctx.channel`` through gunicorn's own worker, until the grader has no more.

    ``entry``: the entry point relative to the deploy folder ("inference.py"); ``transform_fn``:
    the image's glue ("ignored" before 1.2-1, "exclusive" from 1.2-1); ``model_rel``: the model
    directory inside the folder when there is no archive (``ctx.extracted`` otherwise);
    ``code_dir_rel``: where the entry point's code lives ("code" inside the archive, as the SDK
    repacks it); ``code_files``: the files the SDK uploads as the code directory when it uploads a
    selection (the entry point declared without source_dir: it and its dependencies); else the entry
    point's folder. Reports on the channel: ``ready`` (after the start,
    with the start-up failure if any), then ``done`` after each request (the student's error, the
    model once loaded); returns the warnings."""
    folder = os.path.abspath(ctx.folder)
    model_dir = os.path.abspath(ctx.extracted) if ctx.extracted else os.path.join(folder, model_rel or ".")
    entry_dir, entry_file = os.path.split(entry)
    if code_dir_rel:
        code_dir = os.path.join(model_dir, code_dir_rel)
    elif code_files is not None:
        code_dir = _code_dir_of(ctx, folder, code_files)
    else:
        code_dir = os.path.join(folder, entry_dir)
    module_name = os.path.splitext(entry_file)[0]

    site = os.path.dirname(os.path.dirname(np.__file__))

    clean = cleaner(((os.path.join(model_dir, "code") + "/", "/opt/ml/model/code/"), (model_dir, "/opt/ml/model"),
                     (os.path.join(ctx.root, "code") + "/", "/opt/ml/code/"),
                     (folder + "/", ""), (folder, "."), (site, "<site-packages>")))

    # what the SageMaker SDK's SKLearnModel sets (Model._script_mode_env_vars) and the image reads
    os.environ["SAGEMAKER_PROGRAM"] = entry_file
    os.environ["SAGEMAKER_SUBMIT_DIRECTORY"] = code_dir
    _env.model_dir = model_dir          # read by Transformer.initialize (default /opt/ml/model)
    _env.code_dir = code_dir
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    scratch = os.path.join(ctx.tmp, "cwd")
    os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)

    channel = Channel(ctx.channel)
    capture = _Capture()
    startup = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # 1. container start: sagemaker_containers _server.start imports the user module first
        if boot:
            preloaded = set(sys.modules)        # the student's modules are the ones imported now
            try:
                _install_and_import(code_dir, module_name)
            except Exception as e:  # noqa: BLE001
                startup = _describe(e, "import", clean)
            for name in [m for m in set(sys.modules) - preloaded
                         if str(getattr(sys.modules[m], "__file__", None) or "").startswith(code_dir + os.sep)]:
                del sys.modules[name]           # gunicorn's worker is a fresh process: imports again
        # after the import: a student's module finds the root logger unconfigured, as in the container
        logging.getLogger().addHandler(capture)
        glue = Glue(transform_fn)
        worker = gunicorn_worker(glue.main, capture)
        channel.report(op="ready", startup=startup)
        # 2. gunicorn serves each request (the grader wrote it into the connection and reads the answer)
        listener = _Listener()
        reported_model = False
        while True:
            client = channel.next_connection()
            if client is None:
                break
            del capture.records[:]
            worker.handle(listener, client, "")
            error = _describe(capture.records[-1], glue.step or "request", clean) if capture.records else None
            model = getattr(glue.transformer, "_model", None) if not reported_model else None
            reported_model = reported_model or model is not None
            channel.report(op="done", error=error, model=model_info(model) if model is not None else None)
    logging.getLogger().removeHandler(capture)
    return {"warnings": [clean(("%s: %s" % (w.category.__name__, w.message))[:600]) for w in caught
                         if w.category.__name__ not in ("DeprecationWarning", "PendingDeprecationWarning")][:8]}


# ------------------------------------------------------------------ once per fork server
# Work every job would otherwise repeat after the fork, with the same result each time:
# * sagemaker_containers runs `nvidia-smi --list-gpus` for every ServingEnv (a fork and exec per
#   job). The sandbox has no nvidia-smi, like the CPU instances the lab deploys to: the answer
#   (0, "No GPUs detected") is the same every time, so it is asked once, here.
# * Flask and werkzeug compile their routing and header regular expressions on first use, and
#   numpy tokenizes a .npy header with patterns it compiles on first use. One request of each
#   content type through a plain Flask app with the serving routes fills those caches. (Not a
#   sagemaker_containers Worker: that configures the root logger, which a student's module must
#   find unconfigured, as in the container.)

WARM_UP = []       # what the warm-up answered, for the tests: "<content type> <status>"


def _warm_up():
    try:                                 # gunicorn's gevent worker and its HTTP parser, once per server
        import gunicorn.config  # noqa: F401
        import gunicorn.glogging  # noqa: F401
        import gunicorn.workers.ggevent  # noqa: F401
    except Exception:  # noqa: BLE001 - then every job imports them itself
        pass
    try:
        gpus = _env.num_gpus()
        _env.num_gpus = lambda: gpus
    except Exception:  # noqa: BLE001 - then every job asks, as before
        pass
    try:
        import flask
        from werkzeug.test import Client
        try:
            from werkzeug.wrappers import Response as _WResponse
        except ImportError:  # pragma: no cover
            from werkzeug.wrappers import BaseResponse as _WResponse

        def invocations():
            req = flask.request
            rows = default_input_fn(getattr(req, "content", req.data), req.content_type)
            return default_output_fn(rows, "application/json")
        app = flask.Flask("deploycheck_warm_up")
        app.request_class = getattr(worker, "Request", app.request_class)
        app.add_url_rule(rule="/invocations", endpoint="invocations", view_func=invocations, methods=["POST"])
        app.add_url_rule(rule="/ping", endpoint="ping", view_func=worker.default_healthcheck_fn)
        client = Client(app, _WResponse)
        client.get("/ping")
        for ctype in ("application/x-npy", "application/json", "text/csv"):
            resp = client.post("/invocations", data=_encode_rows([[1.0, 2.0]], ctype),
                               headers=[("Content-Type", ctype), ("Accept", "application/json")])
            WARM_UP.append("%s %s" % (ctype, resp.status_code))
    except Exception:  # noqa: BLE001 - a warm-up only: the jobs do the same work themselves
        pass


_warm_up()
