#!/bin/sh
# Make sure Tesseract OCR (with English data) exists for proof.screenshot, in the documented order:
# $DEPLOYCHECK_TESSERACT, a tesseract on PATH, Debian's tesseract-ocr package (as root, with apt-get).
# Without it proof.screenshot still runs: it checks the images but says their content was not read.
if [ -n "${DEPLOYCHECK_TESSERACT:-}" ] && [ -x "$DEPLOYCHECK_TESSERACT" ]; then
  echo "tesseract: $DEPLOYCHECK_TESSERACT (DEPLOYCHECK_TESSERACT)"; exit 0
fi
has_eng() { "$1" --list-langs 2>/dev/null | grep -qx eng; }
if command -v tesseract >/dev/null 2>&1 && has_eng tesseract; then
  echo "tesseract: $(command -v tesseract) ($(tesseract --version 2>/dev/null | head -n1))"; exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tesseract: installing Debian's tesseract-ocr package with apt-get"
  pkgs="tesseract-ocr tesseract-ocr-eng"
  (apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1 || \
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1)) \
    && has_eng tesseract && { echo "tesseract: $(command -v tesseract) (apt)"; exit 0; }
fi
echo "tesseract: none found; proof.screenshot will leave images it cannot read for review. Install tesseract-ocr" \
     "(Debian/Ubuntu: apt-get install tesseract-ocr; macOS: brew install tesseract) or set DEPLOYCHECK_TESSERACT." >&2
exit 0
