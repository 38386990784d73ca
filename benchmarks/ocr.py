#!/usr/bin/env python3
"""OCR benchmark for proof.screenshot: engine accuracy on the fixture screenshots, time per image, and a
synthetic class of N repos graded cold (empty OCR cache) and cached, with W worker processes.

    python benchmarks/ocr.py [--repos 200] [--workers 2] [--compare] [--rapidocr-python PATH]
    python benchmarks/ocr.py --compare --deploycheck-only --code /tmp/ocr-before --json before.json

--compare   score the engines on fixtures/screenshots.py's scenes: Tesseract as deploycheck runs it (the
            limited worker: grayscale, x2 for 1x screenshots, --psm 6), Tesseract's defaults (1x, --psm 3),
            and RapidOCR (``rapidocr-onnxruntime``, models inside its wheel) when ``--rapidocr-python`` names
            a Python that has it (it is not a dependency of deploycheck: 420 MB). Scores per engine: word
            recall of the lines that matter, character similarity of those lines, lines read exactly
            (whitespace aside: digits and brackets right), and deploycheck's classification of the text.
--code DIR  import deploycheck from DIR (another checkout, e.g. ``git worktree add /tmp/ocr-before c597197``)
            instead of this one, on this checkout's scenes: the same images and the same method before and
            after a change. (``PYTHONPATH`` alone is not enough: this script puts its own checkout first.)
--deploycheck-only   time only deploycheck's pipeline (not Tesseract's defaults nor RapidOCR).
--json FILE per image and engine: the CPU and wall seconds of every repetition, their medians, the
            classification; for comparing two runs image by image.
--repos N   copy the scenes into N repos (a realistic mix, every image made unique by a PNG text chunk so
            that nothing is shared through the cache), grade proof.screenshot on all of them with
            ``--workers`` processes: once with an empty cache, once again (cached).

Timings go here, never into tests. Nothing here talks to the network.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

import screenshots as scenes  # noqa: E402  (fixtures/screenshots.py)

def _cpu_children() -> float:
    """CPU seconds of every process this one started, finished or still running: the children it
    reaped (``RUSAGE_CHILDREN``) plus, for each live descendant (a long-lived image worker, a sandbox
    fork server, the processes under them), its own time and that of the children it reaped. A live
    process's time is in nobody's ``cutime`` yet, so nothing counts twice. (``RUSAGE_CHILDREN``
    alone misses a long-lived worker that forks a child per image: its children are reaped by it.)"""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    kids: dict[int, list[tuple[int, float]]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        kids.setdefault(int(f[1]), []).append((int(p), sum(int(x) for x in f[11:15]) / tick))
    todo = [os.getpid()]
    while todo:
        for pid, cpu in kids.get(todo.pop(), []):
            total += cpu
            todo.append(pid)
    return total


# ------------------------------------------------------------------ accuracy


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", _norm(s))


def score(scene: scenes.Scene, text: str) -> dict:
    """Word recall, character similarity and exact lines of the scene's truth lines in ``text``."""
    from deploycheck.analysis import screenshot_text as st
    cls = st.classify_text(text).classification
    out = {"classified": cls}
    if not scene.truth:
        return out
    t = _norm(text)
    toks = set(t.split())
    words = [w for line in scene.truth for w in line.split()]
    lines = [ln for ln in t.splitlines() if ln.strip()]
    flat = _squash(text)
    sims, exact = [], 0
    for line in scene.truth:
        if _squash(line) in flat:
            sims.append(1.0)
            exact += 1
        else:
            sims.append(max([difflib.SequenceMatcher(None, _squash(line), _squash(x)).ratio() for x in lines] or [0.0]))
    out.update(words=sum(w in toks for w in words) / len(words), chars=sum(sims) / len(sims),
               exact=exact, lines=len(scene.truth))
    return out


def _tesseract_default(data: bytes, path: str) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    return subprocess.run([path, "stdin", "stdout"], input=data, capture_output=True, env=env,
                          timeout=120).stdout.decode("utf-8", "replace")


