"""`python -m deploycheck.gradeinfo REPORT_DIR`: print what a grading run produced (used by `make grade`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def describe(report_dir: Path) -> str:
    rj = report_dir / "report.json"
    if not rj.is_file():
        return f"no report was written to {report_dir} (see the pytest output above)"
    doc = json.loads(rj.read_text())
    lines = []
    for s in doc.get("students", []):
        fails = [c["id"] for c in s["checks"] if c["status"] == "failed"]
        lines.append(f"{s['student']} ({s['platform'] or 'no platform'}): {s['score']:g}/{s['max_score']:g} points"
                     + (f"; failed: {', '.join(fails)}" if fails else "; every check passed"))
    lines.append(f"report:  {rj.resolve()}")
    lines.append(f"page:    {(report_dir / 'index.html').resolve()}")
    pngs = sorted((report_dir / "proof").glob("*/*.png")) if (report_dir / "proof").is_dir() else []
    for p in pngs:
        lines.append(f"proof:   {p.resolve()}")
    if not pngs:
        lines.append("proof:   no proof screenshot was rendered (see the notes of predict.local in the report)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print(describe(Path(argv[0] if argv else "out/grade")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
