"""Student entry points and requests for the serving conformance tests (and benchmarks).

Each entry point is the source of an ``inference.py``; each request is (name, method, path, headers,
body). All load the same iris model (model.joblib) from model_dir."""
from __future__ import annotations

import io
import json

import numpy as np

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
LOAD = "import os, joblib\n\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"


def npy(a, dtype=None) -> bytes:
    b = io.BytesIO()
    np.save(b, np.asarray(a, dtype=dtype))
    return b.getvalue()


CSV_MANY = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n"
CSV_ONE = b"5.1,3.5,1.4,0.2"
JSON_MANY = json.dumps(ROWS).encode()
JSON_ONE = json.dumps(ROWS[:1]).encode()
JSON = {"Content-Type": "application/json"}

# name -> (code, requests to send)
ENTRY_POINTS: dict[str, str] = {
    "model_fn_only": LOAD,
    "input_fn_only": LOAD + (
        "import json\nimport numpy as np\n\ndef input_fn(body, content_type):\n"
        "    if content_type != 'application/json':\n        raise ValueError('only JSON, got ' + content_type)\n"
        "    return np.array([list(r.values()) for r in json.loads(body)['rows']])\n"),
    "input_fn_text_plain": LOAD + (
        "import numpy as np\n\ndef input_fn(body, content_type):\n"
        "    text = body.decode() if isinstance(body, bytes) else body\n"
        "    return np.array([[float(x) for x in line.split()] for line in text.splitlines() if line.strip()])\n"),
    "predict_fn_only": LOAD + "\ndef predict_fn(data, model):\n    return model.predict_proba(data).round(3)\n",
    "output_fn_str": LOAD + "import json\n\ndef output_fn(pred, accept):\n    return json.dumps({'labels': [int(p) for p in pred]})\n",
    "output_fn_bytes": LOAD + "\ndef output_fn(pred, accept):\n    return ','.join(str(int(p)) for p in pred).encode()\n",
    "output_fn_tuple": LOAD + ("import json\n\ndef output_fn(pred, accept):\n"
                               "    return json.dumps([int(p) for p in pred]), 'application/json'\n"),
    "output_fn_tuple_csv": LOAD + ("\ndef output_fn(pred, accept):\n"
                                   "    return '\\n'.join(str(int(p)) for p in pred), 'text/csv'\n"),
    "output_fn_list": LOAD + "\ndef output_fn(pred, accept):\n    return [int(p) for p in pred]\n",
    "output_fn_ndarray": LOAD + "\ndef output_fn(pred, accept):\n    return pred\n",
    "output_fn_dict": LOAD + "\ndef output_fn(pred, accept):\n    return {'labels': [int(p) for p in pred]}\n",
    "output_fn_dict_ndarray": LOAD + "\ndef output_fn(pred, accept):\n    return {'labels': pred}\n",
    "output_fn_none": LOAD + "\ndef output_fn(pred, accept):\n    return None\n",
    # the body is an ndarray: werkzeug iterates it and gunicorn's writer fails on the first item after
    # it sent the status line and headers ("TypeError: 0 is not a byte"): an empty 200
    "output_fn_tuple_ndarray": LOAD + "\ndef output_fn(pred, accept):\n    return pred, accept\n",
    "output_fn_response": LOAD + (
        "from sagemaker_containers.beta.framework import worker\n\ndef output_fn(pred, accept):\n"
        "    return worker.Response(' '.join(str(int(p)) for p in pred), mimetype='text/plain')\n"),
    "all_three": LOAD + (
        "import json\nimport numpy as np\n\ndef input_fn(body, content_type):\n    return np.array(json.loads(body))\n"
        "\ndef predict_fn(data, model):\n    return model.predict(data) * 10\n"
        "\ndef output_fn(pred, accept):\n    return json.dumps({'scaled': pred.tolist()}), accept\n"),
    "transform_fn_only": LOAD + (
        "import json\nimport numpy as np\n\ndef transform_fn(model, body, content_type, accept):\n"
        "    return json.dumps({'t': model.predict(np.array(json.loads(body))).tolist()}), 'application/json'\n"),
    "transform_fn_with_input_fn": LOAD + (
        "import json\nimport numpy as np\n\ndef transform_fn(model, body, content_type, accept):\n"
        "    return json.dumps({'from': 'transform_fn'}), 'application/json'\n"
        "\ndef input_fn(body, content_type):\n    return np.array(json.loads(body))\n"),
    "transform_fn_raises": LOAD + "\ndef transform_fn(model, body, content_type, accept):\n    raise RuntimeError('transform broke')\n",
    "input_fn_raises": LOAD + "\ndef input_fn(body, content_type):\n    raise ValueError('bad input here')\n",
    "predict_fn_raises": LOAD + "\ndef predict_fn(data, model):\n    raise KeyError('no such column')\n",
    "output_fn_raises": LOAD + "\ndef output_fn(pred, accept):\n    raise TypeError('cannot serialize')\n",
    # handlers the serving code cannot call as written (issue 22: it calls them by position, no context)
    "predict_fn_swapped": LOAD + "\ndef predict_fn(model, input_data):\n    return model.predict(input_data)\n",
    "predict_fn_requires_context": LOAD + ("\ndef predict_fn(input_data, model, context):\n"
                                          "    return model.predict(input_data)\n"),
    "predict_fn_context_default": LOAD + ("\ndef predict_fn(input_data, model, context=None):\n"
                                         "    return model.predict(input_data)\n"),
    "model_fn_raises": "def model_fn(model_dir):\n    raise RuntimeError('cannot load the model')\n",
    "model_fn_missing": "import joblib\n\ndef load(model_dir):\n    return None\n",
    "import_error": "import not_a_module_in_the_image\n" + LOAD,
    "syntax_error": "def model_fn(model_dir)\n    return 1\n",
}

