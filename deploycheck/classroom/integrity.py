"""Integrity signals across a class: which students handed in the same things, with the evidence.

Computed from each student's :class:`~deploycheck.analysis.fingerprint.Fingerprint` (facts already
gathered while grading) on the controller at the end of a run, and again over the whole class by
``deploycheck merge`` (the shards' fingerprints travel in ``fingerprints.json``). Nothing here
touches points: the signals are for the instructor to look at, side by side.

A pair is flagged when it shares at least one *strong* signal:

* an identical model archive or model file (SHA-256);
* a model with the same fitted parameters (read from the pickles, never loaded), however it was
  re-pickled or re-archived;
* a near-identical screenshot: the same bytes, or perceptual hashes within ``SHOT_BITS`` bits (of 64,
  over six slightly cropped views: robust to re-compression, resizing and small crops) *and* the same
  OCR text (two different screenshots of the same console page have close hashes, not the same
  text; a screenshot with no text must be within ``SHOT_BITS_NO_TEXT`` bits);
* a near-duplicate README or entry point: most of the smaller one's distinctive winnowed passages
  are in the other;

or at least two shared endpoint, bucket or model names (a single name is weak: it is only shown
beside a strong signal).

What everyone may share is never evidence: the course's starter files (``--starter DIR``: their
files, models, images, passages and names) and the reference code the lab text documents
(:data:`LAB_REFERENCE`). Anything else shared by more than :func:`common_limit` students is course
material or a group, not a pair: it is listed once under ``common`` (with the students) instead of
flooding the pairs table.

Cost: every signal is bucketed by its exact key (hashes, digests, names, passages through an
inverted index, perceptual hashes through four 16-bit bands); only students sharing a bucket are
compared, and a bucket larger than the common limit (for passages and screenshot text, at most
:data:`TEXT_MAX_DF`) is not expanded, so the work grows with the class size, never with its square
(``benchmarks/integrity.py``: 200 -> 3,200 students, 38 ms -> 336 ms from 400 on).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from deploycheck.analysis.fingerprint import Fingerprint, ShotPrint, TextPrint, shingles, text_print

SHOT_BITS = 10                 # perceptual hash distance (of 64) for "near-identical" when the texts agree
SHOT_BITS_NO_TEXT = 3          # ... when neither screenshot has readable text
SHOT_TOKENS_SHARED = 0.6       # of the names and values the screenshot with fewer of them shows
SHOT_MIN_TOKENS = 2
SHOT_TEXT_JACCARD = 0.85       # screenshots without such names: word trigrams of the OCR texts
MIN_SHOT_WORDS = 5             # trigrams below which a screenshot counts as having no text
TEXT_RULES = {"readme": (0.6, 8), "entry_point": (0.7, 6)}   # (contained fraction, shared passages at least)
BANDS = 4                      # 16-bit bands of a 64-bit perceptual hash (candidates, then the exact distance)
MAX_STUDENTS_LISTED = 30       # students named per common item
TEXT_MAX_DF = 10               # a passage (or screenshot word, name on a screenshot) in more hand-ins than this
                               # is boilerplate, however large the class (MOSS's -m default is 10)

# The reference code of the lab text (LAB.md) and of the SageMaker scikit-learn documentation it links:
# whoever follows the lab writes it, so it is never evidence.
LAB_REFERENCE = '''
from sklearn.externals import joblib
import os

def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf

import joblib
import os

def model_fn(model_dir):
    """Deserialized and return fitted model

    Note that this should have the same name as the serialized model in the main method
    """
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf

def predict_fn(input_data, model):
    return model.predict(input_data)

predictor = model.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
xgb_predictor = xgb.deploy(initial_instance_count=1,instance_type='ml.t2.medium')
predictor.delete_endpoint()
predictor.delete_model()
gcloud ai-platform models create $MODEL_NAME --regions us-central1
gcloud ai-platform versions create $VERSION_NAME --model $MODEL_NAME --origin $MODEL_DIR
  --runtime-version=$RUNTIME_VERSION --framework $FRAMEWORK --python-version=3.7
gcloud ai-platform predict --model $MODEL_NAME --version $VERSION_NAME --json-instances $INPUT_FILE
gcloud ai-platform versions delete $VERSION_NAME --model $MODEL_NAME
gcloud ai-platform models delete $MODEL_NAME
'''


def common_limit(n: int) -> int:
    """More students than this sharing one thing make it common (course material, or a group listed
    as such), not a pair: 5, or 2 % of a large class."""
    return max(5, math.ceil(0.02 * n))


@dataclass(frozen=True)
class Evidence:
    kind: str                 # archive | fitted_model | screenshot | readme | entry_point | name
    mine: str                 # this student's file (or name)
    theirs: str               # the other student's
    text: str                 # one line, for people
    strong: bool = True
    similarity: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "mine": self.mine, "theirs": self.theirs, "text": self.text}
        if self.similarity is not None:
            d["similarity"] = round(self.similarity, 3)
        return d

    def flipped(self) -> Evidence:
        return Evidence(self.kind, self.theirs, self.mine, self.text, self.strong, self.similarity)


@dataclass(frozen=True)
class Common:
    kind: str
    what: str
    students: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "count": len(self.students),
                "students": list(self.students[:MAX_STUDENTS_LISTED])}


@dataclass
class Result:
    """``pairs[(a, b)]`` (a < b) -> evidence from a's side; ``common`` items; per-student view by :meth:`of`."""
    pairs: dict[tuple[str, str], list[Evidence]] = field(default_factory=dict)
    common: list[Common] = field(default_factory=list)
    limit: int = 0

    def of(self, student: str) -> list[dict[str, Any]]:
        out = []
        for (a, b), ev in sorted(self.pairs.items()):
            if student in (a, b):
                mine = ev if student == a else [e.flipped() for e in ev]
                out.append({"with": b if student == a else a, "evidence": [e.to_json() for e in mine]})
        return out

    def table(self) -> list[dict[str, Any]]:
        return [{"a": a, "b": b, "evidence": [e.to_json() for e in ev]} for (a, b), ev in sorted(self.pairs.items())]