RAPID_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from rapidocr_onnxruntime import RapidOCR
threads = int(sys.argv[2])
kw = {} if threads <= 0 else {"intra_op_num_threads": threads, "inter_op_num_threads": threads}
eng = RapidOCR(**kw)
load = time.perf_counter() - t0
res = {}
for path in sys.argv[3:]:
    t, c = time.perf_counter(), time.process_time()
    out, _ = eng(path)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    boxes = sorted(out or [], key=lambda r: (sum(p[1] for p in r[0]) / 4, r[0][0][0]))
    lines, cur, cy = [], [], None
    for box, text, conf in boxes:      # boxes whose centres share a row make one line, left to right
        y = sum(p[1] for p in box) / 4
        h = abs(box[2][1] - box[0][1]) or 10
        if cy is not None and abs(y - cy) > h / 2:
            lines.append(" ".join(t for _, t in sorted(cur)))
            cur, cy = [], None
        if cy is None:
            cy = y
        cur.append((box[0][0], text))
    if cur:
        lines.append(" ".join(t for _, t in sorted(cur)))
    res[path] = {"text": "\n".join(lines), "time": dt, "cpu": dc}
json.dump({"load": load, "images": res}, open(sys.argv[1], "w"))
"""


def _read_as_deploycheck(data: bytes, eng) -> tuple[str, str]:
    """(OCR text, classification) of an image as proof.screenshot reads it (this version of deploycheck, or
    an older one without ``examine_bytes``: one reading, classified from its text)."""
    from deploycheck.analysis import ocr
    from deploycheck.analysis import screenshot as ss
    from deploycheck.analysis import screenshot_text as st
    if hasattr(ss, "examine_bytes"):
        fi, _ = ss.examine_bytes(ss.Candidate("bench.png", "folder"), data, eng)
        return fi.text, fi.classification
    doc, _, _ = ocr.read_image(data, eng)
    text = doc.get("text", "")
    return text, st.classify_text(text).classification if "text" in doc else "not_read"


def _expected(s: scenes.Scene) -> str:
    return {"review": "uncertain"}.get(s.kind, s.kind)


def _timed(fn, repeat: int, fresh_cache: bool) -> tuple[list[float], list[float], object]:
    """Wall and CPU seconds (this process's children and live descendants: the OCR worker or sandbox
    job, Tesseract) of ``repeat`` calls of ``fn``, each with an empty OCR cache when ``fresh_cache``;
    and the last call's result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            if fresh_cache:
                os.environ["DEPLOYCHECK_CACHE_DIR"] = cache
            t, c = time.perf_counter(), _cpu_children()
            out = fn()
            walls.append(time.perf_counter() - t)
            cpus.append(_cpu_children() - c)
    return walls, cpus, out