PING = ("ping", "GET", "/ping", {}, b"")
DEFAULT_REQUESTS = [
    PING,
    ("json_many", "POST", "/invocations", JSON, JSON_MANY),
    ("json_one_row", "POST", "/invocations", JSON, JSON_ONE),
    ("json_flat_1d", "POST", "/invocations", JSON, json.dumps(ROWS[0]).encode()),
    ("json_charset", "POST", "/invocations", {"Content-Type": "application/json; charset=utf-8"}, JSON_MANY),
    ("no_content_type", "POST", "/invocations", {}, JSON_MANY),
    ("contenttype_header", "POST", "/invocations", {"ContentType": "text/csv"}, CSV_MANY),
    ("csv_many", "POST", "/invocations", {"Content-Type": "text/csv"}, CSV_MANY),
    ("csv_one_row", "POST", "/invocations", {"Content-Type": "text/csv"}, CSV_ONE),
    ("csv_header", "POST", "/invocations", {"Content-Type": "text/csv"}, b"a,b,c,d\n" + CSV_MANY),
    ("npy_float64", "POST", "/invocations", {"Content-Type": "application/x-npy"}, npy(ROWS)),
    ("npy_one_row", "POST", "/invocations", {"Content-Type": "application/x-npy"}, npy(ROWS[:1], "float32")),
    ("text_plain", "POST", "/invocations", {"Content-Type": "text/plain"}, b"5.1 3.5 1.4 0.2"),
    ("accept_csv", "POST", "/invocations", {**JSON, "Accept": "text/csv"}, JSON_MANY),
    ("accept_npy", "POST", "/invocations", {**JSON, "Accept": "application/x-npy"}, JSON_MANY),
    ("accept_any", "POST", "/invocations", {**JSON, "Accept": "*/*"}, JSON_MANY),
    ("accept_json_charset", "POST", "/invocations", {**JSON, "Accept": "application/json; charset=utf-8"}, JSON_MANY),
    ("accept_html", "POST", "/invocations", {**JSON, "Accept": "text/html"}, JSON_MANY),
    ("empty_body", "POST", "/invocations", JSON, b""),
    ("get_invocations", "GET", "/invocations", {}, b""),
]
SHORT = [PING, ("json_many", "POST", "/invocations", JSON, JSON_MANY),
         ("csv_many", "POST", "/invocations", {"Content-Type": "text/csv"}, CSV_MANY),
         ("accept_csv", "POST", "/invocations", {**JSON, "Accept": "text/csv"}, JSON_MANY)]
ROWS_BODY = json.dumps({"rows": [dict(zip("abcd", r)) for r in ROWS]}).encode()

REQUESTS: dict[str, list] = {
    "model_fn_only": DEFAULT_REQUESTS,
    "input_fn_only": [PING, ("rows_json", "POST", "/invocations", JSON, ROWS_BODY),
                      ("rows_csv", "POST", "/invocations", {"Content-Type": "text/csv"}, CSV_MANY),
                      ("rows_accept_npy", "POST", "/invocations", {**JSON, "Accept": "application/x-npy"}, ROWS_BODY)],
    "input_fn_text_plain": [("text_plain", "POST", "/invocations", {"Content-Type": "text/plain"}, b"5.1 3.5 1.4 0.2\n6.7 3.0 5.2 2.3"),
                            ("text_plain_accept_csv", "POST", "/invocations",
                             {"Content-Type": "text/plain", "Accept": "text/csv"}, b"5.1 3.5 1.4 0.2")],
    "predict_fn_only": SHORT,
    "all_three": SHORT + [("accept_text_plain", "POST", "/invocations", {**JSON, "Accept": "text/plain"}, JSON_MANY)],
    "transform_fn_only": SHORT,
    "transform_fn_with_input_fn": SHORT,
}


def requests_for(name: str) -> list:
    return REQUESTS.get(name, [PING, ("json_many", "POST", "/invocations", JSON, JSON_MANY),
                                ("accept_csv", "POST", "/invocations", {**JSON, "Accept": "text/csv"}, JSON_MANY)])


# ---------------------------------------------------------------- Vertex / AI Platform request forms
VERTEX_REQUESTS = [
    ("instances", json.dumps({"instances": ROWS}).encode()),
    ("instances_one", json.dumps({"instances": ROWS[:1]}).encode()),
    ("with_parameters", json.dumps({"instances": ROWS, "parameters": {"threshold": 0.5}}).encode()),
    ("empty_parameters", json.dumps({"instances": ROWS, "parameters": {}}).encode()),
    ("wrong_shape", json.dumps({"instances": [[1.0, 2.0]]}).encode()),
    ("flat_instances", json.dumps({"instances": ROWS[0]}).encode()),
    ("dict_instances", json.dumps({"instances": [dict(zip("abcd", ROWS[0]))]}).encode()),
    ("missing_instances", json.dumps({"rows": ROWS}).encode()),
    ("instances_not_list", json.dumps({"instances": 3}).encode()),
    ("not_json", b"5.1,3.5,1.4,0.2"),
    ("bare_list", JSON_MANY),
]