# ------------------------------------------------------------------ the reference material

@dataclass
class _Excluded:
    files: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    names: set[tuple[str, str]] = field(default_factory=set)
    grams: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    shot_words: set[int] = field(default_factory=set)
    shot_tokens: set[int] = field(default_factory=set)
    shots: list[ShotPrint] = field(default_factory=list)


def _excluded(starter: Fingerprint | None) -> _Excluded:
    ex = _Excluded()
    lab = [text_print("readme", "LAB", LAB_REFERENCE), text_print("entry_point", "LAB", LAB_REFERENCE)]
    for t in (*lab, *(starter.texts if starter else ())):
        ex.grams[t.kind].update(h for h, _ in t.grams)
    # every shingle of the reference, not only the winnowed ones: a student's winnowing picks others
    for kind, k in (("readme", 5), ("entry_point", 6)):
        ex.grams[kind].update(h for h, _ in shingles(LAB_REFERENCE, k))
    if starter is not None:
        ex.files = {f.sha256 for f in starter.files}
        ex.params = {m.params for m in starter.models}
        ex.names = {(n.kind, n.key) for n in starter.names}
        ex.shots = list(starter.shots)
        for s in starter.shots:
            ex.shot_words |= s.words
            ex.shot_tokens |= s.tokens
    return ex


# ------------------------------------------------------------------ comparing

def _hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def _shot_distance(a: ShotPrint, b: ShotPrint) -> int:
    """The smallest distance between a's whole-image hash and any of b's views, and the reverse (a
    crop of one image is close to the matching crop view of the other)."""
    if not a.phash or not b.phash:
        return 64
    return min(min(_hamming(a.phash[0], h) for h in b.phash), min(_hamming(b.phash[0], h) for h in a.phash))