def compare(rapid_python: str | None, repeat: int, deploycheck_only: bool = False,
            json_out: Path | None = None, only: list[str] | None = None) -> None:
    import deploycheck
    from deploycheck.analysis import ocr
    eng = ocr.engine()
    if not eng.available:
        sys.exit(f"no OCR engine: {eng.detail}")
    d = scenes.ensure_built()
    todo = [s for s in scenes.SCENES if s.kind != "too_small" and (not only or s.name in only)]
    results: dict[str, dict[str, dict]] = {}
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    runs: dict[str, dict[str, dict]] = {}

    # deploycheck's pipeline (decode, measure, prepare, OCR, and a second reading when the first shows no
    # prediction), each repetition with an empty cache. A first read (not counted) starts the long-lived
    # reader (the sandbox's fork server, or an older version's worker): per image is the steady state.
    name = f"tesseract {eng.version} as deploycheck runs it (psm 6, its preparation and readings)"
    first = (d / todo[0].filename).read_bytes()
    _, startup, _ = _timed(lambda: _read_as_deploycheck(first, eng), 1, True)
    for s in todo:
        data = (d / s.filename).read_bytes()
        walls, cpus, (text, cls) = _timed(lambda: _read_as_deploycheck(data, eng), repeat, True)
        results.setdefault(name, {})[s.name] = dict(score(s, text), classified=cls)
        times.setdefault(name, []).append(statistics.median(walls))
        cpu.setdefault(name, []).append(statistics.median(cpus))
        runs.setdefault("deploycheck", {})[s.name] = {"cpu": cpus, "wall": walls, "cpu_median": statistics.median(cpus),
                                                      "wall_median": statistics.median(walls), "classified": cls}
    # cached read of the same image: only hashing + one small JSON file
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEPLOYCHECK_CACHE_DIR"] = cache
        for s in todo:
            _read_as_deploycheck((d / s.filename).read_bytes(), eng)
        name_c = "  ... the same, cached"
        for s in todo:
            data = (d / s.filename).read_bytes()
            t, c = time.process_time(), time.perf_counter()
            _read_as_deploycheck(data, eng)
            times.setdefault(name_c, []).append(time.perf_counter() - c)
            cpu.setdefault(name_c, []).append(time.process_time() - t)

    if not deploycheck_only:
        name = f"tesseract {eng.version} defaults (1x, psm 3, CLI)"
        for s in todo:
            data = (d / s.filename).read_bytes()
            walls, cpus, text = _timed(lambda: _tesseract_default(data, eng.path), repeat, False)
            results.setdefault(name, {})[s.name] = score(s, str(text))
            times.setdefault(name, []).append(statistics.median(walls))
            cpu.setdefault(name, []).append(statistics.median(cpus))

    if rapid_python and not deploycheck_only:
        for threads in (1, 0):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                paths = [str(d / s.filename) for s in todo]
                env = dict(os.environ, OMP_NUM_THREADS="1") if threads == 1 else dict(os.environ)
                subprocess.run([rapid_python, "-c", RAPID_SCRIPT, out.name, str(threads), *paths], check=True,
                               env=env, timeout=3600)
                doc = json.load(open(out.name))
            label = "1 thread" if threads == 1 else "all cores"
            name = f"rapidocr-onnxruntime ({label}; model load {doc['load']:.1f} s not included)"
            for s in todo:
                r = doc["images"][str(d / s.filename)]
                results.setdefault(name, {})[s.name] = score(s, r["text"])
                times.setdefault(name, []).append(r["time"])
                cpu.setdefault(name, []).append(r["cpu"])

    print(f"\n{len(todo)} fixture screenshots ({sum(bool(s.truth) for s in todo)} with truth lines); deploycheck "
          f"from {Path(deploycheck.__file__).parent.parent}; {repeat} runs per image, medians; starting the reader "
          f"and its first image: {startup[0]:.2f} CPU-s (not counted); load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores\n")
    print(f"{'engine':78} {'words':>6} {'chars':>6} {'exact lines':>12} {'classified':>11} "
          f"{'wall s/image (median, max)':>27} {'CPU s/image (median, total)':>28}")
    for name, t in times.items():
        res = results.get(name)
        tc = cpu.get(name, [0.0])
        timing = f"{statistics.median(t):13.3f} {max(t):13.3f} {statistics.median(tc):14.3f} {sum(tc):13.2f}"
        if res is None:
            print(f"{name:78} {'':>6} {'':>6} {'':>12} {'':>11} {timing}")
            continue
        scored = [r for r in res.values() if "words" in r]
        words = sum(r["words"] for r in scored) / len(scored)
        chars = sum(r["chars"] for r in scored) / len(scored)
        exact = sum(r["exact"] for r in scored)
        lines = sum(r["lines"] for r in scored)
        right = sum(res[s.name]["classified"] == _expected(s) for s in todo)
        print(f"{name:78} {words:6.3f} {chars:6.3f} {exact:5d}/{lines:<6d} {right:5d}/{len(todo):<5d} {timing}")
    wrong = {n: [s.name for s in todo if r[s.name]["classified"] != _expected(s)] for n, r in results.items()}
    for n, w in wrong.items():
        if w:
            print(f"  misclassified by {n.split(' (')[0]}: {', '.join(w)}")
    if json_out:
        json_out.write_text(json.dumps({"deploycheck": str(Path(deploycheck.__file__).parent.parent),
                                        "engine": eng.label, "repeat": repeat, "startup_cpu": startup[0],
                                        "images": runs["deploycheck"]}, indent=1))


