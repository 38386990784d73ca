#!/bin/sh
# Make sure a Chromium exists for Playwright, in the documented order (README.md):
# $DEPLOYCHECK_CHROMIUM, a chromium on PATH, Playwright's own download, Debian's package (as root).
PY=${1:-.venv/bin/python}
if [ -n "${DEPLOYCHECK_CHROMIUM:-}" ] && [ -x "$DEPLOYCHECK_CHROMIUM" ]; then
  echo "chromium: $DEPLOYCHECK_CHROMIUM (DEPLOYCHECK_CHROMIUM)"; exit 0
fi
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then echo "chromium: $(command -v $c) (PATH)"; exit 0; fi
done
if "$PY" -m deploycheck.proof.browser --has-playwright-browser >/dev/null 2>&1; then
  echo "chromium: Playwright's own browser"; exit 0
fi
if timeout 120 "$PY" -m playwright install chromium >/dev/null 2>&1 && \
   "$PY" -m deploycheck.proof.browser --has-playwright-browser >/dev/null 2>&1; then
  echo "chromium: downloaded by playwright install"; exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing Debian's chromium package with apt-get"
  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
    && { echo "chromium: $(command -v chromium) (apt)"; exit 0; }
fi
echo "chromium: none found; proof screenshots will be skipped. Set DEPLOYCHECK_CHROMIUM to a Chromium binary." >&2
exit 0
