#!/bin/sh
# Make sure bubblewrap (bwrap) is installed: deploycheck runs student code only inside it.
# As root on Debian/Ubuntu it is installed with apt-get; otherwise we say how to get it.
if command -v bwrap >/dev/null 2>&1; then
  echo "bubblewrap: $(command -v bwrap) ($(bwrap --version 2>/dev/null))"; exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bubblewrap: installing Debian's bubblewrap package with apt-get"
  (apt-get install -y -q bubblewrap >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1)) \
    && { echo "bubblewrap: $(command -v bwrap) (apt)"; exit 0; }
fi
if [ "$(id -u)" = 0 ] && command -v dnf >/dev/null 2>&1; then
  dnf install -y -q bubblewrap >/dev/null 2>&1 && { echo "bubblewrap: $(command -v bwrap) (dnf)"; exit 0; }
fi
echo "bubblewrap: not installed; student code will be REFUSED. Install the package 'bubblewrap' (sudo apt-get install bubblewrap / sudo dnf install bubblewrap), or pass --allow-unsandboxed for code you trust." >&2
exit 0