# ------------------------------------------------------------------ a class

# A class's mix: most hand in a prediction of some kind, some a console page, a few a chart or logo,
# a few a blank or broken image, some embed a GitHub upload, some nothing at all.
MIX = (["jupyter_predict"] * 25 + ["jupyter_predict_retina"] * 5 + ["terminal_invoke_endpoint"] * 15 + ["sagemaker_console_test_inference"] * 10
       + ["terminal_curl_vertex"] * 10 + ["terminal_gcloud_aiplatform"] * 8 + ["terminal_gcloud_ai_endpoints"] * 6
       + ["vertex_console_test"] * 5 + ["jupyterlab_boto3_labels"] * 4
       + ["sagemaker_console_endpoints"] * 5 + ["vertex_endpoints_list"] * 3 + ["jupyter_call_without_output"] * 2
       + ["chart_feature_importance"] * 3 + ["logo512"] * 2 + ["photo"] * 1 + ["blankish"] * 1
       + ["remote"] * 3 + ["none"] * 2)


def _unique_png(data: bytes, tag: str) -> bytes:
    """The same pixels with a tEXt chunk naming the student: a different file, as in a real class."""
    from PIL import Image, PngImagePlugin
    img = Image.open(io.BytesIO(data))
    b = io.BytesIO()
    if img.format == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", tag)
        img.save(b, "PNG", pnginfo=info)
    else:
        img.save(b, "JPEG", quality=85, comment=tag.encode())
    return b.getvalue()


def expected_class(kind: str) -> str:
    """The classification a repo built from scene ``kind`` must get."""
    if kind in ("remote",):
        return "remote"
    if kind == "none":
        return "missing"
    return {"too_small": "unusable"}.get(scenes.BY_NAME[kind].kind, scenes.BY_NAME[kind].kind)


def build_class(root: Path, n: int) -> list[Path]:
    import random
    d = scenes.ensure_built()
    mix = list(MIX)
    random.Random(12).shuffle(mix)
    repos = []
    for i in range(n):
        kind = mix[i % len(mix)]
        gcp = any(w in kind for w in ("vertex", "gcloud", "curl"))
        folder = root / f"student{i:03d}" / ("gcp_deploy" if gcp else "aws_deploy")
        folder.mkdir(parents=True)
        readme = "# Deployment\n\nSteps...\n\n"
        if kind == "remote":
            readme += f"![prediction](https://github.com/user-attachments/assets/{i:08d}-aaaa-bbbb-cccc-000000000000)\n"
        elif kind != "none":
            s = scenes.BY_NAME[kind]
            ext = s.filename.rsplit(".", 1)[1]
            (folder / f"prediction.{ext}").write_bytes(_unique_png((d / s.filename).read_bytes(), f"student{i:03d}"))
            readme += f"![prediction](prediction.{ext})\n"
        (folder / "README.md").write_text(readme)
        (folder.parent / "EXPECTED").write_text(expected_class(kind))
        repos.append(folder.parent)
    return repos


def _grade_chunk(repos: list[str]) -> tuple[dict, dict]:
    from deploycheck.analysis import ocr
    from deploycheck.discovery import Target, load_submission
    from deploycheck.verdicts.proof import proof_screenshot
    start = dict(ocr.STATS)                 # a forked worker inherits the parent's counters
    out = {}
    for r in repos:
        sub = load_submission.__wrapped__(Path(r).name, r)
        f = sub.folders[0]
        o = proof_screenshot(Target(sub.student, f.platform, sub, sub.student))
        out[Path(r).name] = (o.status, o.data.get("classification"))
    return out, {k: v - start.get(k, 0) for k, v in ocr.STATS.items()}


