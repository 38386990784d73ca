#!/usr/bin/env python3
"""Where predict.local's request comes from, across a class: how many folders send a request exactly
as documented, how many a request file sent without a documented command (inferred), how many a
synthesized one, and why (nothing documented, or a documented call whose data cannot be computed),
and how many document a command that fails before sending (client error).

    python benchmarks/requests.py [CLASSROOM]          # default: fixtures/built/classroom
    python benchmarks/requests.py --json CLASSROOM

Reads facts only (``folder.facts.sample``): no student code runs, nothing talks to the network.
The places a request can be synthesized or inferred are listed in deploycheck/analysis/samples.py
(``synthesized``, ``_from_file``); this counts how often each happens.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def kind_of(sample) -> str:  # type: ignore[no-untyped-def]
    if sample.client_error:
        return "documented, fails before sending (client error)"
    if sample.synthesized:
        return ("synthesized: documented call with data deploycheck cannot compute" if sample.form
                else "synthesized: nothing documented")
    if sample.inferred:
        return "inferred: request file, how it is sent not documented"
    return "documented, sent as written"


def main(argv: list[str] | None = None) -> int:
    from deploycheck.discovery import load_submission
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("classroom", nargs="?", default=str(ROOT / "fixtures" / "built" / "classroom"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    room = Path(a.classroom)
    rows = []
    t0 = time.perf_counter()
    for repo in sorted(p for p in room.iterdir() if p.is_dir()):
        sub = load_submission(repo.name, str(repo))
        for f in sub.folders:
            s = f.facts.sample
            rows.append({"student": repo.name, "folder": f.rel, "kind": kind_of(s), "form": s.form,
                         "source": s.source, "content_type": s.content_type})
    elapsed = time.perf_counter() - t0
    counts = Counter(r["kind"] for r in rows)
    forms = Counter(r["form"] or "-" for r in rows if r["kind"].startswith("documented"))
    if a.json:
        print(json.dumps({"folders": len(rows), "kinds": counts, "forms": forms, "rows": rows,
                          "seconds": round(elapsed, 2)}, indent=1))
        return 0
    print(f"{len(rows)} deploy folders in {sum(1 for p in room.iterdir() if p.is_dir())} repos "
          f"({elapsed:.2f} s of analysis)")
    for kind, n in counts.most_common():
        print(f"  {n:4d}  {100 * n / max(len(rows), 1):5.1f}%  {kind}")
    print("documented forms:")
    for form, n in forms.most_common():
        print(f"  {n:4d}  {form}")
    print("not sent as documented:")
    for r in rows:
        if not r["kind"].startswith("documented, sent"):
            print(f"  {r['student']}/{r['folder']}: {r['kind']} ({r['source'][:140]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