def _shots_match(a: ShotPrint, b: ShotPrint, drop_words: set[int], drop_tokens: set[int]
                 ) -> tuple[bool, str, float | None]:
    """Whether two screenshots are the same one (re-compressed, resized, slightly cropped). Screenshots
    of the same page (a terminal running the lab's command, a console list) look alike at any
    resolution a hash keeps, so the picture only rules out; what decides is the text that tells one
    student's from another's: the names and values it shows (``shot_tokens``), else all its text."""
    if a.sha256 == b.sha256:
        return True, "the same image file (identical bytes)", 1.0
    d = _shot_distance(a, b)
    if d > SHOT_BITS:
        return False, "", None
    ta, tb = a.tokens - drop_tokens, b.tokens - drop_tokens
    if ta or tb:
        inter = len(ta & tb)
        small = min(len(ta), len(tb))
        if small and inter >= SHOT_MIN_TOKENS and inter / small >= SHOT_TOKENS_SHARED:
            return True, (f"near-identical screenshots: the same names and values ({inter} of {small}), perceptual "
                          f"hashes {d} bits apart (of 64)"), inter / small
        return False, "", None
    wa, wb = a.words - drop_words, b.words - drop_words
    if len(wa) >= MIN_SHOT_WORDS and len(wb) >= MIN_SHOT_WORDS:
        jac = len(wa & wb) / len(wa | wb)
        if jac >= SHOT_TEXT_JACCARD and d <= SHOT_BITS_NO_TEXT * 2:
            return True, f"near-identical screenshots: {round(100 * jac)}% of their text the same, perceptual " \
                         f"hashes {d} bits apart (of 64)", jac
        return False, "", None
    if len(wa) < MIN_SHOT_WORDS and len(wb) < MIN_SHOT_WORDS and d <= SHOT_BITS_NO_TEXT:
        return True, f"visually identical images: perceptual hashes {d} bits apart (of 64), no text to compare", None
    return False, "", None


def _lines(grams: Iterable[tuple[int, int]], shared: set[int]) -> str:
    ls = [ln for h, ln in grams if h in shared]
    if not ls:
        return ""
    return f"line {ls[0]}" if min(ls) == max(ls) else f"lines {min(ls)}-{max(ls)}"