def grade_class(repos: list[Path], workers: int) -> tuple[float, dict, dict]:
    chunks = [[str(r) for r in repos[k::workers]] for k in range(workers)]
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_grade_chunk, chunks))
    dt = time.perf_counter() - t
    verdicts: dict = {}
    stats: dict = {}
    for v, st in parts:
        verdicts.update(v)
        for k, x in st.items():
            stats[k] = stats.get(k, 0) + x
    return dt, verdicts, stats


def class_bench(n: int, workers: int, workdir: Path | None) -> None:
    from deploycheck.analysis import ocr
    base = Path(workdir or tempfile.mkdtemp(prefix="deploycheck-ocr-bench-"))
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    repos = build_class(base / "class", n)
    os.environ["DEPLOYCHECK_CACHE_DIR"] = str(base / "cache")
    print(f"\n{n} repos, {workers} worker processes, engine {ocr.engine().label}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    c0 = _cpu_children()
    cold, v1, st1 = grade_class(repos, workers)
    c1 = _cpu_children()
    warm, v2, st2 = grade_class(repos, workers)
    c2 = _cpu_children()
    assert v1 == v2, "cached verdicts differ from cold ones"
    images = sum(1 for k in v1.values() if k[1] not in ("remote", "missing"))
    counts: dict[str, int] = {}
    for status, cls in v1.values():
        counts[f"{cls}:{status}"] = counts.get(f"{cls}:{status}", 0) + 1
    print(f"  cold   : {cold:7.1f} s wall, {c1 - c0:7.1f} CPU-s ({(c1 - c0) / max(images, 1):5.2f} CPU-s per local image; "
          f"{st1['worker_runs']} image workers, {st1['ocr_runs']} OCR runs)")
    print(f"  cached : {warm:7.1f} s wall, {c2 - c1:7.1f} CPU-s ({st2['worker_runs']} image workers, "
          f"{st2['ocr_runs']} OCR runs, {st2['cache_hits']} cache hits; includes starting {workers} Python processes)")
    print(f"  verdicts: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    wrong = [r.name for r in repos if v1[r.name][1] != (r / "EXPECTED").read_text()]
    print(f"  classified as built: {n - len(wrong)}/{n}" + (f" (wrong: {', '.join(wrong[:10])})" if wrong else ""))
    shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--rapidocr-python", help="a Python with rapidocr-onnxruntime installed (for --compare)")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per image for --compare (median kept)")
    ap.add_argument("--deploycheck-only", action="store_true", help="--compare: only deploycheck's pipeline")
    ap.add_argument("--code", type=Path, help="import deploycheck from this checkout (scenes from this one)")
    ap.add_argument("--only", nargs="+", metavar="SCENE", help="--compare: only these scenes")
    ap.add_argument("--json", type=Path, help="--compare: per-image timings of deploycheck's pipeline here")
    ap.add_argument("--repos", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", type=Path)
    a = ap.parse_args(argv)
    if a.code:
        if not (a.code / "deploycheck" / "__init__.py").is_file():
            sys.exit(f"--code {a.code}: no deploycheck package there")
        scenes.ensure_built()       # with this checkout's deploycheck (its proof card is a scene), then forget it
        for mod in [m for m in sys.modules if m == "deploycheck" or m.startswith("deploycheck.")]:
            del sys.modules[mod]
        sys.path.insert(0, str(a.code.resolve()))
    if not a.compare and not a.repos:
        a.compare, a.repos = True, 200
    if a.compare:
        compare(a.rapidocr_python, a.repeat, a.deploycheck_only, a.json, a.only)
    if a.repos:
        class_bench(a.repos, a.workers, a.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
