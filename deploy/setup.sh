#!/usr/bin/env bash
# Set up Intake on this machine: system packages (when run as root or with sudo), a
# virtual environment in .venv, and the package itself in editable mode.
#   deploy/setup.sh          runtime only
#   deploy/setup.sh --dev    plus the test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
dev=false
[ "${1:-}" = "--dev" ] && { extras="[dev]"; dev=true; }

# Dovecot is the throwaway mailbox of the demo and the tests; LibreOffice converts legacy
# .doc/.rtf/.odt statements (fonts for Cyrillic, Arabic and Chinese) inside a bubblewrap
# sandbox (no network, no data folder: docs/security.md); poppler renders PDFs; Liberation
# Serif (metric-compatible with Times New Roman) sets the compilation where Times is absent.
packages=(dovecot-imapd dovecot-lmtpd poppler-utils libreoffice-writer-nogui bubblewrap fonts-dejavu-core fonts-wqy-microhei fonts-liberation)
# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
$dev && packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup: please install these packages first: ${missing[*]}" >&2; exit 1
  fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv || {
    echo "setup: cannot create a virtual environment: install python3-venv (Python 3.11 or newer)" >&2
    exit 1
  }
fi
log=$(mktemp)
if ! { .venv/bin/python -m pip install -q --upgrade pip && \
       .venv/bin/python -m pip install -q -e ".${extras}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup: installing the Python packages failed (the lines above say why)" >&2
  rm -f "$log"; exit 1
fi
rm -f "$log"
echo "setup: ready; the command is .venv/bin/intake"