def compare(prints: Iterable[Fingerprint], starter: Fingerprint | None = None) -> Result:
    """The integrity signals of a class (see the module's docstring)."""
    fps = {f.student: f for f in prints}
    n = len(fps)
    limit = common_limit(n)
    text_limit = min(limit, TEXT_MAX_DF)
    ex = _excluded(starter)
    res = Result(limit=limit)
    found: dict[tuple[str, str], list[Evidence]] = defaultdict(list)

    def add(a: str, b: str, e: Evidence) -> None:
        if a == b:
            return
        if a > b:
            a, b, e = b, a, e.flipped()
        found[(a, b)].append(e)

    def buckets(kind: str, items: Iterable[tuple[str, str, str]], describe: Any) -> None:
        """items: (key, student, their file); pairs within buckets of 2..limit students."""
        by: dict[str, dict[str, str]] = defaultdict(dict)
        for key, sid, rel in items:
            by[key].setdefault(sid, rel)
        for key, members in by.items():
            if len(members) < 2:
                continue
            if len(members) > limit:
                res.common.append(Common(kind, describe(key, next(iter(members.values())), None), tuple(sorted(members))))
                continue
            ms = sorted(members.items())
            for i, (a, ra) in enumerate(ms):
                for b, rb in ms[i + 1:]:
                    add(a, b, Evidence(kind, ra, rb, describe(key, ra, rb), kind != "name"))

    # 1. identical files, equal fitted parameters, shared names: exact keys
    buckets("archive", ((f.sha256, s, f.rel) for s, fp in fps.items() for f in fp.files if f.sha256 not in ex.files),
            lambda k, a, b: f"identical files (sha256 {k[:12]}…)" if b else f"{a}: identical file (sha256 {k[:12]}…)")
    buckets("fitted_model", ((m.params, s, m.rel) for s, fp in fps.items() for m in fp.models if m.params not in ex.params),
            lambda k, a, b: f"models with the same fitted parameters (read from the pickles, digest {k[:12]}…)"
            if b else f"{a}: one fitted model (digest {k[:12]}…)")
    buckets("screenshot", ((sh.sha256, s, sh.rel) for s, fp in fps.items() for sh in fp.shots
                           if sh.sha256 not in ex.files and not any(_shots_match(sh, st, set(), set())[0] for st in ex.shots)),
            lambda k, a, b: "the same image file (identical bytes)" if b else f"{a}: one image file (identical bytes)")
    buckets("name", ((f"{n.kind}:{n.key}", s, n.where) for s, fp in fps.items() for n in fp.names
                     if (n.kind, n.key) not in ex.names),
            lambda k, a, b: f"the same {k.split(':', 1)[0]} name {k.split(':', 1)[1]!r}")

    # 2. README and entry point: an inverted index of the distinctive passages
    for kind, (frac, least) in TEXT_RULES.items():
        docs: dict[str, TextPrint] = {}
        for s, fp in fps.items():
            t = next((t for t in fp.texts if t.kind == kind), None)
            if t is not None:
                docs[s] = t
        index: dict[int, list[str]] = defaultdict(list)
        for s, t in docs.items():
            for h in {h for h, _ in t.grams} - ex.grams[kind]:
                index[h].append(s)
        common = {h for h, ss in index.items() if len(ss) > text_limit}
        shared: dict[tuple[str, str], int] = defaultdict(int)
        for h, ss in index.items():
            if 2 <= len(ss) <= text_limit:
                ss = sorted(ss)
                for i, a in enumerate(ss):
                    for b in ss[i + 1:]:
                        shared[(a, b)] += 1
        for (a, b), k in shared.items():
            if k < least:
                continue
            ga = {h for h, _ in docs[a].grams} - ex.grams[kind] - common
            gb = {h for h, _ in docs[b].grams} - ex.grams[kind] - common
            both = ga & gb
            small = min(len(ga), len(gb))
            if not small or len(both) / small < frac:
                continue
            jac = len(both) / len(ga | gb)
            what = "README" if kind == "readme" else "entry point"
            add(a, b, Evidence(kind, f"{docs[a].rel} ({_lines(docs[a].grams, both)})",
                               f"{docs[b].rel} ({_lines(docs[b].grams, both)})",
                               f"near-duplicate {what}: {len(both)} of {small} distinctive passages shared "
                               f"({round(100 * jac)}% alike)", True, jac))

    # 3. screenshots: candidates from what can decide a match (see _shots_match): the names and values
    # a screenshot shows; without any, its distinctive text; without text, four 16-bit bands of each
    # hash view. (Screenshots of one page share their hashes: banding those would compare everyone.)
    # Then the exact distance and the texts decide.
    shots = [(s, sh) for s, fp in fps.items() for sh in fp.shots
             if sh.sha256 not in ex.files and not any(_shots_match(sh, st, set(), set())[0] for st in ex.shots)]
    word_df: dict[int, set[str]] = defaultdict(set)
    tok_df: dict[int, set[str]] = defaultdict(set)
    for who, sh in shots:
        for w in sh.words:
            word_df[w].add(who)
        for tok in sh.tokens:
            tok_df[tok].add(who)
    drop = ex.shot_words | {w for w, ss in word_df.items() if len(ss) > text_limit}
    drop_tokens = ex.shot_tokens | {t for t, ss in tok_df.items() if len(ss) > text_limit}
    cand: dict[tuple[int, int], None] = {}
    band_index: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, (_s, sh) in enumerate(shots):
        keys: set[tuple[Any, ...]] = {("token", t) for t in sh.tokens - drop_tokens}
        if not keys:
            keys = {("word", w) for w in sh.words - drop}
        if not keys:
            for h in sh.phash:
                keys.update(("band", j, (h >> (16 * j)) & 0xFFFF) for j in range(BANDS))
        for key in keys:
            band_index[key].append(i)
    for members in band_index.values():
        if 2 <= len(members) <= text_limit:
            for x, i in enumerate(members):
                for j in members[x + 1:]:
                    cand[(i, j)] = None
    parent = list(range(len(shots)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    shot_pairs: list[tuple[str, str, Evidence, int]] = []
    for i, j in cand:
        (a, sa), (b, sb) = shots[i], shots[j]
        if a == b or sa.sha256 == sb.sha256:            # identical files: bucketed above
            continue
        ok, text, sim = _shots_match(sa, sb, drop, drop_tokens)
        if ok:
            shot_pairs.append((a, b, Evidence("screenshot", sa.rel, sb.rel, text, True, sim), i))
            parent[root(i)] = root(j)
    # a screenshot that more than the limit hand in (near-identical) is common, not a pair
    cluster: dict[int, set[str]] = defaultdict(set)
    for i, (owner, _sh) in enumerate(shots):
        cluster[root(i)].add(owner)
    for group in cluster.values():
        if len(group) > limit:
            res.common.append(Common("screenshot", "near-identical screenshots", tuple(sorted(group))))
    for a, b, e, i in shot_pairs:
        if len(cluster[root(i)]) <= limit:
            add(a, b, e)
    # 4. keep pairs with a strong signal, or two different weak ones
    order = {"archive": 0, "fitted_model": 1, "screenshot": 2, "readme": 3, "entry_point": 4, "name": 5}
    for (a, b), ev in found.items():
        strong = [e for e in ev if e.strong]
        weak = [e for e in ev if not e.strong]
        if strong or len(weak) >= 2:
            res.pairs[(a, b)] = sorted(ev, key=lambda e: (order.get(e.kind, 9), e.mine))
    res.common.sort(key=lambda c: (-len(c.students), c.kind, c.what))
    return res


def attach(students: list[Any], result: Result) -> list[Any]:
    """``students`` (StudentResults) with ``extra["integrity"]``: a list (possibly empty) for every
    student that was fingerprinted... and for every other student too (no evidence is no pair)."""
    from dataclasses import replace
    return [replace(s, extra={**s.extra, "integrity": result.of(s.student)}) for s in students]


def summary(result: Result, n: int) -> dict[str, Any]:
    """What report.json's ``meta.integrity`` says about the class."""
    return {"pairs": len(result.pairs), "students": n, "common_limit": result.limit,
            "common": [c.to_json() for c in result.common]}


def from_json(docs: Iterable[Mapping[str, Any]]) -> list[Fingerprint]:
    out = []
    for d in docs:
        fp = Fingerprint.from_json(d)
        if fp is not None:
            out.append(fp)
    return out


# ------------------------------------------------------------------ one run's or one merge's integrity

PRINTS_FILE = "fingerprints.json"      # beside report.json: what a merge compares across shards


def apply(students: list[Any], prints: Iterable[Fingerprint], starter: Fingerprint | None
          ) -> tuple[list[Any], dict[str, Any]]:
    """(students with ``extra["integrity"]``, report.json's ``meta.integrity``) for a class; students
    that could not be graded take no part (they have no fingerprint)."""
    graded = {s.student for s in students}
    fps = [f for f in prints if f.student in graded]
    result = compare(fps, starter)
    meta = summary(result, len(fps))
    meta["starter"] = bool(starter)
    return attach(students, result), meta


def write_prints(outdir: Any, prints: Iterable[Fingerprint], starter: Fingerprint | None) -> None:
    import json
    from pathlib import Path

    from deploycheck import files
    doc = {"version": 1, "starter": starter.to_json() if starter else None,
           "students": [f.to_json() for f in sorted(prints, key=lambda f: f.student)]}
    files.atomic_write(Path(outdir) / PRINTS_FILE, json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def read_prints(report_dir: Any) -> tuple[list[Fingerprint], Fingerprint | None]:
    """The fingerprints a shard's report folder kept ([] and None when it has none)."""
    import json
    from pathlib import Path
    try:
        doc = json.loads((Path(report_dir) / PRINTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], None
    if not isinstance(doc, dict):
        return [], None
    starter = Fingerprint.from_json(doc["starter"]) if isinstance(doc.get("starter"), dict) else None
    return from_json(d for d in doc.get("students") or () if isinstance(d, dict)), starter


def starter_print(path: Any) -> Fingerprint | None:
    """The fingerprint of ``--starter DIR`` (None without one)."""
    from pathlib import Path

    from deploycheck.analysis import fingerprint
    if not path or not Path(path).is_dir():
        return None
    return fingerprint.of_folder_tree(Path(path).resolve())
